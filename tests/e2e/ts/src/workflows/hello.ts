import { proxyActivities, sleep } from '@temporalio/workflow';
import type * as activities from '../activities';

const { composeGreeting } = proxyActivities<typeof activities>({
  startToCloseTimeout: '10s',
});

/** Activity, then a 1s durable timer, then complete with the greeting. */
export async function greet(name: string): Promise<string> {
  const greeting = await composeGreeting(name);
  await sleep('1s');
  return greeting;
}
