package e2e

import (
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	taskqueuepb "go.temporal.io/api/taskqueue/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"google.golang.org/protobuf/proto"
)

// The links a Nexus handler's requests carry and get back, as Temporal
// writes and answers them: a start's links on the started event and a link
// to that event in the answer; a signal's links on the signaled event and a
// request-id link to it in the answer (signal and signal-with-start); a start
// that uses the running workflow attaches its request id and links with an
// options-updated event and answers a request-id link to that event.
func TestNexusHandlerRequestLinks(t *testing.T) {
	srv := startServer(t, serverOptions{})
	c := newClient(t, srv.Addr(), "default")
	svc := c.WorkflowService()
	ctx := testCtx(t, 20*time.Second)
	id := "links-" + taskQueueFor(t)
	callerLink := func(eventID int64) *commonpb.Link {
		return &commonpb.Link{Variant: &commonpb.Link_WorkflowEvent_{WorkflowEvent: &commonpb.Link_WorkflowEvent{
			Namespace: "default", WorkflowId: "the-caller", RunId: "5a1f8a52-3f4a-4c57-8f0e-6a2b1b9c0d11",
			Reference: &commonpb.Link_WorkflowEvent_EventRef{EventRef: &commonpb.Link_WorkflowEvent_EventReference{
				EventId: eventID, EventType: enumspb.EVENT_TYPE_NEXUS_OPERATION_SCHEDULED}}}}}
	}
	requestIDLink := func(runID, requestID string, et enumspb.EventType) *commonpb.Link {
		return &commonpb.Link{Variant: &commonpb.Link_WorkflowEvent_{WorkflowEvent: &commonpb.Link_WorkflowEvent{
			Namespace: "default", WorkflowId: id, RunId: runID,
			Reference: &commonpb.Link_WorkflowEvent_RequestIdRef{RequestIdRef: &commonpb.Link_WorkflowEvent_RequestIdReference{
				RequestId: requestID, EventType: et}}}}}
	}
	requireLinks := func(what string, got []*commonpb.Link, want ...*commonpb.Link) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("%s: %d links, want %d: %v", what, len(got), len(want), got)
		}
		for i := range want {
			if !proto.Equal(got[i], want[i]) {
				t.Fatalf("%s: link %d is %v, want %v", what, i, got[i], want[i])
			}
		}
	}
	startReq := func(requestID string, link *commonpb.Link) *workflowservice.StartWorkflowExecutionRequest {
		return &workflowservice.StartWorkflowExecutionRequest{
			Namespace: "default", WorkflowId: id, RequestId: requestID,
			WorkflowType: &commonpb.WorkflowType{Name: "NoWorkerWorkflow"},
			TaskQueue:    &taskqueuepb.TaskQueue{Name: taskQueueFor(t)},
			Links:        []*commonpb.Link{link},
		}
	}

	started, err := svc.StartWorkflowExecution(ctx, startReq("start-1", callerLink(5)))
	requireNoError(t, err, "start")
	runID := started.RunId
	requireLinks("start answer", []*commonpb.Link{started.Link}, &commonpb.Link{Variant: &commonpb.Link_WorkflowEvent_{
		WorkflowEvent: &commonpb.Link_WorkflowEvent{Namespace: "default", WorkflowId: id, RunId: runID,
			Reference: &commonpb.Link_WorkflowEvent_EventRef{EventRef: &commonpb.Link_WorkflowEvent_EventReference{
				EventId: 1, EventType: enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED}}}}})

	signaled, err := svc.SignalWorkflowExecution(ctx, &workflowservice.SignalWorkflowExecutionRequest{
		Namespace: "default", WorkflowExecution: &commonpb.WorkflowExecution{WorkflowId: id},
		SignalName: "ping", RequestId: "signal-1", Links: []*commonpb.Link{callerLink(7)},
	})
	requireNoError(t, err, "signal")
	requireLinks("signal answer", []*commonpb.Link{signaled.Link},
		requestIDLink(runID, "signal-1", enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED))

	sws, err := svc.SignalWithStartWorkflowExecution(ctx, &workflowservice.SignalWithStartWorkflowExecutionRequest{
		Namespace: "default", WorkflowId: id, RequestId: "signal-2",
		WorkflowType: &commonpb.WorkflowType{Name: "NoWorkerWorkflow"},
		TaskQueue:    &taskqueuepb.TaskQueue{Name: taskQueueFor(t)},
		SignalName:   "ping", Links: []*commonpb.Link{callerLink(9)},
	})
	requireNoError(t, err, "signal-with-start")
	if sws.Started || sws.RunId != runID {
		t.Fatalf("signal-with-start started %v run %s, want the running run %s", sws.Started, sws.RunId, runID)
	}
	requireLinks("signal-with-start answer", []*commonpb.Link{sws.SignalLink},
		requestIDLink(runID, "signal-2", enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED))

	again := startReq("start-2", callerLink(11))
	again.WorkflowIdConflictPolicy = enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING
	again.OnConflictOptions = &workflowpb.OnConflictOptions{AttachRequestId: true, AttachLinks: true}
	reused, err := svc.StartWorkflowExecution(ctx, again)
	requireNoError(t, err, "start with use-existing")
	if reused.Started || reused.RunId != runID {
		t.Fatalf("use-existing start started %v run %s, want the running run %s", reused.Started, reused.RunId, runID)
	}
	requireLinks("use-existing answer", []*commonpb.Link{reused.Link},
		requestIDLink(runID, "start-2", enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_OPTIONS_UPDATED))

	events := getHistory(t, c, id, runID)
	requireGaplessEventIDs(t, events)
	requireLinks("started event", events[0].Links, callerLink(5))
	signals := eventsOfType(events, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED)
	if len(signals) != 2 {
		t.Fatalf("want 2 signaled events:\n%s", formatHistory(events))
	}
	requireLinks("first signaled event", signals[0].Links, callerLink(7))
	requireLinks("second signaled event", signals[1].Links, callerLink(9))
	updated := eventsOfType(events, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_OPTIONS_UPDATED)
	if len(updated) != 1 {
		t.Fatalf("want 1 options-updated event:\n%s", formatHistory(events))
	}
	if a := updated[0].GetWorkflowExecutionOptionsUpdatedEventAttributes(); a.AttachedRequestId != "start-2" ||
		len(a.AttachedCompletionCallbacks) != 0 || !updated[0].WorkerMayIgnore {
		t.Fatalf("options-updated event: %v", updated[0])
	}
	requireLinks("options-updated event", updated[0].Links, callerLink(11))
}
