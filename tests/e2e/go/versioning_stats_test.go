package e2e

// DescribeWorkerDeploymentVersion's task queue statistics
// (report_task_queue_stats), as Temporal 1.32 attributes them: a version
// has its own pinned tasks, and the current (or ramping) version also the
// share of the queue's unpinned backlog that routing gives it. Checked on
// both servers.

import (
	"context"
	"fmt"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
)

// versionQueueStats is what one version reports of its workflow and
// activity queue: the backlog counts, and whether the backlog has an age
// and tasks were added.
type versionQueueStats struct {
	workflowBacklog, activityBacklog int64
	workflowAged, workflowAdded      bool
}

func describeVersionStats(ctx context.Context, c client.Client, dep, build string) (versionQueueStats, *workflowservice.DescribeWorkerDeploymentVersionResponse, error) {
	resp, err := c.WorkflowService().DescribeWorkerDeploymentVersion(ctx, &workflowservice.DescribeWorkerDeploymentVersionRequest{
		Namespace: "default", DeploymentVersion: deploymentVersion(dep, build), ReportTaskQueueStats: true})
	var s versionQueueStats
	if err != nil {
		return s, nil, err
	}
	for _, q := range resp.GetVersionTaskQueues() {
		st := q.GetStats()
		if q.GetType() == enumspb.TASK_QUEUE_TYPE_WORKFLOW {
			s.workflowBacklog = st.GetApproximateBacklogCount()
			s.workflowAged = st.GetApproximateBacklogAge().AsDuration() > 0
			s.workflowAdded = st.GetTasksAddRate() > 0
		} else {
			s.activityBacklog = st.GetApproximateBacklogCount()
		}
	}
	return s, resp, nil
}

// waitVersionStats waits until the version's statistics are `want`
// (Temporal's matching caches them for a few seconds).
func waitVersionStats(t *testing.T, ctx context.Context, c client.Client, dep, build string, want versionQueueStats) *workflowservice.DescribeWorkerDeploymentVersionResponse {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got, resp, err := describeVersionStats(ctx, c, dep, build)
		if err == nil && got == want {
			return resp
		}
		if time.Now().After(deadline) {
			t.Fatalf("version %s stats %+v (err %v), want %+v\n%v", build, got, err, want, resp)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func TestVersioningTaskQueueStats(t *testing.T) {
	t.Parallel()
	c, ctx, tq, dep := versioningSetup(t, startServer(t, serverOptions{}), 150*time.Second)
	w1 := runBuild(t, ctx, c, tq, dep, "v1")
	w2 := runBuild(t, ctx, c, tq, dep, "v2")
	setCurrent(t, ctx, c, dep, "v1")
	// Without workers, what is started waits in the backlog.
	w1.Stop()
	w2.Stop()

	// Without stats, none are reported.
	resp, err := c.WorkflowService().DescribeWorkerDeploymentVersion(ctx, &workflowservice.DescribeWorkerDeploymentVersionRequest{
		Namespace: "default", DeploymentVersion: deploymentVersion(dep, "v1")})
	requireNoError(t, err, "describing v1 without stats")
	if len(resp.GetVersionTaskQueues()) != 2 {
		t.Fatalf("v1 has task queues %v, want the workflow and the activity queue", resp.GetVersionTaskQueues())
	}
	for _, q := range resp.GetVersionTaskQueues() {
		if q.GetStats() != nil || len(q.GetStatsByPriorityKey()) > 0 {
			t.Errorf("stats %v reported without report_task_queue_stats", q)
		}
	}

	// Four unpinned workflows wait for the current version (v1), one pinned
	// to v2 waits for v2.
	for i := 0; i < 4; i++ {
		_, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: fmt.Sprintf("unpinned-%d-%s", i, tq), TaskQueue: tq}, "VersionedAutoUpgrade", true)
		requireNoError(t, err, "starting an unpinned workflow")
	}
	_, err = c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "pinned-" + tq, TaskQueue: tq,
		VersioningOverride: &client.PinnedVersioningOverride{Version: worker.WorkerDeploymentVersion{DeploymentName: dep, BuildID: "v2"}}},
		"VersionedAutoUpgrade", true)
	requireNoError(t, err, "starting a workflow pinned to v2")

	v1 := waitVersionStats(t, ctx, c, dep, "v1", versionQueueStats{workflowBacklog: 4, workflowAged: true, workflowAdded: true})
	waitVersionStats(t, ctx, c, dep, "v2", versionQueueStats{workflowBacklog: 1, workflowAged: true, workflowAdded: true})
	for _, q := range v1.GetVersionTaskQueues() {
		checkPriorityStats(t, q)
	}

	// A 25 % ramp to v2 gives it a quarter of the unpinned backlog, v1 the
	// rest, each share rounded up: v1 3 and v2 1+1 on one partition.
	// Temporal rounds each of its task queue's partitions' shares (four on
	// its dev server), so it may report up to v1 4 and v2 1+4.
	_, err = c.WorkflowService().SetWorkerDeploymentRampingVersion(ctx, &workflowservice.SetWorkerDeploymentRampingVersionRequest{
		Namespace: "default", DeploymentName: dep, BuildId: "v2", Percentage: 25})
	requireNoError(t, err, "ramping v2")
	waitVersionBacklog(t, ctx, c, dep, "v1", 3, 4)
	waitVersionBacklog(t, ctx, c, dep, "v2", 2, 5)
}

// waitVersionBacklog waits until the version's workflow queue backlog is
// within [low, high] after v2 started ramping (it was 1 before).
func waitVersionBacklog(t *testing.T, ctx context.Context, c client.Client, dep, build string, low, high int64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got, resp, err := describeVersionStats(ctx, c, dep, build)
		if err == nil && got.workflowBacklog >= low && got.workflowBacklog <= high && got.workflowAged && got.activityBacklog == 0 &&
			(build == "v1" || got.workflowBacklog != 1) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("version %s stats %+v (err %v), want a workflow backlog within [%d, %d]\n%v", build, got, err, low, high, resp)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// checkPriorityStats: the stats by priority key add up to the queue's.
func checkPriorityStats(t *testing.T, q *workflowservice.DescribeWorkerDeploymentVersionResponse_VersionTaskQueue) {
	t.Helper()
	var backlog int64
	for _, s := range q.GetStatsByPriorityKey() {
		backlog += s.GetApproximateBacklogCount()
	}
	if backlog != q.GetStats().GetApproximateBacklogCount() {
		t.Errorf("queue %s/%v: stats by priority %v add up to %d, stats say %d", q.GetName(), q.GetType(), q.GetStatsByPriorityKey(), backlog, q.GetStats().GetApproximateBacklogCount())
	}
}
