package e2e

import (
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/sdk/client"
)

// pendingNexusOperations describes the caller and returns its pending operations.
func (p *nexusPair) pendingNexusOperations(t *testing.T, run client.WorkflowRun) []*workflowpb.PendingNexusOperationInfo {
	t.Helper()
	desc, err := p.caller.DescribeWorkflowExecution(testCtx(t, 10*time.Second), run.GetID(), run.GetRunID())
	requireNoError(t, err, "describe caller")
	return desc.PendingNexusOperations
}

// pendingNexusOperation returns the caller's one pending operation.
func (p *nexusPair) pendingNexusOperation(t *testing.T, run client.WorkflowRun) *workflowpb.PendingNexusOperationInfo {
	t.Helper()
	ops := p.pendingNexusOperations(t, run)
	if len(ops) != 1 {
		t.Fatalf("pending Nexus operations: %v", ops)
	}
	return ops[0]
}

// Describe's pending operations as Temporal gives them: a start that fails
// with a retryable error backs off (attempt, the last attempt's time and
// failure, the next attempt's time); a started operation counts the start
// as an attempt and shows no failure; a cancel request of an operation not
// started yet waits (cancellation info without a state); once delivered it
// shows its attempt and outcome while the operation stays pending.
func TestNexusDescribePendingOperations(t *testing.T) {
	p := startNexusPair(t)

	retrying := p.start(t, "nexus-describe-retry", nexusCall{Operation: "fail", Input: "unavailable", Timeout: time.Minute})
	var op *workflowpb.PendingNexusOperationInfo
	waitUntil(t, 30*time.Second, "a failed start attempt", func() bool {
		ops := p.pendingNexusOperations(t, retrying)
		if len(ops) == 0 {
			return false
		}
		op = ops[0]
		return op.Attempt >= 1
	})
	if f := op.LastAttemptFailure; f.GetMessage() != "handler error (UNAVAILABLE)" || f.GetCause().GetMessage() != "not now" ||
		f.GetNexusHandlerFailureInfo().GetType() != "UNAVAILABLE" || op.LastAttemptCompleteTime == nil {
		t.Fatalf("after a failed attempt: %v", op)
	}
	switch op.State {
	case enumspb.PENDING_NEXUS_OPERATION_STATE_BACKING_OFF:
		if !op.NextAttemptScheduleTime.AsTime().After(op.LastAttemptCompleteTime.AsTime()) {
			t.Fatalf("backing off without a later next attempt: %v", op)
		}
	case enumspb.PENDING_NEXUS_OPERATION_STATE_SCHEDULED:
		// The next attempt is on its way.
	default:
		t.Fatalf("state after a failed attempt: %v", op)
	}
	if op.CancellationInfo != nil || op.ScheduledEventId != 5 || op.ScheduleToStartTimeout == nil ||
		op.StartToCloseTimeout == nil || op.ScheduleToCloseTimeout.AsDuration() != time.Minute {
		t.Fatalf("retrying operation: %v", op)
	}
	requireNoError(t, p.caller.TerminateWorkflow(testCtx(t, 10*time.Second), retrying.GetID(), "", "done"), "terminate")

	// A start that nobody takes, then cancelled: the request waits for the start.
	idle, err := p.caller.ExecuteWorkflow(testCtx(t, 10*time.Second),
		client.StartWorkflowOptions{ID: "nexus-describe-idle", TaskQueue: p.callerTQ}, NexusCallerWorkflow,
		nexusCall{Endpoint: p.idleEndpoint(t), Operation: "echo", Input: "x", Timeout: time.Minute, CancelAfter: time.Second})
	requireNoError(t, err, "start caller")
	waitForEvent(t, p.caller, idle.GetID(), idle.GetRunID(), enumspb.EVENT_TYPE_NEXUS_OPERATION_CANCEL_REQUESTED, 30*time.Second)
	op = p.pendingNexusOperation(t, idle)
	if c := op.CancellationInfo; c == nil || c.State != enumspb.NEXUS_OPERATION_CANCELLATION_STATE_UNSPECIFIED ||
		c.Attempt != 0 || op.State == enumspb.PENDING_NEXUS_OPERATION_STATE_STARTED {
		t.Fatalf("operation cancelled before its start: %v", op)
	}
	requireNoError(t, p.caller.TerminateWorkflow(testCtx(t, 10*time.Second), idle.GetID(), "", "done"), "terminate")

	// A started operation whose handler run ignores the cancel request.
	stubborn := p.start(t, "nexus-describe-stubborn", nexusCall{Operation: "greet", Input: "stubborn", Timeout: time.Minute,
		CancelAfterStart: true})
	waitForEvent(t, p.caller, stubborn.GetID(), stubborn.GetRunID(),
		enumspb.EVENT_TYPE_NEXUS_OPERATION_CANCEL_REQUEST_COMPLETED, 30*time.Second)
	op = p.pendingNexusOperation(t, stubborn)
	if op.State != enumspb.PENDING_NEXUS_OPERATION_STATE_STARTED || op.Attempt != 1 || op.LastAttemptFailure != nil ||
		op.LastAttemptCompleteTime == nil || op.NextAttemptScheduleTime != nil || op.OperationToken == "" ||
		op.OperationId != op.OperationToken { //nolint:staticcheck // Temporal still fills the deprecated field.
		t.Fatalf("started operation: %v", op)
	}
	c := op.CancellationInfo
	if c == nil || c.State != enumspb.NEXUS_OPERATION_CANCELLATION_STATE_SUCCEEDED || c.Attempt != 1 ||
		c.RequestedTime == nil || c.LastAttemptCompleteTime == nil || c.LastAttemptFailure != nil ||
		c.LastAttemptCompleteTime.AsTime().Before(c.RequestedTime.AsTime()) {
		t.Fatalf("cancellation info: %v", c)
	}
	p.finishHandler(t, "stubborn", "finished anyway")
	var out string
	requireNoError(t, getResult(t, p.caller, stubborn, 30*time.Second, &out), "caller result")
	if out != "finished anyway" {
		t.Fatalf("result %q", out)
	}
	p.callerHistory(t, stubborn)
}
