/**
 * Finding workflows with the TypeScript SDK: a custom search attribute
 * registered through the OperatorService, set at start, then a list with a
 * List Filter query and a count (also grouped by status).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { temporal } from '@temporalio/proto';
import { useKairosServer, withWorker } from '../src/e2e';
import { DEFAULT_NAMESPACE, uniqueId } from '../src/harness';
import type { scheduledEcho } from '../src/workflows';

describe('visibility: list and count with a custom search attribute', () => {
  const kairos = useKairosServer();

  test('a List Filter over a custom keyword finds exactly the matching runs', { timeout: 60_000 }, () =>
    kairos.run(async ({ address, client, connection }) => {
    await connection.operatorService.addSearchAttributes({
      namespace: DEFAULT_NAMESPACE,
      searchAttributes: { CustomerId: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD },
    });
    const prefix = uniqueId('order');
    await withWorker(address, async (taskQueue) => {
      for (const [i, customer] of ['c1', 'c1', 'c2'].entries()) {
        const handle = await client.workflow.start<typeof scheduledEcho>('scheduledEcho', {
          taskQueue,
          workflowId: `${prefix}-${i}`,
          args: [`order ${i}`, 1],
          searchAttributes: { CustomerId: [customer] },
        });
        await handle.result();
      }
    });
    const ids: string[] = [];
    for await (const wf of client.workflow.list({ query: `CustomerId = 'c1' AND WorkflowId STARTS_WITH '${prefix}'` })) {
      ids.push(wf.workflowId);
      assert.deepEqual(wf.searchAttributes.CustomerId, ['c1']);
    }
    assert.deepEqual(ids.sort(), [`${prefix}-0`, `${prefix}-1`]);
    const count = await client.workflow.count(`CustomerId = 'c1'`);
    assert.equal(count.count, 2);
    const grouped = await client.workflow.count(`WorkflowId STARTS_WITH '${prefix}' GROUP BY ExecutionStatus`);
    assert.equal(grouped.count, 3);
    assert.equal(grouped.groups.length, 1);
    assert.equal(grouped.groups[0].count, 3);
    assert.deepEqual(grouped.groups[0].groupValues.flat(), ['Completed']);
    }));
});
