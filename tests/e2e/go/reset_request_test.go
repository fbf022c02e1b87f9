package e2e

import (
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	taskqueuepb "go.temporal.io/api/taskqueue/v1"
	"go.temporal.io/api/workflowservice/v1"
	"google.golang.org/grpc/codes"
)

// Reset's request id, as Temporal 1.32 treats it: required; a repeated one
// makes another run (its duplicate check compares the current run's create
// request id, which a reset run takes from the original start); a request
// id equal to the start's answers the current run and resets nothing.
func TestResetRequestID(t *testing.T) {
	t.Parallel()
	c, tq := gathererServer(t)
	ctx := testCtx(t, 60*time.Second)
	id := "reset-request-id"
	started, err := c.WorkflowService().StartWorkflowExecution(ctx, &workflowservice.StartWorkflowExecutionRequest{
		Namespace: "default", WorkflowId: id, WorkflowType: &commonpb.WorkflowType{Name: "GatherUntilDone"},
		TaskQueue: &taskqueuepb.TaskQueue{Name: tq}, RequestId: "start-request",
	})
	requireNoError(t, err, "starting")
	first := waitForEvent(t, c, id, started.GetRunId(), enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED, 20*time.Second)
	req := func(requestID string) *workflowservice.ResetWorkflowExecutionRequest {
		return &workflowservice.ResetWorkflowExecutionRequest{
			Namespace:                 "default",
			WorkflowExecution:         &commonpb.WorkflowExecution{WorkflowId: id, RunId: started.GetRunId()},
			Reason:                    "again",
			WorkflowTaskFinishEventId: first.GetEventId(),
			RequestId:                 requestID,
		}
	}
	_, err = c.WorkflowService().ResetWorkflowExecution(ctx, req(""))
	requireStatus(t, "reset without a request id", err, codes.InvalidArgument, "RequestId is not set on request.")

	r1, err := c.WorkflowService().ResetWorkflowExecution(ctx, req("r1"))
	requireNoError(t, err, "first reset")
	r2, err := c.WorkflowService().ResetWorkflowExecution(ctx, req("r1"))
	requireNoError(t, err, "repeated reset")
	if r2.GetRunId() == r1.GetRunId() || r2.GetRunId() == started.GetRunId() {
		t.Fatalf("repeated reset answered run %s (first reset %s)", r2.GetRunId(), r1.GetRunId())
	}
	term := lastEvent(getHistory(t, c, id, r1.GetRunId()))
	if term.GetEventType() != enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED ||
		term.GetWorkflowExecutionTerminatedEventAttributes().GetIdentity() != "history-resetter" {
		t.Errorf("the first reset's run ends with %v, want terminated by the second reset", term.GetEventType())
	}

	// The start's request id: the current run, nothing reset.
	r3, err := c.WorkflowService().ResetWorkflowExecution(ctx, req("start-request"))
	requireNoError(t, err, "reset with the start's request id")
	if r3.GetRunId() != r2.GetRunId() {
		t.Errorf("reset with the start's request id answered %s, want the current run %s", r3.GetRunId(), r2.GetRunId())
	}
	d, err := c.DescribeWorkflowExecution(ctx, id, "")
	requireNoError(t, err, "describe")
	if info := d.GetWorkflowExecutionInfo(); info.GetExecution().GetRunId() != r2.GetRunId() ||
		info.GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		t.Errorf("current run %s is %v, want %s running", info.GetExecution().GetRunId(), info.GetStatus(), r2.GetRunId())
	}
}
