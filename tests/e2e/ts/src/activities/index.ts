/**
 * Activity implementations registered with the test workers.
 * Activities run in normal Node.js and may import anything.
 */
export async function composeGreeting(name: string): Promise<string> {
  return `Hello, ${name}!`;
}

export { flaky, failWith, blockUntilCancelled, heartbeatOnce } from './failures';
export { cancelSubscription } from './messages';
export { alwaysFails } from './webui';
