package e2e

// DeleteWorkflowExecution and namespace retention. Delete is checked against
// both servers (Temporal deletes asynchronously, so the tests wait for the run
// to go); retention needs Kairos's testing flag, since Temporal's shortest
// retention is an hour.

import (
	"errors"
	"fmt"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"google.golang.org/protobuf/types/known/durationpb"
)

func registerGreet(r worker.Registry) {
	r.RegisterWorkflow(Greet)
	r.RegisterActivity(&greetingActivities{})
}

// waitGone waits until describing the workflow id answers NotFound (the
// run was the current one), and until its visibility row is gone. On Kairos
// the run itself is gone at once: describing it or reading its history by
// run id answer NotFound too. (Temporal keeps answering those from its
// mutable-state cache for a while after the rows are deleted.)
func waitGone(t *testing.T, c client.Client, workflowID, runID string, within time.Duration) {
	t.Helper()
	ctx := testCtx(t, within+10*time.Second)
	deadline := time.Now().Add(within)
	for {
		_, err := c.DescribeWorkflowExecution(ctx, workflowID, "")
		var nf *serviceerror.NotFound
		if errors.As(err, &nf) {
			break
		}
		if err != nil {
			t.Fatalf("describing %s while waiting for its delete: %v", workflowID, err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s/%s still there %v after its delete", workflowID, runID, within)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !againstTemporal(t) {
		_, err := c.DescribeWorkflowExecution(ctx, workflowID, runID)
		expectErrorAs[*serviceerror.NotFound](t, err, "describing a deleted run by its run id")
		_, err = fetchHistory(ctx, c, workflowID, runID)
		expectErrorAs[*serviceerror.NotFound](t, err, "history of a deleted run")
	}
	// Visibility may lag on Temporal (it is written by a task of its own).
	for {
		resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Query: fmt.Sprintf("WorkflowId = '%s'", workflowID),
		})
		requireNoError(t, err, "listing a deleted run")
		found := false
		for _, e := range resp.GetExecutions() {
			found = found || e.GetExecution().GetRunId() == runID
		}
		if !found {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s/%s still listed after its delete", workflowID, runID)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func deleteRun(t *testing.T, c client.Client, workflowID, runID string) error {
	_, err := c.WorkflowService().DeleteWorkflowExecution(testCtx(t, 10*time.Second), &workflowservice.DeleteWorkflowExecutionRequest{
		Namespace:         "default",
		WorkflowExecution: &commonpb.WorkflowExecution{WorkflowId: workflowID, RunId: runID},
	})
	return err
}

func TestDeleteClosedWorkflow(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOptions{})
	c := newClient(t, srv.Addr(), "default")
	tq := taskQueueFor(t)
	startWorker(t, c, tq, registerGreet)
	ctx := testCtx(t, 60*time.Second)

	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "delete-closed", TaskQueue: tq}, Greet, "Ada")
	requireNoError(t, err, "starting")
	var out string
	requireNoError(t, getResult(t, c, run, 30*time.Second, &out), "result")
	requireNoError(t, deleteRun(t, c, run.GetID(), run.GetRunID()), "deleting a closed run")
	waitGone(t, c, run.GetID(), run.GetRunID(), 60*time.Second)

	// The id is free again: a new run starts as if there had never been one.
	again, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "delete-closed", TaskQueue: tq}, Greet, "Bo")
	requireNoError(t, err, "starting the id again")
	requireNoError(t, getResult(t, c, again, 30*time.Second, &out), "result of the new run")
	if out != "Hello, Bo!" {
		t.Errorf("new run's result = %q", out)
	}
	desc, err := c.DescribeWorkflowExecution(ctx, "delete-closed", "")
	requireNoError(t, err, "describing the new run")
	if desc.GetWorkflowExecutionInfo().GetFirstRunId() != again.GetRunID() {
		t.Errorf("first run id = %s, want the new run %s", desc.GetWorkflowExecutionInfo().GetFirstRunId(), again.GetRunID())
	}

	// Unknown runs: NotFound.
	err = deleteRun(t, c, "delete-closed", "2f1a9bde-0000-4000-8000-000000000000")
	expectErrorAs[*serviceerror.NotFound](t, err, "deleting an unknown run")
	err = deleteRun(t, c, "no-such-workflow", "")
	expectErrorAs[*serviceerror.NotFound](t, err, "deleting an unknown workflow")
}

func TestDeleteRunningWorkflow(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOptions{})
	c := newClient(t, srv.Addr(), "default")
	tq := taskQueueFor(t)
	startWorker(t, c, tq, func(r worker.Registry) { r.RegisterWorkflow(AwaitFinish) })
	ctx := testCtx(t, 60*time.Second)

	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "delete-running", TaskQueue: tq}, AwaitFinish)
	requireNoError(t, err, "starting")
	waitForEvent(t, c, run.GetID(), run.GetRunID(), enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED, 20*time.Second)

	// A caller waiting for the close event sees the run terminated by the delete.
	closed := make(chan error, 1)
	var closeEvent *historypb.HistoryEvent
	go func() {
		iter := c.GetWorkflowHistory(ctx, run.GetID(), run.GetRunID(), true, enumspb.HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT)
		for iter.HasNext() {
			e, err := iter.Next()
			if err != nil {
				closed <- err
				return
			}
			closeEvent = e
		}
		closed <- nil
	}()
	time.Sleep(200 * time.Millisecond) // The long poll is parked before the delete.
	requireNoError(t, deleteRun(t, c, run.GetID(), ""), "deleting a running run")
	if err := <-closed; err != nil {
		t.Fatalf("waiting for the close event: %v", err)
	}
	if closeEvent == nil || closeEvent.GetEventType() != enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED {
		t.Fatalf("close event = %v, want WorkflowExecutionTerminated", closeEvent)
	}
	a := closeEvent.GetWorkflowExecutionTerminatedEventAttributes()
	if a.GetReason() != "Delete workflow execution" || a.GetIdentity() != "history-service" {
		t.Errorf("terminated by reason %q identity %q, want Temporal's \"Delete workflow execution\" / \"history-service\"",
			a.GetReason(), a.GetIdentity())
	}
	waitGone(t, c, run.GetID(), run.GetRunID(), 60*time.Second)
}

// Runs are deleted once retention passes after they close, by background
// passes that continue after a kill -9; running runs are never touched.
func TestRetentionDeletesClosedRuns(t *testing.T) {
	t.Parallel()
	if againstTemporal(t) {
		t.Skip("needs Kairos's --retention-override-ms (Temporal's shortest retention is an hour)")
	}
	srv := startServer(t, serverOptions{KairosArgs: []string{"--retention-override-ms", "3000", "--retention-interval-ms", "100"}})
	c := newClient(t, srv.Addr(), "default")
	tq := taskQueueFor(t)
	startWorker(t, c, tq, func(r worker.Registry) {
		registerGreet(r)
		r.RegisterWorkflow(AwaitFinish)
	})
	ctx := testCtx(t, 90*time.Second)

	const n = 20
	var runs []client.WorkflowRun
	for i := 0; i < n; i++ {
		run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: fmt.Sprintf("retained-%d", i), TaskQueue: tq}, Greet, "x")
		requireNoError(t, err, "starting")
		runs = append(runs, run)
	}
	for _, run := range runs {
		var out string
		requireNoError(t, getResult(t, c, run, 30*time.Second, &out), "result")
	}
	keep, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "still-running", TaskQueue: tq}, AwaitFinish)
	requireNoError(t, err, "starting the running one")
	// Within retention the closed runs are all there.
	if got := countRuns(t, c, "").GetCount(); got != n+1 {
		t.Fatalf("count right after the runs closed = %d, want %d", got, n+1)
	}
	// Retention passes survive a crash: nothing about them is in memory only.
	srv.Kill9()
	srv.Restart(t)
	c = newClient(t, srv.Addr(), "default")
	startWorker(t, c, tq, func(r worker.Registry) { r.RegisterWorkflow(AwaitFinish) })
	for _, run := range runs {
		waitGone(t, c, run.GetID(), run.GetRunID(), 20*time.Second)
	}
	desc, err := c.DescribeWorkflowExecution(ctx, keep.GetID(), keep.GetRunID())
	requireNoError(t, err, "describing the running run after retention")
	if desc.GetWorkflowExecutionInfo().GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		t.Errorf("running run's status = %v", desc.GetWorkflowExecutionInfo().GetStatus())
	}
	// Once it closes, its turn comes too.
	requireNoError(t, c.SignalWorkflow(ctx, keep.GetID(), "", signalFinish, "now"), "signalling")
	var out string
	requireNoError(t, getResult(t, c, keep, 30*time.Second, &out), "result of the running one")
	waitGone(t, c, keep.GetID(), keep.GetRunID(), 20*time.Second)
	if got := countRuns(t, c, "").GetCount(); got != 0 {
		t.Errorf("count after retention = %d, want 0", got)
	}
}

// Retention as Temporal's dev server sets and checks it: 24 h for the
// namespaces made at start, at least an hour for a new one, none refused.
func TestNamespaceRetentionBounds(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOptions{Namespaces: []string{"extra"}})
	c := newClient(t, srv.Addr(), "default")
	ctx := testCtx(t, 30*time.Second)
	for _, ns := range []string{"default", "extra"} {
		d, err := c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: ns})
		requireNoError(t, err, "describing "+ns)
		if got := d.GetConfig().GetWorkflowExecutionRetentionTtl().AsDuration(); got != 24*time.Hour {
			t.Errorf("%s retention = %v, want 24h", ns, got)
		}
	}
	register := func(name string, retention *durationpb.Duration) error {
		_, err := c.WorkflowService().RegisterNamespace(ctx, &workflowservice.RegisterNamespaceRequest{
			Namespace: name, WorkflowExecutionRetentionPeriod: retention,
		})
		return err
	}
	requireNoError(t, register("one-hour", durationpb.New(time.Hour)), "registering with an hour's retention")
	for name, retention := range map[string]*durationpb.Duration{"too-short": durationpb.New(59 * time.Minute), "no-retention": nil} {
		err := register(name, retention)
		if ia := requireErrorAs[*serviceerror.InvalidArgument](t, err, "registering "+name); ia.Error() != "A valid retention period is not set on request." {
			t.Errorf("%s: %q", name, ia.Error())
		}
	}
}
