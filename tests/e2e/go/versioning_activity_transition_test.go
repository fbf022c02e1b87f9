package e2e

// An auto-upgrade workflow whose activity is dispatched to a worker of the
// new current version moves to that version there and then, as Temporal
// 1.32's history does: the activity's start is refused, the workflow starts
// its version transition and gets a workflow task on the new version, and
// once that task completes the activity is sent again and runs there.
// Checked on both servers.

import (
	"fmt"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

func TestVersioningActivityStartsTransition(t *testing.T) {
	t.Parallel()
	c, ctx, tq, dep := versioningSetup(t, startServer(t, serverOptions{}), 120*time.Second)

	// Build v1 runs workflows only: the activity of its workflow waits.
	w1 := worker.New(c, tq, worker.Options{DeploymentOptions: worker.DeploymentOptions{
		UseVersioning: true,
		Version:       worker.WorkerDeploymentVersion{DeploymentName: dep, BuildID: "v1"},
	}})
	_, auto1, _ := versionedWorkflows("v1")
	w1.RegisterWorkflowWithOptions(auto1, workflow.RegisterOptions{Name: "VersionedAutoUpgrade", VersioningBehavior: workflow.VersioningBehaviorAutoUpgrade})
	requireNoError(t, w1.Start(), "starting worker v1")
	t.Cleanup(w1.Stop)
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := c.WorkflowService().DescribeWorkerDeploymentVersion(ctx, &workflowservice.DescribeWorkerDeploymentVersionRequest{
			Namespace: "default", DeploymentVersion: deploymentVersion(dep, "v1")})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("version v1 not registered: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	setCurrent(t, ctx, c, dep, "v1")

	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "activity-transition", TaskQueue: tq}, "VersionedAutoUpgrade", false)
	requireNoError(t, err, "starting the workflow")
	waitForEvent(t, c, run.GetID(), "", enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED, 30*time.Second)

	// v2 (workflows and activities) becomes current: its activity worker is
	// offered the waiting activity, which moves the workflow to v2 first.
	runBuild(t, ctx, c, tq, dep, "v2")
	setCurrent(t, ctx, c, dep, "v2")
	if got := runResult(t, c, run); got != "v2/v2" {
		t.Errorf("result %q, want v2/v2", got)
	}
	events := getHistory(t, c, run.GetID(), "")
	checkCompletedVersions(t, events, enumspb.VERSIONING_BEHAVIOR_AUTO_UPGRADE, "v1", "v2", "v2")
	var after []enumspb.EventType
	seen := false
	for _, e := range events {
		if e.GetEventType() == enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED {
			seen = true
			continue
		}
		if seen {
			after = append(after, e.GetEventType())
		}
	}
	want := []enumspb.EventType{enumspb.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED, enumspb.EVENT_TYPE_WORKFLOW_TASK_STARTED,
		enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED, enumspb.EVENT_TYPE_ACTIVITY_TASK_STARTED,
		enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED, enumspb.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
		enumspb.EVENT_TYPE_WORKFLOW_TASK_STARTED, enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
		enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED}
	if fmt.Sprint(after) != fmt.Sprint(want) {
		t.Errorf("events after the activity was scheduled: %v, want %v\n%s", after, want, formatHistory(events))
	}
	d, err := c.DescribeWorkflowExecution(ctx, run.GetID(), "")
	requireNoError(t, err, "describing the workflow")
	if vi := d.GetWorkflowExecutionInfo().GetVersioningInfo(); vi.GetVersionTransition() != nil || vi.GetDeploymentVersion().GetBuildId() != "v2" {
		t.Errorf("versioning info after the run: %v, want v2 without a transition", vi)
	}
	replayVersioned(t, events)
}
