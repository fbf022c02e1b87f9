/** Workflows for tests/webui.test.ts and tests/http-api.test.ts. */
import { defineQuery, defineSignal, proxyActivities, setHandler } from '@temporalio/workflow';
import type * as activities from '../activities';

export const noteSignal = defineSignal<[string]>('note');
export const notesQuery = defineQuery<string[]>('notes');

const { alwaysFails } = proxyActivities<typeof activities>({
  startToCloseTimeout: '10s',
  retry: { initialInterval: '500ms', backoffCoefficient: 1, maximumInterval: '500ms' },
});

/**
 * Runs until terminated: its one activity fails on every attempt, so the
 * Web UI shows a pending activity with a growing attempt count and a last
 * failure. Notes sent by signal are answered by the "notes" query.
 */
export async function stuckOnActivity(reason: string): Promise<string> {
  const notes: string[] = [];
  setHandler(noteSignal, (note: string) => {
    notes.push(note);
  });
  setHandler(notesQuery, () => notes);
  await alwaysFails(reason);
  return 'unreachable';
}
