package e2e

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
)

// What Temporal 1.32 needs for operations backed by a workflow update
// (completion callbacks on updates).
var updateCallbacksConfig = []string{"history.enableChasm=true", "history.enableCHASMCallbacks=true",
	"history.enableUpdateCallbacks=true"}

// startUpdatable starts the handler namespace's NexusUpdatableWorkflow.
func (p *nexusPair) startUpdatable(t *testing.T, id string) client.WorkflowRun {
	t.Helper()
	run, err := p.handler.ExecuteWorkflow(testCtx(t, 10*time.Second),
		client.StartWorkflowOptions{ID: id, TaskQueue: p.handlerTQ}, NexusUpdatableWorkflow)
	requireNoError(t, err, "start updatable workflow")
	return run
}

func (p *nexusPair) startUpdateCall(t *testing.T, id string, in nexusUpdateInput) client.WorkflowRun {
	t.Helper()
	return p.start(t, id, nexusCall{Operation: "update", Update: &in, Timeout: time.Minute})
}

// An operation backed by a workflow update: started asynchronously when the
// update is accepted, completed by the update's completion callback with
// its result, with links both ways (the caller's started event names the
// accepted event by the request id; the accepted event links back to the
// caller's scheduled event).
func TestNexusUpdateOperation(t *testing.T) {
	p := startNexusPairWith(t, updateCallbacksConfig)
	target := p.startUpdatable(t, "updatable-1")
	run := p.startUpdateCall(t, "nexus-update-1", nexusUpdateInput{WorkflowID: "updatable-1", Value: "created"})
	var out string
	requireNoError(t, getResult(t, p.caller, run, 30*time.Second, &out), "caller result")
	if out != "from pending to created" {
		t.Fatalf("result %q", out)
	}
	events := p.callerHistory(t, run)
	requireNexusEvents(t, events, enumspb.EVENT_TYPE_NEXUS_OPERATION_SCHEDULED,
		enumspb.EVENT_TYPE_NEXUS_OPERATION_STARTED, enumspb.EVENT_TYPE_NEXUS_OPERATION_COMPLETED)
	scheduled := eventsOfType(events, enumspb.EVENT_TYPE_NEXUS_OPERATION_SCHEDULED)[0]
	started := eventsOfType(events, enumspb.EVENT_TYPE_NEXUS_OPERATION_STARTED)[0]
	requestID := scheduled.GetNexusOperationScheduledEventAttributes().GetRequestId()
	forward := false
	for _, l := range started.Links {
		we := l.GetWorkflowEvent()
		ref := we.GetRequestIdRef()
		if we.GetNamespace() == nexusHandlerNamespace && we.GetWorkflowId() == "updatable-1" &&
			we.GetRunId() == target.GetRunID() && ref.GetRequestId() == requestID &&
			ref.GetEventType() == enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED {
			forward = true
		}
	}
	if !forward {
		t.Fatalf("started event links %v lack the accepted update (request %s)", started.Links, requestID)
	}
	handlerEvents := getHistory(t, p.handler, "updatable-1", target.GetRunID())
	accepted := eventsOfType(handlerEvents, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED)
	if len(accepted) != 1 {
		t.Fatalf("accepted events: %d\n%s", len(accepted), formatHistory(handlerEvents))
	}
	if !linksTo(accepted[0].Links, run, scheduled.EventId) {
		t.Fatalf("accepted event links %v do not name the caller's scheduled event", accepted[0].Links)
	}
	req := accepted[0].GetWorkflowExecutionUpdateAcceptedEventAttributes().GetAcceptedRequest()
	if req.GetRequestId() != requestID || len(req.GetCompletionCallbacks()) != 1 {
		t.Fatalf("accepted request: request id %q, %d callbacks", req.GetRequestId(), len(req.GetCompletionCallbacks()))
	}
}

func linksTo(links []*commonpb.Link, run client.WorkflowRun, eventID int64) bool {
	for _, l := range links {
		we := l.GetWorkflowEvent()
		if we.GetNamespace() == "default" && we.GetWorkflowId() == run.GetID() && we.GetRunId() == run.GetRunID() &&
			we.GetEventRef().GetEventId() == eventID &&
			we.GetEventRef().GetEventType() == enumspb.EVENT_TYPE_NEXUS_OPERATION_SCHEDULED {
			return true
		}
	}
	return false
}

// Three callers start operations on the same update at once: the first
// request admits it, the others attach their callbacks to it (an
// options-updated event each on the handler); each caller gets the one
// result. A later caller of the completed update gets it synchronously.
func TestNexusUpdateOperationSharedUpdate(t *testing.T) {
	p := startNexusPairWith(t, updateCallbacksConfig)
	target := p.startUpdatable(t, "updatable-shared")
	in := nexusUpdateInput{WorkflowID: "updatable-shared", UpdateID: "shared", Value: "processed"}
	var wg sync.WaitGroup
	runs := make([]client.WorkflowRun, 3)
	for i := range runs {
		runs[i] = p.startUpdateCall(t, "nexus-update-shared-"+string(rune('a'+i)), in)
	}
	outs := make([]string, len(runs))
	errs := make([]error, len(runs))
	for i, run := range runs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = getResult(t, p.caller, run, 30*time.Second, &outs[i])
		}()
	}
	wg.Wait()
	for i := range runs {
		if errs[i] != nil || outs[i] != "from pending to processed" {
			t.Fatalf("caller %d: %q, %v", i, outs[i], describeErr(errs[i]))
		}
		p.callerHistory(t, runs[i])
	}
	handlerEvents := getHistory(t, p.handler, "updatable-shared", target.GetRunID())
	if n := len(eventsOfType(handlerEvents, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED)); n != 1 {
		t.Fatalf("update completed %d times\n%s", n, formatHistory(handlerEvents))
	}
	attached := 0
	for _, e := range eventsOfType(handlerEvents, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_OPTIONS_UPDATED) {
		for _, o := range e.GetWorkflowExecutionOptionsUpdatedEventAttributes().GetWorkflowUpdateOptions() {
			if o.GetUpdateId() == "shared" && len(o.GetAttachedCompletionCallbacks()) == 1 {
				attached++
			}
		}
	}
	accepted := eventsOfType(handlerEvents, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED)[0]
	own := len(accepted.GetWorkflowExecutionUpdateAcceptedEventAttributes().GetAcceptedRequest().GetCompletionCallbacks())
	if own+attached != len(runs) {
		t.Fatalf("callbacks: %d on the accepted event, %d attached, want %d in all\n%s", own, attached, len(runs),
			formatHistory(handlerEvents))
	}
	// The update has its outcome: a new operation on it completes at once.
	late := p.startUpdateCall(t, "nexus-update-shared-late", in)
	var out string
	requireNoError(t, getResult(t, p.caller, late, 30*time.Second, &out), "late caller")
	if out != "from pending to processed" {
		t.Fatalf("late result %q", out)
	}
	requireNexusEvents(t, p.callerHistory(t, late), enumspb.EVENT_TYPE_NEXUS_OPERATION_SCHEDULED,
		enumspb.EVENT_TYPE_NEXUS_OPERATION_COMPLETED)
}

// An update that fails fails the operation with the update's failure; an
// accepted update whose run closes before it completes fails the operation
// with Temporal's AcceptedUpdateCompletedWorkflow; an update of a closed run
// is a non-retryable start error.
func TestNexusUpdateOperationFailures(t *testing.T) {
	p := startNexusPairWith(t, updateCallbacksConfig)
	p.startUpdatable(t, "updatable-fail")
	run := p.startUpdateCall(t, "nexus-update-fail", nexusUpdateInput{WorkflowID: "updatable-fail", Value: "fail"})
	err := getResult(t, p.caller, run, 30*time.Second, nil)
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || appErr.Type() != "Refused" {
		t.Fatalf("want the update's failure, got %v", describeErr(err))
	}
	requireNexusEvents(t, p.callerHistory(t, run), enumspb.EVENT_TYPE_NEXUS_OPERATION_SCHEDULED,
		enumspb.EVENT_TYPE_NEXUS_OPERATION_STARTED, enumspb.EVENT_TYPE_NEXUS_OPERATION_FAILED)

	target := p.startUpdatable(t, "updatable-quit")
	run = p.startUpdateCall(t, "nexus-update-quit", nexusUpdateInput{WorkflowID: "updatable-quit", Value: "hang"})
	waitForEvent(t, p.caller, run.GetID(), run.GetRunID(), enumspb.EVENT_TYPE_NEXUS_OPERATION_STARTED, 30*time.Second)
	p.requireUpdateCallback(t, target, enumspb.CALLBACK_STATE_STANDBY)
	requireNoError(t, p.handler.SignalWorkflow(testCtx(t, 10*time.Second), "updatable-quit", "", "quit", nil), "quit")
	err = getResult(t, p.caller, run, 30*time.Second, nil)
	if !errors.As(err, &appErr) || appErr.Type() != "AcceptedUpdateCompletedWorkflow" {
		t.Fatalf("want AcceptedUpdateCompletedWorkflow, got %v", describeErr(err))
	}
	p.requireUpdateCallback(t, target, enumspb.CALLBACK_STATE_SUCCEEDED)
	var events []*historypb.HistoryEvent = p.callerHistory(t, run)
	requireNexusEvents(t, events, enumspb.EVENT_TYPE_NEXUS_OPERATION_SCHEDULED,
		enumspb.EVENT_TYPE_NEXUS_OPERATION_STARTED, enumspb.EVENT_TYPE_NEXUS_OPERATION_FAILED)
	requireNoError(t, getResult(t, p.handler, target, 30*time.Second, nil), "quit run")

	run = p.startUpdateCall(t, "nexus-update-closed", nexusUpdateInput{WorkflowID: "updatable-quit", Value: "late"})
	err = getResult(t, p.caller, run, 30*time.Second, nil)
	if err == nil || !strings.Contains(describeErr(err), "nexus operation completed unsuccessfully") {
		t.Fatalf("want the operation failed, got %v", describeErr(err))
	}
	requireNexusEvents(t, p.callerHistory(t, run), enumspb.EVENT_TYPE_NEXUS_OPERATION_SCHEDULED,
		enumspb.EVENT_TYPE_NEXUS_OPERATION_FAILED)
}

// requireUpdateCallback: the handler run's describe lists the one update
// callback (its trigger the update's completion) in this state.
func (p *nexusPair) requireUpdateCallback(t *testing.T, target client.WorkflowRun, state enumspb.CallbackState) {
	t.Helper()
	d, err := p.handler.DescribeWorkflowExecution(testCtx(t, 10*time.Second), target.GetID(), target.GetRunID())
	requireNoError(t, err, "describe handler run")
	if len(d.Callbacks) != 1 || d.Callbacks[0].State != state ||
		d.Callbacks[0].GetTrigger().GetUpdateWorkflowExecutionCompleted().GetUpdateId() == "" ||
		d.Callbacks[0].GetCallback().GetNexus().GetUrl() != "temporal://system" ||
		(state == enumspb.CALLBACK_STATE_SUCCEEDED) != (d.Callbacks[0].Attempt == 1) {
		t.Fatalf("callbacks: %v", d.Callbacks)
	}
}

// An update-backed operation whose server is killed (-9) while the update
// runs: the update's completion still reaches the caller after the restart.
func TestNexusUpdateOperationAcrossKill9(t *testing.T) {
	p := startNexusPairWith(t, updateCallbacksConfig)
	p.startUpdatable(t, "updatable-kill9")
	run := p.startUpdateCall(t, "nexus-update-kill9", nexusUpdateInput{WorkflowID: "updatable-kill9", Value: "held"})
	waitForEvent(t, p.caller, run.GetID(), run.GetRunID(), enumspb.EVENT_TYPE_NEXUS_OPERATION_STARTED, 30*time.Second)
	p.srv.Kill9()
	p.srv.Restart(t)
	requireNoError(t, p.handler.SignalWorkflow(testCtx(t, 30*time.Second), "updatable-kill9", "", "release", nil), "release")
	p.requireCompletedAsync(t, run, "from pending to held")
}
