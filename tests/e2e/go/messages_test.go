package e2e

// Talking to running workflows: signals, queries, updates, update-with-start,
// signal-with-start, cancellation, external signals/cancellation from a
// workflow, and bursts of signals.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
)

const (
	evUpdateAccepted   = enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
	evUpdateCompleted  = enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED
	evUpdateRejected   = enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_REJECTED
	evUpdateAdmitted   = enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ADMITTED
	evSignalExtInit    = enumspb.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED
	evExtSignaled      = enumspb.EVENT_TYPE_EXTERNAL_WORKFLOW_EXECUTION_SIGNALED
	evCancelExtInit    = enumspb.EVENT_TYPE_REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED
	evExtCancelReq     = enumspb.EVENT_TYPE_EXTERNAL_WORKFLOW_EXECUTION_CANCEL_REQUESTED
	evMarkerRecorded   = enumspb.EVENT_TYPE_MARKER_RECORDED
	messagesClientID   = "messages-client@e2e"
	messagesWorkerID   = "messages-worker@e2e"
	messageTestTimeout = 30 * time.Second
)

// messageEnv is a server, a client (with a known identity) and a worker
// running the message workflows.
type messageEnv struct {
	srv  *server
	c    client.Client
	tq   string
	acts *messageActivities
}

func newMessageEnv(t *testing.T) *messageEnv {
	t.Helper()
	srv := startServer(t, serverOptions{})
	env := &messageEnv{
		srv:  srv,
		c:    newClientWithIdentity(t, srv.Addr(), defaultNamespace, messagesClientID),
		tq:   taskQueueFor(t),
		acts: newMessageActivities(),
	}
	startWorker(t, newClientWithIdentity(t, srv.Addr(), defaultNamespace, messagesWorkerID), env.tq,
		func(r worker.Registry) { registerMessageWorkflows(r, env.acts) })
	return env
}

func (e *messageEnv) start(t *testing.T, id string, wf any, args ...any) client.WorkflowRun {
	t.Helper()
	run, err := e.c.ExecuteWorkflow(testCtx(t, 15*time.Second), client.StartWorkflowOptions{ID: id, TaskQueue: e.tq}, wf, args...)
	requireNoError(t, err, fmt.Sprintf("starting %s", id))
	return run
}

// finalHistory fetches, structurally checks and replays a closed run's history.
func (e *messageEnv) finalHistory(t *testing.T, workflowID, runID string) []*historypb.HistoryEvent {
	t.Helper()
	events := getHistory(t, e.c, workflowID, runID)
	requireCleanHistory(t, events)
	replayHistory(t, events, messageWorkflows...)
	return events
}

// waitForHistory polls the history (short backoff, bounded) until pred
// holds, and returns that history.
func waitForHistory(t testing.TB, c client.Client, workflowID, runID string, timeout time.Duration, what string,
	pred func([]*historypb.HistoryEvent) bool) []*historypb.HistoryEvent {
	t.Helper()
	deadline := time.Now().Add(timeout)
	backoff := 20 * time.Millisecond
	var events []*historypb.HistoryEvent
	var lastErr error
	for {
		ctx := testCtx(t, 5*time.Second)
		evs, err := fetchHistory(ctx, c, workflowID, runID)
		if err == nil {
			events = evs
			if pred(events) {
				return events
			}
		} else {
			lastErr = err
		}
		if time.Now().After(deadline) {
			t.Fatalf("history of %s/%s: %s not reached within %v (last error: %v); history:\n%s",
				workflowID, runID, what, timeout, lastErr, formatHistory(events))
		}
		time.Sleep(backoff)
		if backoff < 200*time.Millisecond {
			backoff *= 2
		}
	}
}

// taskCompletedAfter reports whether a WorkflowTaskCompleted follows the
// n-th (1-based) event of type et, i.e. the workflow has processed it.
func taskCompletedAfter(et enumspb.EventType, n int) func([]*historypb.HistoryEvent) bool {
	return func(events []*historypb.HistoryEvent) bool {
		seen := 0
		for i, ev := range events {
			if ev.GetEventType() != et {
				continue
			}
			if seen++; seen == n {
				return countEvents(events[i+1:], evWftCompleted) > 0
			}
		}
		return false
	}
}

// requireOrder asserts the events appear in the given order (by id).
func requireOrder(t testing.TB, events []*historypb.HistoryEvent, evs ...*historypb.HistoryEvent) {
	t.Helper()
	for i := 1; i < len(evs); i++ {
		if evs[i-1].GetEventId() >= evs[i].GetEventId() {
			t.Errorf("event %d (%s) should come before event %d (%s)\nhistory:\n%s",
				evs[i-1].GetEventId(), evs[i-1].GetEventType(), evs[i].GetEventId(), evs[i].GetEventType(), formatHistory(events))
		}
	}
}

// ---------------------------------------------------------------------------
// Signals vs timer

func TestApprovalSignal(t *testing.T) {
	t.Parallel()
	env := newMessageEnv(t)
	const timeout = 2 * time.Second

	approve := func(t *testing.T, id string, cancelTimer bool) []*historypb.HistoryEvent {
		ctx := testCtx(t, messageTestTimeout)
		run := env.start(t, id, Approval, ApprovalInput{Timeout: timeout, CancelTimer: cancelTimer})
		waitForEvent(t, env.c, id, run.GetRunID(), evTimerStarted, 20*time.Second)
		requireNoError(t, env.c.SignalWorkflow(ctx, id, run.GetRunID(), signalApprove, "alice"), "signaling approve")
		var res string
		requireNoError(t, getResult(t, env.c, run, 20*time.Second, &res), "Approval result")
		if res != approvalResultApproved {
			t.Errorf("result = %q, want %q", res, approvalResultApproved)
		}
		events := env.finalHistory(t, id, run.GetRunID())
		sig := requireSingle(t, events, evSignaled).GetWorkflowExecutionSignaledEventAttributes()
		if sig.GetSignalName() != signalApprove {
			t.Errorf("WorkflowExecutionSignaled: signal_name = %q, want %q", sig.GetSignalName(), signalApprove)
		}
		if got := decodeString(t, sig.GetInput()); got != "alice" {
			t.Errorf("WorkflowExecutionSignaled: input = %q, want alice", got)
		}
		if sig.GetIdentity() != messagesClientID {
			t.Errorf("WorkflowExecutionSignaled: identity = %q, want %q", sig.GetIdentity(), messagesClientID)
		}
		if n := countEvents(events, evTimerFired); n != 0 {
			t.Errorf("%d TimerFired events, want 0 (approved before the timer)", n)
		}
		if d := eventGap(requireSingle(t, events, evTimerStarted), lastEvent(events)); d >= timeout {
			t.Errorf("workflow closed %v after TimerStarted, it should not have waited for the %v timer", d, timeout)
		}
		return events
	}

	t.Run("approved, timer canceled", func(t *testing.T) {
		t.Parallel()
		events := approve(t, "approval-cancel-timer", true)
		requireEventTypes(t, events,
			evWfStarted,
			evWftScheduled, evWftStarted, evWftCompleted,
			evTimerStarted,
			evSignaled,
			evWftScheduled, evWftStarted, evWftCompleted,
			evTimerCanceled,
			evWfCompleted,
		)
		tc := events[9].GetTimerCanceledEventAttributes()
		ts := events[4].GetTimerStartedEventAttributes()
		if tc.GetStartedEventId() != 5 || tc.GetTimerId() != ts.GetTimerId() || tc.GetWorkflowTaskCompletedEventId() != 9 {
			t.Errorf("TimerCanceled: started_event_id=%d timer_id=%q workflow_task_completed_event_id=%d, want 5/%q/9",
				tc.GetStartedEventId(), tc.GetTimerId(), tc.GetWorkflowTaskCompletedEventId(), ts.GetTimerId())
		}
		if tc.GetIdentity() != messagesWorkerID {
			t.Errorf("TimerCanceled: identity = %q, want %q", tc.GetIdentity(), messagesWorkerID)
		}
	})

	t.Run("approved, timer left pending", func(t *testing.T) {
		t.Parallel()
		// Completing with a pending timer writes neither TimerFired nor
		// TimerCanceled: the timer simply dies with the run.
		events := approve(t, "approval-leave-timer", false)
		requireEventTypes(t, events,
			evWfStarted,
			evWftScheduled, evWftStarted, evWftCompleted,
			evTimerStarted,
			evSignaled,
			evWftScheduled, evWftStarted, evWftCompleted,
			evWfCompleted,
		)
	})

	t.Run("timed out", func(t *testing.T) {
		t.Parallel()
		run := env.start(t, "approval-timeout", Approval, ApprovalInput{Timeout: timeout, CancelTimer: true})
		var res string
		requireNoError(t, getResult(t, env.c, run, 20*time.Second, &res), "Approval result")
		if res != approvalResultTimedOut {
			t.Errorf("result = %q, want %q", res, approvalResultTimedOut)
		}
		events := env.finalHistory(t, run.GetID(), run.GetRunID())
		requireEventTypes(t, events,
			evWfStarted,
			evWftScheduled, evWftStarted, evWftCompleted,
			evTimerStarted, evTimerFired,
			evWftScheduled, evWftStarted, evWftCompleted,
			evWfCompleted,
		)
		if gap := eventGap(events[4], events[5]); gap < timeout {
			t.Errorf("timer fired %v after it started, want >= %v", gap, timeout)
		}
		if got := events[4].GetTimerStartedEventAttributes().GetStartToFireTimeout().AsDuration(); got != timeout {
			t.Errorf("TimerStarted: start_to_fire_timeout = %v, want %v", got, timeout)
		}
	})
}

// ---------------------------------------------------------------------------
// Queries

func (e *messageEnv) queryString(t *testing.T, id, runID, queryType string) string {
	t.Helper()
	v, err := e.c.QueryWorkflow(testCtx(t, 15*time.Second), id, runID, queryType)
	requireNoError(t, err, "query "+queryType)
	var s string
	requireNoError(t, v.Get(&s), "decoding query result")
	return s
}

func TestQueries(t *testing.T) {
	t.Parallel()
	env := newMessageEnv(t)
	ctx := testCtx(t, messageTestTimeout)
	const id = "order-lifecycle"
	run := env.start(t, id, OrderLifecycle, "o-77")
	runID := run.GetRunID()

	// Step 1: the reservation activity is running.
	select {
	case got := <-env.acts.gateStarted:
		if got != "o-77" {
			t.Fatalf("ReserveGate got order %q", got)
		}
	case <-ctx.Done():
		t.Fatalf("ReserveGate did not start; history:\n%s", formatHistory(getHistory(t, env.c, id, runID)))
	}
	if got := env.queryString(t, id, runID, queryStatus); got != statusReserving {
		t.Errorf("status while reserving = %q, want %q", got, statusReserving)
	}
	// NOT_OPEN does not reject a query on a running workflow.
	resp, err := env.c.QueryWorkflowWithOptions(ctx, &client.QueryWorkflowWithOptionsRequest{
		WorkflowID: id, RunID: runID, QueryType: queryStatus,
		QueryRejectCondition: enumspb.QUERY_REJECT_CONDITION_NOT_OPEN,
	})
	requireNoError(t, err, "QueryWorkflowWithOptions(NOT_OPEN) on a running workflow")
	if resp.QueryRejected != nil {
		t.Errorf("query on a running workflow rejected: %v", resp.QueryRejected)
	} else {
		var s string
		requireNoError(t, resp.QueryResult.Get(&s), "decoding query result")
		if s != statusReserving {
			t.Errorf("QueryWorkflowWithOptions(NOT_OPEN) = %q, want %q", s, statusReserving)
		}
	}

	// Unknown query type.
	_, err = env.c.QueryWorkflow(ctx, id, runID, "no-such-query")
	if err == nil {
		t.Errorf("query of an unknown type succeeded")
	} else {
		var qf *serviceerror.QueryFailed
		if !errors.As(err, &qf) {
			t.Errorf("unknown query type: want serviceerror.QueryFailed, got %s", describeErr(err))
		}
		if !strings.Contains(err.Error(), "unknown queryType no-such-query") || !strings.Contains(err.Error(), queryStatus) {
			t.Errorf("unknown query type: error %q should name the type and the known types", err)
		}
	}

	// Step 2: reservation done, waiting for payment.
	close(env.acts.gate)
	waitForHistory(t, env.c, id, runID, 20*time.Second, "workflow task after ActivityTaskCompleted",
		taskCompletedAfter(evActCompleted, 1))
	if got := env.queryString(t, id, runID, queryStatus); got != statusAwaitingPayment {
		t.Errorf("status after reservation = %q, want %q", got, statusAwaitingPayment)
	}

	// Step 3: paid, waiting for shipment.
	requireNoError(t, env.c.SignalWorkflow(ctx, id, runID, signalPay, nil), "signaling pay")
	waitForHistory(t, env.c, id, runID, 20*time.Second, "workflow task after the pay signal",
		taskCompletedAfter(evSignaled, 1))
	if got := env.queryString(t, id, runID, queryStatus); got != statusAwaitingShipment {
		t.Errorf("status after payment = %q, want %q", got, statusAwaitingShipment)
	}

	// Step 4: shipped and completed.
	requireNoError(t, env.c.SignalWorkflow(ctx, id, runID, signalShip, nil), "signaling ship")
	var res string
	requireNoError(t, getResult(t, env.c, run, 20*time.Second, &res), "OrderLifecycle result")
	if res != statusShipped {
		t.Errorf("result = %q, want %q", res, statusShipped)
	}
	events := env.finalHistory(t, id, runID)

	// Queries on the completed workflow (the worker is still running).
	if got := env.queryString(t, id, runID, queryStatus); got != statusShipped {
		t.Errorf("status after completion = %q, want %q", got, statusShipped)
	}
	resp, err = env.c.QueryWorkflowWithOptions(ctx, &client.QueryWorkflowWithOptionsRequest{
		WorkflowID: id, RunID: runID, QueryType: queryStatus,
		QueryRejectCondition: enumspb.QUERY_REJECT_CONDITION_NOT_OPEN,
	})
	requireNoError(t, err, "QueryWorkflowWithOptions(NOT_OPEN) on a completed workflow")
	if resp.QueryRejected == nil {
		t.Errorf("QueryWorkflowWithOptions(NOT_OPEN) on a completed workflow was not rejected (result %v)", resp.QueryResult)
	} else if st := resp.QueryRejected.GetStatus(); st != enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED {
		t.Errorf("QueryRejected.status = %v, want COMPLETED", st)
	}
	resp, err = env.c.QueryWorkflowWithOptions(ctx, &client.QueryWorkflowWithOptionsRequest{
		WorkflowID: id, RunID: runID, QueryType: queryStatus,
		QueryRejectCondition: enumspb.QUERY_REJECT_CONDITION_NOT_COMPLETED_CLEANLY,
	})
	requireNoError(t, err, "QueryWorkflowWithOptions(NOT_COMPLETED_CLEANLY) on a completed workflow")
	if resp.QueryRejected != nil {
		t.Errorf("QueryWorkflowWithOptions(NOT_COMPLETED_CLEANLY) on a cleanly completed workflow was rejected: %v", resp.QueryRejected)
	}

	// Queries leave no trace in the history.
	requireEventTypes(t, events,
		evWfStarted,
		evWftScheduled, evWftStarted, evWftCompleted,
		evActScheduled, evActStarted, evActCompleted,
		evWftScheduled, evWftStarted, evWftCompleted,
		evSignaled,
		evWftScheduled, evWftStarted, evWftCompleted,
		evSignaled,
		evWftScheduled, evWftStarted, evWftCompleted,
		evWfCompleted,
	)
	if after := getHistory(t, env.c, id, runID); len(after) != len(events) {
		t.Errorf("history grew from %d to %d events after the queries on the closed workflow", len(events), len(after))
	}
}

// ---------------------------------------------------------------------------
// Updates

// updateEvents returns the Accepted and Completed events of one update id.
func updateEvents(events []*historypb.HistoryEvent, updateID string) (accepted, completed []*historypb.HistoryEvent) {
	for _, ev := range events {
		switch ev.GetEventType() {
		case evUpdateAccepted:
			if ev.GetWorkflowExecutionUpdateAcceptedEventAttributes().GetAcceptedRequest().GetMeta().GetUpdateId() == updateID {
				accepted = append(accepted, ev)
			}
		case evUpdateCompleted:
			if ev.GetWorkflowExecutionUpdateCompletedEventAttributes().GetMeta().GetUpdateId() == updateID {
				completed = append(completed, ev)
			}
		}
	}
	return accepted, completed
}

// requireUpdateEvents asserts exactly one Accepted then one Completed event
// for updateID, with the given name/arg and successful result.
func requireUpdateEvents(t *testing.T, events []*historypb.HistoryEvent, updateID, name string, arg, result int) {
	t.Helper()
	acc, comp := updateEvents(events, updateID)
	if len(acc) != 1 || len(comp) != 1 {
		t.Errorf("update %s: %d Accepted / %d Completed events, want 1/1\nhistory:\n%s", updateID, len(acc), len(comp), formatHistory(events))
		return
	}
	requireOrder(t, events, acc[0], comp[0])
	aa := acc[0].GetWorkflowExecutionUpdateAcceptedEventAttributes()
	if aa.GetProtocolInstanceId() != updateID {
		t.Errorf("update %s: Accepted.protocol_instance_id = %q", updateID, aa.GetProtocolInstanceId())
	}
	if got := aa.GetAcceptedRequest().GetInput().GetName(); got != name {
		t.Errorf("update %s: Accepted request name = %q, want %q", updateID, got, name)
	}
	var gotArg int
	decodePayloads(t, aa.GetAcceptedRequest().GetInput().GetArgs(), &gotArg)
	if gotArg != arg {
		t.Errorf("update %s: Accepted request arg = %d, want %d", updateID, gotArg, arg)
	}
	if aa.GetAcceptedRequestSequencingEventId() <= 0 || aa.GetAcceptedRequestSequencingEventId() >= acc[0].GetEventId() {
		t.Errorf("update %s: Accepted.accepted_request_sequencing_event_id = %d (event %d)", updateID,
			aa.GetAcceptedRequestSequencingEventId(), acc[0].GetEventId())
	}
	ca := comp[0].GetWorkflowExecutionUpdateCompletedEventAttributes()
	if ca.GetAcceptedEventId() != acc[0].GetEventId() {
		t.Errorf("update %s: Completed.accepted_event_id = %d, want %d", updateID, ca.GetAcceptedEventId(), acc[0].GetEventId())
	}
	if ca.GetOutcome().GetSuccess() == nil {
		t.Errorf("update %s: Completed outcome = %v, want success", updateID, ca.GetOutcome())
		return
	}
	var got int
	decodePayloads(t, ca.GetOutcome().GetSuccess(), &got)
	if got != result {
		t.Errorf("update %s: Completed outcome = %d, want %d", updateID, got, result)
	}
}

func (e *messageEnv) update(t *testing.T, id, updateID, name string, arg int, stage client.WorkflowUpdateStage) (client.WorkflowUpdateHandle, error) {
	t.Helper()
	return e.c.UpdateWorkflow(testCtx(t, 20*time.Second), client.UpdateWorkflowOptions{
		WorkflowID:   id,
		UpdateID:     updateID,
		UpdateName:   name,
		Args:         []any{arg},
		WaitForStage: stage,
	})
}

// updateResult runs an update to completion and returns its result/error.
func (e *messageEnv) updateResult(t *testing.T, id, updateID, name string, arg int) (int, error) {
	t.Helper()
	h, err := e.update(t, id, updateID, name, arg, client.WorkflowUpdateStageCompleted)
	if err != nil {
		return 0, err
	}
	if h.UpdateID() != updateID {
		t.Errorf("update handle id = %q, want %q", h.UpdateID(), updateID)
	}
	var out int
	err = h.Get(testCtx(t, 20*time.Second), &out)
	return out, err
}

func TestUpdates(t *testing.T) {
	t.Parallel()
	env := newMessageEnv(t)
	ctx := testCtx(t, messageTestTimeout)
	const id = "counter-updates"
	run := env.start(t, id, Counter)
	runID := run.GetRunID()
	// Updates racing the first workflow task are covered by
	// TestUpdateWhileWorkflowTaskInFlight; here the workflow is idle.
	waitForEvent(t, env.c, id, runID, evWftCompleted, 20*time.Second)

	// Accepted update.
	got, err := env.updateResult(t, id, "add-5", updateAdd, 5)
	requireNoError(t, err, "update add(5)")
	if got != 5 {
		t.Errorf("add(5) = %d, want 5", got)
	}
	events := getHistory(t, env.c, id, runID)
	requireUpdateEvents(t, events, "add-5", updateAdd, 5, 5)

	// Rejected update: the validator's error comes back, nothing is written.
	before := len(events)
	_, err = env.updateResult(t, id, "add-negative", updateAdd, -1)
	if err == nil {
		t.Errorf("update add(-1) succeeded, want the validator's rejection")
	} else {
		appErr := expectErrorAs[*temporal.ApplicationError](t, err, "rejected update")
		if !strings.Contains(err.Error(), errNegativeNotAllowed) {
			t.Errorf("rejected update error = %q, want it to contain %q", err, errNegativeNotAllowed)
		}
		_ = appErr
	}
	events = getHistory(t, env.c, id, runID)
	if acc, comp := updateEvents(events, "add-negative"); len(acc)+len(comp) != 0 {
		t.Errorf("rejected update wrote %d Accepted / %d Completed events\n%s", len(acc), len(comp), formatHistory(events))
	}
	if n := countEvents(events, evUpdateRejected) + countEvents(events, evUpdateAdmitted); n != 0 {
		t.Errorf("%d UpdateRejected/UpdateAdmitted events, want 0", n)
	}
	if len(events) != before {
		t.Errorf("history grew from %d to %d events for a rejected update (Temporal drops the speculative workflow task)\n%s",
			before, len(events), formatHistory(events))
	}
	if total := queryInt(t, env.c, id, runID, queryTotal); total != 5 {
		t.Errorf("total after the rejected update = %d, want 5", total)
	}

	// The same update id twice: one execution, the same result.
	first, err := env.updateResult(t, id, "add-10", updateAdd, 10)
	requireNoError(t, err, "update add(10)")
	second, err := env.updateResult(t, id, "add-10", updateAdd, 10)
	requireNoError(t, err, "update add(10) again with the same update id")
	if first != 15 || second != 15 {
		t.Errorf("add(10) twice with one update id returned %d and %d, want 15 both times", first, second)
	}
	if total := queryInt(t, env.c, id, runID, queryTotal); total != 15 {
		t.Errorf("total after the duplicate update = %d, want 15 (applied once)", total)
	}

	// WaitForStage Accepted returns before the handler finishes.
	h, err := env.update(t, id, "after-release", updateAddAfterRelease, 100, client.WorkflowUpdateStageAccepted)
	requireNoError(t, err, "update addAfterRelease(100) up to Accepted")
	events = getHistory(t, env.c, id, runID)
	if acc, comp := updateEvents(events, "after-release"); len(acc) != 1 || len(comp) != 0 {
		t.Errorf("after an Accepted-stage update: %d Accepted / %d Completed events, want 1/0\n%s", len(acc), len(comp), formatHistory(events))
	}
	requireNoError(t, env.c.SignalWorkflow(ctx, id, runID, signalRelease, nil), "signaling release")
	var released int
	requireNoError(t, h.Get(ctx, &released), "addAfterRelease handle.Get")
	if released != 115 {
		t.Errorf("addAfterRelease(100) = %d, want 115", released)
	}
	// A new handle for the same update gets the same outcome.
	var again int
	requireNoError(t, env.c.GetWorkflowUpdateHandle(client.GetWorkflowUpdateHandleOptions{
		WorkflowID: id, RunID: runID, UpdateID: "after-release",
	}).Get(ctx, &again), "GetWorkflowUpdateHandle(after-release).Get")
	if again != 115 {
		t.Errorf("GetWorkflowUpdateHandle(after-release) = %d, want 115", again)
	}

	requireNoError(t, env.c.SignalWorkflow(ctx, id, runID, signalDone, nil), "signaling done")
	var total int
	requireNoError(t, getResult(t, env.c, run, 20*time.Second, &total), "Counter result")
	if total != 115 {
		t.Errorf("Counter result = %d, want 115", total)
	}
	events = env.finalHistory(t, id, runID)
	requireUpdateEvents(t, events, "add-5", updateAdd, 5, 5)
	requireUpdateEvents(t, events, "add-10", updateAdd, 10, 15)
	requireUpdateEvents(t, events, "after-release", updateAddAfterRelease, 100, 115)
	if n, m := countEvents(events, evUpdateAccepted), countEvents(events, evUpdateCompleted); n != 3 || m != 3 {
		t.Errorf("%d UpdateAccepted / %d UpdateCompleted events, want 3/3\n%s", n, m, formatHistory(events))
	}
	if last := lastEvent(events); last.GetEventType() != evWfCompleted {
		t.Errorf("last event = %v, want WorkflowExecutionCompleted", last.GetEventType())
	}
}

// TestUpdateWhileWorkflowTaskInFlight sends an update while the first
// workflow task is still running (a 1.5s local activity): the server must
// deliver it with a new workflow task once the running one completes.
func TestUpdateWhileWorkflowTaskInFlight(t *testing.T) {
	t.Parallel()
	env := newMessageEnv(t)
	ctx := testCtx(t, messageTestTimeout)
	const id = "counter-update-in-flight"
	run := env.start(t, id, BusyCounter, 1500*time.Millisecond)
	select {
	case <-env.acts.busyStarted:
	case <-ctx.Done():
		t.Fatalf("the busy local activity did not start; history:\n%s", formatHistory(getHistory(t, env.c, id, run.GetRunID())))
	}
	got, err := env.updateResult(t, id, "add-7", updateAdd, 7)
	requireNoError(t, err, "update add(7) sent while the first workflow task was in flight")
	if got != 7 {
		t.Errorf("add(7) = %d, want 7", got)
	}
	requireNoError(t, env.c.SignalWorkflow(ctx, id, run.GetRunID(), signalDone, nil), "signaling done")
	var total int
	requireNoError(t, getResult(t, env.c, run, 20*time.Second, &total), "BusyCounter result")
	if total != 7 {
		t.Errorf("BusyCounter result = %d, want 7", total)
	}
	events := env.finalHistory(t, id, run.GetRunID())
	requireUpdateEvents(t, events, "add-7", updateAdd, 7, 7)
	// The update was accepted by a later workflow task than the first one.
	if acc, _ := updateEvents(events, "add-7"); len(acc) == 1 {
		firstDone := eventsOfType(events, evWftCompleted)[0]
		if acc[0].GetEventId() < firstDone.GetEventId() {
			t.Errorf("update accepted at event %d, before the first workflow task completed (event %d)", acc[0].GetEventId(), firstDone.GetEventId())
		}
	}
	if n := countEvents(events, evMarkerRecorded); n != 1 {
		t.Errorf("%d MarkerRecorded events, want 1 (the local activity)", n)
	}
}

func queryInt(t *testing.T, c client.Client, id, runID, queryType string) int {
	t.Helper()
	v, err := c.QueryWorkflow(testCtx(t, 15*time.Second), id, runID, queryType)
	requireNoError(t, err, "query "+queryType)
	var n int
	requireNoError(t, v.Get(&n), "decoding query result")
	return n
}

func TestUpdateWithStart(t *testing.T) {
	t.Parallel()
	env := newMessageEnv(t)
	ctx := testCtx(t, messageTestTimeout)
	const id = "counter-update-with-start"

	updateWithStart := func(updateID string, n int) (client.WorkflowRun, int) {
		t.Helper()
		op := env.c.NewWithStartWorkflowOperation(client.StartWorkflowOptions{
			ID:                       id,
			TaskQueue:                env.tq,
			WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		}, Counter)
		h, err := env.c.UpdateWithStartWorkflow(ctx, client.UpdateWithStartWorkflowOptions{
			StartWorkflowOperation: op,
			UpdateOptions: client.UpdateWorkflowOptions{
				UpdateID:     updateID,
				UpdateName:   updateAdd,
				Args:         []any{n},
				WaitForStage: client.WorkflowUpdateStageCompleted,
			},
		})
		requireNoError(t, err, "UpdateWithStartWorkflow "+updateID)
		var out int
		requireNoError(t, h.Get(ctx, &out), "update-with-start result "+updateID)
		run, err := op.Get(ctx)
		requireNoError(t, err, "start operation of "+updateID)
		return run, out
	}

	run1, got := updateWithStart("uws-3", 3)
	if got != 3 {
		t.Errorf("update-with-start on a new workflow: add(3) = %d, want 3", got)
	}
	run2, got := updateWithStart("uws-4", 4)
	if got != 7 {
		t.Errorf("update-with-start on the running workflow: add(4) = %d, want 7", got)
	}
	if run1.GetRunID() == "" || run2.GetRunID() != run1.GetRunID() {
		t.Errorf("update-with-start run ids: %q then %q, want the same running run", run1.GetRunID(), run2.GetRunID())
	}

	requireNoError(t, env.c.SignalWorkflow(ctx, id, run1.GetRunID(), signalDone, nil), "signaling done")
	var total int
	requireNoError(t, getResult(t, env.c, run1, 20*time.Second, &total), "Counter result")
	if total != 7 {
		t.Errorf("Counter result = %d, want 7", total)
	}
	events := env.finalHistory(t, id, run1.GetRunID())
	if n := countEvents(events, evWfStarted); n != 1 {
		t.Errorf("%d WorkflowExecutionStarted events, want 1", n)
	}
	requireUpdateEvents(t, events, "uws-3", updateAdd, 3, 3)
	requireUpdateEvents(t, events, "uws-4", updateAdd, 4, 7)
	// The first update rode on the first workflow task.
	if acc, _ := updateEvents(events, "uws-3"); len(acc) == 1 && acc[0].GetEventId() > 5 {
		t.Errorf("update-with-start's update accepted at event %d, want it in the first workflow task\n%s", acc[0].GetEventId(), formatHistory(events))
	}
}

// ---------------------------------------------------------------------------
// Signal-with-start

func TestSignalWithStart(t *testing.T) {
	t.Parallel()
	env := newMessageEnv(t)
	ctx := testCtx(t, messageTestTimeout)
	const id = "signal-with-start"
	opts := client.StartWorkflowOptions{ID: id, TaskQueue: env.tq}

	run1, err := env.c.SignalWithStartWorkflow(ctx, id, signalItem, "first", opts, CollectSignals, 2)
	requireNoError(t, err, "SignalWithStartWorkflow on a new workflow")
	run2, err := env.c.SignalWithStartWorkflow(ctx, id, signalItem, "second", opts, CollectSignals, 2)
	requireNoError(t, err, "SignalWithStartWorkflow on the running workflow")
	if run2.GetRunID() != run1.GetRunID() {
		t.Errorf("second signal-with-start returned run %q, want the running run %q", run2.GetRunID(), run1.GetRunID())
	}
	var got []string
	requireNoError(t, getResult(t, env.c, run1, 20*time.Second, &got), "CollectSignals result")
	if !slices.Equal(got, []string{"first", "second"}) {
		t.Errorf("result = %v, want [first second]", got)
	}
	events := env.finalHistory(t, id, run1.GetRunID())
	signals := eventsOfType(events, evSignaled)
	if len(signals) != 2 {
		t.Fatalf("%d WorkflowExecutionSignaled events, want 2\n%s", len(signals), formatHistory(events))
	}
	for i, want := range []string{"first", "second"} {
		a := signals[i].GetWorkflowExecutionSignaledEventAttributes()
		if a.GetSignalName() != signalItem || decodeString(t, a.GetInput()) != want {
			t.Errorf("signal %d: name %q input %q, want %q/%q", i+1, a.GetSignalName(), decodeString(t, a.GetInput()), signalItem, want)
		}
	}
	// The signal of the start comes right after WorkflowExecutionStarted,
	// before the first workflow task.
	if got := events[1].GetEventType(); got != evSignaled {
		t.Errorf("event 2 = %v, want WorkflowExecutionSignaled (signal-with-start)\n%s", got, formatHistory(events))
	}
	if got := events[2].GetEventType(); got != evWftScheduled {
		t.Errorf("event 3 = %v, want WorkflowTaskScheduled\n%s", got, formatHistory(events))
	}
	if n := countEvents(events, evWfStarted); n != 1 {
		t.Errorf("%d WorkflowExecutionStarted events, want 1", n)
	}
}

// ---------------------------------------------------------------------------
// Cancellation

func TestWorkflowCancellationCleanup(t *testing.T) {
	t.Parallel()
	env := newMessageEnv(t)
	ctx := testCtx(t, messageTestTimeout)
	const id = "subscription"
	run := env.start(t, id, Subscription, 300*time.Millisecond)
	waitForEvent(t, env.c, id, run.GetRunID(), evTimerFired, 20*time.Second)

	requireNoError(t, env.c.CancelWorkflow(ctx, id, run.GetRunID()), "CancelWorkflow")
	err := getResult(t, env.c, run, 20*time.Second, nil)
	requireErrorAs[*temporal.CanceledError](t, err, "Subscription result after cancellation")
	select {
	case charges := <-env.acts.cleanups:
		if charges < 1 {
			t.Errorf("cleanup saw %d charges, want >= 1", charges)
		}
	default:
		t.Errorf("the cleanup activity did not run")
	}

	events := env.finalHistory(t, id, run.GetRunID())
	cancelReq := requireSingle(t, events, evWfCancelRequested)
	if got := cancelReq.GetWorkflowExecutionCancelRequestedEventAttributes().GetIdentity(); got != messagesClientID {
		t.Errorf("WorkflowExecutionCancelRequested: identity = %q, want %q", got, messagesClientID)
	}
	sched := requireSingle(t, events, evActScheduled)
	if got := sched.GetActivityTaskScheduledEventAttributes().GetActivityType().GetName(); got != actCancelSubscription {
		t.Errorf("scheduled activity = %q, want %q", got, actCancelSubscription)
	}
	done := requireSingle(t, events, evActCompleted)
	canceled := lastEvent(events)
	if canceled.GetEventType() != evWfCanceled {
		t.Fatalf("last event = %v, want WorkflowExecutionCanceled\n%s", canceled.GetEventType(), formatHistory(events))
	}
	requireOrder(t, events, cancelReq, sched, done, canceled)
	// The pending sleep timer is canceled when the cancellation is delivered.
	timerCanceled := requireSingle(t, events, evTimerCanceled)
	requireOrder(t, events, cancelReq, timerCanceled, sched)
	if n := countEvents(events, evTimerStarted); n != countEvents(events, evTimerFired)+1 {
		t.Errorf("%d TimerStarted / %d TimerFired, want exactly one unfired (canceled) timer", n, countEvents(events, evTimerFired))
	}
	if got := canceled.GetWorkflowExecutionCanceledEventAttributes().GetWorkflowTaskCompletedEventId(); eventByID(events, got).GetEventType() != evWftCompleted {
		t.Errorf("WorkflowExecutionCanceled: workflow_task_completed_event_id = %d is not a WorkflowTaskCompleted", got)
	}
	if st := describeStatus(t, env.c, id, run.GetRunID()); st != enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED {
		t.Errorf("status = %v, want CANCELED", st)
	}
}

// ---------------------------------------------------------------------------
// External signal / cancel from a workflow

func TestExternalSignalAndCancel(t *testing.T) {
	t.Parallel()
	env := newMessageEnv(t)
	const sigTarget, cancelTarget, sender = "ext-signal-target", "ext-cancel-target", "ext-sender"
	sigRun := env.start(t, sigTarget, AwaitFinish)
	cancelRun := env.start(t, cancelTarget, AwaitCancellation)
	// Make sure the cancel target is running its code before it is canceled.
	waitForEvent(t, env.c, cancelTarget, cancelRun.GetRunID(), evWftCompleted, 20*time.Second)
	senderRun := env.start(t, sender, SignalAndCancelExternal, sigTarget, cancelTarget)

	// The Go SDK matches SignalExternalWorkflowExecutionInitiated to its
	// command through the command's `control` field (its sequence id), so the
	// server must copy it into the event; without it the next workflow task
	// fails as nondeterministic and the sender never finishes.
	waitForEvent(t, env.c, sender, senderRun.GetRunID(), evExtSignaled, 20*time.Second)
	early := getHistory(t, env.c, sender, senderRun.GetRunID())
	initCtl := requireSingle(t, early, evSignalExtInit).GetSignalExternalWorkflowExecutionInitiatedEventAttributes().GetControl()
	doneCtl := requireSingle(t, early, evExtSignaled).GetExternalWorkflowExecutionSignaledEventAttributes().GetControl()
	if initCtl == "" || doneCtl != initCtl {
		t.Errorf("control: SignalExternalWorkflowExecutionInitiated.control = %q, ExternalWorkflowExecutionSignaled.control = %q; "+
			"want the command's control (non-empty) copied into both", initCtl, doneCtl)
	}

	var res string
	requireNoError(t, getResult(t, env.c, senderRun, 20*time.Second, &res), "SignalAndCancelExternal result")
	if res != "signaled and canceled" {
		t.Errorf("sender result = %q", res)
	}
	requireNoError(t, getResult(t, env.c, sigRun, 20*time.Second, &res), "AwaitFinish result")
	if want := "finished: from " + sender; res != want {
		t.Errorf("signal target result = %q, want %q", res, want)
	}
	err := getResult(t, env.c, cancelRun, 20*time.Second, nil)
	requireErrorAs[*temporal.CanceledError](t, err, "cancel target result")

	// Sender: initiated + completed events for both commands.
	events := env.finalHistory(t, sender, senderRun.GetRunID())
	sigInit := requireSingle(t, events, evSignalExtInit)
	sigDone := requireSingle(t, events, evExtSignaled)
	cancelInit := requireSingle(t, events, evCancelExtInit)
	cancelDone := requireSingle(t, events, evExtCancelReq)
	requireOrder(t, events, sigInit, sigDone, cancelInit, cancelDone)
	si := sigInit.GetSignalExternalWorkflowExecutionInitiatedEventAttributes()
	if si.GetWorkflowExecution().GetWorkflowId() != sigTarget || si.GetSignalName() != signalFinish ||
		decodeString(t, si.GetInput()) != "from "+sender {
		t.Errorf("SignalExternalWorkflowExecutionInitiated = %v", si)
	}
	sd := sigDone.GetExternalWorkflowExecutionSignaledEventAttributes()
	if sd.GetInitiatedEventId() != sigInit.GetEventId() || sd.GetWorkflowExecution().GetWorkflowId() != sigTarget {
		t.Errorf("ExternalWorkflowExecutionSignaled: initiated_event_id=%d workflow=%v, want %d/%s",
			sd.GetInitiatedEventId(), sd.GetWorkflowExecution(), sigInit.GetEventId(), sigTarget)
	}
	ci := cancelInit.GetRequestCancelExternalWorkflowExecutionInitiatedEventAttributes()
	if ci.GetWorkflowExecution().GetWorkflowId() != cancelTarget {
		t.Errorf("RequestCancelExternalWorkflowExecutionInitiated: workflow = %v, want %s", ci.GetWorkflowExecution(), cancelTarget)
	}
	if ci.GetControl() == "" {
		t.Errorf("RequestCancelExternalWorkflowExecutionInitiated: control not set")
	}
	cd := cancelDone.GetExternalWorkflowExecutionCancelRequestedEventAttributes()
	if cd.GetInitiatedEventId() != cancelInit.GetEventId() || cd.GetWorkflowExecution().GetWorkflowId() != cancelTarget {
		t.Errorf("ExternalWorkflowExecutionCancelRequested: initiated_event_id=%d workflow=%v, want %d/%s",
			cd.GetInitiatedEventId(), cd.GetWorkflowExecution(), cancelInit.GetEventId(), cancelTarget)
	}

	// Signal target: the signal names its external sender.
	tev := env.finalHistory(t, sigTarget, sigRun.GetRunID())
	sig := requireSingle(t, tev, evSignaled).GetWorkflowExecutionSignaledEventAttributes()
	if sig.GetSignalName() != signalFinish || decodeString(t, sig.GetInput()) != "from "+sender {
		t.Errorf("target WorkflowExecutionSignaled: name %q input %q", sig.GetSignalName(), decodeString(t, sig.GetInput()))
	}
	if got := sig.GetExternalWorkflowExecution().GetWorkflowId(); got != sender {
		t.Errorf("target WorkflowExecutionSignaled: external_workflow_execution = %v, want %s", sig.GetExternalWorkflowExecution(), sender)
	}

	// Cancel target: cancel requested by the sender, then canceled.
	cev := env.finalHistory(t, cancelTarget, cancelRun.GetRunID())
	cr := requireSingle(t, cev, evWfCancelRequested).GetWorkflowExecutionCancelRequestedEventAttributes()
	if cr.GetExternalWorkflowExecution().GetWorkflowId() != sender || cr.GetExternalInitiatedEventId() != cancelInit.GetEventId() {
		t.Errorf("target WorkflowExecutionCancelRequested: external_workflow_execution=%v external_initiated_event_id=%d, want %s/%d",
			cr.GetExternalWorkflowExecution(), cr.GetExternalInitiatedEventId(), sender, cancelInit.GetEventId())
	}
	if last := lastEvent(cev); last.GetEventType() != evWfCanceled {
		t.Errorf("cancel target: last event = %v, want WorkflowExecutionCanceled", last.GetEventType())
	}
	if st := describeStatus(t, env.c, cancelTarget, cancelRun.GetRunID()); st != enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED {
		t.Errorf("cancel target status = %v, want CANCELED", st)
	}
}

// ---------------------------------------------------------------------------
// Signal burst

func TestSignalBurst(t *testing.T) {
	t.Parallel()
	env := newMessageEnv(t)
	ctx := testCtx(t, messageTestTimeout)
	const id = "signal-burst"
	const perSender = 50
	senders := []string{"a", "b"}
	const busy = 2 * time.Second

	run := env.start(t, id, SignalBurst, perSender*len(senders), busy)
	select {
	case <-env.acts.busyStarted:
	case <-ctx.Done():
		t.Fatalf("the busy local activity did not start; history:\n%s", formatHistory(getHistory(t, env.c, id, run.GetRunID())))
	}

	// Each sender signals sequentially; the senders run concurrently.
	begin := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, len(senders))
	for _, s := range senders {
		wg.Add(1)
		go func(s string) {
			defer wg.Done()
			for i := 0; i < perSender; i++ {
				if err := env.c.SignalWorkflow(ctx, id, run.GetRunID(), signalItem, fmt.Sprintf("%s-%02d", s, i)); err != nil {
					errs <- fmt.Errorf("sender %s signal %d: %s", s, i, describeErr(err))
					return
				}
			}
		}(s)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	t.Logf("sent %d signals in %v (the first workflow task was busy for %v)", perSender*len(senders), time.Since(begin).Round(time.Millisecond), busy)

	var got []string
	requireNoError(t, getResult(t, env.c, run, 20*time.Second, &got), "SignalBurst result")
	if len(got) != perSender*len(senders) {
		t.Fatalf("workflow received %d signals, want %d: %v", len(got), perSender*len(senders), got)
	}
	next := map[string]int{}
	for _, v := range got {
		s, n := v[:1], 0
		fmt.Sscanf(v[2:], "%d", &n)
		if n != next[s] {
			t.Errorf("sender %s: got %s, want %s-%02d (order per sender broken or signal lost/duplicated)\nall: %v", s, v, s, next[s], got)
			break
		}
		next[s]++
	}

	events := env.finalHistory(t, id, run.GetRunID())
	signals := eventsOfType(events, evSignaled)
	if len(signals) != len(got) {
		t.Fatalf("%d WorkflowExecutionSignaled events, want %d", len(signals), len(got))
	}
	var inHistory []string
	for _, ev := range signals {
		inHistory = append(inHistory, decodeString(t, ev.GetWorkflowExecutionSignaledEventAttributes().GetInput()))
	}
	if !slices.Equal(inHistory, got) {
		t.Errorf("workflow received the signals in an order different from the history's:\nworkflow: %v\nhistory:  %v", got, inHistory)
	}
	if n := countEvents(events, evMarkerRecorded); n != 1 {
		t.Errorf("%d MarkerRecorded events, want 1 (the local activity)", n)
	}
}

// ---------------------------------------------------------------------------
// Waiting for a result longer than one history long poll

// TestResultLongPollExpires waits for the result of a running workflow with a
// deadline that expires first. The server answers the long poll
// (GetWorkflowExecutionHistory with wait_new_event) shortly before the
// caller's deadline with an empty page: that page must carry an (empty)
// history and a next page token - the Go SDK reads response.History.Events
// without a nil check, so an unset history panics inside run.Get.
func TestResultLongPollExpires(t *testing.T) {
	t.Parallel()
	env := newMessageEnv(t)
	const id = "long-poll-expires"
	run := env.start(t, id, AwaitFinish)
	waitForEvent(t, env.c, id, run.GetRunID(), evWftCompleted, 20*time.Second)

	// The raw long poll.
	req := &workflowservice.GetWorkflowExecutionHistoryRequest{
		Namespace:              defaultNamespace,
		Execution:              &commonpb.WorkflowExecution{WorkflowId: id, RunId: run.GetRunID()},
		WaitNewEvent:           true,
		HistoryEventFilterType: enumspb.HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT,
	}
	pollCtx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	resp, err := env.c.WorkflowService().GetWorkflowExecutionHistory(pollCtx, req)
	cancel()
	switch {
	case err != nil:
		// Running out the caller's deadline is acceptable, a panic-inducing
		// response is not.
		t.Logf("long poll without new events ended with %s", describeErr(err))
	case resp.GetHistory() == nil:
		t.Errorf("long poll without new events: response has no history (next_page_token %q); "+
			"Temporal returns an empty History message", resp.GetNextPageToken())
	case len(resp.GetHistory().GetEvents()) == 0 && len(resp.GetNextPageToken()) == 0:
		t.Errorf("long poll without new events: empty page without a next_page_token")
	}

	// The SDK path: run.Get with a deadline shorter than the workflow.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	var getErr error
	panicked := func() (p any) {
		defer func() { p = recover() }()
		getErr = run.Get(ctx, nil)
		return nil
	}()
	if panicked != nil {
		t.Errorf("run.Get panicked inside the Go SDK when its deadline expired before the result: %v", panicked)
	} else if getErr == nil {
		t.Errorf("run.Get returned a result for a workflow that is still running")
	} else {
		var dl *serviceerror.DeadlineExceeded
		if !errors.Is(getErr, context.DeadlineExceeded) && !errors.As(getErr, &dl) {
			t.Errorf("run.Get past its deadline: want a deadline error, got %s", describeErr(getErr))
		}
	}

	// The workflow is unaffected and still completes.
	requireNoError(t, env.c.SignalWorkflow(testCtx(t, 10*time.Second), id, run.GetRunID(), signalFinish, "now"), "signaling finish")
	var res string
	requireNoError(t, getResult(t, env.c, run, 20*time.Second, &res), "AwaitFinish result")
	if res != "finished: now" {
		t.Errorf("result = %q, want %q", res, "finished: now")
	}
	env.finalHistory(t, id, run.GetRunID())
}

// ---------------------------------------------------------------------------
// Graceful stop with client calls waiting on the server

// TestGracefulStopWithPendingClientCalls: when the server gets SIGTERM while
// a client is blocked in a long poll - waiting for an update to complete (its
// handler waits for a signal), or waiting for the workflow result - it must
// still exit 0 promptly (the harness allows 15s; Temporal takes ~1.5s). After
// a restart the accepted update completes exactly once and the workflow ends
// normally.
func TestGracefulStopWithPendingClientCalls(t *testing.T) {
	t.Parallel()
	for _, waitOn := range []string{"update", "result"} {
		t.Run("waiting for the "+waitOn, func(t *testing.T) {
			t.Parallel()
			gracefulStopWithPendingCall(t, waitOn)
		})
	}
}

func gracefulStopWithPendingCall(t *testing.T, waitOn string) {
	env := newMessageEnv(t)
	id := "graceful-stop-pending-" + waitOn
	run := env.start(t, id, Counter)
	runID := run.GetRunID()
	waitForEvent(t, env.c, id, runID, evWftCompleted, 20*time.Second)

	// An accepted update whose handler waits for the "release" signal.
	h, err := env.update(t, id, "pending", updateAddAfterRelease, 1, client.WorkflowUpdateStageAccepted)
	requireNoError(t, err, "update addAfterRelease(1) up to Accepted")

	// The blocked call only has to be in flight when the server stops; its
	// outcome is logged.
	pending := make(chan string, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				pending <- fmt.Sprintf("panicked inside the Go SDK: %v", r)
			}
		}()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		switch waitOn {
		case "update":
			var n int
			err := h.Get(ctx, &n)
			pending <- fmt.Sprintf("update handle.Get: %d, %v", n, err)
		default:
			var n int
			err := run.Get(ctx, &n)
			pending <- fmt.Sprintf("run.Get: %d, %v", n, err)
		}
	}()
	time.Sleep(300 * time.Millisecond) // let the blocked call reach the server; there is nothing to await

	begin := time.Now()
	if err := env.srv.Stop(); err != nil {
		t.Errorf("graceful stop while a client waits for the %s: %v", waitOn, err)
	} else {
		t.Logf("server stopped %v after SIGTERM", time.Since(begin).Round(time.Millisecond))
	}
	env.srv.Restart(t)

	ctx := testCtx(t, messageTestTimeout)
	requireNoError(t, env.c.SignalWorkflow(ctx, id, runID, signalRelease, nil), "signaling release after the restart")
	var got int
	requireNoError(t, env.c.GetWorkflowUpdateHandle(client.GetWorkflowUpdateHandleOptions{
		WorkflowID: id, RunID: runID, UpdateID: "pending",
	}).Get(ctx, &got), "result of the update accepted before the restart")
	if got != 1 {
		t.Errorf("addAfterRelease(1) = %d, want 1", got)
	}
	requireNoError(t, env.c.SignalWorkflow(ctx, id, runID, signalDone, nil), "signaling done")
	var total int
	requireNoError(t, getResult(t, env.c, env.c.GetWorkflow(ctx, id, runID), 20*time.Second, &total), "Counter result")
	if total != 1 {
		t.Errorf("Counter result = %d, want 1", total)
	}
	select {
	case msg := <-pending:
		t.Logf("the call in flight during the stop ended: %s", msg)
		if strings.Contains(msg, "panicked") {
			t.Errorf("the call in flight during the stop %s", msg)
		}
	case <-time.After(10 * time.Second):
		t.Logf("the call in flight during the stop had not returned 10s after the workflow completed")
	}
	events := env.finalHistory(t, id, runID)
	requireUpdateEvents(t, events, "pending", updateAddAfterRelease, 1, 1)
}
