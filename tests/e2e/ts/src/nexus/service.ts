/**
 * The Nexus service of nexus.test.ts, shared by the caller's workflows (which
 * bundle it) and the handler worker (src/nexus/handler.ts).
 */
import * as nexus from 'nexus-rpc';

export interface EchoInput {
  text: string;
}

/** What the synchronous handler saw of the request, sent back as its result. */
export interface EchoOutput {
  text: string;
  service: string;
  operation: string;
  requestId: string;
  inboundLinks: string[];
}

export interface GreetInput {
  name: string;
  /** Id of the handler workflow backing the operation. */
  workflowId: string;
}

/** How `fail` fails: BAD_REQUEST, or INTERNAL made non-retryable by the handler. */
export type FailKind = 'bad-request' | 'internal-non-retryable';

export const nexusTestService = nexus.service('kairos-e2e-greeting', {
  /** Synchronous: answers in the start request. */
  echo: nexus.operation<EchoInput, EchoOutput>(),
  /** Asynchronous: backed by a handler workflow returning "Hello, <name>!". */
  greet: nexus.operation<GreetInput, string>(),
  /** Asynchronous: backed by a handler workflow that runs until canceled. */
  waitForCancel: nexus.operation<GreetInput, string>(),
  /** Throws a non-retryable handler error. */
  fail: nexus.operation<FailKind, string>(),
});
