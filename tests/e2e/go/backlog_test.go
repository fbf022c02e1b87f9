package e2e

// Task paging: a queue keeps only a few of its tasks in memory (Kairos's
// --task-queue-memory) and reads the rest from the database as it drains.
// More activity tasks than that are queued with no activity worker, the
// server is killed (kill -9) and restarted, and then one worker drains them
// all, each exactly once, oldest first.

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	taskqueuepb "go.temporal.io/api/taskqueue/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

const actRecordBacklogItem = "RecordBacklogItem"

// RunOnBacklogQueue runs one activity on another task queue, where no
// worker polls until the test starts one.
func RunOnBacklogQueue(ctx workflow.Context, activityQueue string, item int) (int, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		TaskQueue: activityQueue, StartToCloseTimeout: 30 * time.Second,
	})
	var out int
	err := workflow.ExecuteActivity(ctx, actRecordBacklogItem, item).Get(ctx, &out)
	return out, err
}

// backlogRecorder records the order in which the activity ran.
type backlogRecorder struct {
	mu    sync.Mutex
	items []int
}

func (r *backlogRecorder) record(_ context.Context, item int) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.items = append(r.items, item)
	return item, nil
}

func (r *backlogRecorder) snapshot() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]int(nil), r.items...)
}

func TestBacklogPagedAcrossKill9DrainsOnceOldestFirst(t *testing.T) {
	t.Parallel()
	const inMemory, queued = 8, 60
	srv := startServer(t, serverOptions{KairosArgs: []string{"--task-queue-memory", fmt.Sprint(inMemory)}})
	c := newClient(t, srv.Addr(), defaultNamespace)
	tq := taskQueueFor(t)
	actTQ := tq + "-activities"
	startWorker(t, c, tq, func(r worker.Registry) { r.RegisterWorkflow(RunOnBacklogQueue) })
	ctx := testCtx(t, 120*time.Second)

	// One at a time, so that the tasks are queued in the order of the items.
	runs := make([]client.WorkflowRun, queued)
	for i := range runs {
		run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: fmt.Sprintf("backlog-%d", i), TaskQueue: tq},
			RunOnBacklogQueue, actTQ, i)
		requireNoError(t, err, "starting")
		waitForEvent(t, c, run.GetID(), run.GetRunID(), evActScheduled, 20*time.Second)
		runs[i] = run
	}

	srv.Kill9()
	srv.Restart(t)

	// The backlog is counted whole, though most of it is only on disk.
	if !againstTemporal(t) {
		var r *workflowservice.DescribeTaskQueueResponse
		var err error
		// The client reconnects to the restarted server on its own schedule.
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			r, err = c.WorkflowService().DescribeTaskQueue(ctx, &workflowservice.DescribeTaskQueueRequest{
				Namespace: defaultNamespace, TaskQueue: &taskqueuepb.TaskQueue{Name: actTQ, Kind: enumspb.TASK_QUEUE_KIND_NORMAL},
				TaskQueueType: enumspb.TASK_QUEUE_TYPE_ACTIVITY, ReportStats: true,
			})
			if err == nil || time.Now().After(deadline) {
				break
			}
		}
		requireNoError(t, err, "describing the activity queue")
		if n := r.GetStats().GetApproximateBacklogCount(); n != queued {
			t.Errorf("backlog after the restart: %d, want %d", n, queued)
		}
	}

	// One task at a time, so that the order they ran in is the order they were handed out.
	rec := &backlogRecorder{}
	w := worker.New(c, actTQ, worker.Options{MaxConcurrentActivityExecutionSize: 1, MaxConcurrentActivityTaskPollers: 1})
	w.RegisterActivityWithOptions(rec.record, activity.RegisterOptions{Name: actRecordBacklogItem})
	requireNoError(t, w.Start(), "starting the activity worker")
	t.Cleanup(w.Stop)

	for i, run := range runs {
		var out int
		requireNoError(t, getResult(t, c, run, 60*time.Second, &out), "result")
		if out != i {
			t.Errorf("%s: result %d, want %d", run.GetID(), out, i)
		}
		events := getHistory(t, c, run.GetID(), run.GetRunID())
		requireCleanHistory(t, events)
		requireSingleClose(t, events)
		if n := countEvents(events, evActCompleted); n != 1 {
			t.Errorf("%s: %d ActivityTaskCompleted, want 1", run.GetID(), n)
		}
	}
	items := rec.snapshot()
	if len(items) != queued {
		t.Fatalf("the activity ran %d times, want %d: %v", len(items), queued, items)
	}
	for i, item := range items {
		if item != i {
			if againstTemporal(t) {
				// Temporal's dev server reads its partitions' backlogs in turn.
				t.Logf("Temporal ran the items in the order %v", items)
				break
			}
			t.Fatalf("the activity ran in the order %v, want oldest first", items)
		}
	}
}
