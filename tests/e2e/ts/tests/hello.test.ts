import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Worker } from '@temporalio/worker';
import { ensureRuntime, useKairosServer, withWorker, WORKFLOWS_PATH } from '../src/e2e';
import { uniqueId } from '../src/harness';
import { eventIds, eventTypeNames } from '../src/history';
import type { greet } from '../src/workflows';

const EXPECTED_EVENTS = [
  'WorkflowExecutionStarted',
  'WorkflowTaskScheduled',
  'WorkflowTaskStarted',
  'WorkflowTaskCompleted',
  'ActivityTaskScheduled',
  'ActivityTaskStarted',
  'ActivityTaskCompleted',
  'WorkflowTaskScheduled',
  'WorkflowTaskStarted',
  'WorkflowTaskCompleted',
  'TimerStarted',
  'TimerFired',
  'WorkflowTaskScheduled',
  'WorkflowTaskStarted',
  'WorkflowTaskCompleted',
  'WorkflowExecutionCompleted',
];

describe('hello world: activity + timer', () => {
  const kairos = useKairosServer();

  test('greet runs to completion with the expected history and replays', { timeout: 120_000 }, () =>
    kairos.run(async ({ client, address }) => {
      const workflowId = uniqueId('greet');
      const result = await withWorker(address, (taskQueue) =>
        client.workflow.execute<typeof greet>('greet', {
          taskQueue,
          workflowId,
          args: ['Kairos'],
        }),
      );
      const history = await client.workflow.getHandle(workflowId).fetchHistory();

      assert.equal(result, 'Hello, Kairos!');

      assert.deepEqual(eventTypeNames(history), EXPECTED_EVENTS);

      const ids = eventIds(history);
      assert.deepEqual(
        ids,
        ids.map((_, i) => i + 1),
        'event ids must be 1..N without gaps',
      );

      ensureRuntime();
      await Worker.runReplayHistory({ workflowsPath: WORKFLOWS_PATH }, history, workflowId);
    }));
});
