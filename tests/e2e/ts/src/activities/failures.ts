/**
 * Activities for tests/failures.test.ts. Invocations are recorded per
 * workflow id (the worker runs in the test process) so a test can inspect the
 * attempts of its own workflow.
 */
import { ApplicationFailure, Context } from '@temporalio/activity';

export interface AttemptRecord {
  attempt: number;
  at: number; // Date.now()
}

const attemptsByWorkflow = new Map<string, AttemptRecord[]>();

/** Recorded invocations of the activities run by the given workflow. */
export function recordedAttempts(workflowId: string): AttemptRecord[] {
  return [...(attemptsByWorkflow.get(workflowId) ?? [])];
}

function record(): number {
  const info = Context.current().info;
  const id = info.workflowExecution?.workflowId ?? '';
  const list = attemptsByWorkflow.get(id) ?? [];
  list.push({ attempt: info.attempt, at: Date.now() });
  attemptsByWorkflow.set(id, list);
  return info.attempt;
}

/** Resolves when the activity is cancelled (or after maxMs), never throws. */
async function waitForCancellation(maxMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      Context.current().cancelled.catch(() => undefined),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, maxMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Fails (retryably, type Flaky) until attempt `succeedOn`, then succeeds. */
export async function flaky(succeedOn: number): Promise<string> {
  const attempt = record();
  if (attempt < succeedOn) {
    throw ApplicationFailure.create({ message: `attempt ${attempt} failed`, type: 'Flaky' });
  }
  return `succeeded on attempt ${attempt}`;
}

/**
 * 'non-retryable': ApplicationFailure.nonRetryable of type Fatal;
 * 'bad-input': a (by itself retryable) failure of type BadInput.
 */
export async function failWith(kind: string): Promise<string> {
  record();
  if (kind === 'non-retryable') {
    throw ApplicationFailure.nonRetryable('fatal failure', 'Fatal');
  }
  throw ApplicationFailure.create({ message: 'bad input', type: 'BadInput' });
}

/** Never finishes on its own: waits until cancelled (timeout, shutdown). */
export async function blockUntilCancelled(): Promise<string> {
  record();
  await waitForCancellation(30_000);
  return 'not cancelled';
}

/** Heartbeats `details` once, then goes silent until cancelled. */
export async function heartbeatOnce(details: string): Promise<string> {
  record();
  Context.current().heartbeat(details);
  await waitForCancellation(30_000);
  return 'not cancelled';
}
