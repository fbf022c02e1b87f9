package e2e

// Temporal's validation of deployments: ListWorkerDeployments pages
// (page_size bounds a page and next_page_token continues the listing until
// every deployment was listed once), and the missing-task-queue check of
// SetCurrent/SetRamping. Checked on both servers.

import (
	"fmt"
	"sort"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
)

func TestVersioningListPaging(t *testing.T) {
	t.Parallel()
	c, ctx, tq, dep := versioningSetup(t, startServer(t, serverOptions{}), 120*time.Second)
	var want []string
	for _, suffix := range []string{"-a", "-b", "-c"} {
		startPausingWorker(t, c, tq+suffix, dep+suffix, "v1", 0)
		waitForVersion(t, ctx, c, dep+suffix, "v1")
		want = append(want, dep+suffix)
	}
	var got []string
	req := &workflowservice.ListWorkerDeploymentsRequest{Namespace: "default", PageSize: 2}
	for pages := 0; ; pages++ {
		resp, err := c.WorkflowService().ListWorkerDeployments(ctx, req)
		requireNoError(t, err, "listing deployments")
		if n := len(resp.GetWorkerDeployments()); n > 2 || (pages == 0 && n != 2) {
			t.Fatalf("page %d has %d deployments, want 2 on the first and at most 2", pages, n)
		}
		for _, d := range resp.GetWorkerDeployments() {
			got = append(got, d.GetName())
		}
		if len(resp.GetNextPageToken()) == 0 || pages > 5 {
			break
		}
		req.NextPageToken = resp.GetNextPageToken()
	}
	sort.Strings(got)
	if len(got) != 3 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Errorf("listed %v, want %v once each", got, want)
	}
}

// A version that does not poll a busy task queue of the current version
// cannot become current or ramping unless ignore_missing_task_queues.
func TestVersioningMissingTaskQueues(t *testing.T) {
	t.Parallel()
	c, ctx, tq, dep := versioningSetup(t, startServer(t, serverOptions{}), 120*time.Second)
	busy := tq + "-busy"
	startPausingWorker(t, c, tq, dep, "v1", 0)
	startPausingWorker(t, c, busy, dep, "v1", 0)
	startPausingWorker(t, c, tq, dep, "v2", 0)
	waitForVersion(t, ctx, c, dep, "v1")
	waitForVersion(t, ctx, c, dep, "v2")
	setCurrent(t, ctx, c, dep, "v1")
	// Tasks added to the queue only v1 polls make it busy.
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "busy-" + tq, TaskQueue: busy}, "VersionedPausing")
	requireNoError(t, err, "starting on the busy queue")
	requireNoError(t, c.SignalWorkflow(ctx, run.GetID(), "", "go", nil), "signalling")
	requireNoError(t, run.Get(ctx, nil), "result")

	svc := c.WorkflowService()
	_, err = svc.SetWorkerDeploymentRampingVersion(ctx, &workflowservice.SetWorkerDeploymentRampingVersionRequest{
		Namespace: "default", DeploymentName: dep, BuildId: "v2", Percentage: 10})
	requireErrorMessage(t, err, fmt.Sprintf("proposed ramping version '%s:v2' is missing active task queues from the current version; "+
		"these would become unversioned if it is set as the ramping version", dep))
	_, err = svc.SetWorkerDeploymentCurrentVersion(ctx, &workflowservice.SetWorkerDeploymentCurrentVersionRequest{
		Namespace: "default", DeploymentName: dep, BuildId: "v2"})
	requireErrorMessage(t, err, fmt.Sprintf("proposed current version '%s:v2' is missing active task queues from the current version; "+
		"these would become unversioned if it is set as the current version", dep))
	_, err = svc.SetWorkerDeploymentCurrentVersion(ctx, &workflowservice.SetWorkerDeploymentCurrentVersionRequest{
		Namespace: "default", DeploymentName: dep, BuildId: "v2", IgnoreMissingTaskQueues: true})
	requireNoError(t, err, "setting v2 current, ignoring the missing queue")
}

// Temporal 1.32 does not ask whether a version still has pollers before it
// ramps or becomes current: a version whose workers stopped (and fell out
// of the poller history) is accepted without allow_no_pollers or
// ignore_missing_task_queues.
func TestVersioningGonePollersMayBecomeCurrent(t *testing.T) {
	t.Parallel()
	c, ctx, tq, dep := versioningSetup(t, drainingServer(t), 120*time.Second)
	runBuild(t, ctx, c, tq, dep, "v1")
	v2 := runBuild(t, ctx, c, tq, dep, "v2")
	setCurrent(t, ctx, c, dep, "v1")
	v2.Stop()
	// The poller history's TTL is 1 s on this server: what ends v2's pollers
	// is time passing.
	time.Sleep(3 * time.Second)

	svc := c.WorkflowService()
	_, err := svc.SetWorkerDeploymentRampingVersion(ctx, &workflowservice.SetWorkerDeploymentRampingVersionRequest{
		Namespace: "default", DeploymentName: dep, BuildId: "v2", Percentage: 10, Identity: "versioning-test"})
	requireNoError(t, err, "ramping v2 without pollers")
	setCurrent(t, ctx, c, dep, "v2")
	d, err := svc.DescribeWorkerDeployment(ctx, &workflowservice.DescribeWorkerDeploymentRequest{Namespace: "default", DeploymentName: dep})
	requireNoError(t, err, "describing the deployment")
	rc := d.GetWorkerDeploymentInfo().GetRoutingConfig()
	if rc.GetCurrentDeploymentVersion().GetBuildId() != "v2" || rc.GetRampingDeploymentVersion() != nil {
		t.Errorf("routing %v, want v2 current and no ramp", rc)
	}
}
