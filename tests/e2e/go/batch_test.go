package e2e

// Batch operations: terminate by a List Filter query, signal a list of
// executions, the requests Temporal refuses, describe/list/stop, and a
// batch that resumes after a server kill -9.

import (
	"errors"
	"fmt"
	"testing"
	"time"

	batchpb "go.temporal.io/api/batch/v1"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"google.golang.org/grpc/codes"
)

// waitForBatch waits until the batch is no longer running.
func waitForBatch(t *testing.T, c client.Client, jobID string, timeout time.Duration) *workflowservice.DescribeBatchOperationResponse {
	t.Helper()
	var last *workflowservice.DescribeBatchOperationResponse
	waitUntil(t, timeout, "batch "+jobID+" to finish", func() bool {
		resp, err := c.WorkflowService().DescribeBatchOperation(testCtx(t, 10*time.Second),
			&workflowservice.DescribeBatchOperationRequest{Namespace: defaultNamespace, JobId: jobID})
		requireNoError(t, err, "DescribeBatchOperation")
		last = resp
		return resp.GetState() != enumspb.BATCH_OPERATION_STATE_RUNNING
	})
	return last
}

func startWaiting(t *testing.T, c client.Client, tq, id, customer string) client.WorkflowRun {
	t.Helper()
	run, err := c.ExecuteWorkflow(testCtx(t, 10*time.Second), client.StartWorkflowOptions{
		ID: id, TaskQueue: tq, TypedSearchAttributes: temporal.NewSearchAttributes(saCustomer.ValueSet(customer)),
	}, VisibilityWorkflow, VisibilityInput{Wait: true})
	requireNoError(t, err, "start "+id)
	return run
}

func TestBatchTerminateByQueryAndSignalByList(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOptions{})
	c := newClient(t, srv.Addr(), defaultNamespace)
	registerVisibilityAttributes(t, c)
	tq := taskQueueFor(t)
	startWorker(t, c, tq, func(r worker.Registry) { r.RegisterWorkflow(VisibilityWorkflow) })
	svc := c.WorkflowService()

	runs := map[string]client.WorkflowRun{}
	for i := 1; i <= 3; i++ {
		id := fmt.Sprintf("batch-b1-%d", i)
		runs[id] = startWaiting(t, c, tq, id, "b1")
	}
	keep := startWaiting(t, c, tq, "batch-b2", "b2")
	waitForCount(t, c, "CustomerId = 'b1'", 3)

	_, err := svc.StartBatchOperation(testCtx(t, 10*time.Second), &workflowservice.StartBatchOperationRequest{
		Namespace: defaultNamespace, JobId: "job-terminate", Reason: "cleanup", VisibilityQuery: "CustomerId = 'b1'",
		Operation: &workflowservice.StartBatchOperationRequest_TerminationOperation{
			TerminationOperation: &batchpb.BatchOperationTermination{Identity: "batch-tester"},
		},
	})
	requireNoError(t, err, "StartBatchOperation terminate")
	d := waitForBatch(t, c, "job-terminate", 30*time.Second)
	if d.GetState() != enumspb.BATCH_OPERATION_STATE_COMPLETED || d.GetTotalOperationCount() != 3 ||
		d.GetCompleteOperationCount() != 3 || d.GetFailureOperationCount() != 0 {
		t.Fatalf("terminate batch: %v", d)
	}
	if d.GetOperationType() != enumspb.BATCH_OPERATION_TYPE_TERMINATE_WORKFLOW || d.GetReason() != "cleanup" ||
		d.GetIdentity() != "batch-tester" || d.GetJobId() != "job-terminate" || d.GetCloseTime() == nil {
		t.Errorf("terminate batch describe: %v", d)
	}
	for id, run := range runs {
		last := lastEvent(getHistory(t, c, id, run.GetRunID()))
		if last.GetEventType() != enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED ||
			last.GetWorkflowExecutionTerminatedEventAttributes().GetReason() != "cleanup" {
			t.Errorf("%s: last event %v, want terminated with reason cleanup", id, last)
		}
	}
	if desc, err := c.DescribeWorkflowExecution(testCtx(t, 10*time.Second), "batch-b2", ""); err != nil ||
		desc.GetWorkflowExecutionInfo().GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		t.Errorf("batch-b2 is not running any more: %v %v", desc, err)
	}

	// A signal batch over a list; a workflow that does not exist counts as done.
	_, err = svc.StartBatchOperation(testCtx(t, 10*time.Second), &workflowservice.StartBatchOperationRequest{
		Namespace: defaultNamespace, JobId: "job-signal", Reason: "wake up",
		Executions: []*commonpb.WorkflowExecution{{WorkflowId: "batch-b2"}, {WorkflowId: "no-such-workflow"}},
		Operation: &workflowservice.StartBatchOperationRequest_SignalOperation{
			SignalOperation: &batchpb.BatchOperationSignal{Signal: signalFinish, Input: &commonpb.Payloads{Payloads: []*commonpb.Payload{mustPayload(t, "go")}}, Identity: "batch-tester"},
		},
	})
	requireNoError(t, err, "StartBatchOperation signal")
	d = waitForBatch(t, c, "job-signal", 30*time.Second)
	if d.GetState() != enumspb.BATCH_OPERATION_STATE_COMPLETED || d.GetTotalOperationCount() != 2 ||
		d.GetCompleteOperationCount() != 2 || d.GetFailureOperationCount() != 0 ||
		d.GetOperationType() != enumspb.BATCH_OPERATION_TYPE_SIGNAL_WORKFLOW {
		t.Fatalf("signal batch: %v", d)
	}
	var out string
	requireNoError(t, getResult(t, c, keep, 20*time.Second, &out), "batch-b2 result after the signal")

	// List: both, newest first.
	list, err := svc.ListBatchOperations(testCtx(t, 10*time.Second), &workflowservice.ListBatchOperationsRequest{Namespace: defaultNamespace})
	requireNoError(t, err, "ListBatchOperations")
	if len(list.GetOperationInfo()) != 2 || list.GetOperationInfo()[0].GetJobId() != "job-signal" ||
		list.GetOperationInfo()[1].GetJobId() != "job-terminate" ||
		list.GetOperationInfo()[1].GetState() != enumspb.BATCH_OPERATION_STATE_COMPLETED {
		t.Errorf("ListBatchOperations: %v", list.GetOperationInfo())
	}

	// Stopping a finished batch, an unknown one; reusing a job id.
	_, err = svc.StopBatchOperation(testCtx(t, 10*time.Second), &workflowservice.StopBatchOperationRequest{
		Namespace: defaultNamespace, JobId: "job-signal", Reason: "too late"})
	requireStatus(t, "stop a finished batch", err, codes.NotFound, "workflow execution already completed")
	_, err = svc.StopBatchOperation(testCtx(t, 10*time.Second), &workflowservice.StopBatchOperationRequest{
		Namespace: defaultNamespace, JobId: "nope", Reason: "r"})
	requireStatus(t, "stop an unknown batch", err, codes.NotFound, "workflow not found for ID: nope")
	_, err = svc.DescribeBatchOperation(testCtx(t, 10*time.Second), &workflowservice.DescribeBatchOperationRequest{
		Namespace: defaultNamespace, JobId: "nope"})
	requireStatus(t, "describe an unknown batch", err, codes.NotFound, "workflow not found for ID: nope")
	_, err = svc.StartBatchOperation(testCtx(t, 10*time.Second), &workflowservice.StartBatchOperationRequest{
		Namespace: defaultNamespace, JobId: "job-signal", Reason: "again", VisibilityQuery: "CustomerId = 'b2'",
		Operation: &workflowservice.StartBatchOperationRequest_CancellationOperation{
			CancellationOperation: &batchpb.BatchOperationCancellation{}},
	})
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if !errors.As(err, &started) {
		t.Errorf("reusing a job id: got %v, want WorkflowExecutionAlreadyStarted", err)
	}
}

func TestBatchRequestsRefusedAsTemporal(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOptions{})
	c := newClient(t, srv.Addr(), defaultNamespace)
	terminate := &workflowservice.StartBatchOperationRequest_TerminationOperation{
		TerminationOperation: &batchpb.BatchOperationTermination{}}
	required := "must provide required parameters: BatchType,Reason,Namespace, AND one of (Query OR Executions OR TargetExecutions)"
	cases := []struct {
		name string
		req  *workflowservice.StartBatchOperationRequest
		want string
	}{
		{"no reason", &workflowservice.StartBatchOperationRequest{JobId: "j", VisibilityQuery: "WorkflowId = 'x'", Operation: terminate}, required},
		{"no operation", &workflowservice.StartBatchOperationRequest{JobId: "j", Reason: "r", VisibilityQuery: "WorkflowId = 'x'"}, required},
		{"no target", &workflowservice.StartBatchOperationRequest{JobId: "j", Reason: "r", Operation: terminate}, required},
		{"no job id", &workflowservice.StartBatchOperationRequest{Reason: "r", VisibilityQuery: "WorkflowId = 'x'", Operation: terminate},
			"JobId is not set on request."},
		{"two targets", &workflowservice.StartBatchOperationRequest{JobId: "j", Reason: "r", VisibilityQuery: "WorkflowId = 'x'",
			Executions: []*commonpb.WorkflowExecution{{WorkflowId: "x"}}, Operation: terminate},
			"visibility query, executions, and target executions are mutually exclusive"},
		{"signal without a name", &workflowservice.StartBatchOperationRequest{JobId: "j", Reason: "r", VisibilityQuery: "WorkflowId = 'x'",
			Operation: &workflowservice.StartBatchOperationRequest_SignalOperation{SignalOperation: &batchpb.BatchOperationSignal{}}},
			"must provide signal name"},
		{"bad query", &workflowservice.StartBatchOperationRequest{JobId: "j", Reason: "r", VisibilityQuery: "WorkflowType = ", Operation: terminate},
			"invalid visibility query: syntax error at position 42"},
		{"untyped target", &workflowservice.StartBatchOperationRequest{JobId: "j", Reason: "r", Operation: terminate,
			TargetExecutions: []*commonpb.Execution{{BusinessId: "x"}}},
			"target_executions[0] has type Unspecified, but operation *workflowservice.StartBatchOperationRequest_TerminationOperation requires Workflow"},
	}
	for _, tc := range cases {
		tc.req.Namespace = defaultNamespace
		_, err := c.WorkflowService().StartBatchOperation(testCtx(t, 10*time.Second), tc.req)
		requireStatus(t, tc.name, err, codes.InvalidArgument, tc.want)
	}
	_, err := c.WorkflowService().StopBatchOperation(testCtx(t, 10*time.Second), &workflowservice.StopBatchOperationRequest{
		Namespace: defaultNamespace, JobId: "j"})
	requireStatus(t, "stop without a reason", err, codes.InvalidArgument, "Reason is not set on request.")
	_, err = c.WorkflowService().DescribeBatchOperation(testCtx(t, 10*time.Second), &workflowservice.DescribeBatchOperationRequest{
		Namespace: defaultNamespace})
	requireStatus(t, "describe without a job id", err, codes.InvalidArgument, "JobId is not set on request.")
}

// A batch killed mid-way (kill -9) resumes after the restart and finishes:
// every matching workflow terminated exactly once.
func TestBatchResumesAfterKill9(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOptions{})
	c := newClient(t, srv.Addr(), defaultNamespace)
	registerVisibilityAttributes(t, c)
	tq := taskQueueFor(t) // No worker: the runs stay open.
	const n = 8
	for i := 0; i < n; i++ {
		startWaiting(t, c, tq, fmt.Sprintf("crash-%d", i), "crash")
	}
	waitForCount(t, c, "CustomerId = 'crash'", n)
	_, err := c.WorkflowService().StartBatchOperation(testCtx(t, 10*time.Second), &workflowservice.StartBatchOperationRequest{
		Namespace: defaultNamespace, JobId: "job-crash", Reason: "crash test", VisibilityQuery: "CustomerId = 'crash'",
		MaxOperationsPerSecond: 2,
		Operation: &workflowservice.StartBatchOperationRequest_TerminationOperation{
			TerminationOperation: &batchpb.BatchOperationTermination{}},
	})
	requireNoError(t, err, "StartBatchOperation")
	waitUntil(t, 20*time.Second, "a first termination", func() bool {
		return countRuns(t, c, "CustomerId = 'crash' AND ExecutionStatus = 'Terminated'").GetCount() >= 1
	})
	srv.Kill9()
	srv.Restart(t)
	c = newClient(t, srv.Addr(), defaultNamespace)
	d := waitForBatch(t, c, "job-crash", 60*time.Second)
	if d.GetState() != enumspb.BATCH_OPERATION_STATE_COMPLETED || d.GetTotalOperationCount() != n ||
		d.GetFailureOperationCount() != 0 || d.GetCompleteOperationCount() < n-1 {
		t.Fatalf("batch after a restart: %v", d)
	}
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("crash-%d", i)
		events := getHistory(t, c, id, "")
		if got := countEvents(events, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED); got != 1 {
			t.Errorf("%s: %d terminated events:\n%s", id, got, formatHistory(events))
		}
	}
}
