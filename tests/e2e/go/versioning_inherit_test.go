package e2e

// What runs inherit of Worker Versioning, as Temporal 1.32 carries it.
// Across continue-as-new: a
// pinned run's next run stays on its version (inherited_pinned_version) and
// records the target it declined; with initial_versioning_behavior
// AUTO_UPGRADE it moves to the current version; an auto-upgrade run's next
// run follows the current version; a pinned override is inherited. A pinned
// run learns that its target version changed from its workflow task started
// events. A child on another task queue inherits its pinned parent's
// version only when that version's workers poll the child's queue. Checked
// on both servers.

import (
	"fmt"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// continuingWorkflow is one build's "VersionedContinue*" code: its first run
// waits for "go" and continues as new (with AUTO_UPGRADE as the new run's
// initial behavior when `upgrade`), handing on whether it was told that its
// target version changed; the next run returns "<build>/<told>".
func continuingWorkflow(build string) func(workflow.Context, bool, int, bool) (string, error) {
	return func(ctx workflow.Context, upgrade bool, hop int, told bool) (string, error) {
		if hop > 0 {
			return fmt.Sprintf("%s/%v", build, told), nil
		}
		workflow.GetSignalChannel(ctx, "go").Receive(ctx, nil)
		told = workflow.GetInfo(ctx).GetTargetWorkerDeploymentVersionChanged()
		opts := workflow.ContinueAsNewErrorOptions{}
		if upgrade {
			opts.InitialVersioningBehavior = workflow.ContinueAsNewVersioningBehaviorAutoUpgrade
		}
		return "", workflow.NewContinueAsNewErrorWithOptions(ctx, opts, workflow.GetInfo(ctx).WorkflowType.Name, upgrade, 1, told)
	}
}

// continuingWorkflowNames names the pinned and the auto-upgrade registration.
var continuingWorkflowNames = map[string]workflow.VersioningBehavior{
	"VersionedContinuePinned":      workflow.VersioningBehaviorPinned,
	"VersionedContinueAutoUpgrade": workflow.VersioningBehaviorAutoUpgrade,
}

// parentOfChildrenOn waits for "go", then runs a "VersionedPinned" child on
// each queue in turn and returns their results joined by ",".
func parentOfChildrenOn(ctx workflow.Context, queues []string) (string, error) {
	workflow.GetSignalChannel(ctx, "go").Receive(ctx, nil)
	var out []string
	for _, q := range queues {
		var got string
		cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{TaskQueue: q})
		if err := workflow.ExecuteChildWorkflow(cctx, "VersionedPinned", false).Get(ctx, &got); err != nil {
			return "", err
		}
		out = append(out, got)
	}
	return strings.Join(out, ","), nil
}

type workflowRegistry interface {
	RegisterWorkflowWithOptions(w any, options workflow.RegisterOptions)
}

func registerContinuingWorkflows(r workflowRegistry, build string, withBehavior bool) {
	for name, behavior := range continuingWorkflowNames {
		opts := workflow.RegisterOptions{Name: name}
		if withBehavior {
			opts.VersioningBehavior = behavior
		}
		r.RegisterWorkflowWithOptions(continuingWorkflow(build), opts)
	}
	opts := workflow.RegisterOptions{Name: "VersionedParentOn"}
	if withBehavior {
		opts.VersioningBehavior = workflow.VersioningBehaviorPinned
	}
	r.RegisterWorkflowWithOptions(parentOfChildrenOn, opts)
}

func TestVersioningContinueAsNew(t *testing.T) {
	t.Parallel()
	c, ctx, tq, dep := twoBuildsV1Current(t, 120*time.Second)
	firstRun := map[client.WorkflowRun]string{} // The SDK's run follows continue-as-new.
	start := func(id, workflowType string, upgrade bool, override bool) client.WorkflowRun {
		opts := client.StartWorkflowOptions{ID: id + "-" + tq, TaskQueue: tq}
		if override {
			opts.VersioningOverride = &client.PinnedVersioningOverride{Version: worker.WorkerDeploymentVersion{DeploymentName: dep, BuildID: "v1"}}
		}
		run, err := c.ExecuteWorkflow(ctx, opts, workflowType, upgrade, 0, false)
		requireNoError(t, err, "starting "+id)
		firstRun[run] = run.GetRunID()
		waitVersioningInfo(t, ctx, c, run.GetID(), func(vi *workflowpb.WorkflowExecutionVersioningInfo) bool {
			return vi.GetDeploymentVersion().GetBuildId() == "v1" && vi.GetBehavior() != enumspb.VERSIONING_BEHAVIOR_UNSPECIFIED
		})
		return run
	}
	pinned := start("pinned", "VersionedContinuePinned", false, false)
	upgrading := start("upgrading", "VersionedContinuePinned", true, false)
	auto := start("auto", "VersionedContinueAutoUpgrade", false, false)
	overridden := start("overridden", "VersionedContinueAutoUpgrade", false, true)

	setCurrent(t, ctx, c, dep, "v2")
	for _, run := range []client.WorkflowRun{pinned, upgrading, auto, overridden} {
		requireNoError(t, c.SignalWorkflow(ctx, run.GetID(), "", "go", nil), "signalling "+run.GetID())
	}
	for run, want := range map[client.WorkflowRun]string{
		pinned:     "v1/true",  // Stays on v1, told v2 is the target.
		upgrading:  "v2/true",  // Moves to the current version.
		auto:       "v2/false", // Already moved with its signal's task.
		overridden: "v1/false", // The override holds and silences the news.
	} {
		if got := runResult(t, c, run); got != want {
			t.Errorf("%s ended %q, want %q", run.GetID(), got, want)
		}
	}

	// What each next run's started event inherited.
	nextStart := func(run client.WorkflowRun) *historypb.WorkflowExecutionStartedEventAttributes {
		first := getHistory(t, c, run.GetID(), firstRun[run])
		replayVersioned(t, first)
		continued := eventsOfType(first, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW)
		if len(continued) != 1 {
			t.Fatalf("%s did not continue as new:\n%s", run.GetID(), formatHistory(first))
		}
		events := getHistory(t, c, run.GetID(), continued[0].GetWorkflowExecutionContinuedAsNewEventAttributes().GetNewExecutionRunId())
		replayVersioned(t, events)
		return events[0].GetWorkflowExecutionStartedEventAttributes()
	}

	a := nextStart(pinned)
	if a.GetInheritedPinnedVersion().GetBuildId() != "v1" || a.GetInheritedAutoUpgradeInfo() != nil {
		t.Errorf("pinned run's next run inherited %v / %v, want pinned v1", a.GetInheritedPinnedVersion(), a.GetInheritedAutoUpgradeInfo())
	}
	if a.GetDeclinedTargetVersionUpgrade().GetDeploymentVersion().GetBuildId() != "v2" {
		t.Errorf("pinned run's next run declined %v, want v2", a.GetDeclinedTargetVersionUpgrade())
	}
	a = nextStart(upgrading)
	info := a.GetInheritedAutoUpgradeInfo()
	if a.GetInheritedPinnedVersion() != nil || info.GetSourceDeploymentVersion().GetBuildId() != "v1" ||
		info.GetSourceDeploymentRevisionNumber() == 0 ||
		info.GetContinueAsNewInitialVersioningBehavior() != enumspb.CONTINUE_AS_NEW_VERSIONING_BEHAVIOR_AUTO_UPGRADE {
		t.Errorf("upgrading run's next run inherited %v / %v, want auto-upgrade info from v1", a.GetInheritedPinnedVersion(), info)
	}
	a = nextStart(auto)
	if info := a.GetInheritedAutoUpgradeInfo(); info.GetSourceDeploymentVersion().GetBuildId() != "v2" ||
		info.GetContinueAsNewInitialVersioningBehavior() != enumspb.CONTINUE_AS_NEW_VERSIONING_BEHAVIOR_UNSPECIFIED {
		t.Errorf("auto-upgrade run's next run inherited %v, want auto-upgrade info from v2", info)
	}
	a = nextStart(overridden)
	if a.GetVersioningOverride().GetPinned().GetVersion().GetBuildId() != "v1" {
		t.Errorf("overridden run's next run has override %v, want pinned to v1", a.GetVersioningOverride())
	}
	d, err := c.DescribeWorkflowExecution(ctx, overridden.GetID(), "")
	requireNoError(t, err, "describing the overridden workflow")
	if vi := d.GetWorkflowExecutionInfo().GetVersioningInfo(); vi.GetVersioningOverride().GetPinned().GetVersion().GetBuildId() != "v1" {
		t.Errorf("overridden workflow's last run's versioning info %v, want the override", vi)
	}

	// The pinned run's started events told it of the new target once v2 was current.
	first := getHistory(t, c, pinned.GetID(), firstRun[pinned])
	started := eventsOfType(first, enumspb.EVENT_TYPE_WORKFLOW_TASK_STARTED)
	if len(started) < 2 || started[0].GetWorkflowTaskStartedEventAttributes().GetTargetWorkerDeploymentVersionChanged() ||
		!started[len(started)-1].GetWorkflowTaskStartedEventAttributes().GetTargetWorkerDeploymentVersionChanged() {
		t.Errorf("target_worker_deployment_version_changed not false then true:\n%s", formatHistory(first))
	}
}

// A pinned parent's children, started after v2 became current: those on its
// own task queue and on another queue its version polls start on v1; the
// one on a queue only v2 polls goes to the current version.
func TestVersioningChildrenOfPinnedParent(t *testing.T) {
	t.Parallel()
	c, ctx, tq, dep := versioningSetup(t, startServer(t, serverOptions{}), 120*time.Second)
	shared, newOnly := tq+"-shared", tq+"-new"
	runBuild(t, ctx, c, tq, dep, "v1")
	runBuild(t, ctx, c, shared, dep, "v1")
	setCurrent(t, ctx, c, dep, "v1")
	parent, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "parent-" + tq, TaskQueue: tq},
		"VersionedParentOn", []string{tq, shared, newOnly})
	requireNoError(t, err, "starting the parent")
	waitVersioningInfo(t, ctx, c, parent.GetID(), func(vi *workflowpb.WorkflowExecutionVersioningInfo) bool {
		return vi.GetDeploymentVersion().GetBuildId() == "v1" && vi.GetBehavior() == enumspb.VERSIONING_BEHAVIOR_PINNED
	})
	for _, q := range []string{tq, shared, newOnly} {
		runBuild(t, ctx, c, q, dep, "v2")
	}
	setCurrent(t, ctx, c, dep, "v2")
	requireNoError(t, c.SignalWorkflow(ctx, parent.GetID(), "", "go", nil), "signalling")
	if got := runResult(t, c, parent); got != "v1/v1,v1/v1,v2/v2" {
		t.Errorf("children ran %q, want v1/v1 twice (inherited) then v2/v2 (current)", got)
	}
	events := getHistory(t, c, parent.GetID(), "")
	replayVersioned(t, events)
	var inherited []string
	for _, e := range eventsOfType(events, enumspb.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED) {
		child := e.GetChildWorkflowExecutionStartedEventAttributes().GetWorkflowExecution()
		childEvents := getHistory(t, c, child.GetWorkflowId(), child.GetRunId())
		replayVersioned(t, childEvents)
		inherited = append(inherited, childEvents[0].GetWorkflowExecutionStartedEventAttributes().GetInheritedPinnedVersion().GetBuildId())
	}
	if fmt.Sprint(inherited) != "[v1 v1 ]" {
		t.Errorf("children inherited pinned versions %q, want [v1 v1 ]", inherited)
	}
}
