package e2e

// Schedules with the Go SDK's schedule client: create, describe, list,
// trigger, backfill, pause and unpause, update, matching times and delete;
// every overlap policy with workflows that outlive their turn; the ids and
// search attributes of the workflows a schedule starts; and a schedule that
// keeps its state across a server kill -9.

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// ScheduledEcho returns its argument.
func ScheduledEcho(ctx workflow.Context, arg string) (string, error) { return arg, nil }

// ScheduledBlocker runs until it is signalled "release" or cancelled.
func ScheduledBlocker(ctx workflow.Context) (string, error) {
	sel := workflow.NewSelector(ctx)
	sel.AddReceive(workflow.GetSignalChannel(ctx, "release"), func(c workflow.ReceiveChannel, more bool) { c.Receive(ctx, nil) })
	sel.AddReceive(ctx.Done(), func(workflow.ReceiveChannel, bool) {})
	sel.Select(ctx)
	if ctx.Err() != nil {
		return "", ctx.Err()
	}
	return "released", nil
}

func registerScheduleWorkflows(r worker.Registry) {
	r.RegisterWorkflow(ScheduledEcho)
	r.RegisterWorkflow(ScheduledBlocker)
}

// scheduleRuns lists the workflows a schedule started, by its search attribute.
func scheduleRuns(t *testing.T, ctx context.Context, c client.Client, scheduleID string) map[string]enumspb.WorkflowExecutionStatus {
	t.Helper()
	resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
		Query: fmt.Sprintf("TemporalScheduledById = '%s'", scheduleID)})
	if err != nil {
		t.Fatalf("listing the runs of %s: %v", scheduleID, err)
	}
	out := map[string]enumspb.WorkflowExecutionStatus{}
	for _, e := range resp.GetExecutions() {
		out[e.GetExecution().GetWorkflowId()] = e.GetStatus()
	}
	return out
}

func countStatus(runs map[string]enumspb.WorkflowExecutionStatus, s enumspb.WorkflowExecutionStatus) int {
	n := 0
	for _, st := range runs {
		if st == s {
			n++
		}
	}
	return n
}

func TestScheduleLifecycle(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOptions{})
	c := newClient(t, srv.Addr(), "default")
	ctx := testCtx(t, 90*time.Second)
	queue := taskQueueFor(t)
	startWorker(t, c, queue, registerScheduleWorkflows)
	sc := c.ScheduleClient()

	handle, err := sc.Create(ctx, client.ScheduleOptions{
		ID:     "nightly-report",
		Spec:   client.ScheduleSpec{Intervals: []client.ScheduleIntervalSpec{{Every: time.Minute}}},
		Action: &client.ScheduleWorkflowAction{ID: "report", Workflow: ScheduledEcho, Args: []any{"v1"}, TaskQueue: queue},
		Paused: true,
		Note:   "created paused",
	})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	_, err = sc.Create(ctx, client.ScheduleOptions{ID: "nightly-report",
		Spec:   client.ScheduleSpec{Intervals: []client.ScheduleIntervalSpec{{Every: time.Minute}}},
		Action: &client.ScheduleWorkflowAction{ID: "report", Workflow: ScheduledEcho, Args: []any{"v1"}, TaskQueue: queue}})
	if !errors.Is(err, temporal.ErrScheduleAlreadyRunning) {
		t.Errorf("creating it again: %v, want ErrScheduleAlreadyRunning", err)
	}

	// A trigger runs at once even while paused; a backfill runs each spec time in its range.
	if err := handle.Trigger(ctx, client.ScheduleTriggerOptions{Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_ALLOW_ALL}); err != nil {
		t.Fatalf("Trigger: %v", err)
	}
	base := time.Now().UTC().Truncate(time.Minute).Add(-time.Hour)
	if err := handle.Backfill(ctx, client.ScheduleBackfillOptions{Backfill: []client.ScheduleBackfill{{
		Start: base, End: base.Add(2 * time.Minute), Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_ALLOW_ALL}}}); err != nil {
		t.Fatalf("Backfill: %v", err)
	}
	var desc *client.ScheduleDescription
	waitUntil(t, 20*time.Second, "four actions ran to completion", func() bool {
		desc, err = handle.Describe(ctx)
		return err == nil && desc.Info.NumActions == 4 &&
			countStatus(scheduleRuns(t, ctx, c, "nightly-report"), enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED) == 4
	})
	runs := scheduleRuns(t, ctx, c, "nightly-report")
	var ids []string
	for id := range runs {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for i, minute := range []time.Time{base, base.Add(time.Minute), base.Add(2 * time.Minute)} {
		if want := "report-" + minute.Format(time.RFC3339); i >= len(ids) || ids[i] != want {
			t.Errorf("backfilled workflow ids %v lack %s", ids, want)
		}
	}
	if len(runs) != 4 || countStatus(runs, enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED) != 4 {
		t.Errorf("runs of the schedule: %v, want four completed", runs)
	}
	first := ids[0]
	var result string
	if err := c.GetWorkflow(ctx, first, "").Get(ctx, &result); err != nil || result != "v1" {
		t.Errorf("result of %s: %q, %v", first, result, err)
	}
	events := getHistory(t, c, first, "")
	started := events[0].GetWorkflowExecutionStartedEventAttributes()
	if id := decodeString(t, &commonpb.Payloads{Payloads: []*commonpb.Payload{
		started.GetSearchAttributes().GetIndexedFields()["TemporalScheduledById"]}}); id != "nightly-report" {
		t.Errorf("TemporalScheduledById = %q", id)
	}
	replayHistory(t, events, ScheduledEcho)

	if !desc.Schedule.State.Paused || desc.Schedule.State.Note != "created paused" {
		t.Errorf("state %+v, want paused with its note", desc.Schedule.State)
	}
	if len(desc.Info.RecentActions) != 4 || len(desc.Info.NextActionTimes) != 10 || desc.Info.CreatedAt.IsZero() {
		t.Errorf("describe: %d recent actions, %d next times; want 4 and 10", len(desc.Info.RecentActions), len(desc.Info.NextActionTimes))
	}
	for _, next := range desc.Info.NextActionTimes {
		if next.Second() != 0 || !next.After(time.Now().Add(-time.Second)) {
			t.Errorf("next action time %v is not a future whole minute", next)
		}
	}

	// Update: the action's argument changes; the spec becomes every second.
	err = handle.Update(ctx, client.ScheduleUpdateOptions{DoUpdate: func(in client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
		s := in.Description.Schedule
		s.Action.(*client.ScheduleWorkflowAction).Args = []any{"v2"}
		s.Spec = &client.ScheduleSpec{Intervals: []client.ScheduleIntervalSpec{{Every: time.Second}}}
		return &client.ScheduleUpdate{Schedule: &s}, nil
	}})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	if err := handle.Unpause(ctx, client.ScheduleUnpauseOptions{Note: "go"}); err != nil {
		t.Fatalf("Unpause: %v", err)
	}
	waitUntil(t, 20*time.Second, "the spec starts a workflow with the new argument", func() bool {
		d, err := handle.Describe(ctx)
		if err != nil || d.Info.NumActions < 5 {
			return false
		}
		last := d.Info.RecentActions[len(d.Info.RecentActions)-1]
		var r string
		return c.GetWorkflow(ctx, last.StartWorkflowResult.WorkflowID, "").Get(ctx, &r) == nil && r == "v2"
	})
	if err := handle.Pause(ctx, client.SchedulePauseOptions{Note: "stop"}); err != nil {
		t.Fatalf("Pause: %v", err)
	}

	// List (eventually consistent on Temporal) and matching times.
	waitUntil(t, 10*time.Second, "List shows the paused schedule with its note", func() bool {
		iter, err := sc.List(ctx, client.ScheduleListOptions{})
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		for iter.HasNext() {
			e, err := iter.Next()
			if err != nil {
				t.Fatalf("List.Next: %v", err)
			}
			if e.ID == "nightly-report" && e.Paused && e.WorkflowType.Name == "ScheduledEcho" && e.Note == "stop" {
				return true
			}
		}
		return false
	})
	matching, err := c.WorkflowService().ListScheduleMatchingTimes(ctx, &workflowservice.ListScheduleMatchingTimesRequest{
		Namespace: "default", ScheduleId: "nightly-report",
		StartTime: timestamppb.New(base), EndTime: timestamppb.New(base.Add(5 * time.Second))})
	if err != nil || len(matching.GetStartTime()) != 5 {
		t.Errorf("ListScheduleMatchingTimes: %v, %d times; want 5 (start exclusive, end inclusive)", err, len(matching.GetStartTime()))
	}

	if err := handle.Delete(ctx); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	var notFound *serviceerror.NotFound
	if _, err := handle.Describe(ctx); !errors.As(err, &notFound) {
		t.Errorf("describe after delete: %v, want NotFound", err)
	}
}

// Each overlap policy, exercised with backfilled spec times (distinct ids)
// while a blocking workflow of the schedule is still running.
func TestScheduleOverlapPolicies(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOptions{})
	c := newClient(t, srv.Addr(), "default")
	ctx := testCtx(t, 120*time.Second)
	queue := taskQueueFor(t)
	startWorker(t, c, queue, registerScheduleWorkflows)
	base := time.Now().UTC().Truncate(time.Minute).Add(-2 * time.Hour)
	const (
		running    = enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING
		terminated = enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED
		canceled   = enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED
	)
	for i, tc := range []struct {
		policy enumspb.ScheduleOverlapPolicy
		// Once two more spec times came due while the first run was running:
		running, terminated, canceled, skipped, buffered int
		dropped                                          int // Starts that never ran (not counted by the schedule).
		untracked                                        bool
	}{
		{policy: enumspb.SCHEDULE_OVERLAP_POLICY_SKIP, running: 1, skipped: 2},
		{policy: enumspb.SCHEDULE_OVERLAP_POLICY_BUFFER_ONE, running: 1, buffered: 1, skipped: 1},
		{policy: enumspb.SCHEDULE_OVERLAP_POLICY_BUFFER_ALL, running: 1, buffered: 2},
		// Cancelling and terminating start only the latest waiting time.
		{policy: enumspb.SCHEDULE_OVERLAP_POLICY_CANCEL_OTHER, running: 1, canceled: 1, dropped: 1},
		{policy: enumspb.SCHEDULE_OVERLAP_POLICY_TERMINATE_OTHER, running: 1, terminated: 1, dropped: 1},
		// ALLOW_ALL starts are not tracked as the schedule's running workflows.
		{policy: enumspb.SCHEDULE_OVERLAP_POLICY_ALLOW_ALL, running: 3, untracked: true},
	} {
		id := fmt.Sprintf("overlap-%d", i)
		t.Run(tc.policy.String(), func(t *testing.T) {
			handle, err := c.ScheduleClient().Create(ctx, client.ScheduleOptions{
				ID: id, Paused: true, Overlap: tc.policy,
				Spec:   client.ScheduleSpec{Intervals: []client.ScheduleIntervalSpec{{Every: time.Minute}}},
				Action: &client.ScheduleWorkflowAction{ID: id, Workflow: ScheduledBlocker, TaskQueue: queue},
			})
			if err != nil {
				t.Fatalf("Create: %v", err)
			}
			describe := func() *workflowservice.DescribeScheduleResponse {
				d, err := c.WorkflowService().DescribeSchedule(ctx, &workflowservice.DescribeScheduleRequest{Namespace: "default", ScheduleId: id})
				if err != nil {
					t.Fatalf("DescribeSchedule: %v", err)
				}
				return d
			}
			backfill := func(from, to time.Time) {
				if err := handle.Backfill(ctx, client.ScheduleBackfillOptions{Backfill: []client.ScheduleBackfill{{Start: from, End: to}}}); err != nil {
					t.Fatalf("Backfill: %v", err)
				}
			}
			backfill(base, base)
			waitUntil(t, 10*time.Second, "the first workflow runs", func() bool {
				return countStatus(scheduleRuns(t, ctx, c, id), running) == 1
			})
			backfill(base.Add(time.Minute), base.Add(2*time.Minute))
			var last string
			defer func() {
				if t.Failed() {
					t.Logf("last seen: %s", last)
				}
			}()
			waitUntil(t, 15*time.Second, fmt.Sprintf("%v applied", tc.policy), func() bool {
				runs := scheduleRuns(t, ctx, c, id)
				info := describe().GetInfo()
				last = fmt.Sprintf("runs %v skipped %d buffer %d dropped %d running %d actions %d", runs, info.GetOverlapSkipped(),
					info.GetBufferSize(), info.GetBufferDropped(), len(info.GetRunningWorkflows()), info.GetActionCount())
				return countStatus(runs, running) == tc.running && countStatus(runs, terminated) == tc.terminated &&
					countStatus(runs, canceled) == tc.canceled && int(info.GetOverlapSkipped()) == tc.skipped &&
					int(info.GetBufferSize()) == tc.buffered && info.GetBufferDropped() == 0 &&
					(len(info.GetRunningWorkflows()) == tc.running || (tc.untracked && len(info.GetRunningWorkflows()) == 0))
			})
			// Releasing what runs lets buffered starts follow, one at a time.
			want := int64(3 - tc.skipped - tc.dropped)
			waitUntil(t, 30*time.Second, "every start ran and closed", func() bool {
				for wid, st := range scheduleRuns(t, ctx, c, id) {
					if st == running {
						_ = c.SignalWorkflow(ctx, wid, "", "release", true)
					}
				}
				info := describe().GetInfo()
				return info.GetActionCount() == want && len(info.GetRunningWorkflows()) == 0 && info.GetBufferSize() == 0 &&
					countStatus(scheduleRuns(t, ctx, c, id), running) == 0
			})
			runs := scheduleRuns(t, ctx, c, id)
			if int64(len(runs)) != want {
				t.Errorf("%v: %d workflows started, want %d", tc.policy, len(runs), want)
			}
			for wid := range runs {
				replayHistory(t, getHistory(t, c, wid, ""), ScheduledBlocker)
			}
			_ = handle.Delete(ctx)
		})
	}
}

// A schedule survives a kill -9: its actions so far are kept, and a time
// that came due while the server was down is caught up once.
func TestScheduleSurvivesCrash(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOptions{})
	ctx := testCtx(t, 60*time.Second)
	queue := taskQueueFor(t)
	c := newClient(t, srv.Addr(), "default")
	handle, err := c.ScheduleClient().Create(ctx, client.ScheduleOptions{
		ID:     "every-2s",
		Spec:   client.ScheduleSpec{Intervals: []client.ScheduleIntervalSpec{{Every: 2 * time.Second}}},
		Action: &client.ScheduleWorkflowAction{ID: "tick", Workflow: "ScheduledEcho", Args: []any{"x"}, TaskQueue: queue},
	})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	waitUntil(t, 10*time.Second, "a first action", func() bool {
		d, err := handle.Describe(ctx)
		return err == nil && d.Info.NumActions >= 1
	})
	srv.Kill9()
	time.Sleep(3 * time.Second) // Let a spec time pass while the server is down.
	srv.Restart(t)
	c2 := newClient(t, srv.Addr(), "default")
	startWorker(t, c2, queue, registerScheduleWorkflows)
	h2 := c2.ScheduleClient().GetHandle(ctx, "every-2s")
	waitUntil(t, 15*time.Second, "actions continue after the restart", func() bool {
		d, err := h2.Describe(ctx)
		return err == nil && d.Info.NumActions >= 3
	})
	d, _ := h2.Describe(ctx)
	seen := map[string]bool{}
	for _, a := range d.Info.RecentActions {
		if seen[a.StartWorkflowResult.WorkflowID] {
			t.Errorf("workflow %s was started twice", a.StartWorkflowResult.WorkflowID)
		}
		seen[a.StartWorkflowResult.WorkflowID] = true
		if !strings.HasPrefix(a.StartWorkflowResult.WorkflowID, "tick-") {
			t.Errorf("started id %s lacks the schedule's workflow id", a.StartWorkflowResult.WorkflowID)
		}
	}
	_ = h2.Delete(ctx)
}

// ScheduledFails fails at once, without retries.
func ScheduledFails(ctx workflow.Context) error {
	return temporal.NewNonRetryableApplicationError("scheduled work failed", "Broken", nil)
}

// Pause on failure, a limited number of actions, and ListSchedules' query.
func TestSchedulePoliciesAndQuery(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOptions{})
	c := newClient(t, srv.Addr(), "default")
	ctx := testCtx(t, 60*time.Second)
	queue := taskQueueFor(t)
	startWorker(t, c, queue, func(r worker.Registry) {
		registerScheduleWorkflows(r)
		r.RegisterWorkflow(ScheduledFails)
	})
	if _, err := c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
		Namespace: "default", SearchAttributes: map[string]enumspb.IndexedValueType{"Team": enumspb.INDEXED_VALUE_TYPE_KEYWORD}}); err != nil {
		t.Fatalf("AddSearchAttributes: %v", err)
	}
	team := temporal.NewSearchAttributeKeyKeyword("Team")
	every := client.ScheduleSpec{Intervals: []client.ScheduleIntervalSpec{{Every: time.Second}}}
	failing, err := c.ScheduleClient().Create(ctx, client.ScheduleOptions{
		ID: "fails", Spec: every, PauseOnFailure: true,
		Action: &client.ScheduleWorkflowAction{ID: "fails", Workflow: ScheduledFails, TaskQueue: queue},
	})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	limited, err := c.ScheduleClient().Create(ctx, client.ScheduleOptions{
		ID: "twice", Spec: every, RemainingActions: 2,
		TypedSearchAttributes: temporal.NewSearchAttributes(team.ValueSet("billing")),
		Action:                &client.ScheduleWorkflowAction{ID: "twice", Workflow: ScheduledEcho, Args: []any{"x"}, TaskQueue: queue},
	})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	waitUntil(t, 20*time.Second, "the failing schedule pauses itself", func() bool {
		d, err := failing.Describe(ctx)
		return err == nil && d.Schedule.State.Paused && strings.Contains(d.Schedule.State.Note, "fail")
	})
	waitUntil(t, 20*time.Second, "the limited schedule used its two actions", func() bool {
		d, err := limited.Describe(ctx)
		return err == nil && d.Info.NumActions == 2 && d.Schedule.State.RemainingActions == 0
	})
	d, _ := limited.Describe(ctx)
	if len(d.Info.NextActionTimes) != 0 {
		t.Errorf("an exhausted schedule still lists next action times %v", d.Info.NextActionTimes)
	}
	failed, _ := failing.Describe(ctx)
	if failed.Info.NumActions != 1 {
		t.Errorf("the failing schedule ran %d times, want 1 before it paused", failed.Info.NumActions)
	}

	list := func(query string) []string {
		var ids []string
		waitUntil(t, 10*time.Second, "ListSchedules answers "+query, func() bool {
			iter, err := c.ScheduleClient().List(ctx, client.ScheduleListOptions{Query: query})
			if err != nil {
				t.Fatalf("List(%q): %v", query, err)
			}
			ids = nil
			for iter.HasNext() {
				e, err := iter.Next()
				if err != nil {
					t.Fatalf("List.Next: %v", err)
				}
				ids = append(ids, e.ID)
			}
			return len(ids) > 0
		})
		sort.Strings(ids)
		return ids
	}
	if got := list("TemporalSchedulePaused = true"); strings.Join(got, ",") != "fails" {
		t.Errorf("paused schedules %v, want [fails]", got)
	}
	if got := list("Team = 'billing'"); strings.Join(got, ",") != "twice" {
		t.Errorf("billing schedules %v, want [twice]", got)
	}
	if got := list("Team = 'billing' OR TemporalSchedulePaused = true"); strings.Join(got, ",") != "fails,twice" {
		t.Errorf("schedules %v, want [fails twice]", got)
	}
}

// A paused schedule created to trigger immediately has taken that action by
// the first describe that follows, as on Temporal (whose scheduler answers
// after its pending work); the same for a trigger or a backfill just asked.
func TestScheduleDescribeSeesTriggeredActions(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOptions{})
	ctx := testCtx(t, 60*time.Second)
	queue := taskQueueFor(t)
	c := newClient(t, srv.Addr(), "default")
	startWorker(t, c, queue, registerScheduleWorkflows)
	for i := 0; i < 5; i++ {
		id := fmt.Sprintf("trigger-at-create-%d", i)
		handle, err := c.ScheduleClient().Create(ctx, client.ScheduleOptions{
			ID:                 id,
			Spec:               client.ScheduleSpec{},
			Paused:             true,
			TriggerImmediately: true,
			Action:             &client.ScheduleWorkflowAction{ID: id + "-wf", Workflow: "ScheduledEcho", Args: []any{"now"}, TaskQueue: queue},
		})
		if err != nil {
			t.Fatalf("Create: %v", err)
		}
		d, err := handle.Describe(ctx)
		if err != nil {
			t.Fatalf("Describe: %v", err)
		}
		if d.Info.NumActions != 1 || len(d.Info.RecentActions) != 1 {
			t.Fatalf("%s: describe after create: %d actions, %d recent, want 1 and 1", id, d.Info.NumActions, len(d.Info.RecentActions))
		}
		var out string
		run := c.GetWorkflow(ctx, d.Info.RecentActions[0].StartWorkflowResult.WorkflowID, d.Info.RecentActions[0].StartWorkflowResult.FirstExecutionRunID)
		if err := run.Get(ctx, &out); err != nil || out != "now" {
			t.Fatalf("%s: triggered run = %q, %v; want \"now\"", id, out, err)
		}
		if err := handle.Trigger(ctx, client.ScheduleTriggerOptions{Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_ALLOW_ALL}); err != nil {
			t.Fatalf("Trigger: %v", err)
		}
		if d, err = handle.Describe(ctx); err != nil {
			t.Fatalf("Describe: %v", err)
		}
		if d.Info.NumActions != 2 {
			t.Fatalf("%s: describe after trigger: %d actions, want 2", id, d.Info.NumActions)
		}
		_ = handle.Delete(ctx)
	}
}
