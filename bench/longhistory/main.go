// Command longhistory measures reads of one long history (default 50,000
// events): it starts a server on a fresh SQLite file, starts a workflow,
// sends it signals until the history is that long, plays the worker over raw
// gRPC, and prints one "key: value" line per figure:
//
//   - page_first_ms / page_last_ms: p50 of reading the first and the last
//     page (1,000 events) of GetWorkflowExecutionHistory: a page is a key
//     range, so both should cost the same;
//   - task_first_page_events, task_pages, task_read_ms: a workflow task for
//     a worker without the run cached: its first page and how many pages
//     the whole history took;
//   - sticky_task_events, sticky_task_first_event: the next task for a sticky worker
//     after one more signal: only the events it lacks.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"time"

	commandpb "go.temporal.io/api/command/v1"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	taskqueuepb "go.temporal.io/api/taskqueue/v1"
	"go.temporal.io/api/workflowservice/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/types/known/durationpb"
)

const (
	queue  = "long-history"
	sticky = "long-history-sticky"
	wfID   = "long-history"
)

func out(k string, v any) { fmt.Printf("%-24s %v\n", k+":", v) }

func main() {
	bin := flag.String("kairos-bin", "build/server/kairos", "Kairos binary")
	events := flag.Int("events", 50_000, "history length to reach")
	reps := flag.Int("reps", 20, "timed repetitions of each page read")
	flag.Parse()
	if err := run(*bin, *events, *reps); err != nil {
		fmt.Fprintln(os.Stderr, "longhistory:", err)
		os.Exit(1)
	}
}

func startServer(bin, dir string) (*exec.Cmd, string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command(bin, "server", "start-dev", "--headless", "--port", strconv.Itoa(port),
		"--db-filename", filepath.Join(dir, "k.db"), "--log-level", "warn",
		// The history is made of signals: more than a run takes by default.
		"--dynamic-config-value", "history.maximumSignalsPerExecution=1000000")
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, "", err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, "", err
	}
	defer conn.Close()
	for began := time.Now(); time.Since(began) < 30*time.Second; time.Sleep(5 * time.Millisecond) {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
		cancel()
		if err == nil && resp.GetStatus() == healthpb.HealthCheckResponse_SERVING {
			return cmd, addr, nil
		}
	}
	return nil, "", fmt.Errorf("server not serving after 30 s")
}

func signal(ctx context.Context, svc workflowservice.WorkflowServiceClient, n, from int) error {
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	next := make(chan int, n)
	for i := from; i < from+n; i++ {
		next <- i
	}
	close(next)
	for g := 0; g < 32; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if _, err := svc.SignalWorkflowExecution(ctx, &workflowservice.SignalWorkflowExecutionRequest{
					Namespace: "default", WorkflowExecution: &commonpb.WorkflowExecution{WorkflowId: wfID},
					SignalName: "tick", RequestId: fmt.Sprintf("tick-%d", i),
				}); err != nil {
					select {
					case errs <- err:
					default:
					}
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

func poll(ctx context.Context, svc workflowservice.WorkflowServiceClient, tq string, kind enumspb.TaskQueueKind) (*workflowservice.PollWorkflowTaskQueueResponse, time.Duration, error) {
	for {
		began := time.Now()
		ctx, cancel := context.WithTimeout(ctx, 70*time.Second) // A long poll needs a deadline.
		defer cancel()
		resp, err := svc.PollWorkflowTaskQueue(ctx, &workflowservice.PollWorkflowTaskQueueRequest{
			Namespace: "default", TaskQueue: &taskqueuepb.TaskQueue{Name: tq, Kind: kind}, Identity: "bench",
		})
		if err != nil || len(resp.GetTaskToken()) > 0 {
			return resp, time.Since(began), err
		}
	}
}

func p50(ds []time.Duration) float64 {
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return float64(ds[len(ds)/2].Microseconds()) / 1000
}

func run(bin string, events, reps int) error {
	dir, err := os.MkdirTemp("", "longhistory")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cmd, addr, err := startServer(bin, dir)
	if err != nil {
		return err
	}
	defer func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait() }()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20)))
	if err != nil {
		return err
	}
	defer conn.Close()
	svc := workflowservice.NewWorkflowServiceClient(conn)
	ctx := context.Background()
	if _, err := svc.StartWorkflowExecution(ctx, &workflowservice.StartWorkflowExecutionRequest{
		Namespace: "default", WorkflowId: wfID, WorkflowType: &commonpb.WorkflowType{Name: "Long"},
		TaskQueue: &taskqueuepb.TaskQueue{Name: queue}, WorkflowTaskTimeout: durationpb.New(60 * time.Second),
		RequestId: "start",
	}); err != nil {
		return err
	}
	// Started, scheduled, the signals, then the task's started event.
	signals := events - 3
	began := time.Now()
	if err := signal(ctx, svc, signals, 0); err != nil {
		return err
	}
	out("events", events)
	out("signal_rate", fmt.Sprintf("%.0f/s", float64(signals)/time.Since(began).Seconds()))

	// A workflow task for a worker without the run cached.
	began = time.Now()
	task, _, err := poll(ctx, svc, queue, enumspb.TASK_QUEUE_KIND_NORMAL)
	if err != nil {
		return err
	}
	out("task_first_page_events", len(task.GetHistory().GetEvents()))
	read, pages := len(task.GetHistory().GetEvents()), 1
	var lastToken []byte
	for token := task.GetNextPageToken(); len(token) > 0; pages++ {
		lastToken = token
		resp, err := svc.GetWorkflowExecutionHistory(ctx, &workflowservice.GetWorkflowExecutionHistoryRequest{
			Namespace: "default", Execution: task.GetWorkflowExecution(), NextPageToken: token})
		if err != nil {
			return err
		}
		read += len(resp.GetHistory().GetEvents())
		token = resp.GetNextPageToken()
	}
	out("task_pages", pages)
	out("task_events_read", read)
	out("task_read_ms", fmt.Sprintf("%.1f", float64(time.Since(began).Microseconds())/1000))

	// The first and the last page of the history, timed.
	pageRead := func(token []byte) (time.Duration, error) {
		began := time.Now()
		_, err := svc.GetWorkflowExecutionHistory(ctx, &workflowservice.GetWorkflowExecutionHistoryRequest{
			Namespace: "default", Execution: task.GetWorkflowExecution(), NextPageToken: token, MaximumPageSize: 1000})
		return time.Since(began), err
	}
	var first, last []time.Duration
	for i := 0; i < reps; i++ {
		d, err := pageRead(nil)
		if err != nil {
			return err
		}
		first = append(first, d)
		if d, err = pageRead(lastToken); err != nil {
			return err
		}
		last = append(last, d)
	}
	out("page_first_ms", fmt.Sprintf("%.2f", p50(first)))
	out("page_last_ms", fmt.Sprintf("%.2f", p50(last)))

	// Complete the task with a sticky queue, signal once more: the sticky
	// worker (polling, as a worker does, so that its queue is trusted) gets
	// a next task that carries only what it lacks.
	type polled struct {
		task *workflowservice.PollWorkflowTaskQueueResponse
		took time.Duration
		err  error
	}
	stickyPoll := make(chan polled, 1)
	go func() {
		t, took, err := poll(ctx, svc, sticky, enumspb.TASK_QUEUE_KIND_STICKY)
		stickyPoll <- polled{t, took, err}
	}()
	time.Sleep(100 * time.Millisecond) // The poll reaches the server before the task is made.
	if _, err := svc.RespondWorkflowTaskCompleted(ctx, &workflowservice.RespondWorkflowTaskCompletedRequest{
		Namespace: "default", TaskToken: task.GetTaskToken(), Identity: "bench",
		StickyAttributes: &taskqueuepb.StickyExecutionAttributes{
			WorkerTaskQueue:        &taskqueuepb.TaskQueue{Name: sticky, Kind: enumspb.TASK_QUEUE_KIND_STICKY, NormalName: queue},
			ScheduleToStartTimeout: durationpb.New(10 * time.Second)},
		Commands: []*commandpb.Command{},
	}); err != nil {
		return err
	}
	if err := signal(ctx, svc, 1, signals); err != nil {
		return err
	}
	got := <-stickyPoll
	if got.err != nil {
		return got.err
	}
	out("sticky_task_events", len(got.task.GetHistory().GetEvents()))
	out("sticky_task_first_event", got.task.GetHistory().GetEvents()[0].GetEventId())
	return nil
}
