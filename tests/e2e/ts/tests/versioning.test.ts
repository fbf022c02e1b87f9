import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { temporal } from '@temporalio/proto';
import { useKairosServer, withWorker } from '../src/e2e';
import { DEFAULT_NAMESPACE, uniqueId } from '../src/harness';
import type { waitsForGo } from '../src/workflows';

// Worker Versioning from the TypeScript SDK: a workflow started while v1 of a
// worker deployment is current is pinned to v1 and finishes there after v2
// becomes current; a new workflow runs on v2. Describe and every
// WorkflowTaskCompleted event name the version.

const { VersioningBehavior } = temporal.api.enums.v1;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('worker versioning', () => {
  const kairos = useKairosServer();

  test('a pinned workflow stays on its version; new ones go to the current one', { timeout: 120_000 }, () =>
    kairos.run(async ({ client, address }) => {
      const taskQueue = uniqueId('versioning');
      const deploymentName = `deploy-${taskQueue}`;
      const svc = client.workflowService;
      const versioned = (buildId: string) => ({
        taskQueue,
        workerDeploymentOptions: {
          version: { deploymentName, buildId },
          useWorkerVersioning: true as const,
          defaultVersioningBehavior: 'PINNED' as const,
        },
      });
      const waitUntil = async (what: string, check: () => Promise<boolean>) => {
        for (let i = 0; i < 200; i++) {
          if (await check().catch(() => false)) return;
          await sleep(100);
        }
        assert.fail(`never ${what}`);
      };
      const setCurrent = (buildId: string) =>
        svc.setWorkerDeploymentCurrentVersion({ namespace: DEFAULT_NAMESPACE, deploymentName, buildId });
      const builds = async (workflowId: string) => {
        const history = await client.workflow.getHandle(workflowId).fetchHistory();
        return (history.events ?? [])
          .filter((e) => e.workflowTaskCompletedEventAttributes)
          .map((e) => e.workflowTaskCompletedEventAttributes?.deploymentVersion?.buildId);
      };

      await withWorker(
        address,
        () =>
          withWorker(
            address,
            async () => {
              for (const buildId of ['v1', 'v2'])
                await waitUntil(`registered ${buildId}`, async () => {
                  await svc.describeWorkerDeploymentVersion({
                    namespace: DEFAULT_NAMESPACE,
                    deploymentVersion: { deploymentName, buildId },
                  });
                  return true;
                });
              await setCurrent('v1');
              const pinnedId = uniqueId('pinned');
              const handle = await client.workflow.start<typeof waitsForGo>('waitsForGo', { taskQueue, workflowId: pinnedId });
              await waitUntil('pinned to v1', async () => {
                const info = (await handle.describe()).raw.workflowExecutionInfo?.versioningInfo;
                return (
                  info?.behavior === VersioningBehavior.VERSIONING_BEHAVIOR_PINNED &&
                  info?.deploymentVersion?.buildId === 'v1' &&
                  info?.deploymentVersion?.deploymentName === deploymentName
                );
              });

              await setCurrent('v2');
              await handle.signal('go');
              assert.equal(await handle.result(), 'done');
              assert.deepEqual(await builds(pinnedId), ['v1', 'v1']);

              const freshId = uniqueId('fresh');
              const fresh = await client.workflow.start<typeof waitsForGo>('waitsForGo', { taskQueue, workflowId: freshId });
              await fresh.signal('go');
              assert.equal(await fresh.result(), 'done');
              assert.deepEqual(await builds(freshId), ['v2', 'v2']);
              const info = (await fresh.describe()).raw.workflowExecutionInfo?.versioningInfo;
              assert.equal(info?.deploymentVersion?.buildId, 'v2');
            },
            versioned('v2'),
          ),
        versioned('v1'),
      );
    }));
});
