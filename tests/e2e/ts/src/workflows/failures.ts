/** Workflows for tests/failures.test.ts. */
import { proxyActivities } from '@temporalio/workflow';
import type * as activities from '../activities';

/** Flaky activity retried with a growing backoff (1s, 1.5s, 2.25s, ...). */
export async function retryWithBackoff(succeedOn: number): Promise<string> {
  const { flaky } = proxyActivities<typeof activities>({
    startToCloseTimeout: '5s',
    retry: { initialInterval: '1s', backoffCoefficient: 1.5, maximumInterval: '10s', maximumAttempts: 10 },
  });
  return await flaky(succeedOn);
}

/**
 * Runs failWith(kind) under a retry policy that would otherwise retry quickly
 * and forever; nonRetryableErrorTypes lists BadInput.
 */
export async function failNonRetryable(kind: string): Promise<string> {
  const { failWith } = proxyActivities<typeof activities>({
    startToCloseTimeout: '5s',
    retry: { initialInterval: '100ms', backoffCoefficient: 1, nonRetryableErrorTypes: ['SomethingElse', 'BadInput'] },
  });
  return await failWith(kind);
}

/** An activity that never finishes, with a 1s start-to-close timeout and no retries. */
export async function startToCloseTimeout(): Promise<string> {
  const { blockUntilCancelled } = proxyActivities<typeof activities>({
    startToCloseTimeout: '1s',
    retry: { maximumAttempts: 1 },
  });
  return await blockUntilCancelled();
}

/** An activity that heartbeats once and goes silent: 1s heartbeat timeout, no retries. */
export async function heartbeatTimeout(details: string): Promise<string> {
  const { heartbeatOnce } = proxyActivities<typeof activities>({
    startToCloseTimeout: '20s',
    heartbeatTimeout: '1s',
    retry: { maximumAttempts: 1 },
  });
  return await heartbeatOnce(details);
}
