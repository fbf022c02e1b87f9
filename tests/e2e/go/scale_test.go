package e2e

// Bounded memory: a server whose state cache holds only a couple of
// workflows still runs many of them correctly, each evicted and read back
// from the database several times during its life.

import (
	"fmt"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

const signalSuffix = "suffix"

// EvictedMidLife sleeps, runs an activity, waits for a signal, sleeps again:
// every step reads the run's state, which a tiny cache has dropped meanwhile.
func EvictedMidLife(ctx workflow.Context, name string) (string, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 10 * time.Second})
	if err := workflow.Sleep(ctx, 300*time.Millisecond); err != nil {
		return "", err
	}
	var greeting string
	if err := workflow.ExecuteActivity(ctx, actComposeGreeting, name).Get(ctx, &greeting); err != nil {
		return "", err
	}
	var suffix string
	workflow.GetSignalChannel(ctx, signalSuffix).Receive(ctx, &suffix)
	if err := workflow.Sleep(ctx, 200*time.Millisecond); err != nil {
		return "", err
	}
	return greeting + suffix, nil
}

func TestTinyCacheEvictsMidLife(t *testing.T) {
	t.Parallel()
	if againstTemporal(t) {
		t.Skip("needs Kairos's --cache-max-workflows")
	}
	srv := startServer(t, serverOptions{KairosArgs: []string{"--cache-max-workflows", "2"}})
	c := newClient(t, srv.Addr(), "default")
	tq := taskQueueFor(t)
	startWorker(t, c, tq, func(r worker.Registry) {
		r.RegisterWorkflow(EvictedMidLife)
		r.RegisterActivity(&greetingActivities{})
	})
	ctx := testCtx(t, 90*time.Second)

	const n = 40
	runs := make([]client.WorkflowRun, n)
	for i := range runs {
		run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: fmt.Sprintf("evicted-%d", i), TaskQueue: tq},
			EvictedMidLife, fmt.Sprint(i))
		requireNoError(t, err, "starting")
		runs[i] = run
	}
	// Signalled while they sleep or run their activity: the signal is
	// applied to a state read back from the database.
	for i, run := range runs {
		requireNoError(t, c.SignalWorkflow(ctx, run.GetID(), run.GetRunID(), signalSuffix, fmt.Sprintf(" #%d", i)), "signalling")
	}
	for i, run := range runs {
		var out string
		requireNoError(t, getResult(t, c, run, 60*time.Second, &out), "result")
		if want := fmt.Sprintf("Hello, %d! #%d", i, i); out != want {
			t.Errorf("%s: result %q, want %q", run.GetID(), out, want)
		}
		events := getHistory(t, c, run.GetID(), run.GetRunID())
		requireCleanHistory(t, events)
		for et, want := range map[enumspb.EventType]int{
			enumspb.EVENT_TYPE_TIMER_FIRED:                  2,
			enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:      1,
			enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:  1,
			enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED: 1,
		} {
			if got := countEvents(events, et); got != want {
				t.Errorf("%s: %d %v events, want %d\n%s", run.GetID(), got, et, want, formatHistory(events))
			}
		}
	}
}

// Timers are paged in from the database a small window at a time (here
// 500 ms ahead, 3 rows a page): timers due across many pages, and across a
// kill -9 and restart, each fire once and not before their time.
func TestTimersPagedAcrossRestart(t *testing.T) {
	t.Parallel()
	if againstTemporal(t) {
		t.Skip("needs Kairos's --timer-lookahead-ms and --timer-page-size")
	}
	srv := startServer(t, serverOptions{KairosArgs: []string{"--timer-lookahead-ms", "500", "--timer-page-size", "3"}})
	c := newClient(t, srv.Addr(), "default")
	tq := taskQueueFor(t)
	startWorker(t, c, tq, func(r worker.Registry) { r.RegisterWorkflow(SleepThenReturn) })
	ctx := testCtx(t, 90*time.Second)

	const n = 30
	runs := make([]client.WorkflowRun, n)
	sleeps := make([]time.Duration, n)
	for i := range runs {
		// Pairs due at the same time, 150 ms apart: 1.5 s to 3.6 s.
		sleeps[i] = 1500*time.Millisecond + time.Duration(i/2)*150*time.Millisecond
		run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: fmt.Sprintf("paged-%d", i), TaskQueue: tq},
			SleepThenReturn, sleeps[i])
		requireNoError(t, err, "starting")
		runs[i] = run
	}
	for _, run := range runs {
		waitForEvent(t, c, run.GetID(), run.GetRunID(), evTimerStarted, 20*time.Second)
	}
	// Killed once a third have fired: the others are in memory or still
	// only in the database.
	waitForEvent(t, c, runs[n/3].GetID(), runs[n/3].GetRunID(), enumspb.EVENT_TYPE_TIMER_FIRED, 20*time.Second)
	srv.Kill9()
	srv.Restart(t)
	for i, run := range runs {
		var out string
		requireNoError(t, c.GetWorkflow(ctx, run.GetID(), run.GetRunID()).Get(testCtx(t, 45*time.Second), &out), "result")
		if want := fmt.Sprintf("slept %v", sleeps[i]); out != want {
			t.Errorf("%s: result %q, want %q", run.GetID(), out, want)
		}
		events := getHistory(t, c, run.GetID(), run.GetRunID())
		requireCleanHistory(t, events)
		if got := countEvents(events, enumspb.EVENT_TYPE_TIMER_FIRED); got != 1 {
			t.Errorf("%s: %d TimerFired events, want 1\n%s", run.GetID(), got, formatHistory(events))
			continue
		}
		started := eventsOfType(events, enumspb.EVENT_TYPE_TIMER_STARTED)[0]
		fired := eventsOfType(events, enumspb.EVENT_TYPE_TIMER_FIRED)[0]
		if early := started.GetEventTime().AsTime().Add(sleeps[i]).Sub(fired.GetEventTime().AsTime()); early > time.Millisecond {
			t.Errorf("%s: timer fired %v early", run.GetID(), early)
		}
	}
}
