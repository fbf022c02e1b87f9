package e2e

// Reset of a versioned workflow: the new run's versioning info is rebuilt
// from the history it keeps (the versions its workflow tasks completed on,
// the override at start), as Temporal rebuilds its mutable state — a reset
// to the first workflow task keeps no completed task, so the run starts
// over on the current version — and a post-reset UpdateWorkflowOptions
// operation may set a versioning override. Checked on both servers.

import (
	"context"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
)

// startVersionedWaiting starts a versioned workflow that waits for "go"; with
// `pinToV2Of` (a deployment), pinned to its v2 by an override.
func startVersionedWaiting(t *testing.T, ctx context.Context, c client.Client, id, tq, workflowType, pinToV2Of string) client.WorkflowRun {
	t.Helper()
	opts := client.StartWorkflowOptions{ID: id, TaskQueue: tq}
	if pinToV2Of != "" {
		opts.VersioningOverride = &client.PinnedVersioningOverride{Version: worker.WorkerDeploymentVersion{DeploymentName: pinToV2Of, BuildID: "v2"}}
	}
	run, err := c.ExecuteWorkflow(ctx, opts, workflowType, true)
	requireNoError(t, err, "starting "+id)
	return run
}

func TestVersioningReset(t *testing.T) {
	t.Parallel()
	c, ctx, tq, dep := twoBuildsV1Current(t, 120*time.Second)

	// Workflows pinned by their v1 worker, and one pinned to v2 at start.
	pinned := startVersionedWaiting(t, ctx, c, "reset-pinned-"+tq, tq, "VersionedPinned", "")
	overridden := startVersionedWaiting(t, ctx, c, "reset-override-"+tq, tq, "VersionedAutoUpgrade", dep)
	third := startVersionedWaiting(t, ctx, c, "reset-op-"+tq, tq, "VersionedPinned", "")
	for _, run := range []client.WorkflowRun{pinned, overridden, third} {
		waitVersioningInfo(t, ctx, c, run.GetID(), func(vi *workflowpb.WorkflowExecutionVersioningInfo) bool {
			return vi.GetDeploymentVersion().GetBuildId() != ""
		})
	}
	// The pinned one finishes on v1.
	requireNoError(t, c.SignalWorkflow(ctx, pinned.GetID(), "", "go", nil), "signalling the pinned workflow")
	if got := runResult(t, c, pinned); got != "v1/v1" {
		t.Fatalf("pinned workflow ran %q, want v1/v1", got)
	}
	// Resets to the n-th completed workflow task.
	resetTo := func(run client.WorkflowRun, n int, ops ...*workflowpb.PostResetOperation) string {
		completed := eventsOfType(getHistory(t, c, run.GetID(), run.GetRunID()), enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED)
		return resetRun(t, c, &workflowservice.ResetWorkflowExecutionRequest{
			WorkflowExecution:         &commonpb.WorkflowExecution{WorkflowId: run.GetID(), RunId: run.GetRunID()},
			Reason:                    "versioning",
			WorkflowTaskFinishEventId: completed[n-1].GetEventId(),
			RequestId:                 newRequestID(),
			PostResetOperations:       ops,
		})
	}
	// v2 becomes current. Reset to its second workflow task (after the
	// signal), the pinned run keeps the first one, completed on v1: it
	// stays pinned to v1. Reset to the first, a run keeps its override (v2)
	// or, without one, starts over on the current version (v2).
	setCurrent(t, ctx, c, dep, "v2")
	resetPinned := resetTo(pinned, 2)
	startedOver := resetTo(third, 1)
	resetOverridden := resetTo(overridden, 1)
	describeRun := func(id, runID string) *workflowpb.WorkflowExecutionVersioningInfo {
		d, err := c.DescribeWorkflowExecution(ctx, id, runID)
		requireNoError(t, err, "describing "+id)
		return d.GetWorkflowExecutionInfo().GetVersioningInfo()
	}
	vi := describeRun(pinned.GetID(), resetPinned)
	if vi.GetBehavior() != enumspb.VERSIONING_BEHAVIOR_PINNED || vi.GetDeploymentVersion().GetBuildId() != "v1" || vi.GetVersioningOverride() != nil {
		t.Errorf("pinned run reset after its first task: versioning info %v, want pinned to v1 without an override", vi)
	}
	vi = describeRun(overridden.GetID(), resetOverridden)
	if vi.GetVersioningOverride().GetPinned().GetVersion().GetBuildId() != "v2" {
		t.Errorf("reset overridden run: versioning info %v, want the override pinned to v2", vi)
	}
	waitVersioningInfo(t, ctx, c, third.GetID(), func(vi *workflowpb.WorkflowExecutionVersioningInfo) bool {
		return vi.GetBehavior() == enumspb.VERSIONING_BEHAVIOR_PINNED && vi.GetDeploymentVersion().GetBuildId() == "v2"
	})

	// A post-reset operation pins the reset run to v2.
	pinV2 := &workflowpb.PostResetOperation{Variant: &workflowpb.PostResetOperation_UpdateWorkflowOptions_{
		UpdateWorkflowOptions: &workflowpb.PostResetOperation_UpdateWorkflowOptions{
			WorkflowExecutionOptions: &workflowpb.WorkflowExecutionOptions{VersioningOverride: &workflowpb.VersioningOverride{
				Override: &workflowpb.VersioningOverride_Pinned{Pinned: &workflowpb.VersioningOverride_PinnedOverride{
					Behavior: workflowpb.VersioningOverride_PINNED_OVERRIDE_BEHAVIOR_PINNED,
					Version:  deploymentVersion(dep, "v2")}}}},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"versioning_override"}},
		}}}
	requireNoError(t, c.SignalWorkflow(ctx, third.GetID(), startedOver, "go", nil), "signalling the started-over run")
	if got := runResult(t, c, c.GetWorkflow(ctx, third.GetID(), startedOver)); got != "v2/v2" {
		t.Errorf("run reset to its first task ran %q, want v2/v2", got)
	}
	repinned := resetTo(c.GetWorkflow(ctx, third.GetID(), startedOver), 1, pinV2)
	vi = describeRun(third.GetID(), repinned)
	if vi.GetVersioningOverride().GetPinned().GetVersion().GetBuildId() != "v2" {
		t.Errorf("run reset with an override: versioning info %v, want the override pinned to v2", vi)
	}
	events := getHistory(t, c, third.GetID(), repinned)
	if countEvents(events, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_OPTIONS_UPDATED) != 1 {
		t.Errorf("want one WorkflowExecutionOptionsUpdated event:\n%s", formatHistory(events))
	}

	// Each run finishes where its versioning says.
	// (The pinned run kept its signal; the repinned run had it reapplied.)
	for _, r := range []struct {
		id, runID, want string
		signal          bool
	}{
		{pinned.GetID(), resetPinned, "v1/v1", false},
		{overridden.GetID(), resetOverridden, "v2/v2", true},
		{third.GetID(), repinned, "v2/v2", false}, // Its signal is reapplied.
	} {
		if r.signal {
			requireNoError(t, c.SignalWorkflow(ctx, r.id, r.runID, "go", nil), "signalling "+r.id)
		}
		if got := runResult(t, c, c.GetWorkflow(ctx, r.id, r.runID)); got != r.want {
			t.Errorf("%s ran %q, want %q", r.id, got, r.want)
		}
		replayVersioned(t, getHistory(t, c, r.id, r.runID))
	}
}
