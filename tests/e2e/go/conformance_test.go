package e2e

// Behaviour that Temporal's features suite (temporalio/features) found
// different on Kairos, each pinned here so that it stays as on Temporal:
// up-front request validation, long-poll deadlines, updates when a run
// closes or continues as new, a panicking update handler, schedule-to-start
// timeouts, eager workflow start and eager activities, and no tight loop on
// a workflow task that keeps being refused.

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	commandpb "go.temporal.io/api/command/v1"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/errordetails/v1"
	historypb "go.temporal.io/api/history/v1"
	protocolpb "go.temporal.io/api/protocol/v1"
	"go.temporal.io/api/serviceerror"
	taskqueuepb "go.temporal.io/api/taskqueue/v1"
	updatepb "go.temporal.io/api/update/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
)

func requireStatus(t *testing.T, what string, err error, code codes.Code, message string) {
	t.Helper()
	st := serviceerror.ToStatus(err)
	if st.Code() != code || (message != "" && st.Message() != message) {
		t.Errorf("%s: got %v %q, want %v %q", what, st.Code(), st.Message(), code, message)
	}
}

func startRaw(t *testing.T, ctx context.Context, svc workflowservice.WorkflowServiceClient, wfID, queue string,
	edit func(*workflowservice.StartWorkflowExecutionRequest)) *workflowservice.StartWorkflowExecutionResponse {
	t.Helper()
	req := &workflowservice.StartWorkflowExecutionRequest{
		Namespace:           "default",
		WorkflowId:          wfID,
		WorkflowType:        &commonpb.WorkflowType{Name: "Manual"},
		TaskQueue:           &taskqueuepb.TaskQueue{Name: queue},
		WorkflowTaskTimeout: durationpb.New(time.Second),
		Identity:            "starter",
	}
	if edit != nil {
		edit(req)
	}
	resp, err := svc.StartWorkflowExecution(ctx, req)
	if err != nil {
		t.Fatalf("StartWorkflowExecution(%s): %v", wfID, err)
	}
	return resp
}

func completeCommand() *commandpb.Command {
	return &commandpb.Command{
		CommandType: enumspb.COMMAND_TYPE_COMPLETE_WORKFLOW_EXECUTION,
		Attributes: &commandpb.Command_CompleteWorkflowExecutionCommandAttributes{
			CompleteWorkflowExecutionCommandAttributes: &commandpb.CompleteWorkflowExecutionCommandAttributes{}},
	}
}

func protocolMessage(id string) *commandpb.Command {
	return &commandpb.Command{
		CommandType: enumspb.COMMAND_TYPE_PROTOCOL_MESSAGE,
		Attributes: &commandpb.Command_ProtocolMessageCommandAttributes{
			ProtocolMessageCommandAttributes: &commandpb.ProtocolMessageCommandAttributes{MessageId: id}},
	}
}

func TestRequestValidationAsTemporal(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOptions{})
	svc := rawService(t, srv.Addr())
	ctx := testCtx(t, 30*time.Second)
	queue := taskQueueFor(t)
	run := startRaw(t, ctx, svc, "validated", queue, nil)

	// The features suite's readiness probe: a run id that is no UUID.
	_, err := svc.DescribeWorkflowExecution(ctx, &workflowservice.DescribeWorkflowExecutionRequest{
		Namespace: "default", Execution: &commonpb.WorkflowExecution{WorkflowId: "!sonotreal", RunId: "superneverexistwf!"}})
	requireStatus(t, "describe with a bad run id", err, codes.InvalidArgument, "Invalid RunId.")
	// A well-formed unknown run is NOT_FOUND; the other UUID spellings are accepted.
	for _, runID := range []string{"11111111-2222-3333-4444-555555555555", "11111111222233334444555555555555",
		"{11111111-2222-3333-4444-555555555555}", "urn:uuid:11111111-2222-3333-4444-555555555555"} {
		_, err = svc.DescribeWorkflowExecution(ctx, &workflowservice.DescribeWorkflowExecutionRequest{
			Namespace: "default", Execution: &commonpb.WorkflowExecution{WorkflowId: "validated", RunId: runID}})
		requireStatus(t, "describe of unknown run "+runID, err, codes.NotFound, "")
	}
	_, err = svc.DescribeWorkflowExecution(ctx, &workflowservice.DescribeWorkflowExecutionRequest{Namespace: "default"})
	requireStatus(t, "describe without execution", err, codes.InvalidArgument, "Execution is not set on request.")
	_, err = svc.SignalWorkflowExecution(ctx, &workflowservice.SignalWorkflowExecutionRequest{Namespace: "default",
		WorkflowExecution: &commonpb.WorkflowExecution{WorkflowId: "validated", RunId: "nope"}, SignalName: "s"})
	requireStatus(t, "signal with a bad run id", err, codes.InvalidArgument, "Invalid RunId.")
	_, err = svc.SignalWorkflowExecution(ctx, &workflowservice.SignalWorkflowExecutionRequest{Namespace: "default",
		WorkflowExecution: &commonpb.WorkflowExecution{WorkflowId: "validated", RunId: run.GetRunId()}})
	requireStatus(t, "signal without a name", err, codes.InvalidArgument, "SignalName is not set on request.")
	_, err = svc.TerminateWorkflowExecution(ctx, &workflowservice.TerminateWorkflowExecutionRequest{Namespace: "default",
		WorkflowExecution: &commonpb.WorkflowExecution{RunId: run.GetRunId()}})
	requireStatus(t, "terminate without a workflow id", err, codes.InvalidArgument, "WorkflowId is not set on request.")
	_, err = svc.DescribeWorkflowExecution(ctx, &workflowservice.DescribeWorkflowExecutionRequest{
		Execution: &commonpb.WorkflowExecution{WorkflowId: "validated"}})
	requireStatus(t, "describe without a namespace", err, codes.InvalidArgument, "Namespace is empty.")

	start := func(edit func(*workflowservice.StartWorkflowExecutionRequest)) error {
		req := &workflowservice.StartWorkflowExecutionRequest{Namespace: "default", WorkflowId: "v-" + queue,
			WorkflowType: &commonpb.WorkflowType{Name: "W"}, TaskQueue: &taskqueuepb.TaskQueue{Name: queue}}
		edit(req)
		_, err := svc.StartWorkflowExecution(ctx, req)
		return err
	}
	requireStatus(t, "start with a long workflow id", start(func(r *workflowservice.StartWorkflowExecutionRequest) {
		r.WorkflowId = strings.Repeat("w", 1001)
	}), codes.InvalidArgument, "WorkflowId exceeds maximum allowed length (1001/1000)")
	requireStatus(t, "start without a task queue", start(func(r *workflowservice.StartWorkflowExecutionRequest) {
		r.TaskQueue = nil
	}), codes.InvalidArgument, "taskQueue is not set")
	requireStatus(t, "start on a reserved task queue", start(func(r *workflowservice.StartWorkflowExecutionRequest) {
		r.TaskQueue.Name = "/_sys/x"
	}), codes.InvalidArgument, "task queue name cannot start with reserved prefix /_sys/")
	requireStatus(t, "start without a type", start(func(r *workflowservice.StartWorkflowExecutionRequest) {
		r.WorkflowType = nil
	}), codes.InvalidArgument, "WorkflowType is not set on request.")
	requireStatus(t, "start with a negative run timeout", start(func(r *workflowservice.StartWorkflowExecutionRequest) {
		r.WorkflowRunTimeout = durationpb.New(-time.Second)
	}), codes.InvalidArgument, "An invalid WorkflowRunTimeoutSeconds is set on request. cause: negative duration")
	requireStatus(t, "start with a bad retry policy", start(func(r *workflowservice.StartWorkflowExecutionRequest) {
		r.RetryPolicy = &commonpb.RetryPolicy{BackoffCoefficient: 0.5}
	}), codes.InvalidArgument, "BackoffCoefficient cannot be less than 1 on retry policy.")
	requireStatus(t, "start with reject-duplicate and terminate-existing", start(func(r *workflowservice.StartWorkflowExecutionRequest) {
		r.WorkflowIdReusePolicy = enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE
		r.WorkflowIdConflictPolicy = enumspb.WORKFLOW_ID_CONFLICT_POLICY_TERMINATE_EXISTING
	}), codes.InvalidArgument, "Invalid WorkflowIDReusePolicy: WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE cannot be used "+
		"together with WorkflowIdConflictPolicy WORKFLOW_ID_CONFLICT_POLICY_TERMINATE_EXISTING")

	_, err = svc.SignalWithStartWorkflowExecution(ctx, &workflowservice.SignalWithStartWorkflowExecutionRequest{
		Namespace: "default", WorkflowId: "sws", WorkflowType: &commonpb.WorkflowType{Name: "W"},
		TaskQueue: &taskqueuepb.TaskQueue{Name: queue}, SignalName: "s",
		WorkflowIdConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL})
	requireStatus(t, "signal-with-start with conflict policy FAIL", err, codes.InvalidArgument,
		"Invalid WorkflowIDConflictPolicy: WORKFLOW_ID_CONFLICT_POLICY_FAIL is not supported for this operation.")

	_, err = svc.QueryWorkflow(ctx, &workflowservice.QueryWorkflowRequest{Namespace: "default",
		Execution: &commonpb.WorkflowExecution{WorkflowId: "validated"}})
	requireStatus(t, "query without a query", err, codes.InvalidArgument, "WorkflowQuery is not set on request.")
	_, err = svc.UpdateWorkflowExecution(ctx, &workflowservice.UpdateWorkflowExecutionRequest{Namespace: "default",
		WorkflowExecution: &commonpb.WorkflowExecution{WorkflowId: "validated"},
		Request:           &updatepb.Request{Meta: &updatepb.Meta{UpdateId: "u"}}})
	requireStatus(t, "update without input", err, codes.InvalidArgument, "Update input is not set on request.")
	_, err = svc.UpdateWorkflowExecution(ctx, &workflowservice.UpdateWorkflowExecutionRequest{Namespace: "default",
		WorkflowExecution: &commonpb.WorkflowExecution{WorkflowId: "validated"},
		Request:           &updatepb.Request{Meta: &updatepb.Meta{UpdateId: "u"}, Input: &updatepb.Input{Name: "n"}},
		WaitPolicy:        &updatepb.WaitPolicy{LifecycleStage: enumspb.UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_ADMITTED}})
	requireStatus(t, "update waiting for ADMITTED", err, codes.PermissionDenied,
		"UpdateWorkflowExecution issued asynchronously and waiting on update admitted is not supported.")
	_, err = svc.RespondActivityTaskCompletedById(ctx, &workflowservice.RespondActivityTaskCompletedByIdRequest{
		Namespace: "default", WorkflowId: "validated"})
	requireStatus(t, "complete by id without an activity id", err, codes.InvalidArgument, "ActivityId is not set on request.")
	_, err = svc.PollActivityTaskQueue(ctx, &workflowservice.PollActivityTaskQueueRequest{Namespace: "default",
		TaskQueue: &taskqueuepb.TaskQueue{Name: queue}, Identity: strings.Repeat("i", 1001)})
	requireStatus(t, "poll with a long identity", err, codes.InvalidArgument, "Identity length exceeds limit.")
}

func TestLongPollDeadlinesAsTemporal(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOptions{})
	svc := rawService(t, srv.Addr())
	ctx := testCtx(t, 30*time.Second)
	queue := taskQueueFor(t)

	// Task polls need a deadline of at least two seconds.
	_, err := svc.PollWorkflowTaskQueue(context.Background(), &workflowservice.PollWorkflowTaskQueueRequest{
		Namespace: "default", TaskQueue: &taskqueuepb.TaskQueue{Name: queue}})
	requireStatus(t, "poll without a deadline", err, codes.InvalidArgument, "Context timeout is not set.")
	short, cancel := context.WithTimeout(ctx, time.Second)
	_, err = svc.PollWorkflowTaskQueue(short, &workflowservice.PollWorkflowTaskQueueRequest{
		Namespace: "default", TaskQueue: &taskqueuepb.TaskQueue{Name: queue}})
	cancel()
	requireStatus(t, "poll with a 1 s deadline", err, codes.FailedPrecondition, "Context timeout is too short.")
	// A poll that finds nothing answers empty about a second before its deadline.
	began := time.Now()
	poll, cancel := context.WithTimeout(ctx, 3*time.Second)
	resp, err := svc.PollWorkflowTaskQueue(poll, &workflowservice.PollWorkflowTaskQueueRequest{
		Namespace: "default", TaskQueue: &taskqueuepb.TaskQueue{Name: queue}})
	cancel()
	if took := time.Since(began); err != nil || len(resp.GetTaskToken()) != 0 || took < 1500*time.Millisecond || took > 2900*time.Millisecond {
		t.Errorf("empty poll with a 3 s deadline: err %v after %v, want an empty answer after about 2 s", err, took)
	}

	// An update nobody accepts: a caller with a short deadline gets
	// DEADLINE_EXCEEDED at its deadline, not an early empty answer.
	startRaw(t, ctx, svc, "update-deadline", queue, nil)
	updateCtx, cancel := context.WithTimeout(ctx, time.Second)
	began = time.Now()
	_, err = svc.UpdateWorkflowExecution(updateCtx, &workflowservice.UpdateWorkflowExecutionRequest{
		Namespace: "default", WorkflowExecution: &commonpb.WorkflowExecution{WorkflowId: "update-deadline"},
		Request:    &updatepb.Request{Meta: &updatepb.Meta{UpdateId: "u1"}, Input: &updatepb.Input{Name: "n"}},
		WaitPolicy: &updatepb.WaitPolicy{LifecycleStage: enumspb.UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_ACCEPTED}})
	cancel()
	if took := time.Since(began); status.Code(err) != codes.DeadlineExceeded || took < 900*time.Millisecond {
		t.Errorf("update with a 1 s deadline: %v after %v, want DEADLINE_EXCEEDED after 1 s", err, took)
	}
	pollCtx, cancel := context.WithTimeout(ctx, time.Second)
	began = time.Now()
	_, err = svc.PollWorkflowExecutionUpdate(pollCtx, &workflowservice.PollWorkflowExecutionUpdateRequest{
		Namespace: "default", UpdateRef: &updatepb.UpdateRef{
			WorkflowExecution: &commonpb.WorkflowExecution{WorkflowId: "update-deadline"}, UpdateId: "u1"},
		WaitPolicy: &updatepb.WaitPolicy{LifecycleStage: enumspb.UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_COMPLETED}})
	cancel()
	if took := time.Since(began); status.Code(err) != codes.DeadlineExceeded || took < 900*time.Millisecond {
		t.Errorf("update poll with a 1 s deadline: %v after %v, want DEADLINE_EXCEEDED after 1 s", err, took)
	}
}

// An update accepted by the task that also completes the workflow is
// answered with Temporal's AcceptedUpdateCompletedWorkflow failure.
func UpdateThenReturn(ctx workflow.Context) (string, error) {
	got := false
	if err := workflow.SetUpdateHandler(ctx, "hold", func(ctx workflow.Context) (string, error) {
		got = true
		return "", workflow.Await(ctx, func() bool { return false })
	}); err != nil {
		return "", err
	}
	if err := workflow.Await(ctx, func() bool { return got }); err != nil {
		return "", err
	}
	return "done", nil
}

var updatePanics atomic.Int32

// PanickyUpdate's update handler panics the first time it runs.
func PanickyUpdate(ctx workflow.Context) (string, error) {
	done := false
	if err := workflow.SetUpdateHandler(ctx, "flaky", func(ctx workflow.Context, n int) (int, error) {
		if updatePanics.Add(1) == 1 {
			panic("update handler panic")
		}
		done = true
		return n * 2, nil
	}); err != nil {
		return "", err
	}
	return "finished", workflow.Await(ctx, func() bool { return done })
}

func TestUpdateEndsWithItsRun(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOptions{})
	c := newClient(t, srv.Addr(), "default")
	ctx := testCtx(t, 60*time.Second)
	queue := taskQueueFor(t)
	startWorker(t, c, queue, func(r worker.Registry) {
		r.RegisterWorkflow(UpdateThenReturn)
		r.RegisterWorkflow(PanickyUpdate)
	})

	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "update-then-return", TaskQueue: queue}, UpdateThenReturn)
	if err != nil {
		t.Fatalf("ExecuteWorkflow: %v", err)
	}
	handle, err := c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: run.GetID(), UpdateName: "hold",
		WaitForStage: client.WorkflowUpdateStageCompleted})
	if err != nil {
		t.Fatalf("UpdateWorkflow: %v", err)
	}
	var ignored string
	err = handle.Get(ctx, &ignored)
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || appErr.Type() != "AcceptedUpdateCompletedWorkflow" {
		t.Errorf("update of a workflow that completed after accepting it: %v, want AcceptedUpdateCompletedWorkflow", err)
	}
	var result string
	if err := getResult(t, c, run, 10*time.Second, &result); err != nil || result != "done" {
		t.Fatalf("workflow result %q, %v", result, err)
	}
	events := getHistory(t, c, run.GetID(), run.GetRunID())
	if countEvents(events, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED) != 1 ||
		countEvents(events, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED) != 0 {
		t.Errorf("want one accepted update and no completed one:\n%s", formatHistory(events))
	}
	// Asking again gives the same answer (it is kept with the closed run).
	again := c.GetWorkflowUpdateHandle(client.GetWorkflowUpdateHandleOptions{WorkflowID: run.GetID(), UpdateID: handle.UpdateID()})
	if err := again.Get(ctx, &ignored); !errors.As(err, &appErr) || appErr.Type() != "AcceptedUpdateCompletedWorkflow" {
		t.Errorf("polling the update again: %v, want AcceptedUpdateCompletedWorkflow", err)
	}
	replayHistory(t, events, UpdateThenReturn)

	// A panicking update handler fails the task exactly once.
	run, err = c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "panicky-update", TaskQueue: queue}, PanickyUpdate)
	if err != nil {
		t.Fatalf("ExecuteWorkflow: %v", err)
	}
	handle, err = c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: run.GetID(), UpdateName: "flaky",
		Args: []any{21}, WaitForStage: client.WorkflowUpdateStageCompleted})
	if err != nil {
		t.Fatalf("UpdateWorkflow: %v", err)
	}
	var doubled int
	if err := handle.Get(ctx, &doubled); err != nil || doubled != 42 {
		t.Fatalf("update result %d, %v; want 42", doubled, err)
	}
	if err := getResult(t, c, run, 10*time.Second, &result); err != nil {
		t.Fatalf("workflow result: %v", err)
	}
	events = getHistory(t, c, run.GetID(), run.GetRunID())
	failed := eventsOfType(events, enumspb.EVENT_TYPE_WORKFLOW_TASK_FAILED)
	if len(failed) != 1 || !strings.Contains(failed[0].GetWorkflowTaskFailedEventAttributes().GetFailure().GetMessage(), "update handler panic") {
		t.Errorf("want exactly one WorkflowTaskFailed naming the panic:\n%s", formatHistory(events))
	}
	requireGaplessEventIDs(t, events)
}

// Continue-as-new is not held back by an update admitted meanwhile: the
// update is refused as retryable (RESOURCE_EXHAUSTED, BUSY_WORKFLOW), and
// the retry (which SDKs make) lands on the new run.
func TestUpdateAdmittedDuringContinueAsNewMovesToTheNewRun(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOptions{})
	svc := rawService(t, srv.Addr())
	ctx := testCtx(t, 60*time.Second)
	queue := taskQueueFor(t)
	first := startRaw(t, ctx, svc, "can-update", queue, nil)
	task := pollTask(t, ctx, svc, queue, "raw-worker")

	update := func() (*workflowservice.UpdateWorkflowExecutionResponse, error) {
		return svc.UpdateWorkflowExecution(ctx, &workflowservice.UpdateWorkflowExecutionRequest{
			Namespace: "default", WorkflowExecution: &commonpb.WorkflowExecution{WorkflowId: "can-update"},
			Request:    &updatepb.Request{Meta: &updatepb.Meta{UpdateId: "moved"}, Input: &updatepb.Input{Name: "u"}},
			WaitPolicy: &updatepb.WaitPolicy{LifecycleStage: enumspb.UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_COMPLETED}})
	}
	type answer struct {
		resp *workflowservice.UpdateWorkflowExecutionResponse
		err  error
	}
	answers := make(chan answer, 2)
	go func() { r, err := update(); answers <- answer{r, err} }()
	waitUntil(t, 10*time.Second, "the update is admitted", func() bool { return rawUpdateAdmitted(ctx, svc, first.GetRunId()) })
	if _, err := svc.RespondWorkflowTaskCompleted(ctx, &workflowservice.RespondWorkflowTaskCompletedRequest{
		Namespace: "default", TaskToken: task.GetTaskToken(), Identity: "raw-worker",
		Commands: []*commandpb.Command{{
			CommandType: enumspb.COMMAND_TYPE_CONTINUE_AS_NEW_WORKFLOW_EXECUTION,
			Attributes: &commandpb.Command_ContinueAsNewWorkflowExecutionCommandAttributes{
				ContinueAsNewWorkflowExecutionCommandAttributes: &commandpb.ContinueAsNewWorkflowExecutionCommandAttributes{
					WorkflowType: &commonpb.WorkflowType{Name: "Manual"}, TaskQueue: &taskqueuepb.TaskQueue{Name: queue}}},
		}},
	}); err != nil {
		t.Fatalf("continue-as-new with an admitted update: %v", err)
	}
	got := <-answers
	st, _ := status.FromError(got.err)
	busy := false
	for _, d := range st.Details() {
		if f, ok := d.(*errordetails.ResourceExhaustedFailure); ok && f.GetCause() == enumspb.RESOURCE_EXHAUSTED_CAUSE_BUSY_WORKFLOW {
			busy = true
		}
	}
	if st.Code() != codes.ResourceExhausted || !busy ||
		st.Message() != "workflow operation can not be applied because workflow is closing" {
		t.Fatalf("update admitted during continue-as-new: %v %q %v, want RESOURCE_EXHAUSTED BUSY_WORKFLOW", st.Code(), st.Message(), st.Details())
	}

	// The retry reaches the new run, whose first task carries it.
	go func() { r, err := update(); answers <- answer{r, err} }()
	second := pollTask(t, ctx, svc, queue, "raw-worker")
	if second.GetWorkflowExecution().GetRunId() == first.GetRunId() {
		t.Fatalf("a task of the closed run was handed out")
	}
	for len(second.GetMessages()) == 0 {
		// The retry was admitted after this task started: the next one has it.
		if _, err := svc.RespondWorkflowTaskCompleted(ctx, &workflowservice.RespondWorkflowTaskCompletedRequest{
			Namespace: "default", TaskToken: second.GetTaskToken(), Identity: "raw-worker"}); err != nil {
			t.Fatalf("completing an empty task: %v", err)
		}
		second = pollTask(t, ctx, svc, queue, "raw-worker")
	}
	request := second.GetMessages()[0]
	accept, _ := anypb.New(&updatepb.Acceptance{AcceptedRequestMessageId: request.GetId(), AcceptedRequestSequencingEventId: request.GetEventId()})
	reply, _ := anypb.New(&updatepb.Response{Meta: &updatepb.Meta{UpdateId: "moved"}, Outcome: &updatepb.Outcome{
		Value: &updatepb.Outcome_Success{Success: &commonpb.Payloads{Payloads: []*commonpb.Payload{mustPayload(t, "on the new run")}}}}})
	if _, err := svc.RespondWorkflowTaskCompleted(ctx, &workflowservice.RespondWorkflowTaskCompletedRequest{
		Namespace: "default", TaskToken: second.GetTaskToken(), Identity: "raw-worker",
		Messages: []*protocolpb.Message{
			{Id: "accept", ProtocolInstanceId: "moved", Body: accept},
			{Id: "reply", ProtocolInstanceId: "moved", Body: reply},
		},
		// As SDKs do: the messages are placed before the closing command.
		Commands: []*commandpb.Command{protocolMessage("accept"), protocolMessage("reply"), completeCommand()},
	}); err != nil {
		t.Fatalf("answering the update on the new run: %v", err)
	}
	got = <-answers
	if got.err != nil || got.resp.GetUpdateRef().GetWorkflowExecution().GetRunId() != second.GetWorkflowExecution().GetRunId() ||
		got.resp.GetOutcome().GetSuccess() == nil {
		t.Fatalf("retried update: %v, %v; want it answered by the new run", got.resp, got.err)
	}
	for run, want := range map[string]int{first.GetRunId(): 0, second.GetWorkflowExecution().GetRunId(): 1} {
		resp, err := svc.GetWorkflowExecutionHistory(ctx, &workflowservice.GetWorkflowExecutionHistoryRequest{
			Namespace: "default", Execution: &commonpb.WorkflowExecution{WorkflowId: "can-update", RunId: run}})
		if err != nil {
			t.Fatalf("history of %s: %v", run, err)
		}
		if n := countEvents(resp.GetHistory().GetEvents(), enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED); n != want {
			t.Errorf("run %s has %d accepted updates, want %d", run, n, want)
		}
	}
}

// rawUpdateAdmitted tells whether run has an update waiting (visible to a
// raw caller as an UpdateWorkflowExecution that is not yet accepted).
func rawUpdateAdmitted(ctx context.Context, svc workflowservice.WorkflowServiceClient, runID string) bool {
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	_, err := svc.PollWorkflowExecutionUpdate(short, &workflowservice.PollWorkflowExecutionUpdateRequest{
		Namespace: "default", UpdateRef: &updatepb.UpdateRef{
			WorkflowExecution: &commonpb.WorkflowExecution{WorkflowId: "can-update", RunId: runID}, UpdateId: "moved"},
		WaitPolicy: &updatepb.WaitPolicy{LifecycleStage: enumspb.UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_ACCEPTED}})
	return status.Code(err) == codes.DeadlineExceeded
}

// ScheduleToCloseOnly runs an activity nobody serves with only a
// schedule-to-close timeout.
func ScheduleToCloseOnly(ctx workflow.Context) error {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		TaskQueue: "nobody-polls-this", ScheduleToCloseTimeout: 2 * time.Second})
	return workflow.ExecuteActivity(ctx, "Unserved").Get(ctx, nil)
}

func TestScheduleToCloseOnlyTimesOutAsScheduleToStart(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOptions{})
	c := newClient(t, srv.Addr(), "default")
	queue := taskQueueFor(t)
	startWorker(t, c, queue, func(r worker.Registry) { r.RegisterWorkflow(ScheduleToCloseOnly) })
	ctx := testCtx(t, 30*time.Second)
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{TaskQueue: queue}, ScheduleToCloseOnly)
	if err != nil {
		t.Fatalf("ExecuteWorkflow: %v", err)
	}
	err = getResult(t, c, run, 20*time.Second, nil)
	var timeoutErr *temporal.TimeoutError
	if !errors.As(err, &timeoutErr) || timeoutErr.TimeoutType() != enumspb.TIMEOUT_TYPE_SCHEDULE_TO_START {
		t.Fatalf("workflow error %v, want an activity SCHEDULE_TO_START timeout", err)
	}
	events := getHistory(t, c, run.GetID(), run.GetRunID())
	scheduled := eventsOfType(events, enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED)[0].GetActivityTaskScheduledEventAttributes()
	if scheduled.GetScheduleToStartTimeout().AsDuration() != 2*time.Second || scheduled.GetStartToCloseTimeout().AsDuration() != 2*time.Second {
		t.Errorf("scheduled timeouts %v / %v, want both derived as 2s", scheduled.GetScheduleToStartTimeout(), scheduled.GetStartToCloseTimeout())
	}
	timedOut := eventsOfType(events, enumspb.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT)
	if len(timedOut) != 1 || timedOut[0].GetActivityTaskTimedOutEventAttributes().GetFailure().GetTimeoutFailureInfo().GetTimeoutType() !=
		enumspb.TIMEOUT_TYPE_SCHEDULE_TO_START {
		t.Errorf("want one ActivityTaskTimedOut of type SCHEDULE_TO_START:\n%s", formatHistory(events))
	}
	replayHistory(t, events, ScheduleToCloseOnly)
}

func TestEagerWorkflowStartAndEagerActivities(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOptions{})
	svc := rawService(t, srv.Addr())
	ctx := testCtx(t, 30*time.Second)
	queue := taskQueueFor(t)

	info, err := svc.GetSystemInfo(ctx, &workflowservice.GetSystemInfoRequest{})
	if err != nil || !info.GetCapabilities().GetEagerWorkflowStart() {
		t.Fatalf("GetSystemInfo: %v, eager_workflow_start %v", err, info.GetCapabilities().GetEagerWorkflowStart())
	}
	start := startRaw(t, ctx, svc, "eager", queue, func(r *workflowservice.StartWorkflowExecutionRequest) {
		r.RequestEagerExecution = true
		r.Identity = "eager-worker"
		r.WorkflowTaskTimeout = durationpb.New(10 * time.Second)
	})
	task := start.GetEagerWorkflowTask()
	if task == nil || task.GetStartedEventId() != 3 || task.GetAttempt() != 1 || len(task.GetHistory().GetEvents()) != 3 {
		t.Fatalf("eager start returned task %v, want the started first workflow task with three events", task)
	}
	// Nothing was left in the queue for a poller.
	short, cancel := context.WithTimeout(ctx, 2500*time.Millisecond)
	if resp, err := svc.PollWorkflowTaskQueue(short, &workflowservice.PollWorkflowTaskQueueRequest{
		Namespace: "default", TaskQueue: &taskqueuepb.TaskQueue{Name: queue}}); err != nil || len(resp.GetTaskToken()) != 0 {
		t.Errorf("a poller after an eager start got %v, %v; want nothing", resp.GetWorkflowExecution(), err)
	}
	cancel()

	// The task asks to run its activity itself: it comes back with the completion.
	completed, err := svc.RespondWorkflowTaskCompleted(ctx, &workflowservice.RespondWorkflowTaskCompletedRequest{
		Namespace: "default", TaskToken: task.GetTaskToken(), Identity: "eager-worker",
		Commands: []*commandpb.Command{{
			CommandType: enumspb.COMMAND_TYPE_SCHEDULE_ACTIVITY_TASK,
			Attributes: &commandpb.Command_ScheduleActivityTaskCommandAttributes{ScheduleActivityTaskCommandAttributes: &commandpb.ScheduleActivityTaskCommandAttributes{
				ActivityId: "1", ActivityType: &commonpb.ActivityType{Name: "Act"}, TaskQueue: &taskqueuepb.TaskQueue{Name: queue},
				StartToCloseTimeout: durationpb.New(10 * time.Second), RequestEagerExecution: true}},
		}},
	})
	if err != nil || len(completed.GetActivityTasks()) != 1 || completed.GetActivityTasks()[0].GetActivityId() != "1" {
		t.Fatalf("completion with an eager activity: %v, activity tasks %v", err, completed.GetActivityTasks())
	}
	if _, err := svc.RespondActivityTaskCompleted(ctx, &workflowservice.RespondActivityTaskCompletedRequest{
		Namespace: "default", TaskToken: completed.GetActivityTasks()[0].GetTaskToken(), Identity: "eager-worker"}); err != nil {
		t.Fatalf("completing the eager activity: %v", err)
	}
	next := pollTask(t, ctx, svc, queue, "eager-worker")
	if _, err := svc.RespondWorkflowTaskCompleted(ctx, &workflowservice.RespondWorkflowTaskCompletedRequest{
		Namespace: "default", TaskToken: next.GetTaskToken(), Identity: "eager-worker",
		Commands: []*commandpb.Command{completeCommand()}}); err != nil {
		t.Fatalf("completing the workflow: %v", err)
	}
	events := rawHistory(t, ctx, svc, "eager")
	requireEventTypes(t, events,
		enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED,
		enumspb.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
		enumspb.EVENT_TYPE_WORKFLOW_TASK_STARTED,
		enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
		enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED,
		enumspb.EVENT_TYPE_ACTIVITY_TASK_STARTED,
		enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED,
		enumspb.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
		enumspb.EVENT_TYPE_WORKFLOW_TASK_STARTED,
		enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
		enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
	)
	if id := events[2].GetWorkflowTaskStartedEventAttributes().GetIdentity(); id != "eager-worker" {
		t.Errorf("eager WorkflowTaskStarted identity %q, want the starter's", id)
	}
}

// A workflow task whose completion is refused again and again is not handed
// back at the speed of the worker.
func TestRefusedWorkflowTaskIsNotRetriedInATightLoop(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOptions{})
	svc := rawService(t, srv.Addr())
	ctx := testCtx(t, 30*time.Second)
	queue := taskQueueFor(t)
	startRaw(t, ctx, svc, "refused", queue, nil)
	badCommand := []*commandpb.Command{{
		CommandType: enumspb.COMMAND_TYPE_START_TIMER,
		Attributes: &commandpb.Command_StartTimerCommandAttributes{StartTimerCommandAttributes: &commandpb.StartTimerCommandAttributes{
			StartToFireTimeout: durationpb.New(time.Second)}},
	}}
	window := time.Now().Add(5 * time.Second)
	deliveries := 0
	var attempts []int32
	for time.Now().Before(window) {
		pollCtx, cancel := context.WithDeadline(ctx, window.Add(2*time.Second))
		resp, err := svc.PollWorkflowTaskQueue(pollCtx, &workflowservice.PollWorkflowTaskQueueRequest{
			Namespace: "default", TaskQueue: &taskqueuepb.TaskQueue{Name: queue}, Identity: "stubborn"})
		cancel()
		if err != nil || len(resp.GetTaskToken()) == 0 || time.Now().After(window) {
			break
		}
		deliveries++
		attempts = append(attempts, resp.GetAttempt())
		_, err = svc.RespondWorkflowTaskCompleted(ctx, &workflowservice.RespondWorkflowTaskCompletedRequest{
			Namespace: "default", TaskToken: resp.GetTaskToken(), Identity: "stubborn", Commands: badCommand})
		requireStatus(t, "refused completion", err, codes.InvalidArgument, "")
	}
	// Attempt 1 fails, 2 and 3 wait out their 1 s timeout, 4 waits 1 s + ~5 s.
	if deliveries < 3 || deliveries > 4 {
		t.Errorf("a refused task was delivered %d times in 5 s (attempts %v), want 3 or 4", deliveries, attempts)
	}
	events := rawHistory(t, ctx, svc, "refused")
	if n := countEvents(events, enumspb.EVENT_TYPE_WORKFLOW_TASK_FAILED); n != 1 {
		t.Errorf("%d WorkflowTaskFailed events, want 1:\n%s", n, formatHistory(events))
	}
	d, err := svc.DescribeWorkflowExecution(ctx, &workflowservice.DescribeWorkflowExecutionRequest{Namespace: "default",
		Execution: &commonpb.WorkflowExecution{WorkflowId: "refused"}})
	if err != nil || d.GetWorkflowExecutionInfo().GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		t.Errorf("describe: %v, status %v; want still running", err, d.GetWorkflowExecutionInfo().GetStatus())
	}
}

// waitUntil polls cond every 50 ms until it holds or timeout passes.
func waitUntil(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func mustPayload(t *testing.T, v any) *commonpb.Payload {
	t.Helper()
	p, err := converter.GetDefaultDataConverter().ToPayload(v)
	if err != nil {
		t.Fatalf("encoding %v: %v", v, err)
	}
	return p
}

// Events carry the fields Temporal writes, zero values included, and leave
// out what the request left out (the features suite compares histories with
// Temporal's own, field by field).
func TestEventFieldsAsTemporalWritesThem(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOptions{})
	svc := rawService(t, srv.Addr())
	ctx := testCtx(t, 30*time.Second)
	queue := taskQueueFor(t)
	startRaw(t, ctx, svc, "fields", queue, func(r *workflowservice.StartWorkflowExecutionRequest) {
		r.WorkflowTaskTimeout = durationpb.New(10 * time.Second)
	})
	task := pollTask(t, ctx, svc, queue, "raw-worker")
	if _, err := svc.RespondWorkflowTaskCompleted(ctx, &workflowservice.RespondWorkflowTaskCompletedRequest{
		Namespace: "default", TaskToken: task.GetTaskToken(), Identity: "raw-worker",
		Commands: []*commandpb.Command{{
			CommandType: enumspb.COMMAND_TYPE_SCHEDULE_ACTIVITY_TASK,
			Attributes: &commandpb.Command_ScheduleActivityTaskCommandAttributes{ScheduleActivityTaskCommandAttributes: &commandpb.ScheduleActivityTaskCommandAttributes{
				ActivityId: "1", ActivityType: &commonpb.ActivityType{Name: "Act"}, TaskQueue: &taskqueuepb.TaskQueue{Name: queue},
				StartToCloseTimeout: durationpb.New(time.Minute),
				RetryPolicy: &commonpb.RetryPolicy{InitialInterval: durationpb.New(time.Nanosecond), BackoffCoefficient: 1,
					MaximumAttempts: 5}}},
		}},
	}); err != nil {
		t.Fatalf("scheduling the activity: %v", err)
	}
	events := rawHistory(t, ctx, svc, "fields")
	started := events[0].GetWorkflowExecutionStartedEventAttributes()
	if started.GetFirstWorkflowTaskBackoff() == nil || started.GetFirstWorkflowTaskBackoff().AsDuration() != 0 {
		t.Errorf("started event first_workflow_task_backoff = %v, want an explicit 0s", started.GetFirstWorkflowTaskBackoff())
	}
	if started.Input != nil {
		t.Errorf("started event has input %v, but the start request had none", started.Input)
	}
	scheduled := eventsOfType(events, enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED)[0].GetActivityTaskScheduledEventAttributes()
	if scheduled.GetHeartbeatTimeout() == nil || scheduled.GetHeartbeatTimeout().AsDuration() != 0 {
		t.Errorf("scheduled event heartbeat_timeout = %v, want an explicit 0s", scheduled.GetHeartbeatTimeout())
	}
	if scheduled.Input != nil {
		t.Errorf("scheduled event has input %v, but the command had none", scheduled.Input)
	}
	if p := scheduled.GetRetryPolicy(); p.GetInitialInterval().AsDuration() != time.Nanosecond ||
		p.GetMaximumInterval().AsDuration() != 100*time.Nanosecond {
		t.Errorf("retry policy %v, want 1ns initial and 100ns maximum intervals kept as written", p)
	}
}

// SummarizedWork sleeps on a summarized timer and runs a summarized activity
// that takes a little while.
func SummarizedWork(ctx workflow.Context) error {
	if err := workflow.NewTimerWithOptions(ctx, 10*time.Millisecond, workflow.TimerOptions{Summary: "short nap"}).Get(ctx, nil); err != nil {
		return err
	}
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 10 * time.Second, Summary: "slow step"})
	return workflow.ExecuteActivity(ctx, SlowStep).Get(ctx, nil)
}

func SlowStep(ctx context.Context) error {
	time.Sleep(500 * time.Millisecond) // The activity's own work, so that it takes time.
	return nil
}

// User metadata (summaries) land on the events and in describe, and
// ActivityTaskStarted is dated when the activity started, not when it closed.
func TestUserMetadataAndActivityStartTime(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOptions{})
	c := newClient(t, srv.Addr(), "default")
	ctx := testCtx(t, 30*time.Second)
	queue := taskQueueFor(t)
	startWorker(t, c, queue, func(r worker.Registry) {
		r.RegisterWorkflow(SummarizedWork)
		r.RegisterActivity(SlowStep)
	})
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{TaskQueue: queue, StaticSummary: "nightly job",
		StaticDetails: "runs every night"}, SummarizedWork)
	if err != nil {
		t.Fatalf("ExecuteWorkflow: %v", err)
	}
	if err := getResult(t, c, run, 20*time.Second, nil); err != nil {
		t.Fatalf("result: %v", err)
	}
	events := getHistory(t, c, run.GetID(), run.GetRunID())
	summary := func(e *historypb.HistoryEvent) string {
		if e.GetUserMetadata().GetSummary() == nil {
			return ""
		}
		return decodeString(t, &commonpb.Payloads{Payloads: []*commonpb.Payload{e.GetUserMetadata().GetSummary()}})
	}
	if got := summary(events[0]); got != "nightly job" {
		t.Errorf("started event summary %q", got)
	}
	if got := summary(eventsOfType(events, enumspb.EVENT_TYPE_TIMER_STARTED)[0]); got != "short nap" {
		t.Errorf("timer summary %q", got)
	}
	if got := summary(eventsOfType(events, enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED)[0]); got != "slow step" {
		t.Errorf("activity summary %q", got)
	}
	desc, err := c.DescribeWorkflowExecution(ctx, run.GetID(), run.GetRunID())
	if err != nil || desc.GetExecutionConfig().GetUserMetadata().GetDetails() == nil {
		t.Errorf("describe: %v, user metadata %v", err, desc.GetExecutionConfig().GetUserMetadata())
	}
	startedAt := eventsOfType(events, enumspb.EVENT_TYPE_ACTIVITY_TASK_STARTED)[0].GetEventTime().AsTime()
	completedAt := eventsOfType(events, enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED)[0].GetEventTime().AsTime()
	if completedAt.Sub(startedAt) < 400*time.Millisecond {
		t.Errorf("ActivityTaskStarted at %v, completed at %v: the started event is not dated when the activity started",
			startedAt, completedAt)
	}
	replayHistory(t, events, SummarizedWork)
}

// A zero-length timer is accepted and fires at once.
func TestZeroLengthTimer(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOptions{})
	svc := rawService(t, srv.Addr())
	ctx := testCtx(t, 30*time.Second)
	queue := taskQueueFor(t)
	startRaw(t, ctx, svc, "zero-timer", queue, func(r *workflowservice.StartWorkflowExecutionRequest) {
		r.WorkflowTaskTimeout = durationpb.New(10 * time.Second)
	})
	task := pollTask(t, ctx, svc, queue, "raw-worker")
	if _, err := svc.RespondWorkflowTaskCompleted(ctx, &workflowservice.RespondWorkflowTaskCompletedRequest{
		Namespace: "default", TaskToken: task.GetTaskToken(), Identity: "raw-worker",
		Commands: []*commandpb.Command{{
			CommandType: enumspb.COMMAND_TYPE_START_TIMER,
			Attributes: &commandpb.Command_StartTimerCommandAttributes{StartTimerCommandAttributes: &commandpb.StartTimerCommandAttributes{
				TimerId: "now", StartToFireTimeout: durationpb.New(0)}},
		}},
	}); err != nil {
		t.Fatalf("starting a zero-length timer: %v", err)
	}
	next := pollTask(t, ctx, svc, queue, "raw-worker")
	evs := next.GetHistory().GetEvents()
	if countEvents(evs, enumspb.EVENT_TYPE_TIMER_FIRED) != 1 {
		t.Fatalf("the zero-length timer did not fire:\n%s", formatHistory(evs))
	}
}

// Asking to cancel a workflow that already closed changes nothing and is
// not an error (as on Temporal); a run that never existed is NOT_FOUND.
func TestCancelOfAClosedWorkflow(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOptions{})
	svc := rawService(t, srv.Addr())
	ctx := testCtx(t, 30*time.Second)
	queue := taskQueueFor(t)
	run := startRaw(t, ctx, svc, "closed-then-cancelled", queue, nil)
	exec := &commonpb.WorkflowExecution{WorkflowId: "closed-then-cancelled", RunId: run.GetRunId()}
	if _, err := svc.TerminateWorkflowExecution(ctx, &workflowservice.TerminateWorkflowExecutionRequest{
		Namespace: "default", WorkflowExecution: exec, Reason: "done"}); err != nil {
		t.Fatalf("Terminate: %v", err)
	}
	if _, err := svc.RequestCancelWorkflowExecution(ctx, &workflowservice.RequestCancelWorkflowExecutionRequest{
		Namespace: "default", WorkflowExecution: exec}); err != nil {
		t.Errorf("cancelling a closed workflow: %v, want success", err)
	}
	events := rawHistory(t, ctx, svc, "closed-then-cancelled")
	if countEvents(events, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED) != 0 {
		t.Errorf("a cancel request was recorded on a closed run:\n%s", formatHistory(events))
	}
	_, err := svc.RequestCancelWorkflowExecution(ctx, &workflowservice.RequestCancelWorkflowExecutionRequest{
		Namespace: "default", WorkflowExecution: &commonpb.WorkflowExecution{WorkflowId: "never-was"}})
	requireStatus(t, "cancelling an unknown workflow", err, codes.NotFound, "")
}

// Tally adds what each "add" update brings and runs until "stop".
func Tally(ctx workflow.Context) (int, error) {
	total := 0
	if err := workflow.SetUpdateHandler(ctx, "add", func(ctx workflow.Context, n int) (int, error) {
		total += n
		return total, nil
	}); err != nil {
		return 0, err
	}
	workflow.GetSignalChannel(ctx, "stop").Receive(ctx, nil)
	return total, nil
}

// Update-with-start with an update id the running workflow already knows
// attaches to that update instead of applying the conflict policy.
func TestUpdateWithStartReusingAnUpdateID(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOptions{})
	c := newClient(t, srv.Addr(), "default")
	ctx := testCtx(t, 30*time.Second)
	queue := taskQueueFor(t)
	startWorker(t, c, queue, func(r worker.Registry) { r.RegisterWorkflow(Tally) })
	send := func() (int, error) {
		op := c.NewWithStartWorkflowOperation(client.StartWorkflowOptions{ID: "tally", TaskQueue: queue,
			WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL}, Tally)
		h, err := c.UpdateWithStartWorkflow(ctx, client.UpdateWithStartWorkflowOptions{StartWorkflowOperation: op,
			UpdateOptions: client.UpdateWorkflowOptions{UpdateID: "add-5", UpdateName: "add", Args: []any{5},
				WaitForStage: client.WorkflowUpdateStageCompleted}})
		if err != nil {
			return 0, err
		}
		var total int
		return total, h.Get(ctx, &total)
	}
	for i := 0; i < 2; i++ {
		if total, err := send(); err != nil || total != 5 {
			t.Fatalf("update-with-start #%d: %d, %v; want 5 both times", i+1, total, err)
		}
	}
	if err := c.SignalWorkflow(ctx, "tally", "", "stop", nil); err != nil {
		t.Fatalf("Signal: %v", err)
	}
	var total int
	if err := c.GetWorkflow(ctx, "tally", "").Get(ctx, &total); err != nil || total != 5 {
		t.Fatalf("workflow result %d, %v; want 5 (the update applied once)", total, err)
	}
	events := getHistory(t, c, "tally", "")
	if n := countEvents(events, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED); n != 1 {
		t.Errorf("%d accepted updates, want 1", n)
	}
	replayHistory(t, events, Tally)
}
