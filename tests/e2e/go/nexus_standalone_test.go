package e2e

import (
	"testing"
	"time"

	"github.com/google/uuid"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/errordetails/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/durationpb"
)

// What Temporal 1.32's dev server needs for standalone Nexus operations
// (Kairos has them on always).
var standaloneNexusConfig = []string{"history.enableChasm=true", "nexusoperation.enableStandalone=true",
	"history.enableCHASMCallbacks=true"}

type standaloneOps struct {
	p  *nexusPair
	ws workflowservice.WorkflowServiceClient
}

func (s standaloneOps) start(t *testing.T, id, operation, input string, mod func(*workflowservice.StartNexusOperationExecutionRequest)) (*workflowservice.StartNexusOperationExecutionResponse, error) {
	t.Helper()
	payload, err := converter.GetDefaultDataConverter().ToPayload(input)
	requireNoError(t, err, "input payload")
	req := &workflowservice.StartNexusOperationExecutionRequest{
		Namespace: "default", Identity: "e2e", RequestId: uuid.NewString(), OperationId: id,
		Endpoint: s.p.endpoint, Service: nexusServiceName, Operation: operation, Input: payload,
		ScheduleToCloseTimeout: durationpb.New(time.Minute),
	}
	if mod != nil {
		mod(req)
	}
	return s.ws.StartNexusOperationExecution(testCtx(t, 10*time.Second), req)
}

func (s standaloneOps) poll(t *testing.T, id string, stage enumspb.NexusOperationWaitStage) *workflowservice.PollNexusOperationExecutionResponse {
	t.Helper()
	resp, err := s.ws.PollNexusOperationExecution(testCtx(t, 30*time.Second), &workflowservice.PollNexusOperationExecutionRequest{
		Namespace: "default", OperationId: id, WaitStage: stage})
	requireNoError(t, err, "poll "+id)
	return resp
}

func (s standaloneOps) describe(t *testing.T, id string) *workflowservice.DescribeNexusOperationExecutionResponse {
	t.Helper()
	resp, err := s.ws.DescribeNexusOperationExecution(testCtx(t, 10*time.Second), &workflowservice.DescribeNexusOperationExecutionRequest{
		Namespace: "default", OperationId: id, IncludeInput: true, IncludeOutcome: true})
	requireNoError(t, err, "describe "+id)
	return resp
}

func decodePayloadString(t *testing.T, p *commonpb.Payload) string {
	t.Helper()
	var out string
	requireNoError(t, converter.GetDefaultDataConverter().FromPayload(p, &out), "decode payload")
	return out
}

// Standalone Nexus operations (StartNexusOperationExecution and the other
// *NexusOperationExecution RPCs): a synchronous result, id conflicts, an
// asynchronous operation's start, links, cancellation and termination, a
// failure, list, count and delete.
func TestNexusStandaloneOperations(t *testing.T) {
	p := startNexusPairWith(t, standaloneNexusConfig)
	s := standaloneOps{p: p, ws: p.caller.WorkflowService()}

	// A synchronous operation: its result by poll and by describe.
	first, err := s.start(t, "sync-op", "echo", "hi", nil)
	requireNoError(t, err, "start sync-op")
	if !first.Started || first.RunId == "" {
		t.Fatalf("start answer %v", first)
	}
	closed := s.poll(t, "sync-op", enumspb.NEXUS_OPERATION_WAIT_STAGE_CLOSED)
	if closed.RunId != first.RunId || closed.WaitStage != enumspb.NEXUS_OPERATION_WAIT_STAGE_CLOSED ||
		decodePayloadString(t, closed.GetResult()) != "echo: hi" {
		t.Fatalf("poll answer %v", closed)
	}
	desc := s.describe(t, "sync-op")
	info := desc.Info
	if info.Status != enumspb.NEXUS_OPERATION_EXECUTION_STATUS_COMPLETED || info.OperationId != "sync-op" ||
		info.RunId != first.RunId || info.Endpoint != p.endpoint || info.Service != nexusServiceName ||
		info.Operation != "echo" || info.CloseTime == nil || info.ScheduleTime == nil || info.Attempt != 1 ||
		info.ScheduleToCloseTimeout.AsDuration() != time.Minute || info.Identity != "e2e" || info.RequestId == "" {
		t.Fatalf("describe info %v", info)
	}
	if decodePayloadString(t, desc.GetResult()) != "echo: hi" || decodePayloadString(t, desc.Input) != "hi" || desc.RunId != first.RunId {
		t.Fatalf("describe answer %v", desc)
	}

	// The id is taken: REJECT_DUPLICATE refuses a closed one's id, FAIL a running one's.
	_, err = s.start(t, "sync-op", "echo", "again", func(r *workflowservice.StartNexusOperationExecutionRequest) {
		r.IdReusePolicy = enumspb.NEXUS_OPERATION_ID_REUSE_POLICY_REJECT_DUPLICATE
	})
	st := serviceerror.ToStatus(err)
	if st.Code() != codes.AlreadyExists {
		t.Fatalf("duplicate start: %v %v", st.Code(), err)
	}
	var already *errordetails.NexusOperationExecutionAlreadyStartedFailure
	for _, d := range st.Details() {
		if f, ok := d.(*errordetails.NexusOperationExecutionAlreadyStartedFailure); ok {
			already = f
		}
	}
	if already == nil || already.RunId != first.RunId {
		t.Fatalf("duplicate start details %v (%q)", st.Details(), st.Message())
	}
	t.Logf("duplicate of a closed operation: %q", st.Message())
	// The default reuse policy allows a new run of a closed operation.
	second, err := s.start(t, "sync-op", "echo", "again", nil)
	requireNoError(t, err, "start sync-op again")
	if !second.Started || second.RunId == first.RunId {
		t.Fatalf("second run %v", second)
	}

	// An asynchronous operation: started, linked both ways, then canceled.
	waiting, err := s.start(t, "async-cancel", "greet", "wait-cancel", nil)
	requireNoError(t, err, "start async-cancel")
	started := s.poll(t, "async-cancel", enumspb.NEXUS_OPERATION_WAIT_STAGE_STARTED)
	if started.WaitStage != enumspb.NEXUS_OPERATION_WAIT_STAGE_STARTED || started.OperationToken == "" || started.Outcome != nil {
		t.Fatalf("started poll %v", started)
	}
	_, err = s.start(t, "async-cancel", "greet", "wait-cancel", nil)
	if st := serviceerror.ToStatus(err); st.Code() != codes.AlreadyExists {
		t.Fatalf("start of a running id with FAIL: %v", err)
	}
	reused, err := s.start(t, "async-cancel", "greet", "wait-cancel", func(r *workflowservice.StartNexusOperationExecutionRequest) {
		r.IdConflictPolicy = enumspb.NEXUS_OPERATION_ID_CONFLICT_POLICY_USE_EXISTING
	})
	requireNoError(t, err, "start with USE_EXISTING")
	if reused.Started || reused.RunId != waiting.RunId {
		t.Fatalf("USE_EXISTING answer %v", reused)
	}
	running := s.describe(t, "async-cancel").Info
	if running.Status != enumspb.NEXUS_OPERATION_EXECUTION_STATUS_RUNNING ||
		running.State != enumspb.PENDING_NEXUS_OPERATION_STATE_STARTED || running.OperationToken != started.OperationToken ||
		len(running.Links) != 1 || running.Links[0].GetWorkflowEvent().GetWorkflowId() != nexusHandlerWorkflowID("wait-cancel") {
		t.Fatalf("running describe %v", running)
	}
	// (The Go SDK v1.50 drops the request's link to a standalone operation, so
	// the handler workflow's started event has none: the Python SDK's suite
	// checks that link.)
	_, err = s.ws.RequestCancelNexusOperationExecution(testCtx(t, 10*time.Second), &workflowservice.RequestCancelNexusOperationExecutionRequest{
		Namespace: "default", OperationId: "async-cancel", Identity: "e2e", RequestId: uuid.NewString(), Reason: "no longer needed"})
	requireNoError(t, err, "request cancel")
	canceled := s.poll(t, "async-cancel", enumspb.NEXUS_OPERATION_WAIT_STAGE_CLOSED)
	if canceled.GetFailure().GetCanceledFailureInfo() == nil {
		t.Fatalf("canceled outcome %v", canceled)
	}
	info = s.describe(t, "async-cancel").Info
	if info.Status != enumspb.NEXUS_OPERATION_EXECUTION_STATUS_CANCELED || info.CancellationInfo.GetReason() != "no longer needed" ||
		info.CancellationInfo.GetState() != enumspb.NEXUS_OPERATION_CANCELLATION_STATE_SUCCEEDED {
		t.Fatalf("canceled describe %v", info)
	}
	t.Logf("canceled: %v; cancellation info %v", canceled.GetFailure(), info.CancellationInfo)

	// Termination ends the operation at once (the handler's workflow is left).
	_, err = s.start(t, "async-terminate", "greet", "wait-terminate", nil)
	requireNoError(t, err, "start async-terminate")
	s.poll(t, "async-terminate", enumspb.NEXUS_OPERATION_WAIT_STAGE_STARTED)
	_, err = s.ws.TerminateNexusOperationExecution(testCtx(t, 10*time.Second), &workflowservice.TerminateNexusOperationExecutionRequest{
		Namespace: "default", OperationId: "async-terminate", Identity: "e2e", RequestId: uuid.NewString(), Reason: "stop"})
	requireNoError(t, err, "terminate")
	terminated := s.poll(t, "async-terminate", enumspb.NEXUS_OPERATION_WAIT_STAGE_CLOSED)
	if terminated.GetFailure().GetTerminatedFailureInfo() == nil || terminated.GetFailure().GetMessage() != "stop" {
		t.Fatalf("terminated outcome %v", terminated)
	}
	if info := s.describe(t, "async-terminate").Info; info.Status != enumspb.NEXUS_OPERATION_EXECUTION_STATUS_TERMINATED {
		t.Fatalf("terminated describe %v", info)
	}
	_, err = s.ws.TerminateNexusOperationExecution(testCtx(t, 10*time.Second), &workflowservice.TerminateNexusOperationExecutionRequest{
		Namespace: "default", OperationId: "async-terminate", RequestId: uuid.NewString()})
	t.Logf("terminating a closed operation: %v %v", serviceerror.ToStatus(err).Code(), err)

	// An operation error fails the operation.
	_, err = s.start(t, "failing", "fail", "operation", nil)
	requireNoError(t, err, "start failing")
	failed := s.poll(t, "failing", enumspb.NEXUS_OPERATION_WAIT_STAGE_CLOSED)
	if failed.GetFailure() == nil {
		t.Fatalf("failed outcome %v", failed)
	}
	if info := s.describe(t, "failing").Info; info.Status != enumspb.NEXUS_OPERATION_EXECUTION_STATUS_FAILED {
		t.Fatalf("failed describe %v", info)
	}
	t.Logf("failed: %v", failed.GetFailure())

	// List and count by endpoint and by operation id; workflows' lists do not show them.
	query := `Endpoint = "` + p.endpoint + `"`
	deadline := time.Now().Add(10 * time.Second)
	for {
		list, err := s.ws.ListNexusOperationExecutions(testCtx(t, 10*time.Second), &workflowservice.ListNexusOperationExecutionsRequest{
			Namespace: "default", Query: query})
		requireNoError(t, err, "list")
		if len(list.Operations) == 5 { // sync-op has two runs
			for _, op := range list.Operations {
				if op.Endpoint != p.endpoint || op.Service != nexusServiceName || op.ScheduleTime == nil {
					t.Fatalf("list entry %v", op)
				}
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("list %v", list.Operations)
		}
		time.Sleep(200 * time.Millisecond)
	}
	count, err := s.ws.CountNexusOperationExecutions(testCtx(t, 10*time.Second), &workflowservice.CountNexusOperationExecutionsRequest{
		Namespace: "default", Query: "`OperationId` = \"sync-op\""})
	requireNoError(t, err, "count")
	if count.Count != 2 { // its two runs
		t.Fatalf("count %v", count)
	}
	workflows, err := s.ws.CountWorkflowExecutions(testCtx(t, 10*time.Second), &workflowservice.CountWorkflowExecutionsRequest{Namespace: "default"})
	requireNoError(t, err, "count workflows")
	if workflows.Count != 0 {
		t.Fatalf("workflows in the caller namespace: %v", workflows)
	}

	// Delete: the operation is gone.
	_, err = s.ws.DeleteNexusOperationExecution(testCtx(t, 10*time.Second), &workflowservice.DeleteNexusOperationExecutionRequest{
		Namespace: "default", OperationId: "failing"})
	requireNoError(t, err, "delete")
	deadline = time.Now().Add(10 * time.Second)
	for {
		_, err = s.ws.DescribeNexusOperationExecution(testCtx(t, 10*time.Second), &workflowservice.DescribeNexusOperationExecutionRequest{
			Namespace: "default", OperationId: "failing"})
		if st := serviceerror.ToStatus(err); st.Code() == codes.NotFound {
			t.Logf("describe after delete: %q", st.Message())
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("describe after delete: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	_, err = s.ws.DescribeNexusOperationExecution(testCtx(t, 10*time.Second), &workflowservice.DescribeNexusOperationExecutionRequest{
		Namespace: "default", OperationId: "never-started"})
	if st := serviceerror.ToStatus(err); st.Code() != codes.NotFound {
		t.Fatalf("describe of an unknown operation: %v", err)
	}
	t.Logf("describe of an unknown operation: %v", err)
}

// A standalone operation's start and its handler run's completion are
// durable: the operation completes after a server kill -9.
func TestNexusStandaloneOperationAcrossKill9(t *testing.T) {
	p := startNexusPairWith(t, standaloneNexusConfig)
	s := standaloneOps{p: p, ws: p.caller.WorkflowService()}
	started, err := s.start(t, "kill9-op", "greet", "wait-standalone-kill9", nil)
	requireNoError(t, err, "start kill9-op")
	s.poll(t, "kill9-op", enumspb.NEXUS_OPERATION_WAIT_STAGE_STARTED)
	p.srv.Kill9()
	p.srv.Restart(t)
	err = p.handler.SignalWorkflow(testCtx(t, 30*time.Second), nexusHandlerWorkflowID("wait-standalone-kill9"), "", "finish",
		"done after restart")
	requireNoError(t, err, "signal handler workflow")
	s.ws = p.caller.WorkflowService()
	closed := s.poll(t, "kill9-op", enumspb.NEXUS_OPERATION_WAIT_STAGE_CLOSED)
	if closed.RunId != started.RunId || decodePayloadString(t, closed.GetResult()) != "done after restart" {
		t.Fatalf("outcome after restart %v", closed)
	}
	if info := s.describe(t, "kill9-op").Info; info.Status != enumspb.NEXUS_OPERATION_EXECUTION_STATUS_COMPLETED {
		t.Fatalf("describe after restart %v", info)
	}
}
