/**
 * Nexus with the TypeScript SDK (@temporalio/nexus, nexus-rpc): an endpoint
 * created through the OperatorService targets a handler worker's task queue
 * in one namespace; a caller workflow in another namespace calls a
 * synchronous operation, an asynchronous one backed by a handler workflow,
 * one that throws non-retryable handler errors, and cancels an asynchronous
 * one. Checks the results the caller's workflow sees, its history's Nexus
 * events and their fields, and the handler workflows' runs (links and
 * completion callbacks). The caller's histories are replayed.
 *
 * Runs against Temporal's dev server too: KAIROS_BIN=/path/to/temporal.
 */
import assert from 'node:assert/strict';
import { describe, test, TestContext } from 'node:test';
import { Client, WorkflowHandle } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { sharedWorkflowBundle, TestEnv, useKairosServer, withWorker } from '../src/e2e';
import { uniqueId } from '../src/harness';
import { eventIdNumber, eventTypeName, eventTypeNames } from '../src/history';
import {
  assertCleanHistory,
  enumName,
  eventsNamed,
  fetchHistory,
  IHistory,
  IHistoryEvent,
  num,
  replay,
  waitForEvent,
} from '../src/history-utils';
import { nexusTestServiceHandler } from '../src/nexus/handler';
import type {
  nexusCallerCancel,
  nexusCallerEchoAndGreet,
  nexusCallerHandlerError,
  NexusFailureSummary,
} from '../src/workflows';

const CALLER_NS = 'nexus-caller';
const HANDLER_NS = 'nexus-handler';
const SERVICE = 'kairos-e2e-greeting';

const EventType = temporal.api.enums.v1.EventType as unknown as Record<string, unknown>;
const CallbackState = temporal.api.enums.v1.CallbackState as unknown as Record<string, unknown>;
const RetryBehavior = temporal.api.enums.v1.NexusHandlerErrorRetryBehavior as unknown as Record<string, unknown>;
const WorkflowStatus = temporal.api.enums.v1.WorkflowExecutionStatus as unknown as Record<string, unknown>;

type IFailure = temporal.api.failure.v1.IFailure;

/** The Nexus events of a history, by type name, in order. */
function nexusEventNames(history: IHistory): string[] {
  return eventTypeNames(history).filter((n) => n.startsWith('NexusOperation'));
}

function decodePayload(p: temporal.api.common.v1.IPayload | null | undefined): unknown {
  assert.ok(p, 'payload expected');
  return defaultPayloadConverter.fromPayload(p as never);
}

function durationSeconds(d: { seconds?: unknown } | null | undefined): number {
  return num(d?.seconds ?? 0);
}

interface Endpoint {
  name: string;
  id: string;
}

/** The scheduled event's checks common to every operation; returns its attributes. */
function checkScheduled(ev: IHistoryEvent, endpoint: Endpoint, operation: string, input: unknown) {
  const a = ev.nexusOperationScheduledEventAttributes;
  assert.ok(a, 'scheduled attributes');
  assert.equal(a.endpoint, endpoint.name);
  assert.equal(a.endpointId, endpoint.id);
  assert.equal(a.service, SERVICE);
  assert.equal(a.operation, operation);
  assert.deepEqual(decodePayload(a.input), input);
  assert.equal(durationSeconds(a.scheduleToCloseTimeout), 60);
  assert.ok(a.requestId && a.requestId.length > 0, 'request id');
  assert.ok(num(a.workflowTaskCompletedEventId) > 0, 'workflow task completed event id');
  return a;
}

/** The operation's failure as the caller's history holds it (wrapped as Temporal wraps it). */
function checkWrappedFailure(
  failure: IFailure | null | undefined,
  scheduledId: number,
  endpoint: Endpoint,
  operation: string,
) {
  assert.ok(failure, 'failure');
  assert.equal(failure.message, 'nexus operation completed unsuccessfully');
  const info = failure.nexusOperationExecutionFailureInfo;
  assert.ok(info, `nexusOperationExecutionFailureInfo in ${JSON.stringify(failure)}`);
  assert.equal(num(info.scheduledEventId), scheduledId);
  assert.equal(info.endpoint, endpoint.name);
  assert.equal(info.service, SERVICE);
  assert.equal(info.operation, operation);
  assert.ok(failure.cause, 'failure cause');
  return failure.cause;
}

/** A caller workflow's view of a failed operation, as nexusCaller* return it. */
function checkSummary(s: NexusFailureSummary, scheduledId: number, endpoint: Endpoint, operation: string): void {
  assert.equal(s.name, 'NexusOperationFailure');
  assert.equal(s.message, 'nexus operation completed unsuccessfully');
  assert.equal(s.endpoint, endpoint.name);
  assert.equal(s.service, SERVICE);
  assert.equal(s.operation, operation);
  assert.equal(s.scheduledEventId, scheduledId);
}

/** The link of an event to the handler's workflow run. */
function checkLinkToHandlerRun(ev: IHistoryEvent, workflowId: string, runId: string): void {
  const links = ev.links ?? [];
  assert.equal(links.length, 1, `links of ${eventTypeName(ev)}: ${JSON.stringify(links)}`);
  const we = links[0].workflowEvent;
  assert.ok(we, 'workflow event link');
  assert.equal(we.namespace, HANDLER_NS);
  assert.equal(we.workflowId, workflowId);
  assert.equal(we.runId, runId);
}

/**
 * The handler run's started event: the caller's completion callback, which
 * carries the link to the caller's scheduled event. The SDK sends that link
 * with the start request too; as Temporal does, the server keeps it on the
 * callback only, so the event has no links of its own.
 */
async function checkHandlerRunStart(
  handler: WorkflowHandle,
  callerId: string,
  scheduled: IHistoryEvent,
): Promise<void> {
  const history = await handler.fetchHistory();
  const started = history.events?.[0];
  assert.ok(started && eventTypeName(started) === 'WorkflowExecutionStarted');
  const attrs = started.workflowExecutionStartedEventAttributes;
  assert.ok(attrs, 'started attributes');
  assert.equal(attrs.completionCallbacks?.length, 1, 'one completion callback');
  const callback = attrs.completionCallbacks[0];
  assert.equal(callback.nexus?.url, 'temporal://system');
  assert.ok(callback.nexus?.header?.['nexus-operation-token'], 'the operation token header');
  assert.deepEqual(started.links ?? [], [], "the started event's own links");
  const links = callback.links ?? [];
  assert.equal(links.length, 1, `links of the callback: ${JSON.stringify(links)}`);
  const we = links[0].workflowEvent;
  assert.equal(we?.namespace, CALLER_NS);
  assert.equal(we?.workflowId, callerId);
  assert.equal(num(we?.eventRef?.eventId), eventIdNumber(scheduled));
  assert.equal(enumName(EventType, we?.eventRef?.eventType), 'EVENT_TYPE_NEXUS_OPERATION_SCHEDULED');
}

async function callbackStates(handler: WorkflowHandle): Promise<string[]> {
  const d = await handler.describe();
  return (d.raw.callbacks ?? []).map((c) => enumName(CallbackState, c.state));
}

async function callerHistory(caller: Client, workflowId: string): Promise<IHistory> {
  const history = await fetchHistory(caller, workflowId);
  assertCleanHistory(history);
  await replay(history, workflowId);
  return history;
}

/** What each part of the test works with. */
interface NexusTestEnv {
  /** Clients of the caller's and the handler's namespaces. */
  caller: Client;
  handler: Client;
  endpoint: Endpoint;
  callerTaskQueue: string;
  handlerTaskQueue: string;
}

/** `echo` (synchronous), then `greet` (asynchronous, a handler run that waits for a signal). */
async function syncAndAsyncOperations(n: NexusTestEnv): Promise<void> {
  const callerId = uniqueId('nexus-caller');
  const handlerId = uniqueId('nexus-greet');
  const run = await n.caller.workflow.start<typeof nexusCallerEchoAndGreet>('nexusCallerEchoAndGreet', {
    taskQueue: n.callerTaskQueue,
    workflowId: callerId,
    args: [n.endpoint.name, 'ping', { name: 'Ada', workflowId: handlerId }],
  });

  // The asynchronous operation has started: its handler run is
  // waiting for our signal, with the caller's callback.
  let history = await waitForEvent(n.caller, callerId, 'NexusOperationStarted');
  assert.deepEqual(nexusEventNames(history), [
    'NexusOperationScheduled',
    'NexusOperationCompleted',
    'NexusOperationScheduled',
    'NexusOperationStarted',
  ]);
  const handler = n.handler.workflow.getHandle(handlerId);
  const handlerDesc = await handler.describe();
  assert.equal(handlerDesc.status.name, 'RUNNING');
  assert.equal(handlerDesc.taskQueue, n.handlerTaskQueue);
  assert.deepEqual(await callbackStates(handler), ['CALLBACK_STATE_STANDBY']);
  await checkHandlerRunStart(handler, callerId, eventsNamed(history, 'NexusOperationScheduled')[1]);
  await handler.signal('proceed');

  const result = await run.result();
  history = await callerHistory(n.caller, callerId);
  assert.deepEqual(nexusEventNames(history), [
    'NexusOperationScheduled',
    'NexusOperationCompleted',
    'NexusOperationScheduled',
    'NexusOperationStarted',
    'NexusOperationCompleted',
  ]);
  const [schedEcho, schedGreet] = eventsNamed(history, 'NexusOperationScheduled');
  const [doneEcho, doneGreet] = eventsNamed(history, 'NexusOperationCompleted');
  const started = eventsNamed(history, 'NexusOperationStarted')[0];

  // echo: synchronous, what the handler saw of the request.
  const echoAttrs = checkScheduled(schedEcho, n.endpoint, 'echo', { text: 'ping' });
  assert.equal(result.echo.text, 'ping');
  assert.equal(result.echo.service, SERVICE);
  assert.equal(result.echo.operation, 'echo');
  assert.equal(result.echo.requestId, echoAttrs.requestId);
  assert.equal(result.echo.inboundLinks.length, 1, `inbound links ${result.echo.inboundLinks}`);
  const link = new URL(result.echo.inboundLinks[0]);
  assert.equal(link.protocol, 'temporal:');
  assert.equal(
    link.pathname,
    `/namespaces/${CALLER_NS}/workflows/${callerId}/${run.firstExecutionRunId}/history`,
  );
  assert.equal(link.searchParams.get('eventID'), String(eventIdNumber(schedEcho)));
  const echoDone = doneEcho.nexusOperationCompletedEventAttributes;
  assert.ok(echoDone);
  assert.equal(num(echoDone.scheduledEventId), eventIdNumber(schedEcho));
  assert.equal(echoDone.requestId, echoAttrs.requestId);
  assert.deepEqual(decodePayload(echoDone.result), result.echo);

  // greet: asynchronous, backed by the handler's run.
  const greetAttrs = checkScheduled(schedGreet, n.endpoint, 'greet', { name: 'Ada', workflowId: handlerId });
  assert.notEqual(greetAttrs.requestId, echoAttrs.requestId);
  assert.equal(result.greeting, 'Hello, Ada!');
  const startedAttrs = started.nexusOperationStartedEventAttributes;
  assert.ok(startedAttrs);
  assert.equal(num(startedAttrs.scheduledEventId), eventIdNumber(schedGreet));
  assert.equal(startedAttrs.requestId, greetAttrs.requestId);
  assert.ok(result.token && result.token.length > 0, 'operation token');
  assert.equal(startedAttrs.operationToken, result.token);
  checkLinkToHandlerRun(started, handlerId, handlerDesc.runId);
  const greetDone = doneGreet.nexusOperationCompletedEventAttributes;
  assert.ok(greetDone);
  assert.equal(num(greetDone.scheduledEventId), eventIdNumber(schedGreet));
  assert.equal(greetDone.requestId, greetAttrs.requestId);
  assert.equal(decodePayload(greetDone.result), 'Hello, Ada!');

  assert.equal((await handler.describe()).status.name, 'COMPLETED');
  assert.deepEqual(await callbackStates(handler), ['CALLBACK_STATE_SUCCEEDED']);
}

/** `fail`: BAD_REQUEST, then INTERNAL marked non-retryable; both fail the operation at once. */
async function handlerErrors(n: NexusTestEnv): Promise<void> {
  const cases = [
    { kind: 'bad-request', type: 'BAD_REQUEST', message: 'order 42 is not valid', behavior: undefined },
    {
      kind: 'internal-non-retryable',
      type: 'INTERNAL',
      message: 'ledger is closed for good',
      behavior: 'NEXUS_HANDLER_ERROR_RETRY_BEHAVIOR_NON_RETRYABLE',
    },
  ] as const;
  for (const c of cases) {
    const callerId = uniqueId(`nexus-fail-${c.kind}`);
    const summary = await n.caller.workflow.execute<typeof nexusCallerHandlerError>('nexusCallerHandlerError', {
      taskQueue: n.callerTaskQueue,
      workflowId: callerId,
      args: [n.endpoint.name, c.kind],
    });
    const history = await callerHistory(n.caller, callerId);
    assert.deepEqual(nexusEventNames(history), ['NexusOperationScheduled', 'NexusOperationFailed']);
    const sched = eventsNamed(history, 'NexusOperationScheduled')[0];
    const schedAttrs = checkScheduled(sched, n.endpoint, 'fail', c.kind);
    const scheduledId = eventIdNumber(sched);

    checkSummary(summary, scheduledId, n.endpoint, 'fail');
    assert.equal(summary.causeName, 'HandlerError');
    assert.equal(summary.causeType, c.type);
    assert.equal(summary.causeMessage, c.message);
    assert.equal(summary.causeRetryable, false);

    const failed = eventsNamed(history, 'NexusOperationFailed')[0].nexusOperationFailedEventAttributes;
    assert.ok(failed);
    assert.equal(num(failed.scheduledEventId), scheduledId);
    assert.equal(failed.requestId, schedAttrs.requestId);
    const cause = checkWrappedFailure(failed.failure, scheduledId, n.endpoint, 'fail');
    assert.equal(cause.message, c.message);
    const handlerInfo = cause.nexusHandlerFailureInfo;
    assert.ok(handlerInfo, `nexusHandlerFailureInfo in ${JSON.stringify(cause)}`);
    assert.equal(handlerInfo.type, c.type);
    if (c.behavior !== undefined) {
      assert.equal(enumName(RetryBehavior, handlerInfo.retryBehavior), c.behavior);
    }
  }
}

/** `waitForCancel` canceled by the caller once started; its handler run is canceled. */
async function cancelAsyncOperation(n: NexusTestEnv): Promise<void> {
  const callerId = uniqueId('nexus-cancel');
  const handlerId = uniqueId('nexus-wait');
  const result = await n.caller.workflow.execute<typeof nexusCallerCancel>('nexusCallerCancel', {
    taskQueue: n.callerTaskQueue,
    workflowId: callerId,
    args: [n.endpoint.name, { name: 'Bob', workflowId: handlerId }],
  });
  const history = await callerHistory(n.caller, callerId);
  const names = nexusEventNames(history);
  assert.deepEqual(names.slice(0, 3), [
    'NexusOperationScheduled',
    'NexusOperationStarted',
    'NexusOperationCancelRequested',
  ]);
  // The cancel request's answer and the operation's end may land
  // in either order.
  assert.deepEqual(names.slice(3).sort(), ['NexusOperationCancelRequestCompleted', 'NexusOperationCanceled']);
  assert.equal(eventTypeNames(history).at(-1), 'WorkflowExecutionCompleted');

  const sched = eventsNamed(history, 'NexusOperationScheduled')[0];
  const schedAttrs = checkScheduled(sched, n.endpoint, 'waitForCancel', { name: 'Bob', workflowId: handlerId });
  const scheduledId = eventIdNumber(sched);
  const started = eventsNamed(history, 'NexusOperationStarted')[0];
  const startedAttrs = started.nexusOperationStartedEventAttributes;
  assert.ok(startedAttrs);
  assert.equal(num(startedAttrs.scheduledEventId), scheduledId);
  assert.ok(result.token && result.token.length > 0, 'operation token');
  assert.equal(startedAttrs.operationToken, result.token);

  const handler = n.handler.workflow.getHandle(handlerId);
  const handlerDesc = await handler.describe();
  checkLinkToHandlerRun(started, handlerId, handlerDesc.runId);
  assert.equal(handlerDesc.status.name, 'CANCELLED');
  assert.equal(
    enumName(WorkflowStatus, handlerDesc.raw.workflowExecutionInfo?.status),
    'WORKFLOW_EXECUTION_STATUS_CANCELED',
  );
  assert.deepEqual(await callbackStates(handler), ['CALLBACK_STATE_SUCCEEDED']);
  await checkHandlerRunStart(handler, callerId, sched);
  const handlerEvents = eventTypeNames(await handler.fetchHistory());
  assert.ok(handlerEvents.includes('WorkflowExecutionCancelRequested'), handlerEvents.join(', '));
  assert.equal(handlerEvents.at(-1), 'WorkflowExecutionCanceled');

  const cancelRequested = eventsNamed(history, 'NexusOperationCancelRequested')[0];
  const crAttrs = cancelRequested.nexusOperationCancelRequestedEventAttributes;
  assert.ok(crAttrs);
  assert.equal(num(crAttrs.scheduledEventId), scheduledId);
  const crDone = eventsNamed(history, 'NexusOperationCancelRequestCompleted')[0]
    .nexusOperationCancelRequestCompletedEventAttributes;
  assert.ok(crDone);
  assert.equal(num(crDone.requestedEventId), eventIdNumber(cancelRequested));
  assert.equal(num(crDone.scheduledEventId), scheduledId);

  const canceled = eventsNamed(history, 'NexusOperationCanceled')[0].nexusOperationCanceledEventAttributes;
  assert.ok(canceled);
  assert.equal(num(canceled.scheduledEventId), scheduledId);
  assert.equal(canceled.requestId, schedAttrs.requestId);
  const cause = checkWrappedFailure(canceled.failure, scheduledId, n.endpoint, 'waitForCancel');
  assert.ok(cause.canceledFailureInfo, `canceledFailureInfo in ${JSON.stringify(cause)}`);

  checkSummary(result.failure, scheduledId, n.endpoint, 'waitForCancel');
  assert.equal(result.failure.causeName, 'CancelledFailure');
  assert.equal(result.failure.causeType, 'CANCELLED');
}

describe('nexus', () => {
  const kairos = useKairosServer({ namespaces: [CALLER_NS, HANDLER_NS] });

  test('operations between namespaces', (t: TestContext) =>
    kairos.run(async (env: TestEnv) => {
      const { connection, address } = env;
      const handlerTaskQueue = uniqueId('nexus-handler');
      const endpointName = `ts-e2e-${Date.now().toString(36)}`;

      const created = await connection.operatorService.createNexusEndpoint({
        spec: { name: endpointName, target: { worker: { namespace: HANDLER_NS, taskQueue: handlerTaskQueue } } },
      });
      const ep = created.endpoint;
      assert.ok(ep?.id, 'endpoint id');
      assert.equal(num(ep.version), 1);
      assert.equal(ep.spec?.name, endpointName);
      assert.equal(ep.spec?.target?.worker?.namespace, HANDLER_NS);
      assert.equal(ep.spec?.target?.worker?.taskQueue, handlerTaskQueue);
      assert.equal(ep.urlPrefix, `/nexus/endpoints/${ep.id}/services`);

      // Both workers run through the three parts (subtests; a failing one
      // prints the server's log tail).
      const workflowBundle = await sharedWorkflowBundle();
      const callerWorker = (callerTaskQueue: string) => {
        const n: NexusTestEnv = {
          caller: new Client({ connection, namespace: CALLER_NS }),
          handler: new Client({ connection, namespace: HANDLER_NS }),
          endpoint: { name: endpointName, id: ep.id as string },
          callerTaskQueue,
          handlerTaskQueue,
        };
        const sub = (name: string, part: (n: NexusTestEnv) => Promise<void>) =>
          t.test(name, () => env.server.withLogOnFailure(() => part(n)));
        return (async () => {
          await sub('a synchronous and an asynchronous operation', syncAndAsyncOperations);
          await sub('non-retryable handler errors fail the operation', handlerErrors);
          await sub('canceling an asynchronous operation', cancelAsyncOperation);
        })();
      };
      await withWorker(
        address,
        () => withWorker(address, callerWorker, { namespace: CALLER_NS, workflowBundle, timeoutMs: 45_000 }),
        {
          namespace: HANDLER_NS,
          taskQueue: handlerTaskQueue,
          workflowBundle,
          nexusServices: [nexusTestServiceHandler],
          timeoutMs: 50_000,
        },
      );
    }));
});
