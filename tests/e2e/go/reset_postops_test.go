package e2e

// Post-reset operations as Temporal 1.32 takes them: UpdateWorkflowOptions
// only (the priority here), applied to the new run before its first task;
// SignalWorkflow, an empty operation and a bad mask path are refused with
// Temporal's messages. Checked on both servers.

import (
	"strings"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
)

func TestResetPostResetOperations(t *testing.T) {
	t.Parallel()
	c, tq := gathererServer(t)
	ctx := testCtx(t, 60*time.Second)
	id := "reset-post-ops"
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: tq}, GatherUntilDone)
	requireNoError(t, err, "starting")
	first := waitForEvent(t, c, id, run.GetRunID(), enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED, 20*time.Second)
	reset := func(op *workflowpb.PostResetOperation) (*workflowservice.ResetWorkflowExecutionResponse, error) {
		return c.WorkflowService().ResetWorkflowExecution(ctx, &workflowservice.ResetWorkflowExecutionRequest{
			Namespace:                 "default",
			WorkflowExecution:         &commonpb.WorkflowExecution{WorkflowId: id, RunId: run.GetRunID()},
			Reason:                    "ops",
			WorkflowTaskFinishEventId: first.GetEventId(),
			RequestId:                 newRequestID(),
			PostResetOperations:       []*workflowpb.PostResetOperation{op},
		})
	}
	priority := func(paths ...string) *workflowpb.PostResetOperation {
		return &workflowpb.PostResetOperation{Variant: &workflowpb.PostResetOperation_UpdateWorkflowOptions_{
			UpdateWorkflowOptions: &workflowpb.PostResetOperation_UpdateWorkflowOptions{
				WorkflowExecutionOptions: &workflowpb.WorkflowExecutionOptions{Priority: &commonpb.Priority{PriorityKey: 2}},
				UpdateMask:               &fieldmaskpb.FieldMask{Paths: paths},
			}}}
	}

	_, err = reset(&workflowpb.PostResetOperation{Variant: &workflowpb.PostResetOperation_SignalWorkflow_{
		SignalWorkflow: &workflowpb.PostResetOperation_SignalWorkflow{SignalName: "add"}}})
	requireStatus(t, "a signal operation", err, codes.InvalidArgument,
		"unsupported post reset operation: *workflow.PostResetOperation_SignalWorkflow_")
	_, err = reset(&workflowpb.PostResetOperation{})
	requireStatus(t, "an empty operation", err, codes.InvalidArgument, "unsupported post reset operation: <nil>")
	// (Go's protobuf errors put a space or a no-break space after "proto:", at random.)
	_, err = reset(priority("bogus"))
	if st := serviceerror.ToStatus(err); st.Code() != codes.InvalidArgument ||
		!strings.HasPrefix(st.Message(), "error applying update_options: proto:") ||
		!strings.HasSuffix(st.Message(), `invalid path "bogus" for message "temporal.api.workflow.v1.WorkflowExecutionOptions"`) {
		t.Errorf("a bad mask path: %s", describeErr(err))
	}
	// Nothing was reset by the refused requests.
	if d, err := c.DescribeWorkflowExecution(ctx, id, ""); err != nil || d.GetWorkflowExecutionInfo().GetExecution().GetRunId() != run.GetRunID() {
		t.Fatalf("a refused reset changed the current run (%v)", err)
	}

	r, err := reset(priority("priority"))
	requireNoError(t, err, "reset with a priority")
	events := getHistory(t, c, id, r.GetRunId())
	requireResetFailure(t, events[first.GetEventId()-1], run.GetRunID(), r.GetRunId(), "ops")
	requireEventTypes(t, events[first.GetEventId():first.GetEventId()+2],
		enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_OPTIONS_UPDATED, enumspb.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED)
	updated := events[first.GetEventId()]
	if a := updated.GetWorkflowExecutionOptionsUpdatedEventAttributes(); a.GetPriority().GetPriorityKey() != 2 ||
		!a.GetUnsetVersioningOverride() || !updated.GetWorkerMayIgnore() {
		t.Errorf("options updated event: %v", updated)
	}
	d, err := c.DescribeWorkflowExecution(ctx, id, r.GetRunId())
	requireNoError(t, err, "describing the reset run")
	if got := d.GetWorkflowExecutionInfo().GetPriority().GetPriorityKey(); got != 2 {
		t.Errorf("reset run's priority key = %d, want 2", got)
	}
	requireNoError(t, c.SignalWorkflow(ctx, id, r.GetRunId(), "done", nil), "finishing")
	requireNoError(t, getResult(t, c, c.GetWorkflow(ctx, id, r.GetRunId()), 30*time.Second, nil), "result")
	replayHistory(t, getHistory(t, c, id, r.GetRunId()), GatherUntilDone)
}
