/**
 * Talking to running workflows with the TypeScript SDK: signals, queries,
 * updates with a validator, and cancellation with cleanup. Every history is
 * checked and replayed.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  Client,
  QueryNotRegisteredError,
  QueryRejectedError,
  WorkflowFailedError,
  WorkflowUpdateFailedError,
} from '@temporalio/client';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { recordedCleanup } from '../src/activities/messages';
import { useKairosServer, withWorker } from '../src/e2e';
import { DEFAULT_NAMESPACE, uniqueId } from '../src/harness';
import { eventIdNumber, eventTypeName, eventTypeNames } from '../src/history';
import {
  assertCleanHistory,
  decodePayloads,
  eventsNamed,
  eventTimeMs,
  fetchHistory,
  IHistory,
  replay,
  single,
  waitForEvent,
  waitForHistory,
  within,
} from '../src/history-utils';
import type { approval, counter, orderStatus, subscription } from '../src/workflows';
import { addUpdate, approveSignal, approverQuery, doneSignal, paySignal, shipSignal, statusQuery } from '../src/workflows/messages';

/** True once a WorkflowTaskCompleted follows the n-th event named `name`. */
function taskCompletedAfter(name: string, n: number): (h: IHistory) => boolean {
  return (h) => {
    const names = eventTypeNames(h);
    let seen = 0;
    for (let i = 0; i < names.length; i++) {
      if (names[i] === name && ++seen === n) {
        return names.slice(i + 1).includes('WorkflowTaskCompleted');
      }
    }
    return false;
  };
}

function updateEvents(history: IHistory, updateId: string): { accepted: number; completed: number } {
  const accepted = eventsNamed(history, 'WorkflowExecutionUpdateAccepted').filter(
    (ev) => ev.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.meta?.updateId === updateId,
  ).length;
  const completed = eventsNamed(history, 'WorkflowExecutionUpdateCompleted').filter(
    (ev) => ev.workflowExecutionUpdateCompletedEventAttributes?.meta?.updateId === updateId,
  ).length;
  return { accepted, completed };
}

describe('messages: signals, queries, updates, cancellation', () => {
  const kairos = useKairosServer();

  test('signal approves before the timer fires', { timeout: 60_000 }, () =>
    kairos.run(async ({ client, address }) => {
      const workflowId = uniqueId('approval');
      const { result, approverAfter } = await withWorker(address, async (taskQueue) => {
        const handle = await client.workflow.start<typeof approval>('approval', { taskQueue, workflowId, args: [2000] });
        await waitForEvent(client, workflowId, 'TimerStarted');
        await handle.signal(approveSignal, 'alice');
        const result = await within(15_000, 'approval result', handle.result());
        // Queries still work on the completed workflow while a worker runs.
        const approverAfter = await within(10_000, 'query on the completed workflow', handle.query(approverQuery));
        return { result, approverAfter };
      });
      assert.equal(result, 'approved by alice');
      assert.equal(approverAfter, 'alice');

      const history = await fetchHistory(client, workflowId);
      assertCleanHistory(history);
      // condition(fn, timeout) cancels its timer once the condition holds.
      assert.deepEqual(eventTypeNames(history), [
        'WorkflowExecutionStarted',
        'WorkflowTaskScheduled',
        'WorkflowTaskStarted',
        'WorkflowTaskCompleted',
        'TimerStarted',
        'WorkflowExecutionSignaled',
        'WorkflowTaskScheduled',
        'WorkflowTaskStarted',
        'WorkflowTaskCompleted',
        'TimerCanceled',
        'WorkflowExecutionCompleted',
      ]);
      const signaled = single(history, 'WorkflowExecutionSignaled').workflowExecutionSignaledEventAttributes!;
      assert.equal(signaled.signalName, 'approve');
      assert.deepEqual(decodePayloads(signaled.input), ['alice']);
      const started = single(history, 'TimerStarted');
      const canceled = single(history, 'TimerCanceled').timerCanceledEventAttributes!;
      assert.equal(Number(canceled.startedEventId), eventIdNumber(started));
      assert.equal(canceled.timerId, started.timerStartedEventAttributes?.timerId);
      const took = eventTimeMs(history.events![history.events!.length - 1]) - eventTimeMs(started);
      assert.ok(took < 2000, `workflow closed ${took}ms after TimerStarted, it should not have waited for the 2s timer`);
      await replay(history, workflowId);
    }));

  test('query follows each step, unknown query types fail, closed workflows stay queryable', { timeout: 60_000 }, () =>
    kairos.run(async ({ client, connection, address }) => {
      const workflowId = uniqueId('order-status');
      const rejectingClient = new Client({
        connection,
        namespace: DEFAULT_NAMESPACE,
        workflow: { queryRejectCondition: 'NOT_OPEN' },
      });
      const { result, statuses, unknownErr, afterClose, rejected } = await withWorker(address, async (taskQueue) => {
        const handle = await client.workflow.start<typeof orderStatus>('orderStatus', { taskQueue, workflowId });
        const statuses: string[] = [];
        await waitForEvent(client, workflowId, 'WorkflowTaskCompleted');
        statuses.push(await within(10_000, 'status query #1', handle.query(statusQuery)));
        // NOT_OPEN does not reject queries on a running workflow.
        statuses.push(await within(10_000, 'NOT_OPEN status query on the running workflow', rejectingClient.workflow.getHandle(workflowId).query(statusQuery)));

        const unknownErr = await within(10_000, 'unknown query', handle.query('no-such-query')).then(
          (r) => assert.fail(`unknown query returned ${String(r)}`),
          (e: unknown) => e,
        );

        await handle.signal(paySignal);
        await waitForHistory(client, workflowId, 'workflow task after the pay signal', taskCompletedAfter('WorkflowExecutionSignaled', 1));
        statuses.push(await within(10_000, 'status query #3', handle.query(statusQuery)));

        await handle.signal(shipSignal);
        const result = await within(15_000, 'orderStatus result', handle.result());
        const afterClose = await within(10_000, 'query on the completed workflow', handle.query(statusQuery));
        const rejected = await within(10_000, 'NOT_OPEN query on the closed workflow', rejectingClient.workflow.getHandle(workflowId).query(statusQuery)).then(
            (r) => assert.fail(`NOT_OPEN query on a closed workflow returned ${String(r)}`),
            (e: unknown) => e,
          );
        return { result, statuses, unknownErr, afterClose, rejected };
      });
      assert.deepEqual(statuses, ['awaiting payment', 'awaiting payment', 'awaiting shipment']);
      assert.equal(result, 'shipped');
      assert.equal(afterClose, 'shipped');
      assert.ok(unknownErr instanceof QueryNotRegisteredError, `unknown query: expected QueryNotRegisteredError, got ${String(unknownErr)}`);
      assert.match(unknownErr.message, /did not register a handler for no-such-query/);
      assert.ok(rejected instanceof QueryRejectedError, `expected QueryRejectedError, got ${String(rejected)}`);

      const history = await fetchHistory(client, workflowId);
      assertCleanHistory(history);
      assert.deepEqual(eventTypeNames(history), [
        'WorkflowExecutionStarted',
        'WorkflowTaskScheduled',
        'WorkflowTaskStarted',
        'WorkflowTaskCompleted',
        'WorkflowExecutionSignaled',
        'WorkflowTaskScheduled',
        'WorkflowTaskStarted',
        'WorkflowTaskCompleted',
        'WorkflowExecutionSignaled',
        'WorkflowTaskScheduled',
        'WorkflowTaskStarted',
        'WorkflowTaskCompleted',
        'WorkflowExecutionCompleted',
      ]);
      await replay(history, workflowId);
    }));

  test('update with validator: accepted and rejected', { timeout: 60_000 }, () =>
    kairos.run(async ({ client, address }) => {
      const workflowId = uniqueId('counter');
      const { first, rejectedErr, lenBefore, lenAfter, total } = await withWorker(address, async (taskQueue) => {
        const handle = await client.workflow.start<typeof counter>('counter', { taskQueue, workflowId });
        const first = await within(15_000, 'update add(5)', handle.executeUpdate(addUpdate, { args: [5], updateId: 'add-5' }));
        const lenBefore = (await fetchHistory(client, workflowId)).events?.length ?? 0;
        const rejectedErr = await within(15_000, 'update add(-1)', handle.executeUpdate(addUpdate, { args: [-1], updateId: 'add-negative' })).then(
          (r) => assert.fail(`rejected update returned ${String(r)}`),
          (e: unknown) => e,
        );
        const lenAfter = (await fetchHistory(client, workflowId)).events?.length ?? 0;
        await handle.signal(doneSignal);
        const total = await within(15_000, 'counter result', handle.result());
        return { first, rejectedErr, lenBefore, lenAfter, total };
      });
      assert.equal(first, 5);
      assert.equal(total, 5, 'the rejected update must not change the total');
      assert.ok(rejectedErr instanceof WorkflowUpdateFailedError, `expected WorkflowUpdateFailedError, got ${String(rejectedErr)}`);
      assert.ok(rejectedErr.cause instanceof ApplicationFailure, `expected an ApplicationFailure cause, got ${String(rejectedErr.cause)}`);
      assert.equal(rejectedErr.cause.message, 'negative amounts are not allowed');
      assert.equal(lenAfter, lenBefore, 'a rejected update must not add events (Temporal drops the speculative workflow task)');

      const history = await fetchHistory(client, workflowId);
      assertCleanHistory(history);
      assert.deepEqual(updateEvents(history, 'add-5'), { accepted: 1, completed: 1 });
      assert.deepEqual(updateEvents(history, 'add-negative'), { accepted: 0, completed: 0 });
      assert.equal(eventsNamed(history, 'WorkflowExecutionUpdateRejected').length, 0);
      const accepted = single(history, 'WorkflowExecutionUpdateAccepted');
      const completed = single(history, 'WorkflowExecutionUpdateCompleted');
      assert.ok(eventIdNumber(accepted) < eventIdNumber(completed), 'UpdateAccepted must precede UpdateCompleted');
      const acc = accepted.workflowExecutionUpdateAcceptedEventAttributes!;
      assert.equal(acc.protocolInstanceId, 'add-5');
      assert.equal(acc.acceptedRequest?.input?.name, 'add');
      assert.deepEqual(decodePayloads(acc.acceptedRequest?.input?.args), [5]);
      const comp = completed.workflowExecutionUpdateCompletedEventAttributes!;
      assert.equal(Number(comp.acceptedEventId), eventIdNumber(accepted));
      assert.deepEqual(decodePayloads(comp.outcome?.success), [5]);
      assert.equal(eventTypeName(history.events![history.events!.length - 1]), 'WorkflowExecutionCompleted');
      await replay(history, workflowId);
    }));

  test('cancellation runs the cleanup activity and ends the run canceled', { timeout: 60_000 }, () =>
    kairos.run(async ({ client, address }) => {
      const workflowId = uniqueId('subscription');
      const subscriptionId = workflowId;
      const { err, status } = await withWorker(address, async (taskQueue) => {
        const handle = await client.workflow.start<typeof subscription>('subscription', {
          taskQueue,
          workflowId,
          args: [subscriptionId, 300],
        });
        await waitForEvent(client, workflowId, 'TimerFired');
        await handle.cancel();
        const err = await within(15_000, 'subscription result', handle.result()).then(
          (r) => assert.fail(`canceled workflow returned ${String(r)}`),
          (e: unknown) => e,
        );
        const status = (await handle.describe()).status.name;
        return { err, status };
      });
      assert.ok(err instanceof WorkflowFailedError, `expected WorkflowFailedError, got ${String(err)}`);
      assert.ok(err.cause instanceof CancelledFailure, `expected a CancelledFailure cause, got ${String(err.cause)}`);
      assert.equal(status, 'CANCELLED');
      const charges = recordedCleanup(subscriptionId);
      assert.ok(charges !== undefined && charges >= 1, `cleanup activity saw ${String(charges)} charges, want >= 1`);

      const history = await fetchHistory(client, workflowId);
      assertCleanHistory(history);
      const names = eventTypeNames(history);
      const cancelRequested = eventIdNumber(single(history, 'WorkflowExecutionCancelRequested'));
      const scheduled = single(history, 'ActivityTaskScheduled');
      assert.equal(scheduled.activityTaskScheduledEventAttributes?.activityType?.name, 'cancelSubscription');
      const completed = eventIdNumber(single(history, 'ActivityTaskCompleted'));
      const timerCanceled = eventIdNumber(single(history, 'TimerCanceled'));
      assert.equal(names[names.length - 1], 'WorkflowExecutionCanceled', `history: ${names.join(', ')}`);
      const ordered = [cancelRequested, timerCanceled, eventIdNumber(scheduled), completed, names.length];
      assert.deepEqual(
        [...ordered].sort((a, b) => a - b),
        ordered,
        `expected CancelRequested < TimerCanceled < ActivityTaskScheduled < ActivityTaskCompleted < WorkflowExecutionCanceled; history: ${names.join(', ')}`,
      );
      await replay(history, workflowId);
    }));
});
