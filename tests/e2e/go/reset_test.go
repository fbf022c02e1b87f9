package e2e

// ResetWorkflowExecution: a completed run reset to its first workflow task
// runs its activities again; a running run reset before a signal gets the
// signal again and is terminated. Checked on both servers.

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

func newRequestID() string { return fmt.Sprintf("reset-%d", time.Now().UnixNano()) }

// GatherUntilDone gathers "add" signals until "done" and joins them.
func GatherUntilDone(ctx workflow.Context) (string, error) {
	add := workflow.GetSignalChannel(ctx, "add")
	done := workflow.GetSignalChannel(ctx, "done")
	var got []string
	for finished := false; !finished; {
		sel := workflow.NewSelector(ctx)
		sel.AddReceive(add, func(c workflow.ReceiveChannel, _ bool) {
			var v string
			c.Receive(ctx, &v)
			got = append(got, v)
		})
		sel.AddReceive(done, func(c workflow.ReceiveChannel, _ bool) {
			c.Receive(ctx, nil)
			finished = true
		})
		sel.Select(ctx)
	}
	return strings.Join(got, ","), nil
}

type countingGreeter struct{ calls atomic.Int32 }

func (g *countingGreeter) ComposeGreeting(_ context.Context, name string) (string, error) {
	g.calls.Add(1)
	return "Hello, " + name + "!", nil
}

func firstEventOf(t *testing.T, events []*historypb.HistoryEvent, et enumspb.EventType) *historypb.HistoryEvent {
	t.Helper()
	for _, e := range events {
		if e.GetEventType() == et {
			return e
		}
	}
	t.Fatalf("no %v in history:\n%s", et, formatHistory(events))
	return nil
}

// gathererServer starts a server and a worker of GatherUntilDone on a
// queue of the test's own.
func gathererServer(t *testing.T) (client.Client, string) {
	t.Helper()
	srv := startServer(t, serverOptions{})
	c := newClient(t, srv.Addr(), "default")
	tq := taskQueueFor(t)
	startWorker(t, c, tq, func(r worker.Registry) { r.RegisterWorkflow(GatherUntilDone) })
	return c, tq
}

// waitForCompletedTasks waits until the run has completed n workflow tasks.
func waitForCompletedTasks(t *testing.T, c client.Client, id, runID string, n int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for countEvents(getHistory(t, c, id, runID), enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%s did not complete %d workflow tasks", id, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func resetRun(t *testing.T, c client.Client, req *workflowservice.ResetWorkflowExecutionRequest) string {
	t.Helper()
	req.Namespace = "default"
	resp, err := c.ResetWorkflowExecution(testCtx(t, 10*time.Second), req)
	requireNoError(t, err, "ResetWorkflowExecution")
	return resp.GetRunId()
}

// requireResetFailure checks the failed workflow task that starts the new
// run's own events.
func requireResetFailure(t *testing.T, ev *historypb.HistoryEvent, baseRunID, newRunID, reason string) {
	t.Helper()
	if ev.GetEventType() != enumspb.EVENT_TYPE_WORKFLOW_TASK_FAILED {
		t.Fatalf("event %d is %v, want WorkflowTaskFailed", ev.GetEventId(), ev.GetEventType())
	}
	a := ev.GetWorkflowTaskFailedEventAttributes()
	if a.GetCause() != enumspb.WORKFLOW_TASK_FAILED_CAUSE_RESET_WORKFLOW || a.GetBaseRunId() != baseRunID ||
		a.GetNewRunId() != newRunID || a.GetFailure().GetMessage() != reason ||
		a.GetFailure().GetResetWorkflowFailureInfo() == nil {
		t.Errorf("reset's failed task: cause %v base %s new %s failure %v", a.GetCause(), a.GetBaseRunId(), a.GetNewRunId(), a.GetFailure())
	}
}

func TestResetCompletedRunToFirstWorkflowTask(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOptions{})
	c := newClient(t, srv.Addr(), "default")
	tq := taskQueueFor(t)
	greeter := &countingGreeter{}
	startWorker(t, c, tq, func(r worker.Registry) {
		r.RegisterWorkflow(Greet)
		r.RegisterActivity(greeter)
	})
	ctx := testCtx(t, 60*time.Second)
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "reset-completed", TaskQueue: tq}, Greet, "Ada")
	requireNoError(t, err, "starting")
	var out string
	requireNoError(t, getResult(t, c, run, 30*time.Second, &out), "result")
	base := getHistory(t, c, run.GetID(), run.GetRunID())
	first := firstEventOf(t, base, enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED)

	requestID := newRequestID()
	req := &workflowservice.ResetWorkflowExecutionRequest{
		WorkflowExecution:         &commonpb.WorkflowExecution{WorkflowId: run.GetID(), RunId: run.GetRunID()},
		Reason:                    "try again",
		WorkflowTaskFinishEventId: first.GetEventId(),
		RequestId:                 requestID,
	}
	newRunID := resetRun(t, c, req)
	if newRunID == "" || newRunID == run.GetRunID() {
		t.Fatalf("reset answered run id %q", newRunID)
	}
	var out2 string
	requireNoError(t, getResult(t, c, c.GetWorkflow(ctx, run.GetID(), newRunID), 30*time.Second, &out2), "result of the reset run")
	if out2 != out {
		t.Errorf("reset run's result = %q, want %q", out2, out)
	}
	if n := greeter.calls.Load(); n != 2 {
		t.Errorf("activity ran %d times, want 2 (once per run)", n)
	}
	events := getHistory(t, c, run.GetID(), newRunID)
	requireGaplessEventIDs(t, events)
	for i := int64(0); i < first.GetEventId()-1; i++ {
		if events[i].GetEventType() != base[i].GetEventType() || events[i].GetEventTime().AsTime() != base[i].GetEventTime().AsTime() {
			t.Errorf("event %d of the reset run differs from the base run's: %v vs %v", i+1, events[i].GetEventType(), base[i].GetEventType())
		}
	}
	requireResetFailure(t, events[first.GetEventId()-1], run.GetRunID(), newRunID, "try again")
	requireEventTypes(t, events[first.GetEventId():],
		enumspb.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED, enumspb.EVENT_TYPE_WORKFLOW_TASK_STARTED, enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
		enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED, enumspb.EVENT_TYPE_ACTIVITY_TASK_STARTED, enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED,
		enumspb.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED, enumspb.EVENT_TYPE_WORKFLOW_TASK_STARTED, enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
		enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED)
	replayHistory(t, events, Greet)

	// The runs point at each other.
	desc, err := c.DescribeWorkflowExecution(ctx, run.GetID(), run.GetRunID())
	requireNoError(t, err, "describing the base run")
	if got := desc.GetWorkflowExtendedInfo().GetResetRunId(); got != newRunID {
		t.Errorf("base run's reset_run_id = %q, want %s", got, newRunID)
	}
	desc, err = c.DescribeWorkflowExecution(ctx, run.GetID(), newRunID)
	requireNoError(t, err, "describing the reset run")
	ext := desc.GetWorkflowExtendedInfo()
	if ext.GetLastResetTime() == nil || !ext.GetOriginalStartTime().AsTime().Equal(base[0].GetEventTime().AsTime()) {
		t.Errorf("reset run's extended info: last reset %v, original start %v (base started %v)",
			ext.GetLastResetTime(), ext.GetOriginalStartTime(), base[0].GetEventTime())
	}
	if desc.GetWorkflowExecutionInfo().GetFirstRunId() != run.GetRunID() {
		t.Errorf("reset run's first run id = %s, want %s", desc.GetWorkflowExecutionInfo().GetFirstRunId(), run.GetRunID())
	}
}

func TestResetRunningRunReappliesSignals(t *testing.T) {
	t.Parallel()
	c, tq := gathererServer(t)
	ctx := testCtx(t, 60*time.Second)

	for _, exclude := range []bool{false, true} {
		id := "reset-running-" + map[bool]string{false: "reapply", true: "exclude"}[exclude]
		run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: tq}, GatherUntilDone)
		requireNoError(t, err, "starting")
		first := waitForEvent(t, c, id, run.GetRunID(), enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED, 20*time.Second)
		requireNoError(t, c.SignalWorkflow(ctx, id, run.GetRunID(), "add", "x"), "signalling")
		// The signal is handled (a second completed task) before the reset.
		waitForCompletedTasks(t, c, id, run.GetRunID(), 2)
		req := &workflowservice.ResetWorkflowExecutionRequest{
			WorkflowExecution:         &commonpb.WorkflowExecution{WorkflowId: id, RunId: run.GetRunID()},
			Reason:                    "go back",
			WorkflowTaskFinishEventId: first.GetEventId(),
			RequestId:                 newRequestID(),
		}
		if exclude {
			req.ResetReapplyExcludeTypes = []enumspb.ResetReapplyExcludeType{enumspb.RESET_REAPPLY_EXCLUDE_TYPE_SIGNAL}
		}
		newRunID := resetRun(t, c, req)

		// The old run was terminated by the resetter.
		old := getHistory(t, c, id, run.GetRunID())
		term := lastEvent(old)
		if term.GetEventType() != enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED {
			t.Fatalf("old run ends with %v, want WorkflowExecutionTerminated:\n%s", term.GetEventType(), formatHistory(old))
		}
		if a := term.GetWorkflowExecutionTerminatedEventAttributes(); a.GetReason() != "go back" || a.GetIdentity() != "history-resetter" {
			t.Errorf("old run terminated with reason %q identity %q", a.GetReason(), a.GetIdentity())
		}
		requireNoError(t, c.SignalWorkflow(ctx, id, "", "done", nil), "finishing the reset run")
		var out string
		requireNoError(t, getResult(t, c, c.GetWorkflow(ctx, id, newRunID), 30*time.Second, &out), "result of the reset run")
		want := map[bool]string{false: "x", true: ""}[exclude]
		if out != want {
			t.Errorf("exclude=%v: reset run's result = %q, want %q", exclude, out, want)
		}
		events := getHistory(t, c, id, newRunID)
		requireGaplessEventIDs(t, events)
		requireResetFailure(t, events[first.GetEventId()-1], run.GetRunID(), newRunID, "go back")
		signals := 0
		for _, e := range eventsOfType(events, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED) {
			if e.GetWorkflowExecutionSignaledEventAttributes().GetSignalName() == "add" {
				signals++
				if e.GetEventId() != first.GetEventId()+1 {
					t.Errorf("reapplied signal is event %d, want %d (right after the failed task)", e.GetEventId(), first.GetEventId()+1)
				}
			}
		}
		if want := map[bool]int{false: 1, true: 0}[exclude]; signals != want {
			t.Errorf("exclude=%v: %d reapplied signals, want %d:\n%s", exclude, signals, want, formatHistory(events))
		}
		replayHistory(t, events, GatherUntilDone)
	}
}

// GatherWithUpdates is GatherUntilDone that also takes "add" updates.
func GatherWithUpdates(ctx workflow.Context) (string, error) {
	var got []string
	if err := workflow.SetUpdateHandler(ctx, "add", func(ctx workflow.Context, v string) (int, error) {
		got = append(got, v)
		return len(got), nil
	}); err != nil {
		return "", err
	}
	workflow.GetSignalChannel(ctx, "done").Receive(ctx, nil)
	return strings.Join(got, ","), nil
}

func TestResetReappliesUpdates(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOptions{})
	c := newClient(t, srv.Addr(), "default")
	tq := taskQueueFor(t)
	startWorker(t, c, tq, func(r worker.Registry) { r.RegisterWorkflow(GatherWithUpdates) })
	ctx := testCtx(t, 60*time.Second)

	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "reset-updates", TaskQueue: tq}, GatherWithUpdates)
	requireNoError(t, err, "starting")
	first := waitForEvent(t, c, run.GetID(), run.GetRunID(), enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED, 20*time.Second)
	handle, err := c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: run.GetID(), RunID: run.GetRunID(), UpdateName: "add", UpdateID: "u1", Args: []any{"y"},
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	requireNoError(t, err, "updating")
	var n int
	requireNoError(t, handle.Get(ctx, &n), "update result")
	newRunID := resetRun(t, c, &workflowservice.ResetWorkflowExecutionRequest{
		WorkflowExecution:         &commonpb.WorkflowExecution{WorkflowId: run.GetID(), RunId: run.GetRunID()},
		Reason:                    "again",
		WorkflowTaskFinishEventId: first.GetEventId(),
		RequestId:                 newRequestID(),
	})
	completed := waitForEvent(t, c, run.GetID(), newRunID, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED, 20*time.Second)
	if id := completed.GetWorkflowExecutionUpdateCompletedEventAttributes().GetMeta().GetUpdateId(); id != "u1" {
		t.Errorf("reset run completed update %q, want u1", id)
	}
	requireNoError(t, c.SignalWorkflow(ctx, run.GetID(), newRunID, "done", nil), "finishing")
	var out string
	requireNoError(t, getResult(t, c, c.GetWorkflow(ctx, run.GetID(), newRunID), 30*time.Second, &out), "result")
	if out != "y" {
		t.Errorf("reset run's result = %q, want the re-applied update's \"y\"", out)
	}
	replayHistory(t, getHistory(t, c, run.GetID(), newRunID), GatherWithUpdates)
}

// ContinueOnce continues as new once, then waits for "done".
func ContinueOnce(ctx workflow.Context, n int) (string, error) {
	if n == 0 {
		return "", workflow.NewContinueAsNewError(ctx, ContinueOnce, 1)
	}
	workflow.GetSignalChannel(ctx, "done").Receive(ctx, nil)
	return "second", nil
}

// Resetting a run that continued as new ends the chain's running run and
// starts again from the base run; signals the later run received are
// applied again to the new run, as Temporal re-applies them from every
// later run of the chain.
func TestResetRunThatContinuedAsNew(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOptions{})
	c := newClient(t, srv.Addr(), "default")
	tq := taskQueueFor(t)
	startWorker(t, c, tq, func(r worker.Registry) { r.RegisterWorkflow(ContinueOnce) })
	ctx := testCtx(t, 60*time.Second)

	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "reset-can", TaskQueue: tq}, ContinueOnce, 0)
	requireNoError(t, err, "starting")
	base := getHistory(t, c, run.GetID(), run.GetRunID())
	for lastEvent(base).GetEventType() != enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW {
		time.Sleep(50 * time.Millisecond)
		base = getHistory(t, c, run.GetID(), run.GetRunID())
	}
	second := lastEvent(base).GetWorkflowExecutionContinuedAsNewEventAttributes().GetNewExecutionRunId()
	waitForEvent(t, c, run.GetID(), second, enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED, 20*time.Second)
	requireNoError(t, c.SignalWorkflow(ctx, run.GetID(), second, "later", "z"), "signalling the second run")
	first := firstEventOf(t, base, enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED)
	newRunID := resetRun(t, c, &workflowservice.ResetWorkflowExecutionRequest{
		WorkflowExecution:         &commonpb.WorkflowExecution{WorkflowId: run.GetID(), RunId: run.GetRunID()},
		Reason:                    "from the top",
		WorkflowTaskFinishEventId: first.GetEventId(),
		RequestId:                 newRequestID(),
	})
	term := lastEvent(getHistory(t, c, run.GetID(), second))
	if term.GetEventType() != enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED ||
		term.GetWorkflowExecutionTerminatedEventAttributes().GetIdentity() != "history-resetter" {
		t.Fatalf("the chain's running run ends with %v, want terminated by history-resetter", term.GetEventType())
	}
	reset := getHistory(t, c, run.GetID(), newRunID)
	requireResetFailure(t, reset[first.GetEventId()-1], run.GetRunID(), newRunID, "from the top")
	if len(reset) <= int(first.GetEventId()) {
		t.Fatalf("reset run has no events after its failed task:\n%s", formatHistory(reset))
	}
	if sig := reset[first.GetEventId()]; sig.GetEventType() != enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED ||
		sig.GetWorkflowExecutionSignaledEventAttributes().GetSignalName() != "later" {
		t.Errorf("event after the failed task is %v, want the second run's signal re-applied:\n%s", sig.GetEventType(), formatHistory(reset))
	}
	// The reset run continues as new again; its successor finishes the chain.
	var third string
	deadline := time.Now().Add(20 * time.Second)
	for third == "" {
		if e := lastEvent(getHistory(t, c, run.GetID(), newRunID)); e.GetEventType() == enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW {
			third = e.GetWorkflowExecutionContinuedAsNewEventAttributes().GetNewExecutionRunId()
		} else if time.Now().After(deadline) {
			t.Fatalf("the reset run did not continue as new")
		} else {
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitForEvent(t, c, run.GetID(), third, enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED, 20*time.Second)
	requireNoError(t, c.SignalWorkflow(ctx, run.GetID(), "", "done", nil), "finishing the chain")
	var out string
	requireNoError(t, getResult(t, c, c.GetWorkflow(ctx, run.GetID(), third), 30*time.Second, &out), "result")
	if out != "second" {
		t.Errorf("result = %q", out)
	}
}
