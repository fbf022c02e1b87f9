/**
 * The handler worker's implementation of nexusTestService: a synchronous
 * operation, two operations backed by workflows (WorkflowRunOperationHandler
 * and startWorkflow from @temporalio/nexus) and one that fails.
 */
import * as nexus from 'nexus-rpc';
import { startWorkflow, WorkflowRunOperationHandler } from '@temporalio/nexus';
import type { nexusHandlerGreet, nexusHandlerWaitForCancel } from '../workflows';
import { EchoInput, EchoOutput, FailKind, GreetInput, nexusTestService } from './service';

export const nexusTestServiceHandler = nexus.serviceHandler(nexusTestService, {
  echo: async (ctx: nexus.StartOperationContext, input: EchoInput): Promise<EchoOutput> => ({
    text: input.text,
    service: ctx.service,
    operation: ctx.operation,
    requestId: ctx.requestId,
    inboundLinks: ctx.inboundLinks.map((l) => l.url.toString()),
  }),
  greet: new WorkflowRunOperationHandler<GreetInput, string>((ctx, input) =>
    startWorkflow<typeof nexusHandlerGreet>(ctx, 'nexusHandlerGreet', {
      workflowId: input.workflowId,
      args: [input.name],
    }),
  ),
  waitForCancel: new WorkflowRunOperationHandler<GreetInput, string>((ctx, input) =>
    startWorkflow<typeof nexusHandlerWaitForCancel>(ctx, 'nexusHandlerWaitForCancel', {
      workflowId: input.workflowId,
      args: [input.name],
    }),
  ),
  fail: async (_ctx: nexus.StartOperationContext, kind: FailKind): Promise<string> => {
    if (kind === 'bad-request') {
      throw new nexus.HandlerError('BAD_REQUEST', 'order 42 is not valid');
    }
    throw new nexus.HandlerError('INTERNAL', 'ledger is closed for good', { retryableOverride: false });
  },
});
