package e2e

// Worker Versioning with worker deployments: versioned workers register their
// version by polling; the current version takes new workflows; PINNED
// workflows finish on the version they started on while AUTO_UPGRADE ones
// move to the new current version at their next workflow task (and their
// activities follow them); a ramp splits new workflows; an override pins a
// workflow; an old version drains and is deleted. Every history is replayed.
// Checked on both servers.

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	deploymentpb "go.temporal.io/api/deployment/v1"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/serviceerror"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// versionedWorkflows are one build's code: each waits for the "go" signal
// (unless told not to), then runs an activity, and returns "<workflow's
// build>/<activity's build>". The builds differ only in what they return,
// so that any build replays any history.
func versionedWorkflows(build string) (pinned, autoUpgrade any, activityFn any) {
	body := func(ctx workflow.Context, wait bool) (string, error) {
		if wait {
			workflow.GetSignalChannel(ctx, "go").Receive(ctx, nil)
		}
		ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 20 * time.Second})
		var act string
		if err := workflow.ExecuteActivity(ctx, "WhichBuild").Get(ctx, &act); err != nil {
			return "", err
		}
		return build + "/" + act, nil
	}
	pinned = func(ctx workflow.Context, wait bool) (string, error) { return body(ctx, wait) }
	autoUpgrade = func(ctx workflow.Context, wait bool) (string, error) { return body(ctx, wait) }
	activityFn = func(context.Context) (string, error) { return build, nil }
	return
}

// versioningSetup gives a test its client, context, task queue and
// deployment name on srv.
func versioningSetup(t *testing.T, srv *server, timeout time.Duration) (client.Client, context.Context, string, string) {
	tq := taskQueueFor(t)
	return newClient(t, srv.Addr(), "default"), testCtx(t, timeout), tq, "deploy-" + tq
}

// twoBuildsV1Current runs builds v1 and v2 of a deployment, v1 current.
func twoBuildsV1Current(t *testing.T, timeout time.Duration) (client.Client, context.Context, string, string) {
	c, ctx, tq, dep := versioningSetup(t, startServer(t, serverOptions{}), timeout)
	runBuild(t, ctx, c, tq, dep, "v1")
	runBuild(t, ctx, c, tq, dep, "v2")
	setCurrent(t, ctx, c, dep, "v1")
	return c, ctx, tq, dep
}

// runBuild starts a worker of the build and waits until it registered.
func runBuild(t *testing.T, ctx context.Context, c client.Client, tq, dep, build string) worker.Worker {
	t.Helper()
	w := startVersionedWorker(t, c, tq, dep, build)
	waitForVersion(t, ctx, c, dep, build)
	return w
}

// startVersionedWorker runs build `build` of deployment `deployment` on tq.
func startVersionedWorker(t *testing.T, c client.Client, tq, deployment, build string) worker.Worker {
	t.Helper()
	w := worker.New(c, tq, worker.Options{DeploymentOptions: worker.DeploymentOptions{
		UseVersioning:             true,
		Version:                   worker.WorkerDeploymentVersion{DeploymentName: deployment, BuildID: build},
		DefaultVersioningBehavior: workflow.VersioningBehaviorPinned,
	}})
	pinned, auto, act := versionedWorkflows(build)
	w.RegisterWorkflowWithOptions(pinned, workflow.RegisterOptions{Name: "VersionedPinned", VersioningBehavior: workflow.VersioningBehaviorPinned})
	w.RegisterWorkflowWithOptions(auto, workflow.RegisterOptions{Name: "VersionedAutoUpgrade", VersioningBehavior: workflow.VersioningBehaviorAutoUpgrade})
	w.RegisterActivityWithOptions(act, activity.RegisterOptions{Name: "WhichBuild"})
	registerContinuingWorkflows(w, build, true)
	if err := w.Start(); err != nil {
		t.Fatalf("starting worker %s: %v", build, err)
	}
	t.Cleanup(w.Stop)
	return w
}

func deploymentVersion(deployment, build string) *deploymentpb.WorkerDeploymentVersion {
	return &deploymentpb.WorkerDeploymentVersion{DeploymentName: deployment, BuildId: build}
}

// waitForVersion waits until the version's workers have polled tq for both
// workflow and activity tasks (so that the version knows the queue).
func waitForVersion(t *testing.T, ctx context.Context, c client.Client, deployment, build string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		d, err := c.WorkflowService().DescribeWorkerDeploymentVersion(ctx, &workflowservice.DescribeWorkerDeploymentVersionRequest{
			Namespace: "default", DeploymentVersion: deploymentVersion(deployment, build)})
		if err == nil && len(d.GetWorkerDeploymentVersionInfo().GetTaskQueueInfos()) >= 2 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("version %s:%s not registered: %v", deployment, build, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func setCurrent(t *testing.T, ctx context.Context, c client.Client, deployment, build string) {
	t.Helper()
	_, err := c.WorkflowService().SetWorkerDeploymentCurrentVersion(ctx, &workflowservice.SetWorkerDeploymentCurrentVersionRequest{
		Namespace: "default", DeploymentName: deployment, BuildId: build, Identity: "versioning-test"})
	requireNoError(t, err, "setting current version "+build)
}

// describeVersioning waits until the workflow's versioning info satisfies ok.
func waitVersioningInfo(t *testing.T, ctx context.Context, c client.Client, id string, ok func(*workflowpb.WorkflowExecutionVersioningInfo) bool) *workflowpb.WorkflowExecutionVersioningInfo {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		d, err := c.DescribeWorkflowExecution(ctx, id, "")
		requireNoError(t, err, "describing "+id)
		vi := d.GetWorkflowExecutionInfo().GetVersioningInfo()
		if ok(vi) {
			return vi
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: versioning info %v never as expected", id, vi)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// checkCompletedVersions asserts the deployment version and behavior every
// WorkflowTaskCompleted event of the run records, in order.
func checkCompletedVersions(t *testing.T, events []*historypb.HistoryEvent, behavior enumspb.VersioningBehavior, builds ...string) {
	t.Helper()
	var got []string
	for _, e := range eventsOfType(events, enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED) {
		a := e.GetWorkflowTaskCompletedEventAttributes()
		got = append(got, a.GetDeploymentVersion().GetBuildId())
		if a.GetVersioningBehavior() != behavior {
			t.Errorf("event %d: behavior %v, want %v", e.GetEventId(), a.GetVersioningBehavior(), behavior)
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(builds) {
		t.Errorf("completed workflow tasks ran on %v, want %v\n%s", got, builds, formatHistory(events))
	}
}

func replayVersioned(t *testing.T, events []*historypb.HistoryEvent) {
	t.Helper()
	pinned, auto, _ := versionedWorkflows("any")
	replayer := worker.NewWorkflowReplayer()
	replayer.RegisterWorkflowWithOptions(pinned, workflow.RegisterOptions{Name: "VersionedPinned"})
	replayer.RegisterWorkflowWithOptions(auto, workflow.RegisterOptions{Name: "VersionedAutoUpgrade"})
	registerContinuingWorkflows(replayer, "any", false)
	if err := replayer.ReplayWorkflowHistory(newTestLogger(t), &historypb.History{Events: events}); err != nil {
		t.Fatalf("replaying history failed: %v\nhistory:\n%s", err, formatHistory(events))
	}
}

func runResult(t *testing.T, c client.Client, run client.WorkflowRun) string {
	t.Helper()
	var out string
	requireNoError(t, getResult(t, c, run, 30*time.Second, &out), "result of "+run.GetID())
	return out
}

func TestVersioningPinnedAndAutoUpgrade(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOptions{})
	c, ctx, tq, dep := versioningSetup(t, srv, 120*time.Second)

	runBuild(t, ctx, c, tq, dep, "v1")

	// A version no worker ever polled cannot become current.
	_, err := c.WorkflowService().SetWorkerDeploymentCurrentVersion(ctx, &workflowservice.SetWorkerDeploymentCurrentVersionRequest{
		Namespace: "default", DeploymentName: dep, BuildId: "never-polled"})
	if err == nil {
		t.Errorf("a version without pollers became current")
	}
	setCurrent(t, ctx, c, dep, "v1")

	d, err := c.WorkflowService().DescribeWorkerDeployment(ctx, &workflowservice.DescribeWorkerDeploymentRequest{Namespace: "default", DeploymentName: dep})
	requireNoError(t, err, "describing the deployment")
	info := d.GetWorkerDeploymentInfo()
	if got := info.GetRoutingConfig().GetCurrentDeploymentVersion().GetBuildId(); got != "v1" {
		t.Errorf("current version %q, want v1", got)
	}
	if len(info.GetVersionSummaries()) != 1 || info.GetVersionSummaries()[0].GetStatus() != enumspb.WORKER_DEPLOYMENT_VERSION_STATUS_CURRENT {
		t.Errorf("version summaries %v, want v1 current", info.GetVersionSummaries())
	}
	if len(d.GetConflictToken()) == 0 {
		t.Errorf("no conflict token")
	}

	pinnedRun, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "pinned-" + tq, TaskQueue: tq}, "VersionedPinned", true)
	requireNoError(t, err, "starting the pinned workflow")
	autoRun, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "auto-" + tq, TaskQueue: tq}, "VersionedAutoUpgrade", true)
	requireNoError(t, err, "starting the auto-upgrade workflow")
	vi := waitVersioningInfo(t, ctx, c, pinnedRun.GetID(), func(vi *workflowpb.WorkflowExecutionVersioningInfo) bool {
		return vi.GetBehavior() == enumspb.VERSIONING_BEHAVIOR_PINNED
	})
	if vi.GetDeploymentVersion().GetBuildId() != "v1" || vi.GetDeploymentVersion().GetDeploymentName() != dep {
		t.Errorf("pinned workflow's version %v, want %s:v1", vi.GetDeploymentVersion(), dep)
	}
	waitVersioningInfo(t, ctx, c, autoRun.GetID(), func(vi *workflowpb.WorkflowExecutionVersioningInfo) bool {
		return vi.GetBehavior() == enumspb.VERSIONING_BEHAVIOR_AUTO_UPGRADE && vi.GetDeploymentVersion().GetBuildId() == "v1"
	})

	// Build v2 rolls out and becomes current.
	runBuild(t, ctx, c, tq, dep, "v2")
	setCurrent(t, ctx, c, dep, "v2")

	for _, id := range []string{pinnedRun.GetID(), autoRun.GetID()} {
		requireNoError(t, c.SignalWorkflow(ctx, id, "", "go", nil), "signalling "+id)
	}
	if got := runResult(t, c, pinnedRun); got != "v1/v1" {
		t.Errorf("pinned workflow ran %q, want v1/v1", got)
	}
	if got := runResult(t, c, autoRun); got != "v2/v2" {
		t.Errorf("auto-upgrade workflow ran %q, want v2/v2", got)
	}
	newRun, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "new-" + tq, TaskQueue: tq}, "VersionedPinned", false)
	requireNoError(t, err, "starting a workflow after the switch")
	if got := runResult(t, c, newRun); got != "v2/v2" {
		t.Errorf("new workflow ran %q, want v2/v2", got)
	}

	pinnedEvents := getHistory(t, c, pinnedRun.GetID(), "")
	checkCompletedVersions(t, pinnedEvents, enumspb.VERSIONING_BEHAVIOR_PINNED, "v1", "v1", "v1")
	autoEvents := getHistory(t, c, autoRun.GetID(), "")
	checkCompletedVersions(t, autoEvents, enumspb.VERSIONING_BEHAVIOR_AUTO_UPGRADE, "v1", "v2", "v2")
	for _, events := range [][]*historypb.HistoryEvent{pinnedEvents, autoEvents, getHistory(t, c, newRun.GetID(), "")} {
		replayVersioned(t, events)
	}

	// The version and behavior are searchable.
	for query, want := range map[string]string{
		fmt.Sprintf("TemporalWorkerDeploymentVersion = '%s:v1'", dep):                                                        pinnedRun.GetID(),
		fmt.Sprintf("TemporalWorkerDeploymentVersion = '%s:v2' AND TemporalWorkflowVersioningBehavior = 'AutoUpgrade'", dep): autoRun.GetID(),
		fmt.Sprintf("TemporalWorkerDeployment = '%s' AND WorkflowId = '%s'", dep, newRun.GetID()):                            newRun.GetID(),
	} {
		deadline := time.Now().Add(10 * time.Second)
		for {
			l, err := c.WorkflowService().ListWorkflowExecutions(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: "default", Query: query})
			requireNoError(t, err, "listing "+query)
			if len(l.GetExecutions()) == 1 && l.GetExecutions()[0].GetExecution().GetWorkflowId() == want {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("%s: %d rows, want only %s", query, len(l.GetExecutions()), want)
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
	}

	l, err := c.WorkflowService().ListWorkerDeployments(ctx, &workflowservice.ListWorkerDeploymentsRequest{Namespace: "default"})
	requireNoError(t, err, "listing deployments")
	found := false
	for _, s := range l.GetWorkerDeployments() {
		if s.GetName() == dep {
			found = true
			if s.GetRoutingConfig().GetCurrentDeploymentVersion().GetBuildId() != "v2" {
				t.Errorf("listed routing config %v, want v2 current", s.GetRoutingConfig())
			}
		}
	}
	if !found {
		t.Errorf("deployment %s not listed", dep)
	}
}

func TestVersioningRamp(t *testing.T) {
	t.Parallel()
	c, ctx, tq, dep := twoBuildsV1Current(t, 180*time.Second)
	d, err := c.WorkflowService().DescribeWorkerDeployment(ctx, &workflowservice.DescribeWorkerDeploymentRequest{Namespace: "default", DeploymentName: dep})
	requireNoError(t, err, "describing the deployment")
	// A stale conflict token is refused.
	_, err = c.WorkflowService().SetWorkerDeploymentRampingVersion(ctx, &workflowservice.SetWorkerDeploymentRampingVersionRequest{
		Namespace: "default", DeploymentName: dep, BuildId: "v2", Percentage: 50, ConflictToken: []byte("stale")})
	var fp *serviceerror.FailedPrecondition
	if !errors.As(err, &fp) {
		t.Errorf("ramp with a stale conflict token: %v, want FailedPrecondition", err)
	}
	_, err = c.WorkflowService().SetWorkerDeploymentRampingVersion(ctx, &workflowservice.SetWorkerDeploymentRampingVersionRequest{
		Namespace: "default", DeploymentName: dep, BuildId: "v2", Percentage: 50, ConflictToken: d.GetConflictToken()})
	requireNoError(t, err, "ramping v2")

	v, err := c.WorkflowService().DescribeWorkerDeploymentVersion(ctx, &workflowservice.DescribeWorkerDeploymentVersionRequest{
		Namespace: "default", DeploymentVersion: deploymentVersion(dep, "v2")})
	requireNoError(t, err, "describing v2")
	if vi := v.GetWorkerDeploymentVersionInfo(); vi.GetStatus() != enumspb.WORKER_DEPLOYMENT_VERSION_STATUS_RAMPING || vi.GetRampPercentage() != 50 {
		t.Errorf("v2: status %v ramp %v, want ramping at 50", vi.GetStatus(), vi.GetRampPercentage())
	}

	const n = 200
	runs := make([]client.WorkflowRun, n)
	for i := range runs {
		runs[i], err = c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: fmt.Sprintf("ramp-%d-%s", i, tq), TaskQueue: tq}, "VersionedPinned", false)
		requireNoError(t, err, "starting")
	}
	counts := map[string]int{}
	for i, run := range runs {
		got := runResult(t, c, run)
		counts[got]++
		if i%25 == 0 {
			replayVersioned(t, getHistory(t, c, run.GetID(), ""))
		}
	}
	t.Logf("ramp at 50%%: %v", counts)
	if counts["v1/v1"]+counts["v2/v2"] != n || counts["v2/v2"] < 65 || counts["v2/v2"] > 135 {
		t.Errorf("ramp split %v, want about half on each version (65..135 on v2)", counts)
	}
}

func TestVersioningOverride(t *testing.T) {
	t.Parallel()
	c, ctx, tq, dep := twoBuildsV1Current(t, 120*time.Second)

	// Pinned to v2 at start, although v1 is current.
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "override-" + tq, TaskQueue: tq,
		VersioningOverride: &client.PinnedVersioningOverride{Version: worker.WorkerDeploymentVersion{DeploymentName: dep, BuildID: "v2"}}},
		"VersionedAutoUpgrade", true)
	requireNoError(t, err, "starting with an override")
	vi := waitVersioningInfo(t, ctx, c, run.GetID(), func(vi *workflowpb.WorkflowExecutionVersioningInfo) bool {
		return vi.GetDeploymentVersion().GetBuildId() != ""
	})
	if vi.GetVersioningOverride().GetPinned().GetVersion().GetBuildId() != "v2" {
		t.Errorf("override %v, want pinned to v2", vi.GetVersioningOverride())
	}
	// An auto-upgrade workflow pinned later through UpdateWorkflowExecutionOptions.
	run2, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "override2-" + tq, TaskQueue: tq}, "VersionedAutoUpgrade", true)
	requireNoError(t, err, "starting")
	waitVersioningInfo(t, ctx, c, run2.GetID(), func(vi *workflowpb.WorkflowExecutionVersioningInfo) bool {
		return vi.GetDeploymentVersion().GetBuildId() == "v1"
	})
	_, err = c.UpdateWorkflowExecutionOptions(ctx, client.UpdateWorkflowExecutionOptionsRequest{WorkflowId: run2.GetID(),
		WorkflowExecutionOptionsChanges: client.WorkflowExecutionOptionsChanges{
			VersioningOverride: &client.VersioningOverrideChange{Value: &client.PinnedVersioningOverride{Version: worker.WorkerDeploymentVersion{DeploymentName: dep, BuildID: "v2"}}}}})
	requireNoError(t, err, "updating options")
	for _, id := range []string{run.GetID(), run2.GetID()} {
		requireNoError(t, c.SignalWorkflow(ctx, id, "", "go", nil), "signalling "+id)
	}
	if got := runResult(t, c, run); got != "v2/v2" {
		t.Errorf("overridden workflow ran %q, want v2/v2", got)
	}
	if got := runResult(t, c, run2); got != "v2/v2" {
		t.Errorf("workflow overridden later ran %q, want v2/v2", got)
	}
	events := getHistory(t, c, run2.GetID(), "")
	if countEvents(events, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_OPTIONS_UPDATED) != 1 {
		t.Errorf("want one WorkflowExecutionOptionsUpdated event:\n%s", formatHistory(events))
	}
	replayVersioned(t, events)
	replayVersioned(t, getHistory(t, c, run.GetID(), ""))
}

// drainingServer runs a server on which a version's pollers, and a version
// that stopped being current, are looked at after a second, not minutes.
func drainingServer(t *testing.T) *server {
	var args []string
	for _, key := range []string{"matching.PollerHistoryTTL", "matching.wv.VersionDrainageStatusVisibilityGracePeriod",
		"matching.wv.VersionDrainageStatusRefreshInterval"} {
		args = append(args, "--dynamic-config-value", key+`="1s"`)
	}
	return startServer(t, serverOptions{ExtraArgs: args})
}

func describeVersion(t *testing.T, ctx context.Context, c client.Client, dep, build string) *deploymentpb.WorkerDeploymentVersionInfo {
	t.Helper()
	v, err := c.WorkflowService().DescribeWorkerDeploymentVersion(ctx, &workflowservice.DescribeWorkerDeploymentVersionRequest{
		Namespace: "default", DeploymentVersion: deploymentVersion(dep, build)})
	requireNoError(t, err, "describing "+build)
	return v.GetWorkerDeploymentVersionInfo()
}

// waitDrained waits until the version is drained.
func waitDrained(t *testing.T, ctx context.Context, c client.Client, dep, build string, deadline time.Time) {
	t.Helper()
	for describeVersion(t, ctx, c, dep, build).GetStatus() != enumspb.WORKER_DEPLOYMENT_VERSION_STATUS_DRAINED {
		if time.Now().After(deadline) {
			t.Fatalf("%s never drained: %v", build, describeVersion(t, ctx, c, dep, build))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestVersioningDrainAndDelete(t *testing.T) {
	t.Parallel()
	srv := drainingServer(t)
	c, ctx, tq, dep := versioningSetup(t, srv, 120*time.Second)

	w1 := runBuild(t, ctx, c, tq, dep, "v1")
	setCurrent(t, ctx, c, dep, "v1")
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "drain-" + tq, TaskQueue: tq}, "VersionedPinned", true)
	requireNoError(t, err, "starting")
	waitVersioningInfo(t, ctx, c, run.GetID(), func(vi *workflowpb.WorkflowExecutionVersioningInfo) bool {
		return vi.GetDeploymentVersion().GetBuildId() == "v1"
	})
	runBuild(t, ctx, c, tq, dep, "v2")
	setCurrent(t, ctx, c, dep, "v2")

	if s := describeVersion(t, ctx, c, dep, "v1").GetStatus(); s != enumspb.WORKER_DEPLOYMENT_VERSION_STATUS_DRAINING {
		t.Errorf("v1 after v2 became current: %v, want draining", s)
	}
	// A pinned workflow still runs on v1: it stays draining.
	time.Sleep(2500 * time.Millisecond)
	if s := describeVersion(t, ctx, c, dep, "v1").GetDrainageInfo().GetStatus(); s != enumspb.VERSION_DRAINAGE_STATUS_DRAINING {
		t.Errorf("v1 with a pinned workflow open: drainage %v, want draining", s)
	}
	deleteV1 := func() error {
		_, err := c.WorkflowService().DeleteWorkerDeploymentVersion(ctx, &workflowservice.DeleteWorkerDeploymentVersionRequest{
			Namespace: "default", DeploymentVersion: deploymentVersion(dep, "v1"), Identity: "versioning-test"})
		return err
	}
	if err := deleteV1(); !errors.As(err, new(*serviceerror.FailedPrecondition)) {
		t.Errorf("deleting a draining version: %v, want FailedPrecondition", err)
	}
	_, err = c.WorkflowService().DeleteWorkerDeploymentVersion(ctx, &workflowservice.DeleteWorkerDeploymentVersionRequest{
		Namespace: "default", DeploymentVersion: deploymentVersion(dep, "v2")})
	if !errors.As(err, new(*serviceerror.FailedPrecondition)) {
		t.Errorf("deleting the current version: %v, want FailedPrecondition", err)
	}

	requireNoError(t, c.SignalWorkflow(ctx, run.GetID(), "", "go", nil), "signalling")
	if got := runResult(t, c, run); got != "v1/v1" {
		t.Errorf("pinned workflow ran %q, want v1/v1", got)
	}
	replayVersioned(t, getHistory(t, c, run.GetID(), ""))
	w1.Stop()

	deadline := time.Now().Add(60 * time.Second)
	waitDrained(t, ctx, c, dep, "v1", deadline)
	// Its pollers are forgotten a little after the worker stopped.
	for err := deleteV1(); err != nil; err = deleteV1() {
		if !errors.As(err, new(*serviceerror.FailedPrecondition)) || time.Now().After(deadline) {
			t.Fatalf("deleting drained v1: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	d, err := c.WorkflowService().DescribeWorkerDeployment(ctx, &workflowservice.DescribeWorkerDeploymentRequest{Namespace: "default", DeploymentName: dep})
	requireNoError(t, err, "describing the deployment")
	if vs := d.GetWorkerDeploymentInfo().GetVersionSummaries(); len(vs) != 1 || vs[0].GetDeploymentVersion().GetBuildId() != "v2" {
		t.Errorf("versions after deleting v1: %v, want only v2", vs)
	}
	_, err = c.WorkflowService().DeleteWorkerDeployment(ctx, &workflowservice.DeleteWorkerDeploymentRequest{Namespace: "default", DeploymentName: dep})
	if !errors.As(err, new(*serviceerror.FailedPrecondition)) {
		t.Errorf("deleting a deployment with versions: %v, want FailedPrecondition", err)
	}
}

// The legacy build-id versioning APIs answer as Temporal 1.32 does: off.
func TestVersioningLegacyAPIs(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOptions{})
	c := newClient(t, srv.Addr(), "default")
	ctx := testCtx(t, 30*time.Second)
	ws := c.WorkflowService()
	tq := taskQueueFor(t)
	_, err := ws.GetWorkerVersioningRules(ctx, &workflowservice.GetWorkerVersioningRulesRequest{Namespace: "default", TaskQueue: tq})
	requireErrorMessage(t, err, "Worker versioning v0.2 (Rules-based, deprecated) is disabled on this namespace.")
	_, err = ws.UpdateWorkerVersioningRules(ctx, &workflowservice.UpdateWorkerVersioningRulesRequest{Namespace: "default", TaskQueue: tq,
		Operation: &workflowservice.UpdateWorkerVersioningRulesRequest_CommitBuildId_{CommitBuildId: &workflowservice.UpdateWorkerVersioningRulesRequest_CommitBuildId{TargetBuildId: "x"}}})
	requireErrorMessage(t, err, "Worker versioning v0.2 (Rules-based, deprecated) is disabled on this namespace.")
	_, err = ws.UpdateWorkerBuildIdCompatibility(ctx, &workflowservice.UpdateWorkerBuildIdCompatibilityRequest{Namespace: "default", TaskQueue: tq,
		Operation: &workflowservice.UpdateWorkerBuildIdCompatibilityRequest_AddNewBuildIdInNewDefaultSet{AddNewBuildIdInNewDefaultSet: "x"}})
	requireErrorMessage(t, err, "Worker versioning v0.1 (Version Set-based, deprecated) is disabled on this namespace.")
	_, err = ws.DescribeWorkerDeployment(ctx, &workflowservice.DescribeWorkerDeploymentRequest{Namespace: "default", DeploymentName: "nope"})
	requireErrorMessage(t, err, "no Worker Deployment found with name 'nope'; does your Worker Deployment have pollers?")
}

func requireErrorMessage(t *testing.T, err error, want string) {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("error %v, want one saying %q", err, want)
	}
}

// The temporal CLI's `worker deployment` commands.
func TestVersioningCLI(t *testing.T) {
	t.Parallel()
	srv := drainingServer(t)
	c, ctx, tq, dep := versioningSetup(t, srv, 120*time.Second)
	cli := temporalCLI(t)
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.CommandContext(ctx, cli, append(append([]string{"worker", "deployment"}, args...),
			"--address", srv.Addr(), "--namespace", "default")...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("temporal worker deployment %v: %v\n%s", args, err, out)
		}
		return string(out)
	}

	w1 := runBuild(t, ctx, c, tq, dep, "v1")
	runBuild(t, ctx, c, tq, dep, "v2")
	run("set-current-version", "--deployment-name", dep, "--build-id", "v1", "--yes")
	run("set-ramping-version", "--deployment-name", dep, "--build-id", "v2", "--percentage", "25", "--yes")
	out := run("describe", "--name", dep, "--output", "json")
	for _, want := range []string{`"currentVersionBuildID": "v1"`, `"rampingVersionBuildID": "v2"`, `"rampingVersionPercentage": 25`} {
		if !strings.Contains(out, want) {
			t.Errorf("describe: no %s in\n%s", want, out)
		}
	}
	if out := run("list"); !strings.Contains(out, dep) {
		t.Errorf("list does not name %s:\n%s", dep, out)
	}
	if out := run("describe-version", "--deployment-name", dep, "--build-id", "v2"); !strings.Contains(out, "Ramping") && !strings.Contains(out, "RAMPING") {
		t.Errorf("describe-version of v2 does not say ramping:\n%s", out)
	}
	run("set-current-version", "--deployment-name", dep, "--build-id", "v2", "--yes")
	w1.Stop()
	deadline := time.Now().Add(60 * time.Second)
	for {
		cmd := exec.CommandContext(ctx, cli, "worker", "deployment", "delete-version", "--deployment-name", dep, "--build-id", "v1",
			"--address", srv.Addr(), "--namespace", "default")
		out, err := cmd.CombinedOutput()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("delete-version v1: %v\n%s", err, out)
		}
		time.Sleep(300 * time.Millisecond)
	}
	out = run("describe", "--name", dep, "--output", "json")
	if strings.Contains(out, `"BuildID": "v1"`) || !strings.Contains(out, `"BuildID": "v2"`) {
		t.Errorf("v1 still described after delete-version:\n%s", out)
	}
}
