package e2e

// A deployment's manager identity (SetWorkerDeploymentManager): once set,
// only that client changes the routing; describe reports it. And the
// version transition describe shows while an auto-upgrade workflow's first
// task on the new current version runs. Checked on both servers.

import (
	"context"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// startPausingWorker runs a build whose auto-upgrade "VersionedPausing"
// workflow waits for "go", then runs a local activity that takes `pause`
// (keeping that workflow task open), and returns the build.
func startPausingWorker(t *testing.T, c client.Client, tq, dep, build string, pause time.Duration) {
	t.Helper()
	w := worker.New(c, tq, worker.Options{DeploymentOptions: worker.DeploymentOptions{
		UseVersioning: true,
		Version:       worker.WorkerDeploymentVersion{DeploymentName: dep, BuildID: build},
	}})
	w.RegisterWorkflowWithOptions(func(ctx workflow.Context) (string, error) {
		workflow.GetSignalChannel(ctx, "go").Receive(ctx, nil)
		ctx = workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{StartToCloseTimeout: time.Minute})
		if err := workflow.ExecuteLocalActivity(ctx, func(context.Context) error { time.Sleep(pause); return nil }).Get(ctx, nil); err != nil {
			return "", err
		}
		return build, nil
	}, workflow.RegisterOptions{Name: "VersionedPausing", VersioningBehavior: workflow.VersioningBehaviorAutoUpgrade})
	requireNoError(t, w.Start(), "starting worker "+build)
	t.Cleanup(w.Stop)
}

func TestVersioningManagerAndTransition(t *testing.T) {
	t.Parallel()
	c, ctx, tq, dep := versioningSetup(t, startServer(t, serverOptions{}), 120*time.Second)
	startPausingWorker(t, c, tq, dep, "v1", 0)
	startPausingWorker(t, c, tq, dep, "v2", 4*time.Second)
	waitForVersion(t, ctx, c, dep, "v1")
	waitForVersion(t, ctx, c, dep, "v2")
	setCurrent(t, ctx, c, dep, "v1")

	// The test's client becomes the manager; another one is refused.
	svc := c.WorkflowService()
	m, err := svc.SetWorkerDeploymentManager(ctx, &workflowservice.SetWorkerDeploymentManagerRequest{Namespace: "default",
		DeploymentName: dep, Identity: "versioning-test", NewManagerIdentity: &workflowservice.SetWorkerDeploymentManagerRequest_Self{Self: true}})
	requireNoError(t, err, "setting the manager")
	if m.GetPreviousManagerIdentity() != "" || len(m.GetConflictToken()) == 0 {
		t.Errorf("set manager answered %v, want no previous manager and a token", m)
	}
	d, err := svc.DescribeWorkerDeployment(ctx, &workflowservice.DescribeWorkerDeploymentRequest{Namespace: "default", DeploymentName: dep})
	requireNoError(t, err, "describing the deployment")
	if got := d.GetWorkerDeploymentInfo().GetManagerIdentity(); got != "versioning-test" {
		t.Errorf("manager identity %q, want versioning-test", got)
	}
	_, err = svc.SetWorkerDeploymentCurrentVersion(ctx, &workflowservice.SetWorkerDeploymentCurrentVersionRequest{
		Namespace: "default", DeploymentName: dep, BuildId: "v2", Identity: "intruder"})
	requireErrorMessage(t, err, "ManagerIdentity 'versioning-test' is set and does not match user identity 'intruder'; "+
		"to proceed, set your own identity as the ManagerIdentity, remove the ManagerIdentity, or wait for the other client to do so")
	_, err = svc.SetWorkerDeploymentRampingVersion(ctx, &workflowservice.SetWorkerDeploymentRampingVersionRequest{
		Namespace: "default", DeploymentName: dep, BuildId: "v2", Percentage: 10, Identity: "intruder"})
	requireErrorMessage(t, err, "ManagerIdentity 'versioning-test' is set")

	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "transition-" + tq, TaskQueue: tq}, "VersionedPausing")
	requireNoError(t, err, "starting")
	waitVersioningInfo(t, ctx, c, run.GetID(), func(vi *workflowpb.WorkflowExecutionVersioningInfo) bool {
		return vi.GetDeploymentVersion().GetBuildId() == "v1" && vi.GetBehavior() == enumspb.VERSIONING_BEHAVIOR_AUTO_UPGRADE
	})
	if vi := waitVersioningInfo(t, ctx, c, run.GetID(), func(*workflowpb.WorkflowExecutionVersioningInfo) bool { return true }); vi.GetVersionTransition() != nil {
		t.Errorf("a transition before any change: %v", vi.GetVersionTransition())
	}
	setCurrent(t, ctx, c, dep, "v2")
	requireNoError(t, c.SignalWorkflow(ctx, run.GetID(), "", "go", nil), "signalling")
	// v2's task is held open by its local activity: the run is moving to v2.
	vi := waitVersioningInfo(t, ctx, c, run.GetID(), func(vi *workflowpb.WorkflowExecutionVersioningInfo) bool {
		return vi.GetVersionTransition() != nil
	})
	if vi.GetVersionTransition().GetDeploymentVersion().GetBuildId() != "v2" || vi.GetDeploymentVersion().GetBuildId() != "v1" {
		t.Errorf("during the move: version %v, transition %v; want v1 moving to v2", vi.GetDeploymentVersion(), vi.GetVersionTransition())
	}
	if got := runResult(t, c, run); got != "v2" {
		t.Errorf("workflow ended on %q, want v2", got)
	}
	final, err := c.DescribeWorkflowExecution(ctx, run.GetID(), "")
	requireNoError(t, err, "describing")
	if vi := final.GetWorkflowExecutionInfo().GetVersioningInfo(); vi.GetVersionTransition() != nil || vi.GetDeploymentVersion().GetBuildId() != "v2" {
		t.Errorf("after the move: version %v, transition %v; want v2 and none", vi.GetDeploymentVersion(), vi.GetVersionTransition())
	}
}
