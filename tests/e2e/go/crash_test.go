package e2e

// Crash tests: workers and the server die (kill -9) mid-workflow; every
// workflow must still complete exactly once with a clean history.

import (
	"fmt"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
)

// logRecovery reports how the workflow tasks of a run were recovered (useful
// when diagnosing sticky-queue fallback).
func logRecovery(t testing.TB, events []*historypb.HistoryEvent) {
	t.Helper()
	for _, ev := range eventsOfType(events, evWftTimedOut) {
		a := ev.GetWorkflowTaskTimedOutEventAttributes()
		t.Logf("event %d: WorkflowTaskTimedOut (scheduled %d, timeout type %v)",
			ev.GetEventId(), a.GetScheduledEventId(), a.GetTimeoutType())
	}
	for _, ev := range eventsOfType(events, evWftScheduled) {
		a := ev.GetWorkflowTaskScheduledEventAttributes()
		t.Logf("event %d: WorkflowTaskScheduled on %q (kind %v, attempt %d)",
			ev.GetEventId(), a.GetTaskQueue().GetName(), a.GetTaskQueue().GetKind(), a.GetAttempt())
	}
}

// requireSingleClose asserts the run closed exactly once, as completed.
func requireSingleClose(t testing.TB, events []*historypb.HistoryEvent) {
	t.Helper()
	if n := countEvents(events, evWfCompleted); n != 1 {
		t.Errorf("%d WorkflowExecutionCompleted events, want exactly 1\n%s", n, formatHistory(events))
	}
	if last := lastEvent(events); last.GetEventType() != evWfCompleted {
		t.Errorf("last event = %v, want WorkflowExecutionCompleted", last.GetEventType())
	}
}

// stepStartedBy returns the ActivityTaskStarted attributes of each Step
// activity, keyed by the step's input label ("A", "B").
func stepStartedBy(t testing.TB, events []*historypb.HistoryEvent) map[string]*historypb.ActivityTaskStartedEventAttributes {
	t.Helper()
	out := map[string]*historypb.ActivityTaskStartedEventAttributes{}
	for _, ev := range eventsOfType(events, evActStarted) {
		a := ev.GetActivityTaskStartedEventAttributes()
		sched := eventByID(events, a.GetScheduledEventId())
		if sched == nil {
			continue
		}
		out[decodeString(t, sched.GetActivityTaskScheduledEventAttributes().GetInput())] = a
	}
	return out
}

// TestWorkerKilledMidWorkflow: worker #1 (a separate process) runs step A and
// starts the timer, then dies. Worker #2 takes over (the workflow task for
// the fired timer was bound to worker #1's sticky queue and must fall back to
// the normal queue).
func TestWorkerKilledMidWorkflow(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOptions{})
	tq := taskQueueFor(t)
	const id1, id2 = "worker-1@e2e", "worker-2@e2e"
	w1 := startWorkerProcess(t, srv.Addr(), defaultNamespace, tq, "two-steps", id1)

	c := newClient(t, srv.Addr(), defaultNamespace)
	ctx := testCtx(t, 90*time.Second)
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "worker-killed", TaskQueue: tq},
		TwoSteps, TwoStepsInput{Sleep: 3 * time.Second})
	requireNoError(t, err, "starting TwoSteps")
	waitForEvent(t, c, run.GetID(), run.GetRunID(), evTimerStarted, 20*time.Second)

	w1.Kill9()
	killedAt := time.Now()
	startWorker(t, newClientWithIdentity(t, srv.Addr(), defaultNamespace, id2), tq, registerTwoSteps)

	var res string
	requireNoError(t, run.Get(testCtx(t, 30*time.Second), &res), "TwoSteps result after worker #1 was killed")
	t.Logf("completed %v after worker #1 was killed", time.Since(killedAt).Round(time.Millisecond))
	if res != "step-A,step-B" {
		t.Errorf("result = %q, want step-A,step-B", res)
	}

	events := getHistory(t, c, run.GetID(), run.GetRunID())
	logRecovery(t, events)
	requireCleanHistory(t, events)
	requireSingleClose(t, events)
	if n, m := countEvents(events, evTimerStarted), countEvents(events, evTimerFired); n != 1 || m != 1 {
		t.Errorf("%d TimerStarted / %d TimerFired, want 1/1", n, m)
	}
	steps := stepStartedBy(t, events)
	if a := steps["A"]; a == nil || a.GetIdentity() != id1 {
		t.Errorf("step A started by %v, want %q", a, id1)
	}
	if b := steps["B"]; b == nil || b.GetIdentity() != id2 {
		t.Errorf("step B started by %v, want %q", b, id2)
	}
	wftDone := eventsOfType(events, evWftCompleted)
	if got := wftDone[len(wftDone)-1].GetWorkflowTaskCompletedEventAttributes().GetIdentity(); got != id2 {
		t.Errorf("last workflow task completed by %q, want %q", got, id2)
	}
	replayHistory(t, events, allWorkflows...)
}

// TestWorkerKilledDuringActivity: worker #1 (a separate process) dies while
// executing step A. The attempt times out (start-to-close 3s), is retried and
// completed by worker #2, and the workflow task bound to the dead worker's
// sticky queue is recovered. The workflow uses a 2s workflow task timeout.
func TestWorkerKilledDuringActivity(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOptions{})
	tq := taskQueueFor(t)
	const id1, id2 = "worker-1@e2e", "worker-2@e2e"
	w1 := startWorkerProcess(t, srv.Addr(), defaultNamespace, tq, "two-steps-blocking", id1)

	c := newClient(t, srv.Addr(), defaultNamespace)
	ctx := testCtx(t, 90*time.Second)
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                  "worker-killed-in-activity",
		TaskQueue:           tq,
		WorkflowTaskTimeout: 2 * time.Second,
	}, TwoSteps, TwoStepsInput{StepTimeout: 3 * time.Second})
	requireNoError(t, err, "starting TwoSteps")
	w1.WaitForMarker(t, stepStartedMarker("A"), 20*time.Second)

	w1.Kill9()
	killedAt := time.Now()
	startWorker(t, newClientWithIdentity(t, srv.Addr(), defaultNamespace, id2), tq, registerTwoSteps)

	var res string
	requireNoError(t, run.Get(testCtx(t, 30*time.Second), &res), "TwoSteps result after worker #1 was killed")
	t.Logf("completed %v after worker #1 was killed", time.Since(killedAt).Round(time.Millisecond))
	if res != "step-A,step-B" {
		t.Errorf("result = %q, want step-A,step-B", res)
	}

	events := getHistory(t, c, run.GetID(), run.GetRunID())
	logRecovery(t, events)
	requireCleanHistory(t, events)
	requireSingleClose(t, events)
	if got := events[0].GetWorkflowExecutionStartedEventAttributes().GetWorkflowTaskTimeout().AsDuration(); got != 2*time.Second {
		t.Errorf("WorkflowExecutionStarted: workflow_task_timeout = %v, want 2s", got)
	}
	if n := countEvents(events, evActCompleted); n != 2 {
		t.Errorf("%d ActivityTaskCompleted, want 2", n)
	}
	steps := stepStartedBy(t, events)
	a := steps["A"]
	switch {
	case a == nil:
		t.Errorf("no ActivityTaskStarted for step A\n%s", formatHistory(events))
	default:
		if a.GetIdentity() != id2 {
			t.Errorf("step A's recorded attempt was started by %q, want %q", a.GetIdentity(), id2)
		}
		// Attempt 1 died with worker #1 and timed out; attempt 2 must reach
		// worker #2 (a higher attempt means a task went to a dead poller).
		if a.GetAttempt() != 2 {
			t.Errorf("step A completed on attempt %d, want 2", a.GetAttempt())
		}
		if tf := a.GetLastFailure().GetTimeoutFailureInfo(); tf.GetTimeoutType() != enumspb.TIMEOUT_TYPE_START_TO_CLOSE {
			t.Errorf("step A last_failure = %v, want a START_TO_CLOSE timeout", a.GetLastFailure())
		}
	}
	replayHistory(t, events, allWorkflows...)
}

// TestServerKill9DuringTimer: the server is killed while a durable timer is
// pending; after a restart on the same database the timer fires exactly once
// and the (reconnecting) in-process worker completes the workflow.
func TestServerKill9DuringTimer(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOptions{})
	tq := taskQueueFor(t)
	c := newClient(t, srv.Addr(), defaultNamespace)
	startWorker(t, c, tq, func(r worker.Registry) { r.RegisterWorkflow(SleepThenReturn) })

	const sleep = 3 * time.Second
	ctx := testCtx(t, 90*time.Second)
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "server-killed-timer", TaskQueue: tq}, SleepThenReturn, sleep)
	requireNoError(t, err, "starting SleepThenReturn")
	waitForEvent(t, c, run.GetID(), run.GetRunID(), evTimerStarted, 20*time.Second)

	srv.Kill9()
	srv.Restart(t)

	var res string
	requireNoError(t, c.GetWorkflow(ctx, run.GetID(), run.GetRunID()).Get(testCtx(t, 45*time.Second), &res),
		"SleepThenReturn result after server restart")
	if want := "slept 3s"; res != want {
		t.Errorf("result = %q, want %q", res, want)
	}

	events := getHistory(t, c, run.GetID(), run.GetRunID())
	logRecovery(t, events)
	requireCleanHistory(t, events)
	requireSingleClose(t, events)
	started, fired := eventsOfType(events, evTimerStarted), eventsOfType(events, evTimerFired)
	if len(started) != 1 || len(fired) != 1 {
		t.Fatalf("%d TimerStarted / %d TimerFired, want 1/1\n%s", len(started), len(fired), formatHistory(events))
	}
	if gap := fired[0].GetEventTime().AsTime().Sub(started[0].GetEventTime().AsTime()); gap < sleep {
		t.Errorf("TimerFired %v after TimerStarted, want >= %v", gap, sleep)
	}
	replayHistory(t, events, allWorkflows...)
}

// TestServerGracefulRestartDuringTimer is the SIGTERM counterpart of
// TestServerKill9DuringTimer: the server must exit 0 and resume the timer.
func TestServerGracefulRestartDuringTimer(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOptions{})
	tq := taskQueueFor(t)
	c := newClient(t, srv.Addr(), defaultNamespace)
	startWorker(t, c, tq, func(r worker.Registry) { r.RegisterWorkflow(SleepThenReturn) })

	ctx := testCtx(t, 90*time.Second)
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "server-restarted-timer", TaskQueue: tq}, SleepThenReturn, 3*time.Second)
	requireNoError(t, err, "starting SleepThenReturn")
	waitForEvent(t, c, run.GetID(), run.GetRunID(), evTimerStarted, 20*time.Second)

	requireNoError(t, srv.Stop(), "graceful stop (SIGTERM) with a pending timer and connected worker")
	srv.Restart(t)

	var res string
	requireNoError(t, c.GetWorkflow(ctx, run.GetID(), run.GetRunID()).Get(testCtx(t, 45*time.Second), &res),
		"SleepThenReturn result after graceful restart")
	events := getHistory(t, c, run.GetID(), run.GetRunID())
	requireCleanHistory(t, events)
	requireSingleClose(t, events)
	if n := countEvents(events, evTimerFired); n != 1 {
		t.Errorf("%d TimerFired, want 1", n)
	}
	replayHistory(t, events, allWorkflows...)
}

// TestServerKill9DuringActivity: the server is killed while an activity is
// executing. After the restart the activity finishes; either its completion
// (with the pre-crash task token) is accepted, or the attempt times out and
// is retried. The workflow completes exactly once.
func TestServerKill9DuringActivity(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOptions{})
	tq := taskQueueFor(t)
	c := newClient(t, srv.Addr(), defaultNamespace)
	acts := newBlockingActivities()
	startWorker(t, c, tq, func(r worker.Registry) {
		r.RegisterWorkflow(RunBlockingActivity)
		r.RegisterActivityWithOptions(acts.BlockUntilReleased, activity.RegisterOptions{Name: actBlockUntilReleased})
	})
	t.Cleanup(acts.Release) // runs before the worker is stopped

	ctx := testCtx(t, 90*time.Second)
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "server-killed-activity", TaskQueue: tq},
		RunBlockingActivity, 5*time.Second)
	requireNoError(t, err, "starting RunBlockingActivity")
	select {
	case <-acts.started:
	case <-time.After(20 * time.Second):
		t.Fatalf("activity did not start within 20s; history:\n%s", formatHistory(getHistory(t, c, run.GetID(), run.GetRunID())))
	}

	srv.Kill9()
	srv.Restart(t)
	acts.Release()

	var res string
	requireNoError(t, c.GetWorkflow(ctx, run.GetID(), run.GetRunID()).Get(testCtx(t, 45*time.Second), &res),
		"RunBlockingActivity result after server restart")
	calls := acts.calls.Load()
	t.Logf("activity was invoked %d time(s); result %q", calls, res)
	if calls > 1 {
		t.Logf("note: the completion of the pre-crash attempt was not accepted after the restart; the attempt was retried")
	}

	events := getHistory(t, c, run.GetID(), run.GetRunID())
	logRecovery(t, events)
	requireCleanHistory(t, events)
	requireSingleClose(t, events)
	if n := countEvents(events, evActScheduled); n != 1 {
		t.Errorf("%d ActivityTaskScheduled, want 1", n)
	}
	if n := countEvents(events, evActCompleted); n != 1 {
		t.Errorf("%d ActivityTaskCompleted, want 1", n)
	}
	if st := eventsOfType(events, evActStarted); len(st) == 1 {
		attempt := st[0].GetActivityTaskStartedEventAttributes().GetAttempt()
		if attempt != calls {
			t.Errorf("ActivityTaskStarted attempt = %d, but the activity ran %d time(s)", attempt, calls)
		}
		if want := fmt.Sprintf("activity said: released (attempt %d)", attempt); res != want {
			t.Errorf("result = %q, want %q", res, want)
		}
	} else {
		t.Errorf("%d ActivityTaskStarted, want 1\n%s", len(st), formatHistory(events))
	}
	replayHistory(t, events, allWorkflows...)
}
