package e2e

// Temporal's blob size limit (2 MiB, refused above; its defaults), each
// checked just under and just over on both servers: a start's input, a
// signal's input, an activity's result, a workflow's result.

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	commandpb "go.temporal.io/api/command/v1"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	taskqueuepb "go.temporal.io/api/taskqueue/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
)

const (
	blobLimit = 2 * 1024 * 1024
	justUnder = blobLimit - 4*1024
	justOver  = blobLimit + 4*1024
)

// ReturnBlob returns a string of n bytes (a workflow result of that size).
func ReturnBlob(_ workflow.Context, n int) (string, error) { return strings.Repeat("x", n), nil }

func TestBlobSizeLimitOnStartAndSignal(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOptions{})
	c := newClient(t, srv.Addr(), "default")
	tq := taskQueueFor(t)
	ctx := testCtx(t, 60*time.Second)

	_, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "blob-under", TaskQueue: tq}, "Anything", strings.Repeat("a", justUnder))
	requireNoError(t, err, "starting with an input just under the limit")
	_, err = c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "blob-over", TaskQueue: tq}, "Anything", strings.Repeat("a", justOver))
	if ia := requireErrorAs[*serviceerror.InvalidArgument](t, err, "starting with an input just over the limit"); ia.Error() != "Blob data size exceeds limit." {
		t.Errorf("start over the limit: %q", ia.Error())
	}
	requireNoError(t, c.SignalWorkflow(ctx, "blob-under", "", "s", strings.Repeat("b", justUnder)), "a signal just under the limit")
	err = c.SignalWorkflow(ctx, "blob-under", "", "s", strings.Repeat("b", justOver))
	if ia := requireErrorAs[*serviceerror.InvalidArgument](t, err, "a signal just over the limit"); ia.Error() != "Blob data size exceeds limit." {
		t.Errorf("signal over the limit: %q", ia.Error())
	}
}

// The SDK refuses results over the limit itself once it has read the
// namespace's limits; the server's own checks are exercised with raw calls.
func TestBlobSizeLimitOnResults(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOptions{})
	svc := rawService(t, srv.Addr())
	ctx := testCtx(t, 60*time.Second)
	blob := func(n int) *commonpb.Payloads {
		return &commonpb.Payloads{Payloads: []*commonpb.Payload{{Data: bytes.Repeat([]byte("z"), n)}}}
	}
	for _, size := range []int{justUnder, justOver} {
		id := fmt.Sprintf("raw-results-%d", size)
		queue := taskQueueFor(t)
		_, err := svc.StartWorkflowExecution(ctx, &workflowservice.StartWorkflowExecutionRequest{
			Namespace: "default", WorkflowId: id, WorkflowType: &commonpb.WorkflowType{Name: "Raw"},
			TaskQueue: &taskqueuepb.TaskQueue{Name: queue}, RequestId: id,
		})
		requireNoError(t, err, "starting")
		// First task: schedule an activity.
		task := pollTask(t, ctx, svc, queue, "raw-worker")
		_, err = svc.RespondWorkflowTaskCompleted(ctx, &workflowservice.RespondWorkflowTaskCompletedRequest{
			Namespace: "default", TaskToken: task.GetTaskToken(), Identity: "raw-worker",
			Commands: []*commandpb.Command{{
				CommandType: enumspb.COMMAND_TYPE_SCHEDULE_ACTIVITY_TASK,
				Attributes: &commandpb.Command_ScheduleActivityTaskCommandAttributes{ScheduleActivityTaskCommandAttributes: &commandpb.ScheduleActivityTaskCommandAttributes{
					ActivityId: "a", ActivityType: &commonpb.ActivityType{Name: "Big"},
					TaskQueue:           &taskqueuepb.TaskQueue{Name: queue},
					StartToCloseTimeout: durationpb.New(10 * time.Second),
					RetryPolicy:         &commonpb.RetryPolicy{MaximumAttempts: 3},
				}},
			}},
		})
		requireNoError(t, err, "scheduling the activity")
		act, err := svc.PollActivityTaskQueue(ctx, &workflowservice.PollActivityTaskQueueRequest{
			Namespace: "default", TaskQueue: &taskqueuepb.TaskQueue{Name: queue}, Identity: "raw-worker",
		})
		requireNoError(t, err, "polling the activity")
		_, err = svc.RespondActivityTaskCompleted(ctx, &workflowservice.RespondActivityTaskCompletedRequest{
			Namespace: "default", TaskToken: act.GetTaskToken(), Result: blob(size), Identity: "raw-worker",
		})
		requireNoError(t, err, "completing the activity")
		// Second task: complete the workflow with a result of the same size.
		task = pollTask(t, ctx, svc, queue, "raw-worker")
		_, err = svc.RespondWorkflowTaskCompleted(ctx, &workflowservice.RespondWorkflowTaskCompletedRequest{
			Namespace: "default", TaskToken: task.GetTaskToken(), Identity: "raw-worker",
			Commands: []*commandpb.Command{{
				CommandType: enumspb.COMMAND_TYPE_COMPLETE_WORKFLOW_EXECUTION,
				Attributes: &commandpb.Command_CompleteWorkflowExecutionCommandAttributes{
					CompleteWorkflowExecutionCommandAttributes: &commandpb.CompleteWorkflowExecutionCommandAttributes{Result: blob(size)},
				},
			}},
		})
		if size == justOver && (status.Code(err) != codes.InvalidArgument ||
			!strings.Contains(err.Error(), "BadScheduleActivityAttributes: CompleteWorkflowExecutionCommandAttributes.Result exceeds size limit.")) {
			t.Errorf("completing with an oversized result answered %v", err)
		}
		events := rawHistory(t, ctx, svc, id)
		last := events[len(events)-1]
		if size == justUnder {
			if countEvents(events, enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED) != 1 || last.GetEventType() != enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED {
				t.Errorf("just under the limit, want the activity and the workflow completed:\n%s", formatHistory(events))
			}
			continue
		}
		failed := eventsOfType(events, enumspb.EVENT_TYPE_ACTIVITY_TASK_FAILED)
		if len(failed) != 1 {
			t.Fatalf("just over the limit, want the activity failed:\n%s", formatHistory(events))
		}
		a := failed[0].GetActivityTaskFailedEventAttributes()
		if a.GetFailure().GetMessage() != "Complete result exceeds size limit." || !a.GetFailure().GetServerFailureInfo().GetNonRetryable() ||
			a.GetRetryState() != enumspb.RETRY_STATE_NON_RETRYABLE_FAILURE {
			t.Errorf("activity failure = %v, retry state %v", a.GetFailure(), a.GetRetryState())
		}
		n := len(events)
		if events[n-2].GetEventType() != enumspb.EVENT_TYPE_WORKFLOW_TASK_FAILED || last.GetEventType() != enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED {
			t.Fatalf("just over the limit, want the task failed and the run terminated:\n%s", formatHistory(events))
		}
		// Temporal reports an oversized result with the schedule-activity cause.
		if cause := events[n-2].GetWorkflowTaskFailedEventAttributes().GetCause(); cause != enumspb.WORKFLOW_TASK_FAILED_CAUSE_BAD_SCHEDULE_ACTIVITY_ATTRIBUTES {
			t.Errorf("failed task's cause = %v", cause)
		}
		term := last.GetWorkflowExecutionTerminatedEventAttributes()
		if term.GetReason() != "BadScheduleActivityAttributes: CompleteWorkflowExecutionCommandAttributes.Result exceeds size limit." ||
			term.GetIdentity() != "history-service" {
			t.Errorf("terminated with reason %q identity %q", term.GetReason(), term.GetIdentity())
		}
	}
}

// The SDK reads the namespace's limits and refuses an oversized workflow
// result itself: the task fails on the worker, the run stays open.
func TestNamespaceAdvertisesBlobLimit(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOptions{})
	c := newClient(t, srv.Addr(), "default")
	desc, err := c.WorkflowService().DescribeNamespace(testCtx(t, 10*time.Second), &workflowservice.DescribeNamespaceRequest{Namespace: "default"})
	requireNoError(t, err, "describing the namespace")
	limits := desc.GetNamespaceInfo().GetLimits()
	if limits.GetBlobSizeLimitError() != blobLimit || limits.GetMemoSizeLimitError() != blobLimit {
		t.Errorf("namespace limits = %v, want Temporal's 2 MiB", limits)
	}
	caps := desc.GetNamespaceInfo().GetCapabilities()
	if !caps.GetEagerWorkflowStart() || !caps.GetSyncUpdate() || !caps.GetAsyncUpdate() || !desc.GetNamespaceInfo().GetSupportsSchedules() {
		t.Errorf("namespace capabilities = %v (schedules %v)", caps, desc.GetNamespaceInfo().GetSupportsSchedules())
	}
	tq := taskQueueFor(t)
	startWorker(t, c, tq, func(r worker.Registry) { r.RegisterWorkflow(ReturnBlob) })
	ctx := testCtx(t, 60*time.Second)
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "wf-over", TaskQueue: tq}, ReturnBlob, justOver)
	requireNoError(t, err, "starting")
	waitForEvent(t, c, run.GetID(), run.GetRunID(), enumspb.EVENT_TYPE_WORKFLOW_TASK_FAILED, 20*time.Second)
	d, err := c.DescribeWorkflowExecution(ctx, run.GetID(), run.GetRunID())
	requireNoError(t, err, "describing")
	if d.GetWorkflowExecutionInfo().GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		t.Errorf("status = %v, want still running", d.GetWorkflowExecutionInfo().GetStatus())
	}
	requireNoError(t, c.TerminateWorkflow(ctx, run.GetID(), "", "done"), "terminating")
}

// Sleeps n times (five events each).
func ManyTimers(ctx workflow.Context, n int) error {
	for i := 0; i < n; i++ {
		if err := workflow.Sleep(ctx, time.Millisecond); err != nil {
			return err
		}
	}
	return nil
}

// A history past limit.historyCount.error (lowered through Temporal's
// dynamic config) ends the run: terminated by the server.
func TestHistoryCountLimitTerminates(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOptions{DynamicConfig: []string{"limit.historyCount.error=60"}})
	c := newClient(t, srv.Addr(), "default")
	tq := taskQueueFor(t)
	startWorker(t, c, tq, func(r worker.Registry) { r.RegisterWorkflow(ManyTimers) })
	ctx := testCtx(t, 60*time.Second)

	under, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "history-under", TaskQueue: tq}, ManyTimers, 5)
	requireNoError(t, err, "starting")
	requireNoError(t, getResult(t, c, under, 30*time.Second, nil), "a history under the limit")

	over, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "history-over", TaskQueue: tq}, ManyTimers, 40)
	requireNoError(t, err, "starting")
	if err := getResult(t, c, over, 30*time.Second, nil); err == nil {
		t.Fatalf("a history over the limit completed")
	}
	events := getHistory(t, c, over.GetID(), over.GetRunID())
	last := lastEvent(events)
	if last.GetEventType() != enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED {
		t.Fatalf("want the run terminated:\n%s", formatHistory(events))
	}
	a := last.GetWorkflowExecutionTerminatedEventAttributes()
	if a.GetReason() != "Workflow history count exceeds limit." || a.GetIdentity() != "history-service" {
		t.Errorf("terminated with reason %q identity %q", a.GetReason(), a.GetIdentity())
	}
	t.Logf("terminated at event %d", last.GetEventId())
}

// SignalAtLimit signals "target" once and reports how the signal ended.
func SignalAtLimit(ctx workflow.Context) (string, error) {
	err := workflow.SignalExternalWorkflow(ctx, "signal-limit", "", "s", "from a workflow").Get(ctx, nil)
	if err != nil {
		return err.Error(), nil
	}
	return "delivered", nil
}

// A run takes at most history.maximumSignalsPerExecution signals: the next
// one is refused (a retry of one it took still succeeds), and a workflow's
// signal to it fails with SIGNAL_COUNT_LIMIT_EXCEEDED.
func TestSignalCountLimit(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOptions{DynamicConfig: []string{"history.maximumSignalsPerExecution=3"}})
	c := newClient(t, srv.Addr(), "default")
	svc := rawService(t, srv.Addr())
	tq := taskQueueFor(t)
	ctx := testCtx(t, 60*time.Second)
	if _, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "signal-limit", TaskQueue: tq + "-idle"}, "Anything"); err != nil {
		t.Fatalf("start: %v", err)
	}
	signal := func(requestID string) error {
		_, err := svc.SignalWorkflowExecution(ctx, &workflowservice.SignalWorkflowExecutionRequest{
			Namespace: "default", WorkflowExecution: &commonpb.WorkflowExecution{WorkflowId: "signal-limit"},
			SignalName: "s", RequestId: requestID,
		})
		return err
	}
	for i := 1; i <= 3; i++ {
		requireNoError(t, signal(fmt.Sprintf("req-%d", i)), fmt.Sprintf("signal %d of 3", i))
	}
	if err := signal("req-4"); status.Code(err) != codes.InvalidArgument ||
		status.Convert(err).Message() != "exceeded workflow execution limit for signal events" {
		t.Errorf("signal 4: %v, want InvalidArgument \"exceeded workflow execution limit for signal events\"", err)
	}
	requireNoError(t, signal("req-3"), "a retry of signal 3")
	_, err := c.SignalWithStartWorkflow(ctx, "signal-limit", "s", "x", client.StartWorkflowOptions{TaskQueue: tq + "-idle"}, "Anything")
	if ia := requireErrorAs[*serviceerror.InvalidArgument](t, err, "signal-with-start to the run at its limit"); ia.Error() !=
		"exceeded workflow execution limit for signal events" {
		t.Errorf("signal-with-start to the run at its limit: %q", ia.Error())
	}

	startWorker(t, c, tq, func(r worker.Registry) { r.RegisterWorkflow(SignalAtLimit) })
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "signaller", TaskQueue: tq}, SignalAtLimit)
	requireNoError(t, err, "starting the signaller")
	var got string
	requireNoError(t, run.Get(ctx, &got), "the signaller's result")
	failed := eventsOfType(getHistory(t, c, "signaller", run.GetRunID()), enumspb.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_FAILED)
	if len(failed) != 1 || failed[0].GetSignalExternalWorkflowExecutionFailedEventAttributes().GetCause() !=
		enumspb.SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_FAILED_CAUSE_SIGNAL_COUNT_LIMIT_EXCEEDED {
		t.Errorf("signaller: %d SignalExternalWorkflowExecutionFailed events %v, want one with SIGNAL_COUNT_LIMIT_EXCEEDED (result %q)",
			len(failed), failed, got)
	}
	if n := countEvents(getHistory(t, c, "signal-limit", ""), enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED); n != 3 {
		t.Errorf("the run at its limit has %d signals, want 3", n)
	}
}
