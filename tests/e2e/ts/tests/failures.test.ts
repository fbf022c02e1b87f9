/**
 * Failure handling with the TypeScript SDK: activity retries with backoff,
 * non-retryable failures, start-to-close and heartbeat timeouts. Every
 * history is checked and replayed.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { WorkflowFailedError } from '@temporalio/client';
import { ActivityFailure, ApplicationFailure, RetryState, TimeoutFailure, TimeoutType } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { recordedAttempts } from '../src/activities/failures';
import { useKairosServer, withWorker } from '../src/e2e';
import { uniqueId } from '../src/harness';
import { eventTypeNames } from '../src/history';
import {
  assertCleanHistory,
  decodePayloads,
  enumName,
  eventTimeMs,
  fetchHistory,
  num,
  replay,
  single,
  within,
} from '../src/history-utils';
import type { failNonRetryable, heartbeatTimeout, retryWithBackoff, startToCloseTimeout } from '../src/workflows';

const TimeoutTypeProto = temporal.api.enums.v1.TimeoutType as unknown as Record<string, unknown>;
const RetryStateProto = temporal.api.enums.v1.RetryState as unknown as Record<string, unknown>;

const ONE_ACTIVITY_THEN_FAIL = [
  'WorkflowExecutionStarted',
  'WorkflowTaskScheduled',
  'WorkflowTaskStarted',
  'WorkflowTaskCompleted',
  'ActivityTaskScheduled',
  'ActivityTaskStarted',
  'ActivityTaskFailed',
  'WorkflowTaskScheduled',
  'WorkflowTaskStarted',
  'WorkflowTaskCompleted',
  'WorkflowExecutionFailed',
];

const ONE_ACTIVITY_TIMED_OUT = ONE_ACTIVITY_THEN_FAIL.map((t) => (t === 'ActivityTaskFailed' ? 'ActivityTaskTimedOut' : t));

/** Unwraps WorkflowFailedError -> ActivityFailure and returns both plus the root cause. */
function activityFailureChain(err: unknown): { activityFailure: ActivityFailure; cause: Error | undefined } {
  assert.ok(err instanceof WorkflowFailedError, `expected WorkflowFailedError, got ${String(err)}`);
  const activityFailure = err.cause;
  assert.ok(activityFailure instanceof ActivityFailure, `expected an ActivityFailure cause, got ${String(activityFailure)}`);
  return { activityFailure, cause: activityFailure.cause };
}

describe('failures: retries, non-retryable errors, timeouts', () => {
  const kairos = useKairosServer();

  test('activity retry with growing backoff', { timeout: 60_000 }, () =>
    kairos.run(async ({ client, address }) => {
      const workflowId = uniqueId('retry-backoff');
      const result = await withWorker(address, (taskQueue) =>
        within(30_000, 'retryWithBackoff result', client.workflow.execute<typeof retryWithBackoff>('retryWithBackoff', { taskQueue, workflowId, args: [4] })),
      );
      assert.equal(result, 'succeeded on attempt 4');

      const attempts = recordedAttempts(workflowId);
      assert.deepEqual(
        attempts.map((a) => a.attempt),
        [1, 2, 3, 4],
      );
      // Backoff 1s, 1.5s, 2.25s (real Temporal dispatches retries with ~1s
      // granularity, so shorter intervals would not show the growth).
      const expected = [1000, 1500, 2250];
      const gaps = attempts.slice(1).map((a, i) => a.at - attempts[i].at);
      gaps.forEach((gap, i) => {
        assert.ok(gap >= expected[i] * 0.8, `gap before attempt ${i + 2} = ${gap}ms, want >= 0.8 x ${expected[i]}ms (gaps ${gaps})`);
        assert.ok(gap <= expected[i] + 5000, `gap before attempt ${i + 2} = ${gap}ms, far more than ${expected[i]}ms`);
        if (i > 0) assert.ok(gap > gaps[i - 1], `backoff does not grow: gaps ${gaps}`);
      });

      const history = await fetchHistory(client, workflowId);
      assertCleanHistory(history);
      assert.deepEqual(eventTypeNames(history), [
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
        'WorkflowExecutionCompleted',
      ]);
      const sched = single(history, 'ActivityTaskScheduled').activityTaskScheduledEventAttributes!;
      assert.equal(num(sched.retryPolicy?.initialInterval?.seconds), 1);
      assert.equal(sched.retryPolicy?.backoffCoefficient, 1.5);
      const started = single(history, 'ActivityTaskStarted').activityTaskStartedEventAttributes!;
      assert.equal(started.attempt, 4, 'ActivityTaskStarted.attempt');
      assert.equal(started.lastFailure?.message, 'attempt 3 failed', 'ActivityTaskStarted.last_failure');
      assert.equal(started.lastFailure?.applicationFailureInfo?.type, 'Flaky');
      const completed = single(history, 'ActivityTaskCompleted').activityTaskCompletedEventAttributes!;
      assert.deepEqual(decodePayloads(completed.result), ['succeeded on attempt 4']);
      await replay(history, workflowId);
    }));

  for (const { kind, type, message, nonRetryableFlag } of [
    { kind: 'non-retryable', type: 'Fatal', message: 'fatal failure', nonRetryableFlag: true },
    { kind: 'bad-input', type: 'BadInput', message: 'bad input', nonRetryableFlag: false },
  ]) {
    const how = nonRetryableFlag ? 'ApplicationFailure.nonRetryable' : 'retry.nonRetryableErrorTypes';
    test(`non-retryable failure (${how}) runs exactly once`, { timeout: 60_000 }, () =>
      kairos.run(async ({ client, address }) => {
        const workflowId = uniqueId(`non-retryable-${kind}`);
        const err = await withWorker(address, (taskQueue) =>
          within(15_000, 'failNonRetryable result', client.workflow.execute<typeof failNonRetryable>('failNonRetryable', { taskQueue, workflowId, args: [kind] })).then(
              (r) => assert.fail(`workflow succeeded with ${String(r)}`),
              (e: unknown) => e,
            ),
        );
        const { activityFailure, cause } = activityFailureChain(err);
        assert.equal(activityFailure.activityType, 'failWith');
        assert.equal(activityFailure.retryState, RetryState.NON_RETRYABLE_FAILURE);
        assert.ok(cause instanceof ApplicationFailure, `expected ApplicationFailure, got ${String(cause)}`);
        assert.equal(cause.type, type);
        assert.equal(cause.message, message);
        assert.equal(cause.nonRetryable, nonRetryableFlag);
        assert.equal(recordedAttempts(workflowId).length, 1, 'activity attempts');

        const history = await fetchHistory(client, workflowId);
        assertCleanHistory(history);
        assert.deepEqual(eventTypeNames(history), ONE_ACTIVITY_THEN_FAIL);
        assert.equal(single(history, 'ActivityTaskStarted').activityTaskStartedEventAttributes?.attempt, 1);
        const failed = single(history, 'ActivityTaskFailed').activityTaskFailedEventAttributes!;
        assert.equal(enumName(RetryStateProto, failed.retryState), 'RETRY_STATE_NON_RETRYABLE_FAILURE');
        assert.equal(failed.failure?.message, message);
        assert.equal(failed.failure?.applicationFailureInfo?.type, type);
        assert.equal(Boolean(failed.failure?.applicationFailureInfo?.nonRetryable), nonRetryableFlag);
        await replay(history, workflowId);
      }));
  }

  test('start-to-close timeout', { timeout: 60_000 }, () =>
    kairos.run(async ({ client, address }) => {
      const workflowId = uniqueId('start-to-close');
      const err = await withWorker(address, (taskQueue) =>
        within(15_000, 'startToCloseTimeout result', client.workflow.execute<typeof startToCloseTimeout>('startToCloseTimeout', { taskQueue, workflowId })).then(
          (r) => assert.fail(`workflow succeeded with ${String(r)}`),
          (e: unknown) => e,
        ),
      );
      const { activityFailure, cause } = activityFailureChain(err);
      assert.equal(activityFailure.retryState, RetryState.MAXIMUM_ATTEMPTS_REACHED);
      assert.ok(cause instanceof TimeoutFailure, `expected TimeoutFailure, got ${String(cause)}`);
      assert.equal(cause.timeoutType, TimeoutType.START_TO_CLOSE);
      assert.equal(recordedAttempts(workflowId).length, 1, 'activity attempts');

      const history = await fetchHistory(client, workflowId);
      assertCleanHistory(history);
      assert.deepEqual(eventTypeNames(history), ONE_ACTIVITY_TIMED_OUT);
      const timedOutEvent = single(history, 'ActivityTaskTimedOut');
      const timedOut = timedOutEvent.activityTaskTimedOutEventAttributes!;
      assert.equal(enumName(TimeoutTypeProto, timedOut.failure?.timeoutFailureInfo?.timeoutType), 'TIMEOUT_TYPE_START_TO_CLOSE');
      assert.equal(enumName(RetryStateProto, timedOut.retryState), 'RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED');
      const gap = eventTimeMs(timedOutEvent) - eventTimeMs(single(history, 'ActivityTaskScheduled'));
      assert.ok(gap >= 900 && gap <= 9000, `timed out ${gap}ms after being scheduled, want about 1000ms`);
      await replay(history, workflowId);
    }));

  test('heartbeat timeout carries the last heartbeat details', { timeout: 60_000 }, () =>
    kairos.run(async ({ client, address }) => {
      const workflowId = uniqueId('heartbeat-timeout');
      const err = await withWorker(address, (taskQueue) =>
        within(15_000, 'heartbeatTimeout result', client.workflow.execute<typeof heartbeatTimeout>('heartbeatTimeout', { taskQueue, workflowId, args: ['progress-1'] })).then(
            (r) => assert.fail(`workflow succeeded with ${String(r)}`),
            (e: unknown) => e,
          ),
      );
      const { activityFailure, cause } = activityFailureChain(err);
      assert.equal(activityFailure.retryState, RetryState.MAXIMUM_ATTEMPTS_REACHED);
      assert.ok(cause instanceof TimeoutFailure, `expected TimeoutFailure, got ${String(cause)}`);
      assert.equal(cause.timeoutType, TimeoutType.HEARTBEAT);
      assert.equal(cause.lastHeartbeatDetails, 'progress-1');

      const history = await fetchHistory(client, workflowId);
      assertCleanHistory(history);
      assert.deepEqual(eventTypeNames(history), ONE_ACTIVITY_TIMED_OUT);
      const timedOutEvent = single(history, 'ActivityTaskTimedOut');
      const timedOut = timedOutEvent.activityTaskTimedOutEventAttributes!;
      assert.equal(enumName(TimeoutTypeProto, timedOut.failure?.timeoutFailureInfo?.timeoutType), 'TIMEOUT_TYPE_HEARTBEAT');
      assert.deepEqual(decodePayloads(timedOut.failure?.timeoutFailureInfo?.lastHeartbeatDetails), ['progress-1']);
      const gap = eventTimeMs(timedOutEvent) - eventTimeMs(single(history, 'ActivityTaskScheduled'));
      assert.ok(gap >= 900 && gap <= 10_000, `timed out ${gap}ms after being scheduled, want about 1000ms (not the 20s start-to-close)`);
      await replay(history, workflowId);
    }));
});
