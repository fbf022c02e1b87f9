package e2e

// A workflow task over a long history: its history comes in pages (the first
// in the task, the rest through GetWorkflowExecutionHistory with the task's
// token), with a transient attempt's events after the last stored one, and
// the SDK's worker reads them all.

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	commandpb "go.temporal.io/api/command/v1"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	taskqueuepb "go.temporal.io/api/taskqueue/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"google.golang.org/protobuf/types/known/durationpb"
)

const longHistorySignals = 1500

// signalMany sends n signals named "tick" to wfID, ten at a time.
func signalMany(t *testing.T, ctx context.Context, svc workflowservice.WorkflowServiceClient, wfID string, n int) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	next := make(chan int, n)
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	for g := 0; g < 10; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				_, err := svc.SignalWorkflowExecution(ctx, &workflowservice.SignalWorkflowExecutionRequest{
					Namespace:         "default",
					WorkflowExecution: &commonpb.WorkflowExecution{WorkflowId: wfID},
					SignalName:        "tick",
					Identity:          "signaller",
					RequestId:         fmt.Sprintf("%s-tick-%d", wfID, i),
				})
				if err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("SignalWorkflowExecution: %v", err)
	}
}

// taskHistory is a polled task's whole history: its first page, then the
// pages its token leads to.
func taskHistory(t *testing.T, ctx context.Context, svc workflowservice.WorkflowServiceClient, wfID string,
	task *workflowservice.PollWorkflowTaskQueueResponse) (events []*historypb.HistoryEvent, pages int) {
	t.Helper()
	events = append(events, task.GetHistory().GetEvents()...)
	pages = 1
	for token := task.GetNextPageToken(); len(token) > 0; pages++ {
		resp, err := svc.GetWorkflowExecutionHistory(ctx, &workflowservice.GetWorkflowExecutionHistoryRequest{
			Namespace:     "default",
			Execution:     task.GetWorkflowExecution(),
			NextPageToken: token,
		})
		if err != nil {
			t.Fatalf("GetWorkflowExecutionHistory (page %d of %s): %v", pages+1, wfID, err)
		}
		events = append(events, resp.GetHistory().GetEvents()...)
		token = resp.GetNextPageToken()
	}
	return events, pages
}

func TestLongHistoryWorkflowTaskIsPaged(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOptions{})
	svc := rawService(t, srv.Addr())
	ctx := testCtx(t, 120*time.Second)
	queue := taskQueueFor(t)
	const wfID = "long-history-raw"
	if _, err := svc.StartWorkflowExecution(ctx, &workflowservice.StartWorkflowExecutionRequest{
		Namespace: "default", WorkflowId: wfID, WorkflowType: &commonpb.WorkflowType{Name: "Manual"},
		TaskQueue: &taskqueuepb.TaskQueue{Name: queue}, WorkflowTaskTimeout: durationpb.New(10 * time.Second),
		RequestId: "start-long", Identity: "starter",
	}); err != nil {
		t.Fatalf("StartWorkflowExecution: %v", err)
	}
	signalMany(t, ctx, svc, wfID, longHistorySignals)

	// Attempt 1: started, scheduled, 1,500 signals, started.
	first := pollTask(t, ctx, svc, queue, "worker-1")
	wantLast := int64(longHistorySignals + 3)
	if first.GetStartedEventId() != wantLast {
		t.Fatalf("attempt 1 started event id = %d, want %d", first.GetStartedEventId(), wantLast)
	}
	if n := len(first.GetHistory().GetEvents()); int64(n) >= wantLast || len(first.GetNextPageToken()) == 0 {
		t.Fatalf("attempt 1 carries %d of %d events and token %q: want a first page and a token", n, wantLast,
			first.GetNextPageToken())
	}
	events, pages := taskHistory(t, ctx, svc, wfID, first)
	requireGaplessEventIDs(t, events)
	if int64(len(events)) != wantLast || events[len(events)-1].GetEventType() != enumspb.EVENT_TYPE_WORKFLOW_TASK_STARTED {
		t.Fatalf("attempt 1's pages hold %d events ending with %v, want %d ending with WorkflowTaskStarted",
			len(events), events[len(events)-1].GetEventType(), wantLast)
	}
	t.Logf("attempt 1: %d events in %d pages", len(events), pages)

	// Attempt 2 follows a failure: its scheduled and started events are not
	// stored, and come after the last stored one, on the last page.
	if _, err := svc.RespondWorkflowTaskFailed(ctx, &workflowservice.RespondWorkflowTaskFailedRequest{
		Namespace: "default", TaskToken: first.GetTaskToken(), Identity: "worker-1",
		Cause: enumspb.WORKFLOW_TASK_FAILED_CAUSE_WORKFLOW_WORKER_UNHANDLED_FAILURE,
	}); err != nil {
		t.Fatalf("RespondWorkflowTaskFailed: %v", err)
	}
	second := pollTask(t, ctx, svc, queue, "worker-2")
	if second.GetAttempt() != 2 || len(second.GetNextPageToken()) == 0 {
		t.Fatalf("attempt 2: attempt %d, token %q; want attempt 2 with a token", second.GetAttempt(), second.GetNextPageToken())
	}
	events, _ = taskHistory(t, ctx, svc, wfID, second)
	requireGaplessEventIDs(t, events)
	n := len(events)
	if int64(n) != second.GetStartedEventId() || events[n-1].GetEventType() != enumspb.EVENT_TYPE_WORKFLOW_TASK_STARTED ||
		events[n-2].GetWorkflowTaskScheduledEventAttributes().GetAttempt() != 2 ||
		events[n-3].GetEventType() != enumspb.EVENT_TYPE_WORKFLOW_TASK_FAILED {
		t.Fatalf("attempt 2's pages: %d events (started event id %d), want them to end with WorkflowTaskFailed, "+
			"the transient scheduled (attempt 2) and started:\n%s", n, second.GetStartedEventId(), formatHistory(events[n-3:]))
	}

	if _, err := svc.RespondWorkflowTaskCompleted(ctx, &workflowservice.RespondWorkflowTaskCompletedRequest{
		Namespace: "default", TaskToken: second.GetTaskToken(), Identity: "worker-2",
		Commands: []*commandpb.Command{{
			CommandType: enumspb.COMMAND_TYPE_COMPLETE_WORKFLOW_EXECUTION,
			Attributes: &commandpb.Command_CompleteWorkflowExecutionCommandAttributes{
				CompleteWorkflowExecutionCommandAttributes: &commandpb.CompleteWorkflowExecutionCommandAttributes{}},
		}},
	}); err != nil {
		t.Fatalf("completing attempt 2: %v", err)
	}
	all := getHistory(t, newClient(t, srv.Addr(), "default"), wfID, "")
	requireGaplessEventIDs(t, all)
	if last := all[len(all)-1]; last.GetEventType() != enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED {
		t.Fatalf("last event %v, want WorkflowExecutionCompleted", last.GetEventType())
	}
}

// CountTicks counts the "tick" signals that arrived before its first task.
func CountTicks(ctx workflow.Context) (int, error) {
	ch := workflow.GetSignalChannel(ctx, "tick")
	n := 0
	for ch.ReceiveAsync(nil) {
		n++
	}
	return n, nil
}

func TestLongHistoryReadBySDKWorker(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOptions{})
	svc := rawService(t, srv.Addr())
	c := newClient(t, srv.Addr(), "default")
	ctx := testCtx(t, 120*time.Second)
	queue := taskQueueFor(t)
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "long-history-sdk", TaskQueue: queue}, CountTicks)
	if err != nil {
		t.Fatalf("ExecuteWorkflow: %v", err)
	}
	signalMany(t, ctx, svc, run.GetID(), longHistorySignals)
	startWorker(t, c, queue, func(r worker.Registry) { r.RegisterWorkflow(CountTicks) })
	var got int
	if err := run.Get(ctx, &got); err != nil {
		t.Fatalf("CountTicks: %v", err)
	}
	if got != longHistorySignals {
		t.Fatalf("CountTicks saw %d signals, want %d", got, longHistorySignals)
	}
	events := getHistory(t, c, run.GetID(), run.GetRunID())
	requireGaplessEventIDs(t, events)
	replayHistory(t, events, CountTicks)
}
