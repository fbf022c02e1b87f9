/** Activities for tests/webui.test.ts. */
import { ApplicationFailure, Context } from '@temporalio/activity';

/** Fails every attempt, with a message that names the attempt. */
export async function alwaysFails(reason: string): Promise<string> {
  throw ApplicationFailure.retryable(`${reason} (attempt ${Context.current().info.attempt})`, 'UiTestFailure');
}
