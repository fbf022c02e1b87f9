import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { temporal } from '@temporalio/proto';
import { useKairosServer } from '../src/e2e';

const GRPC_NOT_FOUND = 5;

describe('foundation: connection, namespaces, system info', () => {
  const kairos = useKairosServer();

  test('describeNamespace(default) is REGISTERED', () =>
    kairos.run(async ({ connection }) => {
      const resp = await connection.workflowService.describeNamespace({ namespace: 'default' });
      assert.equal(resp.namespaceInfo?.name, 'default');
      assert.equal(
        resp.namespaceInfo?.state,
        temporal.api.enums.v1.NamespaceState.NAMESPACE_STATE_REGISTERED,
      );
    }));

  test('getSystemInfo returns a serverVersion', () =>
    kairos.run(async ({ connection }) => {
      const resp = await connection.workflowService.getSystemInfo({});
      assert.equal(typeof resp.serverVersion, 'string');
      assert.ok((resp.serverVersion ?? '').length > 0, 'serverVersion is empty');
    }));

  test('grpc health check reports SERVING', () =>
    kairos.run(async ({ connection }) => {
      const resp = await connection.healthService.check({});
      assert.equal(resp.status, 1 /* SERVING */);
    }));

  test('describeNamespace(unknown) rejects with NOT_FOUND', () =>
    kairos.run(async ({ connection }) => {
      await assert.rejects(
        connection.workflowService.describeNamespace({ namespace: 'kairos-e2e-no-such-namespace' }),
        (err: unknown) => {
          assert.equal((err as { code?: unknown }).code, GRPC_NOT_FOUND, `unexpected error: ${String(err)}`);
          return true;
        },
      );
    }));
});
