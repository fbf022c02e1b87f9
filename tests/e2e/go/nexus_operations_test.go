package e2e

import (
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nexus-rpc/sdk-go/nexus"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	nexuspb "go.temporal.io/api/nexus/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
)

const nexusHandlerNamespace = "nexus-handler"

// nexusPair is a caller (namespace "default") and a handler (namespace
// nexus-handler) joined by an endpoint, each with a worker.
type nexusPair struct {
	srv        *server
	caller     client.Client
	handler    client.Client
	endpoint   string
	callerTQ   string
	handlerTQ  string
	flakyCalls atomic.Int32
}

func startNexusPair(t *testing.T) *nexusPair {
	t.Helper()
	return startNexusPairWith(t, nil)
}

// startNexusPairWith starts the pair on a server given these dynamic config values.
func startNexusPairWith(t *testing.T, dynamicConfig []string) *nexusPair {
	t.Helper()
	return startNexusPairWithArgs(t, dynamicConfig, nil)
}

// startNexusPairWithArgs also passes these flags to the server.
func startNexusPairWithArgs(t *testing.T, dynamicConfig, args []string) *nexusPair {
	t.Helper()
	p := &nexusPair{srv: startServer(t, serverOptions{Namespaces: []string{nexusHandlerNamespace},
		DynamicConfig: dynamicConfig, ExtraArgs: args})}
	p.caller = newClient(t, p.srv.Addr(), "default")
	p.handler = newClient(t, p.srv.Addr(), nexusHandlerNamespace)
	p.callerTQ = taskQueueFor(t) + "-caller"
	p.handlerTQ = taskQueueFor(t) + "-handler"
	p.endpoint = "ep-" + strings.ReplaceAll(strings.ToLower(t.Name()), "_", "-")
	_, err := p.caller.OperatorService().CreateNexusEndpoint(testCtx(t, 10*time.Second), &operatorservice.CreateNexusEndpointRequest{
		Spec: &nexuspb.EndpointSpec{
			Name: p.endpoint,
			Target: &nexuspb.EndpointTarget{Variant: &nexuspb.EndpointTarget_Worker_{Worker: &nexuspb.EndpointTarget_Worker{
				Namespace: nexusHandlerNamespace, TaskQueue: p.handlerTQ}}},
		},
	})
	requireNoError(t, err, "create endpoint")
	hw := worker.New(p.handler, p.handlerTQ, worker.Options{})
	hw.RegisterNexusService(newNexusService(&p.flakyCalls))
	hw.RegisterWorkflow(NexusHandlerWorkflow)
	hw.RegisterWorkflow(NexusUpdatableWorkflow)
	if err := hw.Start(); err != nil {
		t.Fatalf("handler worker: %v", err)
	}
	t.Cleanup(hw.Stop)
	startWorker(t, p.caller, p.callerTQ, func(r worker.Registry) { r.RegisterWorkflow(NexusCallerWorkflow) })
	return p
}

// idleEndpoint creates an endpoint whose task queue no worker polls.
func (p *nexusPair) idleEndpoint(t *testing.T) string {
	t.Helper()
	idle := p.endpoint + "-idle"
	_, err := p.caller.OperatorService().CreateNexusEndpoint(testCtx(t, 10*time.Second), &operatorservice.CreateNexusEndpointRequest{
		Spec: &nexuspb.EndpointSpec{
			Name: idle,
			Target: &nexuspb.EndpointTarget{Variant: &nexuspb.EndpointTarget_Worker_{Worker: &nexuspb.EndpointTarget_Worker{
				Namespace: nexusHandlerNamespace, TaskQueue: p.handlerTQ + "-nobody"}}},
		},
	})
	requireNoError(t, err, "create idle endpoint")
	return idle
}

func (p *nexusPair) start(t *testing.T, id string, call nexusCall) client.WorkflowRun {
	t.Helper()
	call.Endpoint = p.endpoint
	run, err := p.caller.ExecuteWorkflow(testCtx(t, 10*time.Second),
		client.StartWorkflowOptions{ID: id, TaskQueue: p.callerTQ}, NexusCallerWorkflow, call)
	requireNoError(t, err, "start caller")
	return run
}

// The caller's history, checked for gapless ids and replayed.
func (p *nexusPair) callerHistory(t *testing.T, run client.WorkflowRun) []*historypb.HistoryEvent {
	t.Helper()
	events := getHistory(t, p.caller, run.GetID(), run.GetRunID())
	requireGaplessEventIDs(t, events)
	replayHistory(t, events, NexusCallerWorkflow)
	return events
}

func nexusEventTypes(events []*historypb.HistoryEvent) []enumspb.EventType {
	var out []enumspb.EventType
	for _, e := range events {
		if strings.Contains(e.EventType.String(), "Nexus") {
			out = append(out, e.EventType)
		}
	}
	return out
}

func requireNexusEvents(t *testing.T, events []*historypb.HistoryEvent, want ...enumspb.EventType) {
	t.Helper()
	got := nexusEventTypes(events)
	if len(got) != len(want) {
		t.Fatalf("Nexus events %v, want %v\n%s", got, want, formatHistory(events))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("Nexus events %v, want %v\n%s", got, want, formatHistory(events))
		}
	}
}

// A synchronous operation across two namespaces: its result, and the
// scheduled and completed events.
func TestNexusSyncOperation(t *testing.T) {
	p := startNexusPair(t)
	run := p.start(t, "nexus-sync", nexusCall{Operation: "echo", Input: "hi", Timeout: time.Minute})
	var out string
	requireNoError(t, getResult(t, p.caller, run, 30*time.Second, &out), "caller result")
	if out != "echo: hi" {
		t.Fatalf("result %q", out)
	}
	events := p.callerHistory(t, run)
	requireNexusEvents(t, events, enumspb.EVENT_TYPE_NEXUS_OPERATION_SCHEDULED, enumspb.EVENT_TYPE_NEXUS_OPERATION_COMPLETED)
	scheduled := eventsOfType(events, enumspb.EVENT_TYPE_NEXUS_OPERATION_SCHEDULED)[0].GetNexusOperationScheduledEventAttributes()
	if scheduled.Endpoint != p.endpoint || scheduled.Service != nexusServiceName || scheduled.Operation != "echo" ||
		scheduled.RequestId == "" || scheduled.EndpointId == "" {
		t.Fatalf("scheduled event: %v", scheduled)
	}
}

// An operation backed by a workflow in the handler namespace: started, then
// completed when that workflow completes; links join the two histories.
func TestNexusAsyncWorkflowOperation(t *testing.T) {
	p := startNexusPair(t)
	run := p.start(t, "nexus-async", nexusCall{Operation: "greet", Input: "async-1", Timeout: time.Minute})
	var out string
	requireNoError(t, getResult(t, p.caller, run, 30*time.Second, &out), "caller result")
	if out != "hello async-1" {
		t.Fatalf("result %q", out)
	}
	events := p.callerHistory(t, run)
	requireNexusEvents(t, events, enumspb.EVENT_TYPE_NEXUS_OPERATION_SCHEDULED, enumspb.EVENT_TYPE_NEXUS_OPERATION_STARTED,
		enumspb.EVENT_TYPE_NEXUS_OPERATION_COMPLETED)
	started := eventsOfType(events, enumspb.EVENT_TYPE_NEXUS_OPERATION_STARTED)[0]
	if started.GetNexusOperationStartedEventAttributes().OperationToken == "" {
		t.Fatalf("no operation token: %v", started)
	}
	handlerEvents := getHistory(t, p.handler, nexusHandlerWorkflowID("async-1"), "")
	replayHistory(t, handlerEvents, NexusHandlerWorkflow)
	first := handlerEvents[0].GetWorkflowExecutionStartedEventAttributes()
	if len(first.CompletionCallbacks) != 1 {
		t.Fatalf("handler run has no completion callback: %v", first)
	}
	// The callback carries the link back to the caller's scheduled event.
	if l := first.CompletionCallbacks[0].Links; len(l) == 0 || l[0].GetWorkflowEvent().GetWorkflowId() != run.GetID() ||
		l[0].GetWorkflowEvent().GetEventRef().GetEventType() != enumspb.EVENT_TYPE_NEXUS_OPERATION_SCHEDULED {
		t.Fatalf("handler's callback does not link to the caller: %v", l)
	}
	// Describe lists the callback, reported once the run has closed.
	desc, err := p.handler.DescribeWorkflowExecution(testCtx(t, 5*time.Second), nexusHandlerWorkflowID("async-1"), "")
	requireNoError(t, err, "describe the handler workflow")
	if cbs := desc.Callbacks; len(cbs) != 1 || cbs[0].GetTrigger().GetWorkflowClosed() == nil ||
		cbs[0].State != enumspb.CALLBACK_STATE_SUCCEEDED || cbs[0].GetCallback().GetNexus().GetUrl() == "" ||
		cbs[0].RegistrationTime == nil {
		t.Fatalf("described callbacks: %v", cbs)
	}
}

// A handler workflow that continues as new passes its completion callback to
// the next run, whose close completes the operation; a cron handler
// workflow's first run reports to the callback and the next cron run has none
// (Temporal's rules: continue-as-new and retries inherit callbacks, cron runs
// do not).
func TestNexusHandlerContinueAsNewAndCron(t *testing.T) {
	p := startNexusPair(t)
	run := p.start(t, "nexus-can", nexusCall{Operation: "greet", Input: "continue-1", Timeout: time.Minute})
	var out string
	requireNoError(t, getResult(t, p.caller, run, 30*time.Second, &out), "caller result")
	if out != "hello after continue-1" {
		t.Fatalf("result %q", out)
	}
	requireNexusEvents(t, p.callerHistory(t, run), enumspb.EVENT_TYPE_NEXUS_OPERATION_SCHEDULED,
		enumspb.EVENT_TYPE_NEXUS_OPERATION_STARTED, enumspb.EVENT_TYPE_NEXUS_OPERATION_COMPLETED)
	handlerID := nexusHandlerWorkflowID("continue-1")
	second := getHistory(t, p.handler, handlerID, "")
	replayHistory(t, second, NexusHandlerWorkflow)
	attrs := second[0].GetWorkflowExecutionStartedEventAttributes()
	if attrs.ContinuedExecutionRunId == "" || len(attrs.CompletionCallbacks) != 1 {
		t.Fatalf("the continued run does not carry the callback: %v", attrs)
	}
	first := getHistory(t, p.handler, handlerID, attrs.ContinuedExecutionRunId)
	replayHistory(t, first, NexusHandlerWorkflow)
	requireEventTypes(t, first[len(first)-1:], enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW)

	run = p.start(t, "nexus-cron", nexusCall{Operation: "greet", Input: "cron-1", Timeout: time.Minute})
	requireNoError(t, getResult(t, p.caller, run, 30*time.Second, &out), "cron caller result")
	if out != "hello cron-1" {
		t.Fatalf("cron result %q", out)
	}
	requireNexusEvents(t, p.callerHistory(t, run), enumspb.EVENT_TYPE_NEXUS_OPERATION_SCHEDULED,
		enumspb.EVENT_TYPE_NEXUS_OPERATION_STARTED, enumspb.EVENT_TYPE_NEXUS_OPERATION_COMPLETED)
	cronID := nexusHandlerWorkflowID("cron-1")
	next := getHistory(t, p.handler, cronID, "")
	nextAttrs := next[0].GetWorkflowExecutionStartedEventAttributes()
	if nextAttrs.Initiator != enumspb.CONTINUE_AS_NEW_INITIATOR_CRON_SCHEDULE || len(nextAttrs.CompletionCallbacks) != 0 {
		t.Fatalf("the next cron run: %v", nextAttrs)
	}
	_, err := p.handler.WorkflowService().TerminateWorkflowExecution(testCtx(t, 5*time.Second),
		&workflowservice.TerminateWorkflowExecutionRequest{Namespace: nexusHandlerNamespace,
			WorkflowExecution: &commonpb.WorkflowExecution{WorkflowId: cronID}})
	requireNoError(t, err, "terminate the cron workflow")
}

// Handler errors: a non-retryable one fails the operation at once, a
// retryable one is retried until the handler succeeds; an operation error
// fails it with the handler's message.
func TestNexusHandlerErrors(t *testing.T) {
	p := startNexusPair(t)

	run := p.start(t, "nexus-bad-request", nexusCall{Operation: "fail", Input: "nope", Timeout: time.Minute})
	err := getResult(t, p.caller, run, 30*time.Second, nil)
	var opErr *temporal.NexusOperationError
	if !errors.As(err, &opErr) {
		t.Fatalf("want a NexusOperationError, got %v", describeErr(err))
	}
	var handlerErr *nexus.HandlerError
	if !errors.As(err, &handlerErr) || handlerErr.Type != nexus.HandlerErrorTypeBadRequest {
		t.Fatalf("want a BAD_REQUEST handler error, got %v", describeErr(err))
	}
	events := p.callerHistory(t, run)
	requireNexusEvents(t, events, enumspb.EVENT_TYPE_NEXUS_OPERATION_SCHEDULED, enumspb.EVENT_TYPE_NEXUS_OPERATION_FAILED)
	failure := eventsOfType(events, enumspb.EVENT_TYPE_NEXUS_OPERATION_FAILED)[0].GetNexusOperationFailedEventAttributes().Failure
	if failure.Message != "nexus operation completed unsuccessfully" || failure.GetNexusOperationExecutionFailureInfo() == nil ||
		failure.Cause.GetNexusHandlerFailureInfo().GetType() != "BAD_REQUEST" {
		t.Fatalf("failure: %v", failure)
	}

	run = p.start(t, "nexus-operation-error", nexusCall{Operation: "fail", Input: "operation", Timeout: time.Minute})
	err = getResult(t, p.caller, run, 30*time.Second, nil)
	var appErr *temporal.ApplicationError
	if !errors.As(err, &opErr) || !errors.As(err, &appErr) || !strings.Contains(err.Error(), "the operation failed") {
		t.Fatalf("want an operation error with the handler's message, got %v", describeErr(err))
	}
	p.callerHistory(t, run)

	run = p.start(t, "nexus-flaky", nexusCall{Operation: "flaky", Input: "x", Timeout: time.Minute})
	var out string
	requireNoError(t, getResult(t, p.caller, run, 30*time.Second, &out), "flaky result")
	if out != "recovered x" || p.flakyCalls.Load() != 3 {
		t.Fatalf("result %q after %d calls", out, p.flakyCalls.Load())
	}
	requireNexusEvents(t, p.callerHistory(t, run), enumspb.EVENT_TYPE_NEXUS_OPERATION_SCHEDULED,
		enumspb.EVENT_TYPE_NEXUS_OPERATION_COMPLETED)
}

// The command's schedule-to-start timeout ends an operation that a retryable
// handler error keeps from starting; its start-to-close timeout ends one
// started but not finished in time. Each writes NexusOperationTimedOut with
// its timeout type, and the scheduled event carries the timeouts.
func TestNexusOperationStartTimeouts(t *testing.T) {
	p := startNexusPair(t)
	requireTimedOut := func(run client.WorkflowRun, want enumspb.TimeoutType, nexusEvents ...enumspb.EventType) {
		t.Helper()
		err := getResult(t, p.caller, run, 30*time.Second, nil)
		var timeoutErr *temporal.TimeoutError
		if !errors.As(err, &timeoutErr) || timeoutErr.TimeoutType() != want {
			t.Fatalf("want a %v timeout, got %v", want, describeErr(err))
		}
		events := p.callerHistory(t, run)
		requireNexusEvents(t, events, nexusEvents...)
		timedOut := eventsOfType(events, enumspb.EVENT_TYPE_NEXUS_OPERATION_TIMED_OUT)[0].GetNexusOperationTimedOutEventAttributes()
		if f := timedOut.Failure; f.Message != "nexus operation completed unsuccessfully" ||
			f.Cause.Message != "operation timed out" || f.Cause.GetTimeoutFailureInfo().GetTimeoutType() != want {
			t.Fatalf("timed-out failure: %v", f)
		}
	}

	run := p.start(t, "nexus-schedule-to-start", nexusCall{Operation: "fail", Input: "unavailable", Timeout: time.Minute,
		ScheduleToStart: 2 * time.Second})
	requireTimedOut(run, enumspb.TIMEOUT_TYPE_SCHEDULE_TO_START, enumspb.EVENT_TYPE_NEXUS_OPERATION_SCHEDULED,
		enumspb.EVENT_TYPE_NEXUS_OPERATION_TIMED_OUT)
	scheduled := eventsOfType(getHistory(t, p.caller, run.GetID(), ""), enumspb.EVENT_TYPE_NEXUS_OPERATION_SCHEDULED)[0].
		GetNexusOperationScheduledEventAttributes()
	if scheduled.ScheduleToStartTimeout.AsDuration() != 2*time.Second ||
		scheduled.ScheduleToCloseTimeout.AsDuration() != time.Minute {
		t.Fatalf("scheduled event: %v", scheduled)
	}

	run = p.start(t, "nexus-start-to-close", nexusCall{Operation: "greet", Input: "wait-start-to-close", Timeout: time.Minute,
		StartToClose: 2 * time.Second})
	requireTimedOut(run, enumspb.TIMEOUT_TYPE_START_TO_CLOSE, enumspb.EVENT_TYPE_NEXUS_OPERATION_SCHEDULED,
		enumspb.EVENT_TYPE_NEXUS_OPERATION_STARTED, enumspb.EVENT_TYPE_NEXUS_OPERATION_TIMED_OUT)
	// Longer than schedule-to-close: written as schedule-to-close, as Temporal trims it.
	run = p.start(t, "nexus-start-to-close-trimmed", nexusCall{Operation: "greet", Input: "wait-trimmed", Timeout: 3 * time.Second,
		StartToClose: time.Hour})
	requireTimedOut(run, enumspb.TIMEOUT_TYPE_SCHEDULE_TO_CLOSE, enumspb.EVENT_TYPE_NEXUS_OPERATION_SCHEDULED,
		enumspb.EVENT_TYPE_NEXUS_OPERATION_STARTED, enumspb.EVENT_TYPE_NEXUS_OPERATION_TIMED_OUT)
	scheduled = eventsOfType(getHistory(t, p.caller, run.GetID(), ""), enumspb.EVENT_TYPE_NEXUS_OPERATION_SCHEDULED)[0].
		GetNexusOperationScheduledEventAttributes()
	if scheduled.StartToCloseTimeout.AsDuration() != 3*time.Second {
		t.Fatalf("scheduled event: %v", scheduled)
	}
}

// A schedule-to-close timeout ends an operation whose workflow runs on.
func TestNexusOperationTimeout(t *testing.T) {
	p := startNexusPair(t)
	run := p.start(t, "nexus-timeout", nexusCall{Operation: "greet", Input: "wait-timeout", Timeout: 4 * time.Second})
	err := getResult(t, p.caller, run, 30*time.Second, nil)
	var timeoutErr *temporal.TimeoutError
	if !errors.As(err, &timeoutErr) || timeoutErr.TimeoutType() != enumspb.TIMEOUT_TYPE_SCHEDULE_TO_CLOSE {
		t.Fatalf("want a schedule-to-close timeout, got %v", describeErr(err))
	}
	// Temporal's dev server may still be finding the new endpoint when the
	// time is up (then nothing started); Kairos starts the operation at once.
	events := p.callerHistory(t, run)
	want := []enumspb.EventType{enumspb.EVENT_TYPE_NEXUS_OPERATION_SCHEDULED, enumspb.EVENT_TYPE_NEXUS_OPERATION_STARTED,
		enumspb.EVENT_TYPE_NEXUS_OPERATION_TIMED_OUT}
	if againstTemporal(t) && len(nexusEventTypes(events)) == 2 {
		want = []enumspb.EventType{want[0], want[2]}
	}
	requireNexusEvents(t, events, want...)
}

// Cancelling a started operation cancels its workflow; the caller sees the
// cancel request delivered, then the operation canceled.
func TestNexusOperationCancel(t *testing.T) {
	p := startNexusPair(t)
	run := p.start(t, "nexus-cancel", nexusCall{Operation: "greet", Input: "wait-cancel", Timeout: time.Minute,
		CancelAfterStart: true})
	err := getResult(t, p.caller, run, 30*time.Second, nil)
	var canceled *temporal.CanceledError
	if !errors.As(err, &canceled) {
		t.Fatalf("want a canceled error, got %v", describeErr(err))
	}
	// The handler's answer to the cancel request and the canceled outcome
	// race: when the outcome is recorded first (seen on a loaded machine),
	// the operation is no longer pending and the answer has nothing to add.
	events := p.callerHistory(t, run)
	want := []enumspb.EventType{enumspb.EVENT_TYPE_NEXUS_OPERATION_SCHEDULED,
		enumspb.EVENT_TYPE_NEXUS_OPERATION_STARTED, enumspb.EVENT_TYPE_NEXUS_OPERATION_CANCEL_REQUESTED,
		enumspb.EVENT_TYPE_NEXUS_OPERATION_CANCEL_REQUEST_COMPLETED, enumspb.EVENT_TYPE_NEXUS_OPERATION_CANCELED}
	if len(nexusEventTypes(events)) == len(want)-1 {
		want = append(want[:3], want[4])
	}
	requireNexusEvents(t, events, want...)
	desc, err := p.handler.DescribeWorkflowExecution(testCtx(t, 10*time.Second), nexusHandlerWorkflowID("wait-cancel"), "")
	requireNoError(t, err, "describe handler workflow")
	if desc.WorkflowExecutionInfo.Status != enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED {
		t.Fatalf("handler workflow %v", desc.WorkflowExecutionInfo.Status)
	}
}

// An asynchronous operation whose server is killed (-9) after it started:
// the handler's completion still reaches the caller after the restart.
func TestNexusAsyncOperationAcrossKill9(t *testing.T) {
	p := startNexusPair(t)
	run := p.start(t, "nexus-kill9", nexusCall{Operation: "greet", Input: "wait-kill9", Timeout: 2 * time.Minute})
	waitForEvent(t, p.caller, run.GetID(), run.GetRunID(), enumspb.EVENT_TYPE_NEXUS_OPERATION_STARTED, 30*time.Second)
	desc, err := p.caller.DescribeWorkflowExecution(testCtx(t, 10*time.Second), run.GetID(), run.GetRunID())
	requireNoError(t, err, "describe caller")
	if ops := desc.PendingNexusOperations; len(ops) != 1 || ops[0].State != enumspb.PENDING_NEXUS_OPERATION_STATE_STARTED ||
		ops[0].Endpoint != p.endpoint || ops[0].OperationToken == "" {
		t.Fatalf("pending Nexus operations: %v", ops)
	}
	p.srv.Kill9()
	p.srv.Restart(t)
	p.finishHandler(t, "wait-kill9", "done after restart")
	p.requireCompletedAsync(t, run, "done after restart")
}

// finishHandler signals the handler workflow of the operation given `input`
// to return `value`.
func (p *nexusPair) finishHandler(t *testing.T, input, value string) {
	t.Helper()
	err := p.handler.SignalWorkflow(testCtx(t, 30*time.Second), nexusHandlerWorkflowID(input), "", "finish", value)
	requireNoError(t, err, "signal handler workflow")
}

// requireCompletedAsync waits for the caller's result `want`, from an
// operation that started, then completed.
func (p *nexusPair) requireCompletedAsync(t *testing.T, run client.WorkflowRun, want string) {
	t.Helper()
	var out string
	requireNoError(t, getResult(t, p.caller, run, 60*time.Second, &out), "caller result")
	if out != want {
		t.Fatalf("result %q, want %q", out, want)
	}
	requireNexusEvents(t, p.callerHistory(t, run), enumspb.EVENT_TYPE_NEXUS_OPERATION_SCHEDULED,
		enumspb.EVENT_TYPE_NEXUS_OPERATION_STARTED, enumspb.EVENT_TYPE_NEXUS_OPERATION_COMPLETED)
}

// An operation whose handler never picks up the start request (no worker on
// the endpoint's queue) stays pending when the caller cancels it, as on
// Temporal (its cancel request waits for the start), until it times out.
func TestNexusCancelBeforeStart(t *testing.T) {
	p := startNexusPair(t)
	idle := p.idleEndpoint(t)
	run, err := p.caller.ExecuteWorkflow(testCtx(t, 10*time.Second),
		client.StartWorkflowOptions{ID: "nexus-cancel-before-start", TaskQueue: p.callerTQ}, NexusCallerWorkflow,
		nexusCall{Endpoint: idle, Operation: "echo", Input: "x", Timeout: 4 * time.Second, CancelAfter: time.Second})
	requireNoError(t, err, "start caller")
	err = getResult(t, p.caller, run, 30*time.Second, nil)
	var timeoutErr *temporal.TimeoutError
	if !errors.As(err, &timeoutErr) {
		t.Fatalf("want a timeout, got %v", describeErr(err))
	}
	requireNexusEvents(t, p.callerHistory(t, run), enumspb.EVENT_TYPE_NEXUS_OPERATION_SCHEDULED,
		enumspb.EVENT_TYPE_NEXUS_OPERATION_CANCEL_REQUESTED, enumspb.EVENT_TYPE_NEXUS_OPERATION_TIMED_OUT)
}

// With less time left than component.nexusoperations.limit.request.timeout.min
// (1.5 s) before its timeout, no start request is sent: the operation times
// out at once, as on Temporal, instead of calling a handler that cannot
// answer in time.
func TestNexusOperationBelowMinRequestTime(t *testing.T) {
	p := startNexusPair(t)
	run := p.start(t, "nexus-below-min", nexusCall{Operation: "greet", Input: "wait-below-min", Timeout: time.Second})
	err := getResult(t, p.caller, run, 30*time.Second, nil)
	var timeoutErr *temporal.TimeoutError
	if !errors.As(err, &timeoutErr) || timeoutErr.TimeoutType() != enumspb.TIMEOUT_TYPE_SCHEDULE_TO_CLOSE {
		t.Fatalf("want a schedule-to-close timeout, got %v", describeErr(err))
	}
	events := p.callerHistory(t, run)
	requireNexusEvents(t, events, enumspb.EVENT_TYPE_NEXUS_OPERATION_SCHEDULED, enumspb.EVENT_TYPE_NEXUS_OPERATION_TIMED_OUT)
	scheduled := eventsOfType(events, enumspb.EVENT_TYPE_NEXUS_OPERATION_SCHEDULED)[0]
	timedOut := eventsOfType(events, enumspb.EVENT_TYPE_NEXUS_OPERATION_TIMED_OUT)[0]
	if gap := eventGap(scheduled, timedOut); gap >= 900*time.Millisecond {
		t.Fatalf("timed out %v after it was scheduled, want at once (before the 1 s timeout)", gap)
	}
	if f := timedOut.GetNexusOperationTimedOutEventAttributes().Failure; f.Cause.Message != "operation timed out" {
		t.Fatalf("timed-out failure: %v", f)
	}
}

// A cancel request with less than that minimum left before schedule-to-close
// is not sent either: it fails at once (recorded as Temporal records it), the
// handler's run is not canceled, and the operation times out.
func TestNexusCancelBelowMinRequestTime(t *testing.T) {
	p := startNexusPair(t)
	run := p.start(t, "nexus-cancel-below-min", nexusCall{Operation: "greet", Input: "wait-cancel-below-min",
		Timeout: 2500 * time.Millisecond, CancelAfter: 1200 * time.Millisecond})
	err := getResult(t, p.caller, run, 30*time.Second, nil)
	var timeoutErr *temporal.TimeoutError
	if !errors.As(err, &timeoutErr) || timeoutErr.TimeoutType() != enumspb.TIMEOUT_TYPE_SCHEDULE_TO_CLOSE {
		t.Fatalf("want a schedule-to-close timeout, got %v", describeErr(err))
	}
	events := p.callerHistory(t, run)
	for _, e := range eventsOfType(events, enumspb.EVENT_TYPE_NEXUS_OPERATION_CANCEL_REQUEST_FAILED) {
		f := e.GetNexusOperationCancelRequestFailedEventAttributes().GetFailure()
		if f.GetMessage() != "not enough time to execute another request before ScheduleToClose timeout" {
			t.Fatalf("cancel request failure: %v", f)
		}
	}
	if len(eventsOfType(events, enumspb.EVENT_TYPE_NEXUS_OPERATION_CANCEL_REQUEST_COMPLETED)) != 0 {
		t.Fatalf("the cancel request completed; it should not have been sent: %v", nexusEventTypes(events))
	}
	desc, err := p.handler.DescribeWorkflowExecution(testCtx(t, 10*time.Second), nexusHandlerWorkflowID("wait-cancel-below-min"), "")
	requireNoError(t, err, "describe the handler's run")
	if st := desc.GetWorkflowExecutionInfo().GetStatus(); st != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		t.Fatalf("handler run is %v, want still running (no cancel reached it)", st)
	}
	p.finishHandler(t, "wait-cancel-below-min", "late")
}
