package main

// The backlog benchmark (-backlog N): N activity tasks queued while no
// activity worker polls, then drained. Each item is one workflow whose first
// workflow task schedules one activity on another queue and whose second one
// completes it. Prints:
//
//   - sync_rate: activities per second when their workers wait (each task
//     handed to a waiting poll as it arrives), with the same workflows;
//   - queue_rate: workflows per second while the backlog builds up;
//   - rss_backlog_mb: the server's RSS with the N tasks queued;
//   - restart_ms / rss_after_restart_mb: SIGTERM, a new server on the file
//     until it answers SERVING, and its RSS;
//   - drain_rate: activities per second once the workers arrive, and its
//     ratio to sync_rate; drain_order: how far from oldest first the tasks
//     were handed out (by their scheduled time), and whether each was
//     handed out exactly once.

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	commandpb "go.temporal.io/api/command/v1"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	taskqueuepb "go.temporal.io/api/taskqueue/v1"
	"go.temporal.io/api/workflowservice/v1"
	"google.golang.org/protobuf/types/known/durationpb"
)

// The activities of workflows named sync-* go to a queue of their own, so
// that no poll left from the sync phase takes a task of the backlog.
const activityQueue, syncActivityQueue = "scale-activities", "scale-activities-sync"

// backlogWorkflows answers the workflow tasks of the benchmark's workflows:
// the first schedules the activity, the next completes the workflow.
func backlogWorkflows(ctx context.Context, s *server, pollers int, scheduled, completed *atomic.Int64) *sync.WaitGroup {
	var wg sync.WaitGroup
	for i := 0; i < pollers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
				task, err := s.svc.PollWorkflowTaskQueue(pctx, &workflowservice.PollWorkflowTaskQueueRequest{
					Namespace: "default", TaskQueue: &taskqueuepb.TaskQueue{Name: taskQueue}, Identity: "scalegen"})
				cancel()
				if err != nil || len(task.GetTaskToken()) == 0 {
					continue
				}
				done := false
				for _, e := range task.GetHistory().GetEvents() {
					if e.GetEventType() == enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED {
						done = true
					}
				}
				cmd := &commandpb.Command{CommandType: enumspb.COMMAND_TYPE_COMPLETE_WORKFLOW_EXECUTION,
					Attributes: &commandpb.Command_CompleteWorkflowExecutionCommandAttributes{
						CompleteWorkflowExecutionCommandAttributes: &commandpb.CompleteWorkflowExecutionCommandAttributes{}}}
				if !done {
					cmd = &commandpb.Command{CommandType: enumspb.COMMAND_TYPE_SCHEDULE_ACTIVITY_TASK,
						Attributes: &commandpb.Command_ScheduleActivityTaskCommandAttributes{
							ScheduleActivityTaskCommandAttributes: &commandpb.ScheduleActivityTaskCommandAttributes{
								ActivityId: "1", ActivityType: &commonpb.ActivityType{Name: "Work"},
								TaskQueue:           &taskqueuepb.TaskQueue{Name: queueOf(task.GetWorkflowExecution().GetWorkflowId())},
								StartToCloseTimeout: durationpb.New(time.Hour),
							}}}
				}
				rctx, rcancel := context.WithTimeout(ctx, 30*time.Second)
				_, err = s.svc.RespondWorkflowTaskCompleted(rctx, &workflowservice.RespondWorkflowTaskCompletedRequest{
					Namespace: "default", TaskToken: task.GetTaskToken(), Commands: []*commandpb.Command{cmd}, Identity: "scalegen"})
				rcancel()
				if err != nil {
					fmt.Fprintln(os.Stderr, "respond:", err)
					continue
				}
				if done {
					completed.Add(1)
				} else {
					scheduled.Add(1)
				}
			}
		}()
	}
	return &wg
}

func queueOf(workflowID string) string {
	if strings.HasPrefix(workflowID, "sync-") {
		return syncActivityQueue
	}
	return activityQueue
}

// activityDrain polls the activity queue and completes each task, keeping
// the workflow id and scheduled time of each in the order handed out.
type activityDrain struct {
	mu    sync.Mutex
	order []dispatched
	count atomic.Int64
}

type dispatched struct {
	workflowID string
	scheduled  time.Time
}

func (d *activityDrain) run(ctx context.Context, s *server, queue string, pollers int) *sync.WaitGroup {
	var wg sync.WaitGroup
	result := payloads("done")
	for i := 0; i < pollers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
				task, err := s.svc.PollActivityTaskQueue(pctx, &workflowservice.PollActivityTaskQueueRequest{
					Namespace: "default", TaskQueue: &taskqueuepb.TaskQueue{Name: queue}, Identity: "scalegen"})
				cancel()
				if err != nil || len(task.GetTaskToken()) == 0 {
					continue
				}
				d.mu.Lock()
				d.order = append(d.order, dispatched{task.GetWorkflowExecution().GetWorkflowId(), task.GetScheduledTime().AsTime()})
				d.mu.Unlock()
				rctx, rcancel := context.WithTimeout(ctx, 30*time.Second)
				_, err = s.svc.RespondActivityTaskCompleted(rctx, &workflowservice.RespondActivityTaskCompletedRequest{
					Namespace: "default", TaskToken: task.GetTaskToken(), Result: result, Identity: "scalegen"})
				rcancel()
				if err != nil {
					fmt.Fprintln(os.Stderr, "respond activity:", err)
					continue
				}
				d.count.Add(1)
			}
		}()
	}
	return &wg
}

// waitFor waits until counter reaches target; the time it took.
func waitFor(counter func() int64, target int64, limit time.Duration) (time.Duration, error) {
	began := time.Now()
	for counter() < target {
		if time.Since(began) > limit {
			return 0, fmt.Errorf("only %d of %d after %v", counter(), target, limit)
		}
		time.Sleep(time.Millisecond)
	}
	return time.Since(began), nil
}

func startBacklogWorkflows(s *server, concurrency, n int, prefix string) error {
	_, err := startMany(s, concurrency, n, prefix, func(int) time.Duration { return 0 }, func() int64 { return 0 }, 0)
	return err
}

func runBacklog(cfg config) error {
	s, stop, err := startFileServer(cfg)
	if err != nil {
		return err
	}
	defer stop()
	out("backlog", cfg.backlog)

	var scheduled, completed atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	wfs := backlogWorkflows(ctx, s, cfg.pollers, &scheduled, &completed)

	// Sync match: the activity workers wait while the same workflows run.
	syncDrain := &activityDrain{}
	actCtx, actCancel := context.WithCancel(ctx)
	defer actCancel()
	acts := syncDrain.run(actCtx, s, syncActivityQueue, cfg.pollers)
	began := time.Now()
	if err := startBacklogWorkflows(s, cfg.concurrency, cfg.fresh, "sync"); err != nil {
		return err
	}
	if _, err := waitFor(syncDrain.count.Load, int64(cfg.fresh), time.Hour); err != nil {
		return fmt.Errorf("sync: %w", err)
	}
	syncRate := float64(cfg.fresh) / time.Since(began).Seconds()
	actCancel()
	acts.Wait()
	out("sync_rate", fmt.Sprintf("%.1f activities/s (%d workflows, workers waiting)", syncRate, cfg.fresh))
	if _, err := waitFor(completed.Load, int64(cfg.fresh), time.Hour); err != nil {
		return fmt.Errorf("sync workflows: %w", err)
	}

	// The backlog: the activities queue up with no activity worker.
	base := scheduled.Load()
	began = time.Now()
	if err := startBacklogWorkflows(s, cfg.concurrency, cfg.backlog, "backlog"); err != nil {
		return err
	}
	if _, err := waitFor(scheduled.Load, base+int64(cfg.backlog), 2*time.Hour); err != nil {
		return fmt.Errorf("queueing: %w", err)
	}
	took := time.Since(began)
	out("queue_rate", fmt.Sprintf("%.1f wf/s (%d activity tasks queued in %.1f s)", float64(cfg.backlog)/took.Seconds(),
		cfg.backlog, took.Seconds()))
	out("rss_backlog_mb", fmt.Sprintf("%.1f", s.rssMB()))
	cancel()
	wfs.Wait()

	s.stop()
	restart, err := s.start()
	if err != nil {
		return err
	}
	out("restart_ms", fmt.Sprintf("%.1f", float64(restart.Microseconds())/1000))
	time.Sleep(2 * time.Second) // let the first pages settle before reading RSS
	out("rss_after_restart_mb", fmt.Sprintf("%.1f", s.rssMB()))
	if st, err := os.Stat(s.db); err == nil {
		out("db_mb", fmt.Sprintf("%.0f", float64(st.Size())/(1<<20)))
	}
	describe, err := s.svc.DescribeTaskQueue(context.Background(), &workflowservice.DescribeTaskQueueRequest{
		Namespace: "default", TaskQueue: &taskqueuepb.TaskQueue{Name: activityQueue},
		TaskQueueType: enumspb.TASK_QUEUE_TYPE_ACTIVITY, ReportStats: true})
	if err != nil {
		return err
	}
	out("backlog_described", describe.GetStats().GetApproximateBacklogCount())

	// The workers arrive.
	drainCtx, drainCancel := context.WithCancel(context.Background())
	defer drainCancel()
	completed.Store(0)
	wfs = backlogWorkflows(drainCtx, s, cfg.pollers, &scheduled, &completed)
	drain := &activityDrain{}
	acts = drain.run(drainCtx, s, activityQueue, cfg.pollers)
	took, err = waitFor(drain.count.Load, int64(cfg.backlog), 2*time.Hour)
	if err != nil {
		return fmt.Errorf("drain: %w", err)
	}
	drainRate := float64(cfg.backlog) / took.Seconds()
	out("drain_rate", fmt.Sprintf("%.1f activities/s (%.0f%% of sync_rate)", drainRate, 100*drainRate/syncRate))
	rss := s.rssMB()
	if _, err := waitFor(completed.Load, int64(cfg.backlog), time.Hour); err != nil {
		return fmt.Errorf("drained workflows: %w", err)
	}
	drainCancel()
	acts.Wait()
	wfs.Wait()
	out("rss_drained_mb", fmt.Sprintf("%.1f", rss))
	reportOrder(drain.order, cfg.backlog)
	return nil
}

// reportOrder: each task handed out once, and how far each was from its
// place in scheduled-time order (0 everywhere: strictly oldest first).
func reportOrder(order []dispatched, want int) {
	seen := map[string]bool{}
	dups := 0
	for _, d := range order {
		if seen[d.workflowID] {
			dups++
		}
		seen[d.workflowID] = true
	}
	ranked := make([]int, len(order))
	for i := range ranked {
		ranked[i] = i
	}
	sort.SliceStable(ranked, func(a, b int) bool { return order[ranked[a]].scheduled.Before(order[ranked[b]].scheduled) })
	displacement := make([]float64, len(order))
	for rank, pos := range ranked {
		d := pos - rank
		if d < 0 {
			d = -d
		}
		displacement[rank] = float64(d)
	}
	sort.Float64s(displacement)
	out("drain_once", fmt.Sprintf("%d distinct of %d wanted, %d handed out twice", len(seen), want, dups))
	out("drain_order", fmt.Sprintf("displacement from oldest first p50 %.0f, p99 %.0f, max %.0f positions",
		percentile(displacement, 0.5), percentile(displacement, 0.99), displacement[len(displacement)-1]))
}
