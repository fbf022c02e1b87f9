/** Activities for tests/messages.test.ts. */

const cleanups = new Map<string, number>();

/** Charges seen by cancelSubscription, by subscription id. */
export function recordedCleanup(subscriptionId: string): number | undefined {
  return cleanups.get(subscriptionId);
}

/** Cleanup run by the subscription workflow after it was cancelled. */
export async function cancelSubscription(subscriptionId: string, charges: number): Promise<string> {
  cleanups.set(subscriptionId, charges);
  return `subscription ${subscriptionId} canceled after ${charges} charges`;
}
