package e2e

// Zero-valued fields as Temporal writes them: the started event and
// describe's execution config carry the execution and run timeouts the
// start request gave, "0s" included (the Go SDK always sends them), and
// none when it gave none; describe's memo is present even when empty.
// Checked on both servers.

import (
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	taskqueuepb "go.temporal.io/api/taskqueue/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
)

func TestDescribeZeroTimeoutsAndMemo(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOptions{})
	c := newClient(t, srv.Addr(), "default")
	ctx := testCtx(t, 30*time.Second)
	_, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "zero-sdk", TaskQueue: "zero-q"}, "Nothing")
	requireNoError(t, err, "starting with the SDK")
	_, err = c.WorkflowService().StartWorkflowExecution(ctx, &workflowservice.StartWorkflowExecutionRequest{
		Namespace: "default", WorkflowId: "zero-raw", WorkflowType: &commonpb.WorkflowType{Name: "Nothing"},
		TaskQueue: &taskqueuepb.TaskQueue{Name: "zero-q"}, RequestId: "zero-raw",
	})
	requireNoError(t, err, "starting without timeouts")
	for id, present := range map[string]bool{"zero-sdk": true, "zero-raw": false} {
		started := getHistory(t, c, id, "")[0].GetWorkflowExecutionStartedEventAttributes()
		d, err := c.DescribeWorkflowExecution(ctx, id, "")
		requireNoError(t, err, "describing "+id)
		cfg := d.GetExecutionConfig()
		for what, got := range map[string]bool{
			"started event's execution timeout": started.GetWorkflowExecutionTimeout() != nil,
			"started event's run timeout":       started.GetWorkflowRunTimeout() != nil,
			"describe's execution timeout":      cfg.GetWorkflowExecutionTimeout() != nil,
			"describe's run timeout":            cfg.GetWorkflowRunTimeout() != nil,
		} {
			if got != present {
				t.Errorf("%s: %s present = %v, want %v", id, what, got, present)
			}
		}
		if cfg.GetWorkflowExecutionTimeout().AsDuration() != 0 || d.GetWorkflowExecutionInfo().GetMemo() == nil {
			t.Errorf("%s: execution timeout %v, memo %v", id, cfg.GetWorkflowExecutionTimeout(), d.GetWorkflowExecutionInfo().GetMemo())
		}
	}
}
