import { condition, defineSignal, setHandler } from '@temporalio/workflow';

export const goSignal = defineSignal('go');

/** Waits for the "go" signal, then completes (versioning.test.ts). */
export async function waitsForGo(): Promise<string> {
  let go = false;
  setHandler(goSignal, () => {
    go = true;
  });
  await condition(() => go);
  return 'done';
}
