package e2e

// Tests that drive the Temporal API directly (a hand-written "worker"), to
// pin down server behaviour an SDK would hide: workflow-task timeouts and
// transient retries, invalid commands, task-queue pollers, reverse history,
// gzip-compressed and large requests.

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	commandpb "go.temporal.io/api/command/v1"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	taskqueuepb "go.temporal.io/api/taskqueue/v1"
	"go.temporal.io/api/workflowservice/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/encoding/gzip"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
)

// rawService dials the server with plain gRPC: gzip on every request and a
// receive limit that fits the large-payload test.
func rawService(t *testing.T, addr string) workflowservice.WorkflowServiceClient {
	t.Helper()
	conn, err := grpc.NewClient(addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.UseCompressor(gzip.Name), grpc.MaxCallRecvMsgSize(64<<20),
			grpc.MaxCallSendMsgSize(64<<20)))
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { conn.Close() })
	return workflowservice.NewWorkflowServiceClient(conn)
}

func rawHistory(t *testing.T, ctx context.Context, svc workflowservice.WorkflowServiceClient, wfID string) []*historypb.HistoryEvent {
	t.Helper()
	resp, err := svc.GetWorkflowExecutionHistory(ctx, &workflowservice.GetWorkflowExecutionHistoryRequest{
		Namespace: "default",
		Execution: &commonpb.WorkflowExecution{WorkflowId: wfID},
	})
	if err != nil {
		t.Fatalf("GetWorkflowExecutionHistory: %v", err)
	}
	return resp.GetHistory().GetEvents()
}

func pollTask(t *testing.T, ctx context.Context, svc workflowservice.WorkflowServiceClient, queue, identity string) *workflowservice.PollWorkflowTaskQueueResponse {
	t.Helper()
	for ctx.Err() == nil {
		resp, err := svc.PollWorkflowTaskQueue(ctx, &workflowservice.PollWorkflowTaskQueueRequest{
			Namespace: "default",
			TaskQueue: &taskqueuepb.TaskQueue{Name: queue, Kind: enumspb.TASK_QUEUE_KIND_NORMAL},
			Identity:  identity,
		})
		if err != nil {
			t.Fatalf("PollWorkflowTaskQueue(%s): %v", identity, err)
		}
		if len(resp.GetTaskToken()) > 0 {
			return resp
		}
	}
	t.Fatalf("no workflow task for %s before the deadline", identity)
	return nil
}

func TestWorkflowTaskTimeoutsAndTransientRetries(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOptions{})
	svc := rawService(t, srv.Addr())
	ctx := testCtx(t, 60*time.Second)
	queue := taskQueueFor(t)
	const wfID = "manual-worker"
	_, err := svc.StartWorkflowExecution(ctx, &workflowservice.StartWorkflowExecutionRequest{
		Namespace:           "default",
		WorkflowId:          wfID,
		WorkflowType:        &commonpb.WorkflowType{Name: "Manual"},
		TaskQueue:           &taskqueuepb.TaskQueue{Name: queue},
		WorkflowTaskTimeout: durationpb.New(time.Second),
		RequestId:           "start-1",
		Identity:            "starter",
	})
	if err != nil {
		t.Fatalf("StartWorkflowExecution: %v", err)
	}

	// Attempt 1 is taken by a worker that never answers: it times out.
	first := pollTask(t, ctx, svc, queue, "silent-worker")
	if first.GetAttempt() != 1 || first.GetStartedEventId() != 3 {
		t.Fatalf("first task: attempt %d started %d, want 1 and 3", first.GetAttempt(), first.GetStartedEventId())
	}
	taken := time.Now()
	second := pollTask(t, ctx, svc, queue, "failing-worker")
	if waited := time.Since(taken); waited < 900*time.Millisecond {
		t.Errorf("attempt 2 was handed out %v after attempt 1 started, before its 1s timeout", waited)
	}
	if second.GetAttempt() != 2 {
		t.Fatalf("second task: attempt %d, want 2", second.GetAttempt())
	}
	// A transient attempt shows the worker its own scheduled/started events.
	evs := second.GetHistory().GetEvents()
	if n := len(evs); n < 2 || evs[n-1].GetEventType() != enumspb.EVENT_TYPE_WORKFLOW_TASK_STARTED ||
		evs[n-2].GetWorkflowTaskScheduledEventAttributes().GetAttempt() != 2 {
		t.Fatalf("attempt 2 history does not end with its scheduled (attempt 2) and started events:\n%s", formatHistory(evs))
	}

	// Attempt 2 fails; attempt 3 sends an invalid command.
	if _, err := svc.RespondWorkflowTaskFailed(ctx, &workflowservice.RespondWorkflowTaskFailedRequest{
		Namespace: "default", TaskToken: second.GetTaskToken(), Identity: "failing-worker",
		Cause: enumspb.WORKFLOW_TASK_FAILED_CAUSE_WORKFLOW_WORKER_UNHANDLED_FAILURE,
	}); err != nil {
		t.Fatalf("RespondWorkflowTaskFailed: %v", err)
	}
	third := pollTask(t, ctx, svc, queue, "buggy-worker")
	if third.GetAttempt() != 3 {
		t.Fatalf("third task: attempt %d, want 3", third.GetAttempt())
	}
	_, err = svc.RespondWorkflowTaskCompleted(ctx, &workflowservice.RespondWorkflowTaskCompletedRequest{
		Namespace: "default", TaskToken: third.GetTaskToken(), Identity: "buggy-worker",
		Commands: []*commandpb.Command{{
			CommandType: enumspb.COMMAND_TYPE_START_TIMER,
			Attributes: &commandpb.Command_StartTimerCommandAttributes{StartTimerCommandAttributes: &commandpb.StartTimerCommandAttributes{
				TimerId: "", StartToFireTimeout: durationpb.New(time.Second)}},
		}},
	})
	if status.Code(err) != codes.InvalidArgument {
		t.Errorf("completing with a StartTimer without a timer id: got %v, want INVALID_ARGUMENT", err)
	}

	// Attempt 4 completes the workflow.
	fourth := pollTask(t, ctx, svc, queue, "good-worker")
	if fourth.GetAttempt() != 4 {
		t.Fatalf("fourth task: attempt %d, want 4", fourth.GetAttempt())
	}
	if _, err := svc.RespondWorkflowTaskCompleted(ctx, &workflowservice.RespondWorkflowTaskCompletedRequest{
		Namespace: "default", TaskToken: fourth.GetTaskToken(), Identity: "good-worker",
		Commands: []*commandpb.Command{{
			CommandType: enumspb.COMMAND_TYPE_COMPLETE_WORKFLOW_EXECUTION,
			Attributes: &commandpb.Command_CompleteWorkflowExecutionCommandAttributes{
				CompleteWorkflowExecutionCommandAttributes: &commandpb.CompleteWorkflowExecutionCommandAttributes{}},
		}},
	}); err != nil {
		t.Fatalf("completing attempt 4: %v", err)
	}
	// A stale token (attempt 1) is refused.
	if _, err := svc.RespondWorkflowTaskCompleted(ctx, &workflowservice.RespondWorkflowTaskCompletedRequest{
		Namespace: "default", TaskToken: first.GetTaskToken(), Identity: "silent-worker",
	}); err == nil {
		t.Errorf("completing the timed-out attempt 1 after the workflow closed succeeded")
	}

	// Failed attempts 2 and 3 leave no events: no event storm.
	events := rawHistory(t, ctx, svc, wfID)
	requireEventTypes(t, events,
		enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED,
		enumspb.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
		enumspb.EVENT_TYPE_WORKFLOW_TASK_STARTED,
		enumspb.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT,
		enumspb.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
		enumspb.EVENT_TYPE_WORKFLOW_TASK_STARTED,
		enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
		enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
	)
	requireGaplessEventIDs(t, events)
	if a := events[3].GetWorkflowTaskTimedOutEventAttributes(); a.GetTimeoutType() != enumspb.TIMEOUT_TYPE_START_TO_CLOSE ||
		a.GetScheduledEventId() != 2 || a.GetStartedEventId() != 3 {
		t.Errorf("WorkflowTaskTimedOut = %v, want START_TO_CLOSE for events 2/3", a)
	}
	if a := events[4].GetWorkflowTaskScheduledEventAttributes(); a.GetAttempt() != 4 {
		t.Errorf("final WorkflowTaskScheduled attempt = %d, want 4", a.GetAttempt())
	}
	if id := events[5].GetWorkflowTaskStartedEventAttributes().GetIdentity(); id != "good-worker" {
		t.Errorf("final WorkflowTaskStarted identity = %q, want good-worker", id)
	}

	// Every worker that polled is listed by DescribeTaskQueue.
	dq, err := svc.DescribeTaskQueue(ctx, &workflowservice.DescribeTaskQueueRequest{
		Namespace: "default", TaskQueue: &taskqueuepb.TaskQueue{Name: queue},
		TaskQueueType: enumspb.TASK_QUEUE_TYPE_WORKFLOW,
	})
	if err != nil {
		t.Fatalf("DescribeTaskQueue: %v", err)
	}
	seen := map[string]bool{}
	for _, p := range dq.GetPollers() {
		seen[p.GetIdentity()] = true
		if p.GetLastAccessTime().AsTime().Before(taken.Add(-time.Minute)) {
			t.Errorf("poller %s: last access time %v is not recent", p.GetIdentity(), p.GetLastAccessTime().AsTime())
		}
	}
	for _, id := range []string{"silent-worker", "failing-worker", "buggy-worker", "good-worker"} {
		if !seen[id] {
			t.Errorf("DescribeTaskQueue pollers %v lack %s", seen, id)
		}
	}

	// Reverse history, paged by three.
	var reversed []int64
	var token []byte
	for {
		resp, err := svc.GetWorkflowExecutionHistoryReverse(ctx, &workflowservice.GetWorkflowExecutionHistoryReverseRequest{
			Namespace: "default", Execution: &commonpb.WorkflowExecution{WorkflowId: wfID},
			MaximumPageSize: 3, NextPageToken: token,
		})
		if err != nil {
			t.Fatalf("GetWorkflowExecutionHistoryReverse: %v", err)
		}
		for _, e := range resp.GetHistory().GetEvents() {
			reversed = append(reversed, e.GetEventId())
		}
		if token = resp.GetNextPageToken(); len(token) == 0 {
			break
		}
	}
	want := []int64{8, 7, 6, 5, 4, 3, 2, 1}
	if len(reversed) != len(want) {
		t.Fatalf("reverse history ids %v, want %v", reversed, want)
	}
	for i := range want {
		if reversed[i] != want[i] {
			t.Fatalf("reverse history ids %v, want %v", reversed, want)
		}
	}
}

func TestGzipAndLargePayloads(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOptions{})
	svc := rawService(t, srv.Addr())
	ctx := testCtx(t, 30*time.Second)

	// Every call of rawService is gzip-compressed.
	info, err := svc.GetSystemInfo(ctx, &workflowservice.GetSystemInfoRequest{})
	if err != nil || info.GetServerVersion() == "" {
		t.Fatalf("gzip GetSystemInfo: %v (version %q)", err, info.GetServerVersion())
	}

	// A 1.5 MB input (under Temporal's 2 MB blob limit, above the 512 KB
	// warning) is accepted and kept intact.
	big := bytes.Repeat([]byte("kairos!"), 3<<19/7+1)
	start := func(id string, data []byte) error {
		_, err := svc.StartWorkflowExecution(ctx, &workflowservice.StartWorkflowExecutionRequest{
			Namespace:    "default",
			WorkflowId:   id,
			WorkflowType: &commonpb.WorkflowType{Name: "Big"},
			TaskQueue:    &taskqueuepb.TaskQueue{Name: taskQueueFor(t)},
			Input:        &commonpb.Payloads{Payloads: []*commonpb.Payload{{Data: data}}},
			RequestId:    id,
		})
		return err
	}
	if err := start("large-input", big); err != nil {
		t.Fatalf("StartWorkflowExecution with a %d-byte input: %v", len(big), err)
	}
	events := rawHistory(t, ctx, svc, "large-input")
	got := events[0].GetWorkflowExecutionStartedEventAttributes().GetInput().GetPayloads()
	if len(got) != 1 || !bytes.Equal(got[0].GetData(), big) {
		t.Fatalf("the %d-byte input did not come back intact", len(big))
	}
	// 3 MB fits in a message but not under the blob limit; 5 MB (gzip makes
	// it small on the wire) is over the 4 MB message limit once decompressed.
	if err := start("too-large", bytes.Repeat([]byte("k"), 3<<20)); status.Code(err) != codes.InvalidArgument ||
		!strings.Contains(err.Error(), "Blob data size exceeds limit.") {
		t.Errorf("a 3 MB input: %v, want InvalidArgument \"Blob data size exceeds limit.\"", err)
	}
	if err := start("too-large-message", bytes.Repeat([]byte("k"), 5<<20)); status.Code(err) != codes.ResourceExhausted {
		t.Errorf("a 5 MB input: %v, want ResourceExhausted (message size)", err)
	}

	// An RPC Kairos does not implement says which one.
	_, err = svc.DescribeActivityExecution(ctx, &workflowservice.DescribeActivityExecutionRequest{
		Namespace: "default", ActivityId: "act"})
	if status.Code(err) != codes.Unimplemented || !bytes.Contains([]byte(err.Error()), []byte("DescribeActivityExecution")) {
		t.Errorf("DescribeActivityExecution: got %v, want UNIMPLEMENTED naming the RPC", err)
	}
}
