/** Workflows for tests/children-cron-schedules.test.ts. */
import { ApplicationFailure, ChildWorkflowFailure, executeChild, workflowInfo } from '@temporalio/workflow';

/** Child: returns a value computed from its input. */
export async function squareChild(n: number): Promise<string> {
  return `${n}^2=${n * n}`;
}

/** Parent: runs squareChild(base + 1..3) in parallel and returns the results in order. */
export async function parentOfThree(base: number): Promise<string[]> {
  const { workflowId } = workflowInfo();
  return await Promise.all(
    [1, 2, 3].map((i) => executeChild(squareChild, { args: [base + i], workflowId: `${workflowId}-child-${i}` })),
  );
}

/** Child that fails with a non-retryable ApplicationFailure. */
export async function failingChild(reason: string): Promise<string> {
  throw ApplicationFailure.nonRetryable(reason, 'ChildBroke');
}

/** Parent: catches the child's ChildWorkflowFailure and returns its cause's message. */
export async function parentOfFailingChild(reason: string): Promise<string> {
  try {
    await executeChild(failingChild, { args: [reason], workflowId: `${workflowInfo().workflowId}-child` });
    return 'child succeeded';
  } catch (err) {
    if (err instanceof ChildWorkflowFailure) {
      return `caught: ${err.cause?.message ?? '<no cause>'}`;
    }
    throw err;
  }
}

/** Cron workflow: each run returns the previous run's result plus one (the first returns 1). */
export async function cronCounter(): Promise<number> {
  const last = workflowInfo().lastResult as number | undefined;
  return (last ?? 0) + 1;
}

/** Started by a schedule: echoes its arguments. */
export async function scheduledEcho(text: string, times: number): Promise<string> {
  return Array.from({ length: times }, () => text).join(' ');
}
