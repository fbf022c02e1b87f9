package e2e

// Cron workflows: the first run waits for the schedule, each run hands over
// to the next with its result, terminating ends the chain, and an invalid
// schedule is refused at start.

import (
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
)

func TestCronEveryTwoSeconds(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOptions{})
	tq := taskQueueFor(t)
	c := newClient(t, srv.Addr(), defaultNamespace)
	startWorker(t, c, tq, registerChildWorkflows)
	const id = "cron-every-2s"
	run, err := c.ExecuteWorkflow(testCtx(t, 10*time.Second), client.StartWorkflowOptions{
		ID: id, TaskQueue: tq, CronSchedule: "@every 2s",
	}, CronCounter)
	requireNoError(t, err, "starting the cron workflow")

	runID := run.GetRunID()
	var prevExecution time.Time
	for i := 1; i <= 3; i++ {
		events := waitForHistory(t, c, id, runID, 20*time.Second, "run closed", func(evs []*historypb.HistoryEvent) bool {
			return lastEvent(evs).GetEventType() == evWfCompleted
		})
		requireCleanHistory(t, events)
		start := events[0]
		a := start.GetWorkflowExecutionStartedEventAttributes()
		if a.GetCronSchedule() != "@every 2s" || a.GetInitiator() != enumspb.CONTINUE_AS_NEW_INITIATOR_CRON_SCHEDULE {
			t.Errorf("run %d: cron %q initiator %v", i, a.GetCronSchedule(), a.GetInitiator())
		}
		// The first workflow task waits for the scheduled time.
		backoff := a.GetFirstWorkflowTaskBackoff().AsDuration()
		if backoff <= 0 || backoff > 2*time.Second {
			t.Errorf("run %d: first_workflow_task_backoff = %v, want (0, 2s]", i, backoff)
		}
		execution := start.GetEventTime().AsTime().Add(backoff)
		if wft := eventsOfType(events, evWftScheduled)[0].GetEventTime().AsTime(); wft.Before(execution.Add(-50 * time.Millisecond)) {
			t.Errorf("run %d: first workflow task at %v, before its scheduled time %v", i, wft, execution)
		}
		if i > 1 {
			// "@every 2s" steps from the previous scheduled time with its
			// sub-second part dropped (robfig's schedules, as on Temporal),
			// and the backoff to it is rounded up to whole seconds: the run
			// is due in [next, next+1s).
			next := prevExecution.Truncate(time.Second).Add(2 * time.Second)
			if execution.Before(next.Add(-50*time.Millisecond)) || !execution.Before(next.Add(1100*time.Millisecond)) {
				t.Errorf("run %d: scheduled %v, want in [%v, %v + 1s) after the previous run's %v", i, execution, next, next, prevExecution)
			}
			if a.GetContinuedExecutionRunId() == "" || a.GetLastCompletionResult() == nil {
				t.Errorf("run %d: continued from %q, last completion result %v", i, a.GetContinuedExecutionRunId(), a.GetLastCompletionResult())
			} else {
				var last int
				decodePayloads(t, a.GetLastCompletionResult(), &last)
				if last != i-1 {
					t.Errorf("run %d: last completion result %d, want %d", i, last, i-1)
				}
			}
		}
		prevExecution = execution
		done := lastEvent(events).GetWorkflowExecutionCompletedEventAttributes()
		var got int
		decodePayloads(t, done.GetResult(), &got)
		if got != i {
			t.Errorf("run %d returned %d", i, got)
		}
		if done.GetNewExecutionRunId() == "" {
			t.Fatalf("run %d: completed event names no next run", i)
		}
		replayHistory(t, events, childWorkflows...)
		runID = done.GetNewExecutionRunId()
	}

	// Terminating ends the chain: no run follows.
	requireNoError(t, c.TerminateWorkflow(testCtx(t, 5*time.Second), id, "", "enough"), "terminating the cron workflow")
	time.Sleep(2500 * time.Millisecond)
	desc, err := c.DescribeWorkflowExecution(testCtx(t, 5*time.Second), id, "")
	requireNoError(t, err, "describing the cron workflow")
	if info := desc.GetWorkflowExecutionInfo(); info.GetExecution().GetRunId() != runID ||
		info.GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED {
		t.Errorf("after termination the current run is %s (%v), want %s terminated", info.GetExecution().GetRunId(), info.GetStatus(), runID)
	}
}

func TestCronInvalidSchedule(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOptions{InMemory: true})
	c := newClient(t, srv.Addr(), defaultNamespace)
	for _, spec := range []string{"* * * *", "61 * * * *", "@every", "CRON_TZ=Nowhere/Land 0 * * * *"} {
		_, err := c.ExecuteWorkflow(testCtx(t, 5*time.Second), client.StartWorkflowOptions{
			ID: "cron-invalid", TaskQueue: taskQueueFor(t), CronSchedule: spec,
		}, CronCounter)
		invalid := requireErrorAs[*serviceerror.InvalidArgument](t, err, "start with cron "+spec)
		if invalid.Error() != "invalid CronSchedule." {
			t.Errorf("cron %q: message %q", spec, invalid.Error())
		}
	}
}
