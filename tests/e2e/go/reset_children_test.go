package e2e

// Reset of a parent with children, as Temporal 1.32 does it (its
// history.allowResetWithPendingChildren is on by default): a child started
// before the reset point stays the new run's child (its result reaches the
// new run, through the base run's reset_run_id); child events the base run
// recorded after the point are applied again; a child started after the
// point is not the new run's, and the terminated base run's parent close
// policy is skipped. Checked on both servers.

import (
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// ResetParent starts a child, waits for "next", then returns the child's
// result.
func ResetParent(ctx workflow.Context, childID string) (string, error) {
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{WorkflowID: childID})
	f := workflow.ExecuteChildWorkflow(cctx, ResetChild)
	if err := f.GetChildWorkflowExecution().Get(ctx, nil); err != nil {
		return "", err
	}
	workflow.GetSignalChannel(ctx, "next").Receive(ctx, nil)
	var out string
	if err := f.Get(ctx, &out); err != nil {
		return "", err
	}
	return "parent got " + out, nil
}

// ResetChild returns what its "go" signal carries.
func ResetChild(ctx workflow.Context) (string, error) {
	var v string
	workflow.GetSignalChannel(ctx, "go").Receive(ctx, &v)
	return "child " + v, nil
}

func startResetParent(t *testing.T, c client.Client, tq, id string) client.WorkflowRun {
	t.Helper()
	run, err := c.ExecuteWorkflow(testCtx(t, 10*time.Second), client.StartWorkflowOptions{ID: id, TaskQueue: tq}, ResetParent, id+"-child")
	requireNoError(t, err, "starting the parent")
	// The child's start is recorded and the parent waits for "next".
	waitForEvent(t, c, id, run.GetRunID(), enumspb.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED, 20*time.Second)
	waitForCompletedTasks(t, c, id, run.GetRunID(), 2)
	return run
}

func TestResetWithPendingChild(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOptions{})
	c := newClient(t, srv.Addr(), "default")
	tq := taskQueueFor(t)
	startWorker(t, c, tq, func(r worker.Registry) {
		r.RegisterWorkflow(ResetParent)
		r.RegisterWorkflow(ResetChild)
	})
	ctx := testCtx(t, 90*time.Second)

	// The child was started before the point and closes after the reset:
	// its result reaches the new run.
	t.Run("child closes after the reset", func(t *testing.T) {
		id := "reset-child-later"
		run := startResetParent(t, c, tq, id)
		base := getHistory(t, c, id, run.GetRunID())
		point := eventsOfType(base, enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED)[1]
		requireNoError(t, c.SignalWorkflow(ctx, id, run.GetRunID(), "next", nil), "signalling the parent")
		waitForEvent(t, c, id, run.GetRunID(), enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED, 20*time.Second)
		newRunID := resetRun(t, c, &workflowservice.ResetWorkflowExecutionRequest{
			WorkflowExecution:         &commonpb.WorkflowExecution{WorkflowId: id, RunId: run.GetRunID()},
			Reason:                    "keep the child",
			WorkflowTaskFinishEventId: point.GetEventId(),
			RequestId:                 newRequestID(),
		})
		// The base run's close policy (terminate) was not applied: the child runs.
		requireNoError(t, c.SignalWorkflow(ctx, id+"-child", "", "go", "v"), "signalling the child")
		var out string
		requireNoError(t, getResult(t, c, c.GetWorkflow(ctx, id, newRunID), 30*time.Second, &out), "result of the reset run")
		if out != "parent got child v" {
			t.Errorf("reset run's result = %q", out)
		}
		events := getHistory(t, c, id, newRunID)
		t.Logf("reset run:\n%s", formatHistory(events))
		requireGaplessEventIDs(t, events)
		requireResetFailure(t, events[point.GetEventId()-1], run.GetRunID(), newRunID, "keep the child")
		requireEventTypes(t, events[point.GetEventId():],
			enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED,
			enumspb.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED, enumspb.EVENT_TYPE_WORKFLOW_TASK_STARTED, enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
			enumspb.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED,
			enumspb.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED, enumspb.EVENT_TYPE_WORKFLOW_TASK_STARTED, enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
			enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED)
		done := lastEvent(eventsOfType(events, enumspb.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED)).GetChildWorkflowExecutionCompletedEventAttributes()
		started := eventsOfType(events, enumspb.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED)[0]
		if done.GetInitiatedEventId() != started.GetChildWorkflowExecutionStartedEventAttributes().GetInitiatedEventId() ||
			done.GetStartedEventId() != started.GetEventId() {
			t.Errorf("child's completion names initiated %d started %d", done.GetInitiatedEventId(), done.GetStartedEventId())
		}
		replayHistory(t, events, ResetParent)
		child := getHistory(t, c, id+"-child", "")
		if p := child[0].GetWorkflowExecutionStartedEventAttributes().GetParentWorkflowExecution(); p.GetRunId() != run.GetRunID() {
			t.Errorf("child's parent run = %s, want the base run %s", p.GetRunId(), run.GetRunID())
		}
	})

	// The child closed after the point, before the reset: its close is
	// applied again to the new run.
	t.Run("child closed before the reset", func(t *testing.T) {
		id := "reset-child-closed"
		run := startResetParent(t, c, tq, id)
		base := getHistory(t, c, id, run.GetRunID())
		point := eventsOfType(base, enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED)[1]
		requireNoError(t, c.SignalWorkflow(ctx, id+"-child", "", "go", "w"), "signalling the child")
		waitForEvent(t, c, id, run.GetRunID(), enumspb.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED, 20*time.Second)
		newRunID := resetRun(t, c, &workflowservice.ResetWorkflowExecutionRequest{
			WorkflowExecution:         &commonpb.WorkflowExecution{WorkflowId: id, RunId: run.GetRunID()},
			Reason:                    "closed child",
			WorkflowTaskFinishEventId: point.GetEventId(),
			RequestId:                 newRequestID(),
		})
		events := getHistory(t, c, id, newRunID)
		requireEventTypes(t, events[point.GetEventId():point.GetEventId()+2],
			enumspb.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED, enumspb.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED)
		requireNoError(t, c.SignalWorkflow(ctx, id, newRunID, "next", nil), "signalling the parent")
		var out string
		requireNoError(t, getResult(t, c, c.GetWorkflow(ctx, id, newRunID), 30*time.Second, &out), "result of the reset run")
		if out != "parent got child w" {
			t.Errorf("reset run's result = %q", out)
		}
		events = getHistory(t, c, id, newRunID)
		t.Logf("reset run:\n%s", formatHistory(events))
		requireGaplessEventIDs(t, events)
		replayHistory(t, events, ResetParent)
	})

	// Reset before the child's initiation: the new run starts it again, and
	// the child the base run started still runs (no close policy), so the
	// new run's start finds its id taken.
	t.Run("child initiated after the point", func(t *testing.T) {
		id := "reset-child-after"
		run := startResetParent(t, c, tq, id)
		base := getHistory(t, c, id, run.GetRunID())
		point := eventsOfType(base, enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED)[0]
		newRunID := resetRun(t, c, &workflowservice.ResetWorkflowExecutionRequest{
			WorkflowExecution:         &commonpb.WorkflowExecution{WorkflowId: id, RunId: run.GetRunID()},
			Reason:                    "before the child",
			WorkflowTaskFinishEventId: point.GetEventId(),
			RequestId:                 newRequestID(),
		})
		err := getResult(t, c, c.GetWorkflow(ctx, id, newRunID), 30*time.Second, nil)
		events := getHistory(t, c, id, newRunID)
		t.Logf("reset run (err %v):\n%s", err, formatHistory(events))
		failed := waitForEvent(t, c, id, newRunID, enumspb.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_FAILED, 20*time.Second)
		if cause := failed.GetStartChildWorkflowExecutionFailedEventAttributes().GetCause(); cause != enumspb.START_CHILD_WORKFLOW_EXECUTION_FAILED_CAUSE_WORKFLOW_ALREADY_EXISTS {
			t.Errorf("new run's child start failed with %v", cause)
		}
		desc, derr := c.DescribeWorkflowExecution(ctx, id+"-child", "")
		requireNoError(t, derr, "describing the child")
		if st := desc.GetWorkflowExecutionInfo().GetStatus(); st != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
			t.Errorf("base run's child is %v, want still running", st)
		}
	})
}

// SignalThenBusy signals `target`; the same workflow task is kept busy by a
// local activity past the task timeout, so the SDK completes it early (the
// signal's initiated event is written) and the next task is running when
// the signal's outcome comes (it is buffered behind that task).
func SignalThenBusy(ctx workflow.Context, target string, busy time.Duration) error {
	f := workflow.SignalExternalWorkflow(ctx, target, "", "add", "from-source")
	laCtx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{StartToCloseTimeout: busy + 10*time.Second})
	if err := workflow.ExecuteLocalActivity(laCtx, actBusyFor, busy).Get(ctx, nil); err != nil {
		return err
	}
	if err := f.Get(ctx, nil); err != nil {
		return err
	}
	workflow.GetSignalChannel(ctx, "done").Receive(ctx, nil)
	return nil
}

// A reset to a point where a signal to another workflow had no outcome
// yet: the new run sends it again (Temporal's rebuilt run does), so the
// target gets it twice.
func TestResetWithPendingExternalSignal(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOptions{})
	c := newClient(t, srv.Addr(), "default")
	tq := taskQueueFor(t)
	startWorker(t, c, tq, func(r worker.Registry) {
		r.RegisterWorkflow(SignalThenBusy)
		r.RegisterWorkflow(GatherUntilDone)
		r.RegisterActivity(newMessageActivities())
	})
	ctx := testCtx(t, 90*time.Second)
	target, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "reset-ext-target", TaskQueue: tq}, GatherUntilDone)
	requireNoError(t, err, "starting the target")
	id := "reset-ext-source"
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: tq, WorkflowTaskTimeout: 2 * time.Second},
		SignalThenBusy, target.GetID(), 2500*time.Millisecond)
	requireNoError(t, err, "starting the source")
	waitForEvent(t, c, id, run.GetRunID(), enumspb.EVENT_TYPE_EXTERNAL_WORKFLOW_EXECUTION_SIGNALED, 30*time.Second)
	base := getHistory(t, c, id, run.GetRunID())
	initiated := eventsOfType(base, enumspb.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED)[0]
	outcome := eventsOfType(base, enumspb.EVENT_TYPE_EXTERNAL_WORKFLOW_EXECUTION_SIGNALED)[0]
	var point int64
	for _, e := range eventsOfType(base, enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED) {
		if e.GetEventId() > initiated.GetEventId() && e.GetEventId() < outcome.GetEventId() {
			point = e.GetEventId()
			break
		}
	}
	if point == 0 {
		t.Fatalf("no completed workflow task between the signal's initiation and its outcome:\n%s", formatHistory(base))
	}
	newRunID := resetRun(t, c, &workflowservice.ResetWorkflowExecutionRequest{
		WorkflowExecution:         &commonpb.WorkflowExecution{WorkflowId: id, RunId: run.GetRunID()},
		Reason:                    "signal pending",
		WorkflowTaskFinishEventId: point,
		RequestId:                 newRequestID(),
	})
	signaled := waitForEvent(t, c, id, newRunID, enumspb.EVENT_TYPE_EXTERNAL_WORKFLOW_EXECUTION_SIGNALED, 30*time.Second)
	if got := signaled.GetExternalWorkflowExecutionSignaledEventAttributes().GetInitiatedEventId(); got != initiated.GetEventId() {
		t.Errorf("new run's signal outcome names initiated event %d, want %d", got, initiated.GetEventId())
	}
	requireNoError(t, c.SignalWorkflow(ctx, id, newRunID, "done", nil), "finishing the source")
	requireNoError(t, getResult(t, c, c.GetWorkflow(ctx, id, newRunID), 30*time.Second, nil), "result of the reset run")
	events := getHistory(t, c, id, newRunID)
	t.Logf("base run:\n%s\nreset run:\n%s", formatHistory(base), formatHistory(events))
	requireGaplessEventIDs(t, events)
	replayHistory(t, events, SignalThenBusy)
	requireNoError(t, c.SignalWorkflow(ctx, target.GetID(), "", "done", nil), "finishing the target")
	var got string
	requireNoError(t, getResult(t, c, target, 30*time.Second, &got), "target's result")
	if got != "from-source,from-source" {
		t.Errorf("target received %q, want the signal twice", got)
	}
}
