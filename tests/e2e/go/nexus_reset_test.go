package e2e

import (
	"testing"
	"time"

	"github.com/google/uuid"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
)

// resetAfterNexusStart resets the caller to the end of the workflow task
// that followed its operation's start (the operation is pending and started
// at the reset point) and returns the new run.
func (p *nexusPair) resetAfterNexusStart(t *testing.T, run client.WorkflowRun,
	exclude ...enumspb.ResetReapplyExcludeType) client.WorkflowRun {
	t.Helper()
	var point int64
	waitUntil(t, 30*time.Second, "a workflow task after the operation's start", func() bool {
		events := getHistory(t, p.caller, run.GetID(), run.GetRunID())
		started := eventsOfType(events, enumspb.EVENT_TYPE_NEXUS_OPERATION_STARTED)
		if len(started) == 0 {
			return false
		}
		for _, e := range eventsOfType(events, enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED) {
			if e.EventId > started[0].EventId {
				point = e.EventId
				return true
			}
		}
		return false
	})
	resp, err := p.caller.WorkflowService().ResetWorkflowExecution(testCtx(t, 10*time.Second),
		&workflowservice.ResetWorkflowExecutionRequest{
			Namespace:                 "default",
			WorkflowExecution:         &commonpb.WorkflowExecution{WorkflowId: run.GetID(), RunId: run.GetRunID()},
			Reason:                    "nexus reset test",
			WorkflowTaskFinishEventId: point,
			RequestId:                 uuid.NewString(),
			ResetReapplyExcludeTypes:  exclude,
		})
	requireNoError(t, err, "reset caller")
	return p.caller.GetWorkflow(testCtx(t, 10*time.Second), run.GetID(), resp.RunId)
}

// A caller reset while its asynchronous operation runs keeps the operation
// (started, with its token) in the new run; the handler's completion, sent
// to the run that started it, reaches the new run (as on Temporal, which
// tries the current run when the original was reset).
func TestNexusResetPendingOperation(t *testing.T) {
	p := startNexusPair(t)
	run := p.start(t, "nexus-reset-pending", nexusCall{Operation: "greet", Input: "wait-reset-pending", Timeout: time.Minute})
	reset := p.resetAfterNexusStart(t, run)
	op := p.pendingNexusOperation(t, reset)
	if op.State != enumspb.PENDING_NEXUS_OPERATION_STATE_STARTED || op.OperationToken == "" {
		t.Fatalf("operation in the reset run: %v", op)
	}
	p.finishHandler(t, "wait-reset-pending", "after reset")
	p.requireCompletedAsync(t, reset, "after reset")
}

// A caller reset to before its operation's completion gets the completion
// again (re-applied from the base run); with Nexus events excluded, the
// operation stays started (its handler does not report again).
func TestNexusResetReappliesCompletion(t *testing.T) {
	p := startNexusPair(t)
	run := p.start(t, "nexus-reset-done", nexusCall{Operation: "greet", Input: "wait-reset-done", Timeout: time.Minute})
	waitForEvent(t, p.caller, run.GetID(), run.GetRunID(), enumspb.EVENT_TYPE_NEXUS_OPERATION_STARTED, 30*time.Second)
	p.finishHandler(t, "wait-reset-done", "done once")
	p.requireCompletedAsync(t, run, "done once")
	p.requireCompletedAsync(t, p.resetAfterNexusStart(t, run), "done once")
	excluded := p.resetAfterNexusStart(t, run, enumspb.RESET_REAPPLY_EXCLUDE_TYPE_NEXUS)
	if op := p.pendingNexusOperation(t, excluded); op.State != enumspb.PENDING_NEXUS_OPERATION_STATE_STARTED {
		t.Fatalf("operation in the run reset without Nexus events: %v", op)
	}
	requireNoError(t, p.caller.TerminateWorkflow(testCtx(t, 10*time.Second), excluded.GetID(), "", "done"), "terminate")
}
