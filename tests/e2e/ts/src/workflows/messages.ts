/** Workflows for tests/messages.test.ts: signals, queries, updates, cancellation. */
import {
  ApplicationFailure,
  CancellationScope,
  condition,
  defineQuery,
  defineSignal,
  defineUpdate,
  isCancellation,
  proxyActivities,
  setHandler,
  sleep,
} from '@temporalio/workflow';
import type * as activities from '../activities';

export const approveSignal = defineSignal<[string]>('approve');
export const approverQuery = defineQuery<string>('approver');

/** Waits up to `timeoutMs` for the "approve" signal. */
export async function approval(timeoutMs: number): Promise<string> {
  let approver = '';
  setHandler(approveSignal, (who: string) => {
    approver = who;
  });
  setHandler(approverQuery, () => approver);
  const approved = await condition(() => approver !== '', timeoutMs);
  return approved ? `approved by ${approver}` : 'timed out';
}

export const paySignal = defineSignal('pay');
export const shipSignal = defineSignal('ship');
export const statusQuery = defineQuery<string>('status');

/** Status follows each step: awaiting payment -> awaiting shipment -> shipped. */
export async function orderStatus(): Promise<string> {
  let status = 'awaiting payment';
  let paid = false;
  let shipped = false;
  setHandler(statusQuery, () => status);
  setHandler(paySignal, () => {
    paid = true;
  });
  setHandler(shipSignal, () => {
    shipped = true;
  });
  await condition(() => paid);
  status = 'awaiting shipment';
  await condition(() => shipped);
  status = 'shipped';
  return status;
}

export const addUpdate = defineUpdate<number, [number]>('add');
export const doneSignal = defineSignal('done');
export const totalQuery = defineQuery<number>('total');

/** "add"(n) adds n and returns the total; its validator rejects n < 0. */
export async function counter(): Promise<number> {
  let total = 0;
  let done = false;
  setHandler(totalQuery, () => total);
  setHandler(
    addUpdate,
    (n: number) => {
      total += n;
      return total;
    },
    {
      validator: (n: number) => {
        if (n < 0) {
          throw ApplicationFailure.create({ message: 'negative amounts are not allowed', type: 'Negative' });
        }
      },
    },
  );
  setHandler(doneSignal, () => {
    done = true;
  });
  await condition(() => done);
  return total;
}

/**
 * Charges every `periodMs` until cancelled; then runs the cleanup activity in
 * a non-cancellable scope and rethrows the cancellation.
 */
export async function subscription(subscriptionId: string, periodMs: number): Promise<number> {
  const { cancelSubscription } = proxyActivities<typeof activities>({ startToCloseTimeout: '10s' });
  let charges = 0;
  try {
    for (;;) {
      await sleep(periodMs);
      charges++;
    }
  } catch (err) {
    if (isCancellation(err)) {
      await CancellationScope.nonCancellable(() => cancelSubscription(subscriptionId, charges));
    }
    throw err;
  }
}
