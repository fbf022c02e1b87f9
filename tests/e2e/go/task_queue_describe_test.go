package e2e

// DescribeTaskQueue's statistics as Temporal 1.32 reports them, in both API
// modes: the backlog's count and age (its oldest task), the add and
// dispatch rates, the stats under the default priority key and the
// unversioned versioning info in legacy mode. Checked on both servers.

import (
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	taskqueuepb "go.temporal.io/api/taskqueue/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
)

func TestDescribeTaskQueueStats(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOptions{})
	c := newClient(t, srv.Addr(), "default")
	ctx := testCtx(t, 60*time.Second)
	tq := taskQueueFor(t)
	before := time.Now()
	for i := 0; i < 3; i++ {
		_, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{TaskQueue: tq}, Greet, "x")
		requireNoError(t, err, "starting")
	}
	describe := func(mode enumspb.DescribeTaskQueueMode) *workflowservice.DescribeTaskQueueResponse {
		r, err := c.WorkflowService().DescribeTaskQueue(ctx, &workflowservice.DescribeTaskQueueRequest{
			Namespace: "default", TaskQueue: &taskqueuepb.TaskQueue{Name: tq, Kind: enumspb.TASK_QUEUE_KIND_NORMAL},
			ApiMode: mode, ReportStats: true, ReportPollers: true,
		})
		requireNoError(t, err, "describing the queue")
		return r
	}
	// (Temporal's count is approximate: right after the starts it may not
	// have counted the last task yet.)
	check := func(what string, s *taskqueuepb.TaskQueueStats, backlog int64, upTo time.Duration) {
		t.Helper()
		age := s.GetApproximateBacklogAge().AsDuration()
		n := s.GetApproximateBacklogCount()
		if n > backlog || (backlog > 0) != (n > 0) || s.GetApproximateBacklogAge() == nil || age < 0 || age > upTo {
			t.Errorf("%s: backlog %d aged %v, want %d aged at most %v", what, n, age, backlog, upTo)
		}
		if backlog > 0 && (age == 0 || s.GetTasksAddRate() <= 0) {
			t.Errorf("%s: backlog age %v, add rate %v: want both above zero", what, age, s.GetTasksAddRate())
		}
	}

	legacy := describe(enumspb.DESCRIBE_TASK_QUEUE_MODE_UNSPECIFIED)
	check("legacy", legacy.GetStats(), 3, time.Since(before))
	check("legacy, priority key 3", legacy.GetStatsByPriorityKey()[3], 3, time.Since(before))
	if v := legacy.GetVersioningInfo(); v.GetCurrentVersion() != "__unversioned__" || v.GetUpdateTime().AsTime().Year() != 1 { //nolint:staticcheck // What Temporal sends.
		t.Errorf("legacy versioning info: %v", v)
	}
	enhanced := describe(enumspb.DESCRIBE_TASK_QUEUE_MODE_ENHANCED)
	types := enhanced.GetVersionsInfo()[""].GetTypesInfo()
	check("enhanced, workflow", types[int32(enumspb.TASK_QUEUE_TYPE_WORKFLOW)].GetStats(), 3, time.Since(before))
	check("enhanced, activity", types[int32(enumspb.TASK_QUEUE_TYPE_ACTIVITY)].GetStats(), 0, 0)

	// A worker drains the queue: no backlog, tasks dispatched.
	startWorker(t, c, tq, func(r worker.Registry) {
		r.RegisterWorkflow(Greet)
		r.RegisterActivity(&countingGreeter{})
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		s := describe(enumspb.DESCRIBE_TASK_QUEUE_MODE_ENHANCED).GetVersionsInfo()[""].GetTypesInfo()[int32(enumspb.TASK_QUEUE_TYPE_WORKFLOW)].GetStats()
		if s.GetApproximateBacklogCount() == 0 && s.GetTasksDispatchRate() > 0 {
			check("drained", s, 0, 0)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the queue was not drained: %v", s)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
