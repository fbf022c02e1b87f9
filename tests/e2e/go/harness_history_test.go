package e2e

// History helpers: fetching, inspecting, waiting on and replaying workflow
// histories.

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/worker"
)

// fetchHistory returns every event currently in the history of the run.
func fetchHistory(ctx context.Context, c client.Client, workflowID, runID string) ([]*historypb.HistoryEvent, error) {
	iter := c.GetWorkflowHistory(ctx, workflowID, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var events []*historypb.HistoryEvent
	for iter.HasNext() {
		ev, err := iter.Next()
		if err != nil {
			return nil, err
		}
		events = append(events, ev)
	}
	return events, nil
}

// getHistory is fetchHistory failing the test on error.
func getHistory(t testing.TB, c client.Client, workflowID, runID string) []*historypb.HistoryEvent {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	events, err := fetchHistory(ctx, c, workflowID, runID)
	if err != nil {
		t.Fatalf("fetching history of %s/%s: %v", workflowID, runID, err)
	}
	if len(events) == 0 {
		t.Fatalf("history of %s/%s is empty", workflowID, runID)
	}
	return events
}

// eventTypes returns the sequence of event types.
func eventTypes(events []*historypb.HistoryEvent) []enumspb.EventType {
	out := make([]enumspb.EventType, len(events))
	for i, ev := range events {
		out[i] = ev.GetEventType()
	}
	return out
}

// formatHistory renders a history one event per line for failure messages.
func formatHistory(events []*historypb.HistoryEvent) string {
	var b strings.Builder
	for _, ev := range events {
		fmt.Fprintf(&b, "  %3d %s\n", ev.GetEventId(), ev.GetEventType())
	}
	return b.String()
}

// requireEventTypes asserts the exact event type sequence.
func requireEventTypes(t testing.TB, events []*historypb.HistoryEvent, want ...enumspb.EventType) {
	t.Helper()
	got := eventTypes(events)
	if len(got) == len(want) {
		same := true
		for i := range got {
			if got[i] != want[i] {
				same = false
				break
			}
		}
		if same {
			return
		}
	}
	var w strings.Builder
	for i, et := range want {
		fmt.Fprintf(&w, "  %3d %s\n", i+1, et)
	}
	t.Fatalf("unexpected event sequence\ngot:\n%swant:\n%s", formatHistory(events), w.String())
}

// requireGaplessEventIDs asserts event ids are exactly 1..N (no gaps, no
// duplicates, in order), every event has a time, and the first event is
// WorkflowExecutionStarted.
func requireGaplessEventIDs(t testing.TB, events []*historypb.HistoryEvent) {
	t.Helper()
	if len(events) == 0 {
		t.Fatalf("empty history")
	}
	seen := make(map[int64]bool, len(events))
	for i, ev := range events {
		id := ev.GetEventId()
		if seen[id] {
			t.Fatalf("duplicate event id %d in history:\n%s", id, formatHistory(events))
		}
		seen[id] = true
		if id != int64(i+1) {
			t.Fatalf("event #%d has id %d (want %d); history:\n%s", i+1, id, i+1, formatHistory(events))
		}
		// Event times are not required to be monotonic: Temporal stamps a
		// signal buffered during a workflow task with its arrival time.
		if ev.GetEventTime() == nil {
			t.Errorf("event %d (%s) has no event_time", id, ev.GetEventType())
		}
	}
	if events[0].GetEventType() != enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED {
		t.Errorf("first event is %s, want WorkflowExecutionStarted", events[0].GetEventType())
	}
}

// eventsOfType returns the events of the given type, in order.
func eventsOfType(events []*historypb.HistoryEvent, et enumspb.EventType) []*historypb.HistoryEvent {
	var out []*historypb.HistoryEvent
	for _, ev := range events {
		if ev.GetEventType() == et {
			out = append(out, ev)
		}
	}
	return out
}

// countEvents counts events of a type.
func countEvents(events []*historypb.HistoryEvent, et enumspb.EventType) int {
	return len(eventsOfType(events, et))
}

// eventByID returns the event with the given id, or nil.
func eventByID(events []*historypb.HistoryEvent, id int64) *historypb.HistoryEvent {
	if id >= 1 && id <= int64(len(events)) && events[id-1].GetEventId() == id {
		return events[id-1]
	}
	for _, ev := range events {
		if ev.GetEventId() == id {
			return ev
		}
	}
	return nil
}

// lastEvent returns the last event of the history.
func lastEvent(events []*historypb.HistoryEvent) *historypb.HistoryEvent {
	if len(events) == 0 {
		return nil
	}
	return events[len(events)-1]
}

// scheduledActivityTypes lists activity type names of ActivityTaskScheduled
// events in history order.
func scheduledActivityTypes(events []*historypb.HistoryEvent) []string {
	var out []string
	for _, ev := range eventsOfType(events, enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED) {
		out = append(out, ev.GetActivityTaskScheduledEventAttributes().GetActivityType().GetName())
	}
	return out
}

// waitForEvent polls the history (short backoff, bounded by timeout) until
// an event of type et appears, and returns it.
func waitForEvent(t testing.TB, c client.Client, workflowID, runID string, et enumspb.EventType, timeout time.Duration) *historypb.HistoryEvent {
	t.Helper()
	deadline := time.Now().Add(timeout)
	backoff := 25 * time.Millisecond
	var events []*historypb.HistoryEvent
	var lastErr error
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		evs, err := fetchHistory(ctx, c, workflowID, runID)
		cancel()
		if err == nil {
			events = evs
			if found := eventsOfType(events, et); len(found) > 0 {
				return found[0]
			}
		} else {
			lastErr = err
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s in history of %s/%s within %v (last error: %v); history:\n%s",
				et, workflowID, runID, timeout, lastErr, formatHistory(events))
		}
		time.Sleep(backoff)
		if backoff < 200*time.Millisecond {
			backoff *= 2
		}
	}
}

// replayHistory replays the events with the Go SDK replayer and fails the
// test if the workflow code does not deterministically reproduce them.
func replayHistory(t testing.TB, events []*historypb.HistoryEvent, workflows ...any) {
	t.Helper()
	replayer := worker.NewWorkflowReplayer()
	for _, wf := range workflows {
		replayer.RegisterWorkflow(wf)
	}
	if err := replayer.ReplayWorkflowHistory(newTestLogger(t), &historypb.History{Events: events}); err != nil {
		t.Fatalf("replaying history failed: %v\nhistory:\n%s", err, formatHistory(events))
	}
}

// decodePayloads decodes payloads with the default data converter.
func decodePayloads(t testing.TB, payloads *commonpb.Payloads, valuePtrs ...any) {
	t.Helper()
	if err := converter.GetDefaultDataConverter().FromPayloads(payloads, valuePtrs...); err != nil {
		t.Fatalf("decoding payloads %v: %v", payloads, err)
	}
}

// decodeString decodes a single string payload.
func decodeString(t testing.TB, payloads *commonpb.Payloads) string {
	t.Helper()
	var s string
	decodePayloads(t, payloads, &s)
	return s
}

// requireConsistentLinks checks the cross references inside a history:
// workflow task, activity task and timer events must point at events of the
// right type (and matching ids) that precede them.
func requireConsistentLinks(t testing.TB, events []*historypb.HistoryEvent) {
	t.Helper()
	ref := func(ev *historypb.HistoryEvent, field string, id int64, want enumspb.EventType) *historypb.HistoryEvent {
		t.Helper()
		target := eventByID(events, id)
		if target == nil || target.GetEventType() != want || id >= ev.GetEventId() {
			t.Errorf("event %d (%s): %s=%d does not point at an earlier %s event\nhistory:\n%s",
				ev.GetEventId(), ev.GetEventType(), field, id, want, formatHistory(events))
			return nil
		}
		return target
	}
	timers := map[string]int64{} // timer id -> TimerStarted event id
	for _, ev := range events {
		switch ev.GetEventType() {
		case enumspb.EVENT_TYPE_WORKFLOW_TASK_STARTED:
			ref(ev, "scheduled_event_id", ev.GetWorkflowTaskStartedEventAttributes().GetScheduledEventId(),
				enumspb.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED)
		case enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
			a := ev.GetWorkflowTaskCompletedEventAttributes()
			ref(ev, "scheduled_event_id", a.GetScheduledEventId(), enumspb.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED)
			if st := ref(ev, "started_event_id", a.GetStartedEventId(), enumspb.EVENT_TYPE_WORKFLOW_TASK_STARTED); st != nil &&
				st.GetWorkflowTaskStartedEventAttributes().GetScheduledEventId() != a.GetScheduledEventId() {
				t.Errorf("event %d: WorkflowTaskCompleted started/scheduled ids disagree", ev.GetEventId())
			}
		case enumspb.EVENT_TYPE_WORKFLOW_TASK_FAILED:
			a := ev.GetWorkflowTaskFailedEventAttributes()
			ref(ev, "scheduled_event_id", a.GetScheduledEventId(), enumspb.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED)
			ref(ev, "started_event_id", a.GetStartedEventId(), enumspb.EVENT_TYPE_WORKFLOW_TASK_STARTED)
		case enumspb.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT:
			ref(ev, "scheduled_event_id", ev.GetWorkflowTaskTimedOutEventAttributes().GetScheduledEventId(),
				enumspb.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED)
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
			ref(ev, "workflow_task_completed_event_id",
				ev.GetActivityTaskScheduledEventAttributes().GetWorkflowTaskCompletedEventId(),
				enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED)
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_STARTED:
			ref(ev, "scheduled_event_id", ev.GetActivityTaskStartedEventAttributes().GetScheduledEventId(),
				enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED)
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
			a := ev.GetActivityTaskCompletedEventAttributes()
			checkActivityClose(t, events, ev, ref, a.GetScheduledEventId(), a.GetStartedEventId())
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_FAILED:
			a := ev.GetActivityTaskFailedEventAttributes()
			checkActivityClose(t, events, ev, ref, a.GetScheduledEventId(), a.GetStartedEventId())
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT:
			a := ev.GetActivityTaskTimedOutEventAttributes()
			ref(ev, "scheduled_event_id", a.GetScheduledEventId(), enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED)
			if a.GetStartedEventId() != 0 {
				ref(ev, "started_event_id", a.GetStartedEventId(), enumspb.EVENT_TYPE_ACTIVITY_TASK_STARTED)
			}
		case enumspb.EVENT_TYPE_TIMER_STARTED:
			a := ev.GetTimerStartedEventAttributes()
			ref(ev, "workflow_task_completed_event_id", a.GetWorkflowTaskCompletedEventId(),
				enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED)
			if _, dup := timers[a.GetTimerId()]; dup {
				t.Errorf("event %d: timer id %q started twice", ev.GetEventId(), a.GetTimerId())
			}
			timers[a.GetTimerId()] = ev.GetEventId()
		case enumspb.EVENT_TYPE_TIMER_FIRED:
			a := ev.GetTimerFiredEventAttributes()
			checkTimerClose(t, ev, ref, timers, a.GetTimerId(), a.GetStartedEventId())
		case enumspb.EVENT_TYPE_TIMER_CANCELED:
			a := ev.GetTimerCanceledEventAttributes()
			checkTimerClose(t, ev, ref, timers, a.GetTimerId(), a.GetStartedEventId())
		}
	}
}

type refFunc func(ev *historypb.HistoryEvent, field string, id int64, want enumspb.EventType) *historypb.HistoryEvent

func checkActivityClose(t testing.TB, events []*historypb.HistoryEvent, ev *historypb.HistoryEvent, ref refFunc, scheduledID, startedID int64) {
	t.Helper()
	ref(ev, "scheduled_event_id", scheduledID, enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED)
	st := ref(ev, "started_event_id", startedID, enumspb.EVENT_TYPE_ACTIVITY_TASK_STARTED)
	if st != nil && st.GetActivityTaskStartedEventAttributes().GetScheduledEventId() != scheduledID {
		t.Errorf("event %d (%s): started event %d belongs to scheduled event %d, not %d\nhistory:\n%s",
			ev.GetEventId(), ev.GetEventType(), startedID,
			st.GetActivityTaskStartedEventAttributes().GetScheduledEventId(), scheduledID, formatHistory(events))
	}
}

func checkTimerClose(t testing.TB, ev *historypb.HistoryEvent, ref refFunc, timers map[string]int64, timerID string, startedID int64) {
	t.Helper()
	ref(ev, "started_event_id", startedID, enumspb.EVENT_TYPE_TIMER_STARTED)
	if want, ok := timers[timerID]; !ok || want != startedID {
		t.Errorf("event %d (%s): timer_id %q / started_event_id %d do not match a TimerStarted event (timers: %v)",
			ev.GetEventId(), ev.GetEventType(), timerID, startedID, timers)
	}
	delete(timers, timerID)
}

// requireCleanHistory runs the structural checks every test applies to the
// final history of a run.
func requireCleanHistory(t testing.TB, events []*historypb.HistoryEvent) {
	t.Helper()
	requireGaplessEventIDs(t, events)
	requireConsistentLinks(t, events)
}
