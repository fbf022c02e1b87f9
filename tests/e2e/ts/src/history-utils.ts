/**
 * History helpers for the feature tests: waiting for events, picking events
 * by type, decoding payloads, replaying.
 */
import assert from 'node:assert/strict';
import { Client } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { ensureRuntime, sharedWorkflowBundle } from './e2e';
import { eventIds, eventTypeName, eventTypeNames } from './history';

export type IHistory = temporal.api.history.v1.IHistory;
export type IHistoryEvent = temporal.api.history.v1.IHistoryEvent;
type IPayloads = temporal.api.common.v1.IPayloads;

export async function fetchHistory(client: Client, workflowId: string, runId?: string): Promise<IHistory> {
  return client.workflow.getHandle(workflowId, runId).fetchHistory();
}

/** Events of the given type name (e.g. 'ActivityTaskStarted'), in order. */
export function eventsNamed(history: IHistory, name: string): IHistoryEvent[] {
  return (history.events ?? []).filter((ev) => eventTypeName(ev) === name);
}

/** The only event of the given type (asserts there is exactly one). */
export function single(history: IHistory, name: string): IHistoryEvent {
  const found = eventsNamed(history, name);
  assert.equal(found.length, 1, `expected exactly one ${name}, history: ${eventTypeNames(history).join(', ')}`);
  return found[0];
}

export function num(v: unknown): number {
  if (v === null || v === undefined) return NaN;
  return Number(typeof v === 'object' ? (v as { toString(): string }).toString() : v);
}

/** Name of a proto enum value, whether protobufjs gave a number or a string. */
export function enumName(enumObj: Record<string, unknown>, v: unknown): string {
  if (typeof v === 'string') return v;
  const name = (enumObj as Record<number, string | undefined>)[v as number];
  return name ?? `Unknown(${String(v)})`;
}

/** Decode the payloads with the default payload converter. */
export function decodePayloads(payloads: IPayloads | null | undefined): unknown[] {
  return (payloads?.payloads ?? []).map((p) => defaultPayloadConverter.fromPayload(p as never));
}

/** Event time in milliseconds since the epoch. */
export function eventTimeMs(ev: IHistoryEvent): number {
  const t = ev.eventTime;
  if (!t) return NaN;
  return num(t.seconds) * 1000 + Math.floor((t.nanos ?? 0) / 1e6);
}

/** Poll the history (short backoff, bounded) until pred holds. */
export async function waitForHistory(
  client: Client,
  workflowId: string,
  what: string,
  pred: (h: IHistory) => boolean,
  timeoutMs = 20_000,
): Promise<IHistory> {
  const deadline = Date.now() + timeoutMs;
  let delay = 20;
  let last: IHistory | undefined;
  for (;;) {
    last = await fetchHistory(client, workflowId);
    if (pred(last)) return last;
    if (Date.now() > deadline) {
      throw new Error(`${workflowId}: ${what} not reached within ${timeoutMs}ms; history: ${eventTypeNames(last).join(', ')}`);
    }
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 200);
  }
}

/** Wait until an event of the given type is in the history. */
export function waitForEvent(client: Client, workflowId: string, name: string, timeoutMs = 20_000): Promise<IHistory> {
  return waitForHistory(client, workflowId, `a ${name} event`, (h) => eventsNamed(h, name).length > 0, timeoutMs);
}

/** Ids 1..N without gaps, first event WorkflowExecutionStarted. */
export function assertCleanHistory(history: IHistory): void {
  const ids = eventIds(history);
  assert.deepEqual(
    ids,
    ids.map((_, i) => i + 1),
    'event ids must be 1..N without gaps',
  );
  assert.equal(eventTypeNames(history)[0], 'WorkflowExecutionStarted');
}

/** Replay with the TypeScript SDK replayer (throws on nondeterminism). */
export async function replay(history: IHistory, workflowId: string): Promise<void> {
  ensureRuntime();
  await Worker.runReplayHistory({ workflowBundle: await sharedWorkflowBundle() }, history, workflowId);
}

/**
 * Reject with a descriptive error (naming `what`) if `p` has not settled
 * within `ms`, so a server that never answers fails the test with a precise
 * message instead of the generic withWorker timeout.
 */
export async function within<T>(ms: number, what: string, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms}ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
