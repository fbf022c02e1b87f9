/**
 * Nexus workflows of nexus.test.ts. The caller's run in one namespace calls
 * nexusTestService through an endpoint; the handler's runs back its
 * asynchronous operations in another namespace.
 */
import * as nexus from 'nexus-rpc';
import { NexusOperationFailure } from '@temporalio/common';
import {
  ApplicationFailure,
  CancellationScope,
  CancelledFailure,
  condition,
  createNexusServiceClient,
  defineSignal,
  setHandler,
} from '@temporalio/workflow';
import { EchoOutput, FailKind, GreetInput, nexusTestService } from '../nexus/service';

export const nexusProceedSignal = defineSignal('proceed');

/** Handler side of `greet`: waits for the test's signal, then greets. */
export async function nexusHandlerGreet(name: string): Promise<string> {
  let proceed = false;
  setHandler(nexusProceedSignal, () => void (proceed = true));
  await condition(() => proceed);
  return `Hello, ${name}!`;
}

/** Handler side of `waitForCancel`: runs until canceled. */
export async function nexusHandlerWaitForCancel(name: string): Promise<string> {
  await condition(() => false);
  return `not canceled: ${name}`;
}

function client(endpoint: string) {
  return createNexusServiceClient({ endpoint, service: nexusTestService });
}

export interface NexusEchoAndGreetResult {
  echo: EchoOutput;
  greeting: string;
  token: string | undefined;
}

/** Calls the synchronous `echo`, then the asynchronous `greet`. */
export async function nexusCallerEchoAndGreet(
  endpoint: string,
  text: string,
  greet: GreetInput,
): Promise<NexusEchoAndGreetResult> {
  const c = client(endpoint);
  const echo = await c.executeOperation('echo', { text }, { scheduleToCloseTimeout: '1 minute' });
  const handle = await c.startOperation('greet', greet, { scheduleToCloseTimeout: '1 minute' });
  const greeting = await handle.result();
  return { echo, greeting, token: handle.token };
}

/** What the caller's workflow saw of a failed operation. */
export interface NexusFailureSummary {
  name: string;
  message: string;
  endpoint: string;
  service: string;
  operation: string;
  scheduledEventId: number | undefined;
  operationToken: string | undefined;
  causeName: string | undefined;
  causeMessage: string | undefined;
  /** The handler error's type (HandlerError causes only). */
  causeType: string | undefined;
  causeRetryable: boolean | undefined;
}

function summarize(err: unknown): NexusFailureSummary {
  if (!(err instanceof NexusOperationFailure)) {
    throw ApplicationFailure.nonRetryable(`expected a NexusOperationFailure, got ${String(err)}`);
  }
  const cause = err.cause;
  return {
    name: err.name,
    message: err.message,
    endpoint: err.endpoint,
    service: err.service,
    operation: err.operation,
    scheduledEventId: err.scheduledEventId,
    operationToken: err.operationToken,
    causeName: cause?.name,
    causeMessage: cause?.message,
    causeType:
      cause instanceof nexus.HandlerError ? cause.type : cause instanceof CancelledFailure ? 'CANCELLED' : undefined,
    causeRetryable: cause instanceof nexus.HandlerError ? cause.retryable : undefined,
  };
}

/** Calls `fail` and returns what the failure looked like. */
export async function nexusCallerHandlerError(endpoint: string, kind: FailKind): Promise<NexusFailureSummary> {
  try {
    await client(endpoint).executeOperation('fail', kind, { scheduleToCloseTimeout: '1 minute' });
  } catch (err) {
    return summarize(err);
  }
  throw ApplicationFailure.nonRetryable('the fail operation succeeded');
}

export interface NexusCancelResult {
  token: string | undefined;
  failure: NexusFailureSummary;
}

/**
 * Starts `waitForCancel` in a cancellation scope, cancels the scope once the
 * operation has started and waits for the operation's end (the default
 * cancellation type, WAIT_CANCELLATION_COMPLETED).
 */
export async function nexusCallerCancel(endpoint: string, input: GreetInput): Promise<NexusCancelResult> {
  const scope = new CancellationScope();
  const handle = await scope.run(() =>
    client(endpoint).startOperation('waitForCancel', input, { scheduleToCloseTimeout: '1 minute' }),
  );
  scope.cancel();
  try {
    await handle.result();
  } catch (err) {
    return { token: handle.token, failure: summarize(err) };
  }
  throw ApplicationFailure.nonRetryable('the canceled operation succeeded');
}
