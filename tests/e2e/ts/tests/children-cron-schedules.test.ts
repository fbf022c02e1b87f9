/**
 * Child workflows, cron workflows and schedules with the TypeScript SDK:
 * parallel children and their parent links, a failing child caught by its
 * parent, a cron chain handing each result to the next run, and a schedule's
 * trigger, backfill, pause/unpause, list and delete. Every history is
 * checked and replayed.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Client, ScheduleNotFoundError, ScheduleOverlapPolicy, WorkflowExecutionInfo } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { useKairosServer, withWorker } from '../src/e2e';
import { uniqueId } from '../src/harness';
import { eventIdNumber, eventTypeName, eventTypeNames } from '../src/history';
import {
  assertCleanHistory,
  decodePayloads,
  enumName,
  eventsNamed,
  fetchHistory,
  IHistory,
  IHistoryEvent,
  num,
  replay,
  single,
  within,
} from '../src/history-utils';
import type { cronCounter, parentOfFailingChild, parentOfThree, scheduledEcho } from '../src/workflows';

const InitiatorProto = temporal.api.enums.v1.ContinueAsNewInitiator as unknown as Record<string, unknown>;
const RetryStateProto = temporal.api.enums.v1.RetryState as unknown as Record<string, unknown>;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Poll fn (short backoff, bounded) until it returns a value other than undefined. */
async function pollUntil<T>(what: string, timeoutMs: number, fn: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let delay = 50;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not reached within ${timeoutMs}ms`);
    await sleep(delay);
    delay = Math.min(delay * 2, 500);
  }
}

function lastEvent(history: IHistory): IHistoryEvent {
  const events = history.events ?? [];
  return events[events.length - 1];
}

/** Duration (protobuf) in milliseconds. */
function durationMs(d: { seconds?: unknown; nanos?: number | null } | null | undefined): number {
  if (!d) return 0;
  return num(d.seconds ?? 0) * 1000 + Math.floor((d.nanos ?? 0) / 1e6);
}

/** Go's time.RFC3339 rendering of a UTC time with whole seconds: 2024-01-02T03:04:00Z. */
function rfc3339(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

async function listRuns(client: Client, workflowId: string): Promise<WorkflowExecutionInfo[]> {
  const runs: WorkflowExecutionInfo[] = [];
  for await (const info of client.workflow.list({ query: `WorkflowId = '${workflowId}'` })) {
    runs.push(info);
  }
  return runs;
}

describe('children, cron workflows and schedules', () => {
  const kairos = useKairosServer();

  test('parent runs three children in parallel and collects their results', { timeout: 60_000 }, () =>
    kairos.run(async ({ client, address }) => {
      const workflowId = uniqueId('parent');
      const { result, parentRunId } = await withWorker(address, async (taskQueue) => {
        const handle = await client.workflow.start<typeof parentOfThree>('parentOfThree', { taskQueue, workflowId, args: [10] });
        const result = await within(30_000, 'parentOfThree result', handle.result());
        return { result, parentRunId: handle.firstExecutionRunId };
      });
      assert.deepEqual(result, ['11^2=121', '12^2=144', '13^2=169']);

      const history = await fetchHistory(client, workflowId);
      assertCleanHistory(history);
      const names = eventTypeNames(history);
      const initiated = eventsNamed(history, 'StartChildWorkflowExecutionInitiated');
      const started = eventsNamed(history, 'ChildWorkflowExecutionStarted');
      const completed = eventsNamed(history, 'ChildWorkflowExecutionCompleted');
      assert.equal(initiated.length, 3, `history: ${names.join(', ')}`);
      assert.equal(started.length, 3, `history: ${names.join(', ')}`);
      assert.equal(completed.length, 3, `history: ${names.join(', ')}`);
      assert.equal(names[names.length - 1], 'WorkflowExecutionCompleted');
      // All three are initiated by the first workflow task, before any has started.
      const lastInitiated = Math.max(...initiated.map(eventIdNumber));
      assert.ok(
        started.every((ev) => eventIdNumber(ev) > lastInitiated),
        `children must all be initiated before any starts; history: ${names.join(', ')}`,
      );

      for (const i of [1, 2, 3]) {
        const childId = `${workflowId}-child-${i}`;
        const init = initiated.find((ev) => ev.startChildWorkflowExecutionInitiatedEventAttributes?.workflowId === childId);
        assert.ok(init, `no StartChildWorkflowExecutionInitiated for ${childId}`);
        const initAttrs = init.startChildWorkflowExecutionInitiatedEventAttributes!;
        assert.equal(initAttrs.workflowType?.name, 'squareChild');
        assert.deepEqual(decodePayloads(initAttrs.input), [10 + i]);
        const initId = eventIdNumber(init);

        const st = started.find((ev) => num(ev.childWorkflowExecutionStartedEventAttributes?.initiatedEventId) === initId);
        assert.ok(st, `no ChildWorkflowExecutionStarted for initiated event ${initId}`);
        const stAttrs = st.childWorkflowExecutionStartedEventAttributes!;
        assert.equal(stAttrs.workflowExecution?.workflowId, childId);
        assert.equal(stAttrs.workflowType?.name, 'squareChild');
        const childRunId = stAttrs.workflowExecution?.runId;
        assert.ok(childRunId, 'ChildWorkflowExecutionStarted names the child run');

        const done = completed.find((ev) => num(ev.childWorkflowExecutionCompletedEventAttributes?.initiatedEventId) === initId);
        assert.ok(done, `no ChildWorkflowExecutionCompleted for initiated event ${initId}`);
        const doneAttrs = done.childWorkflowExecutionCompletedEventAttributes!;
        assert.equal(num(doneAttrs.startedEventId), eventIdNumber(st));
        assert.equal(doneAttrs.workflowExecution?.runId, childRunId);
        const n = 10 + i;
        assert.deepEqual(decodePayloads(doneAttrs.result), [`${n}^2=${n * n}`]);

        // The child's first event names its parent and the initiating event.
        const childHistory = await fetchHistory(client, childId, childRunId!);
        assertCleanHistory(childHistory);
        assert.equal(eventTypeName(lastEvent(childHistory)), 'WorkflowExecutionCompleted');
        const childStart = childHistory.events![0].workflowExecutionStartedEventAttributes!;
        assert.equal(childStart.parentWorkflowExecution?.workflowId, workflowId);
        assert.equal(childStart.parentWorkflowExecution?.runId, parentRunId);
        assert.equal(num(childStart.parentInitiatedEventId), initId);
        assert.equal(childStart.workflowType?.name, 'squareChild');
        await replay(childHistory, childId);
      }
      await replay(history, workflowId);
    }));

  test('parent catches a failing child', { timeout: 60_000 }, () =>
    kairos.run(async ({ client, address }) => {
      const workflowId = uniqueId('parent-failing');
      const childId = `${workflowId}-child`;
      const result = await withWorker(address, (taskQueue) =>
        within(30_000, 'parentOfFailingChild result', client.workflow.execute<typeof parentOfFailingChild>('parentOfFailingChild', {
          taskQueue,
          workflowId,
          args: ['child broke on purpose'],
        })),
      );
      assert.equal(result, 'caught: child broke on purpose');

      const history = await fetchHistory(client, workflowId);
      assertCleanHistory(history);
      // When the child fails relative to the parent's workflow task depends on timing;
      // the order of the child events and the completion does not.
      const names = eventTypeNames(history);
      const keyEvents = names.filter((n) => n.includes('Child') || n.startsWith('WorkflowExecution'));
      assert.deepEqual(keyEvents, [
        'WorkflowExecutionStarted',
        'StartChildWorkflowExecutionInitiated',
        'ChildWorkflowExecutionStarted',
        'ChildWorkflowExecutionFailed',
        'WorkflowExecutionCompleted',
      ]);
      assert.equal(names[names.length - 1], 'WorkflowExecutionCompleted');
      const init = single(history, 'StartChildWorkflowExecutionInitiated');
      assert.equal(init.startChildWorkflowExecutionInitiatedEventAttributes?.workflowId, childId);
      const failed = single(history, 'ChildWorkflowExecutionFailed').childWorkflowExecutionFailedEventAttributes!;
      assert.equal(num(failed.initiatedEventId), eventIdNumber(init));
      assert.equal(num(failed.startedEventId), eventIdNumber(single(history, 'ChildWorkflowExecutionStarted')));
      assert.equal(failed.workflowExecution?.workflowId, childId);
      assert.equal(failed.workflowType?.name, 'failingChild');
      assert.equal(failed.failure?.message, 'child broke on purpose');
      assert.equal(failed.failure?.applicationFailureInfo?.type, 'ChildBroke');
      assert.equal(Boolean(failed.failure?.applicationFailureInfo?.nonRetryable), true);
      // The child was started without a retry policy.
      assert.equal(enumName(RetryStateProto, failed.retryState), 'RETRY_STATE_RETRY_POLICY_NOT_SET');

      const childHistory = await fetchHistory(client, childId);
      assertCleanHistory(childHistory);
      assert.equal(eventTypeName(lastEvent(childHistory)), 'WorkflowExecutionFailed');
      assert.equal(num(childHistory.events![0].workflowExecutionStartedEventAttributes?.parentInitiatedEventId), eventIdNumber(init));
      await replay(childHistory, childId);
      await replay(history, workflowId);
    }));

  test('cron workflow carries each result to the next run until terminated', { timeout: 90_000 }, () =>
    kairos.run(async ({ client, address }) => {
      const workflowId = uniqueId('cron');
      const { runs, terminatedRunId, terminatedStatus } = await withWorker(
        address,
        async (taskQueue) => {
          const handle = await client.workflow.start<typeof cronCounter>('cronCounter', {
            taskQueue,
            workflowId,
            cronSchedule: '@every 2s',
          });
          await pollUntil('three completed cron runs in the list', 30_000, async () => {
            const listed = await listRuns(client, workflowId);
            return listed.filter((r) => r.status.name === 'COMPLETED').length >= 3 ? listed : undefined;
          });
          // Follow the chain from the first run through each completed event's new run id.
          // Each run's result is read from its WorkflowExecutionCompleted event: the SDK's
          // handle.result() with followRuns: false cannot be used for a completed cron run
          // because Temporal rewrites the close event into a fake WorkflowExecutionContinuedAsNew
          // for clients that do not send supported-features: follows-next-run-id (the TS
          // client does not), so result() throws WorkflowContinuedAsNewError there.
          const runs: { runId: string; history: IHistory; result: unknown }[] = [];
          let runId = handle.firstExecutionRunId;
          for (let i = 1; i <= 3; i++) {
            const history = await fetchHistory(client, workflowId, runId);
            const [result] = decodePayloads(lastEvent(history).workflowExecutionCompletedEventAttributes?.result);
            runs.push({ runId, history, result });
            runId = lastEvent(history).workflowExecutionCompletedEventAttributes?.newExecutionRunId ?? '';
            assert.ok(runId, `cron run ${i}: WorkflowExecutionCompleted names no next run`);
          }

          await handle.terminate('enough');
          const terminated = await client.workflow.getHandle(workflowId).describe();
          return { runs, terminatedRunId: terminated.runId, terminatedStatus: terminated.status.name };
        },
        { timeoutMs: 80_000 },
      );

      runs.forEach(({ runId, history, result }, idx) => {
        const i = idx + 1;
        assertCleanHistory(history);
        assert.equal(result, i, `result of cron run ${i}`);
        const done = lastEvent(history);
        assert.equal(eventTypeName(done), 'WorkflowExecutionCompleted', `run ${i}: ${eventTypeNames(history).join(', ')}`);
        const start = history.events![0].workflowExecutionStartedEventAttributes!;
        assert.equal(start.cronSchedule, '@every 2s', `run ${i} cron schedule`);
        if (i === 1) {
          assert.ok(
            durationMs(start.firstWorkflowTaskBackoff) > 0,
            `run 1: firstWorkflowTaskBackoff ${durationMs(start.firstWorkflowTaskBackoff)}ms, want > 0 (the first run waits for the schedule)`,
          );
          assert.ok(!start.lastCompletionResult?.payloads?.length, 'run 1 has no last completion result');
        } else {
          assert.equal(enumName(InitiatorProto, start.initiator), 'CONTINUE_AS_NEW_INITIATOR_CRON_SCHEDULE', `run ${i} initiator`);
          assert.equal(start.continuedExecutionRunId, runs[idx - 1].runId, `run ${i} continues run ${i - 1}`);
          assert.deepEqual(decodePayloads(start.lastCompletionResult), [i - 1], `run ${i} last completion result`);
          const backoff = durationMs(start.firstWorkflowTaskBackoff);
          assert.ok(backoff > 0 && backoff <= 2000, `run ${i}: firstWorkflowTaskBackoff ${backoff}ms, want (0, 2000]`);
        }
        assert.notEqual(runId, terminatedRunId, `run ${i} completed, it cannot be the terminated run`);
      });
      for (const { history } of runs) {
        await replay(history, workflowId);
      }

      assert.equal(terminatedStatus, 'TERMINATED', 'the current run is terminated');
      // The chain stops: the run current at termination stays the last one.
      await sleep(3000);
      const after = await client.workflow.getHandle(workflowId).describe();
      assert.equal(after.runId, terminatedRunId, 'no new run after termination');
      assert.equal(after.status.name, 'TERMINATED');
      // Every listed run but the terminated one completed (visibility is eventually consistent on Temporal).
      const listed = await pollUntil('the terminated run listed as TERMINATED', 20_000, async () => {
        const l = await listRuns(client, workflowId);
        return l.some((r) => r.runId === terminatedRunId && r.status.name === 'TERMINATED') ? l : undefined;
      });
      const others = listed.filter((r) => r.runId !== terminatedRunId);
      assert.ok(
        others.every((r) => r.status.name === 'COMPLETED'),
        `runs listed after termination: ${listed.map((r) => `${r.runId}:${r.status.name}`).join(', ')}`,
      );
      assert.ok(others.length >= 3, `${others.length} completed runs listed, want >= 3`);
      const terminatedHistory = await fetchHistory(client, workflowId, terminatedRunId);
      assertCleanHistory(terminatedHistory);
      const term = lastEvent(terminatedHistory);
      assert.equal(eventTypeName(term), 'WorkflowExecutionTerminated', `terminated run: ${eventTypeNames(terminatedHistory).join(', ')}`);
      assert.equal(term.workflowExecutionTerminatedEventAttributes?.reason, 'enough');
      const termStart = terminatedHistory.events![0].workflowExecutionStartedEventAttributes!;
      assert.equal(termStart.cronSchedule, '@every 2s');
      assert.equal(enumName(InitiatorProto, termStart.initiator), 'CONTINUE_AS_NEW_INITIATOR_CRON_SCHEDULE');
    }));

  test('schedule: trigger, backfill, pause/unpause, list, delete', { timeout: 120_000 }, () =>
    kairos.run(async ({ client, address }) => {
      const scheduleId = uniqueId('schedule');
      const actionWorkflowId = uniqueId('scheduled-echo');
      await withWorker(
        address,
        async (taskQueue) => {
          const handle = await client.schedule.create<typeof scheduledEcho>({
            scheduleId,
            spec: { intervals: [{ every: '1m' }] },
            action: { type: 'startWorkflow', workflowType: 'scheduledEcho', args: ['tick', 2], taskQueue, workflowId: actionWorkflowId },
            state: { paused: true, note: 'created paused' },
          });
          const created = await handle.describe();
          assert.equal(created.scheduleId, scheduleId);
          assert.equal(created.state.paused, true);
          assert.equal(created.state.note, 'created paused');
          assert.equal(created.info.numActionsTaken, 0);
          assert.equal(created.action.workflowType, 'scheduledEcho');
          assert.equal(created.action.workflowId, actionWorkflowId);
          assert.deepEqual(created.action.args, ['tick', 2]);

          // A trigger runs the action at once, even while paused.
          const triggeredAt = Date.now();
          await handle.trigger();
          const afterTrigger = await pollUntil('one action after trigger', 20_000, async () => {
            const d = await handle.describe();
            return d.info.numActionsTaken === 1 && d.info.recentActions.length === 1 ? d : undefined;
          });
          const triggeredId = afterTrigger.info.recentActions[0].action.workflow.workflowId;
          assert.ok(triggeredId.startsWith(`${actionWorkflowId}-`), `triggered workflow id ${triggeredId}`);
          const suffix = triggeredId.slice(actionWorkflowId.length + 1);
          assert.match(suffix, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/, `triggered workflow id suffix ${suffix}`);
          assert.ok(Math.abs(Date.parse(suffix) - triggeredAt) < 60_000, `trigger time ${suffix} is not about now`);
          assert.equal(
            await within(15_000, 'triggered workflow result', client.workflow.getHandle<typeof scheduledEcho>(triggeredId).result()),
            'tick tick',
          );
          const triggeredHistory = await fetchHistory(client, triggeredId);
          assertCleanHistory(triggeredHistory);
          assert.equal(eventTypeName(lastEvent(triggeredHistory)), 'WorkflowExecutionCompleted');
          const triggeredStart = triggeredHistory.events![0].workflowExecutionStartedEventAttributes!;
          assert.equal(triggeredStart.workflowType?.name, 'scheduledEcho');
          assert.deepEqual(decodePayloads(triggeredStart.input), ['tick', 2]);
          const scheduledBy = triggeredStart.searchAttributes?.indexedFields?.TemporalScheduledById;
          assert.ok(scheduledBy, 'the started workflow carries TemporalScheduledById');
          assert.equal(defaultPayloadConverter.fromPayload(scheduledBy as never), scheduleId);
          await replay(triggeredHistory, triggeredId);

          // A backfill of a two-minute range an hour ago takes the three minutes in it.
          const base = new Date(Math.floor(Date.now() / 60_000) * 60_000 - 3_600_000);
          const minutes = [0, 1, 2].map((m) => new Date(base.getTime() + m * 60_000));
          await handle.backfill({ start: base, end: minutes[2], overlap: ScheduleOverlapPolicy.ALLOW_ALL });
          const backfilledIds = minutes.map((m) => `${actionWorkflowId}-${rfc3339(m)}`);
          const afterBackfill = await pollUntil('four actions after backfill', 20_000, async () => {
            const d = await handle.describe();
            return d.info.numActionsTaken === 4 ? d : undefined;
          });
          const recentIds = afterBackfill.info.recentActions.map((a) => a.action.workflow.workflowId);
          assert.equal(recentIds.length, 4, `recent actions: ${recentIds.join(', ')}`);
          assert.deepEqual([...recentIds].sort(), [triggeredId, ...backfilledIds].sort());
          for (const [k, id] of backfilledIds.entries()) {
            const action = afterBackfill.info.recentActions.find((a) => a.action.workflow.workflowId === id)!;
            assert.equal(action.scheduledAt.getTime(), minutes[k].getTime(), `${id} scheduledAt`);
            assert.equal(
              await within(15_000, `result of ${id}`, client.workflow.getHandle<typeof scheduledEcho>(id).result()),
              'tick tick',
            );
          }
          const backfilledHistory = await fetchHistory(client, backfilledIds[0]);
          assertCleanHistory(backfilledHistory);
          assert.equal(eventTypeName(lastEvent(backfilledHistory)), 'WorkflowExecutionCompleted');
          await replay(backfilledHistory, backfilledIds[0]);
          assert.equal(afterBackfill.state.paused, true, 'trigger and backfill leave the schedule paused');

          // Pause / unpause notes are visible in describe.
          await handle.unpause('unpaused by the test');
          const unpaused = await handle.describe();
          assert.equal(unpaused.state.paused, false);
          assert.equal(unpaused.state.note, 'unpaused by the test');
          assert.ok(unpaused.info.nextActionTimes.length > 0, 'an unpaused schedule has next action times');
          await handle.pause('paused by the test');
          const paused = await handle.describe();
          assert.equal(paused.state.paused, true);
          assert.equal(paused.state.note, 'paused by the test');

          // List finds it (eventually consistent on Temporal).
          const listed = await pollUntil('schedule listed with its pause note', 20_000, async () => {
            for await (const s of client.schedule.list()) {
              if (s.scheduleId === scheduleId && s.state.paused && s.state.note === 'paused by the test') return s;
            }
            return undefined;
          });
          assert.equal(listed.action?.workflowType, 'scheduledEcho');

          await handle.delete();
          const err = await handle.describe().then(
            (d) => assert.fail(`describe after delete returned ${JSON.stringify(d.state)}`),
            (e: unknown) => e,
          );
          assert.ok(err instanceof ScheduleNotFoundError, `expected ScheduleNotFoundError, got ${String(err)}`);
          assert.equal(err.scheduleId, scheduleId);
        },
        { timeoutMs: 110_000 },
      );
    }));
});
