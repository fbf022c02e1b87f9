package e2e

// The deprecated build-id versioning with compatible version sets, which
// Temporal 1.32 serves when dynamic config frontend.workerVersioningDataAPIs
// is on: the sets' API (updates, reads, errors, reachability) and the
// routing of workers that poll with UseBuildIDForVersioning. Checked on both
// servers.

import (
	"context"
	"errors"
	"reflect"
	"sort"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/serviceerror"
	taskqueuepb "go.temporal.io/api/taskqueue/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

var versionSetsConfig = []string{"frontend.workerVersioningDataAPIs=true"}

func updateSets(ctx context.Context, t *testing.T, c client.Client, req *workflowservice.UpdateWorkerBuildIdCompatibilityRequest) error {
	t.Helper()
	req.Namespace = "default"
	_, err := c.WorkflowService().UpdateWorkerBuildIdCompatibility(ctx, req)
	return err
}

func addDefault(id string) *workflowservice.UpdateWorkerBuildIdCompatibilityRequest {
	return &workflowservice.UpdateWorkerBuildIdCompatibilityRequest{
		Operation: &workflowservice.UpdateWorkerBuildIdCompatibilityRequest_AddNewBuildIdInNewDefaultSet{AddNewBuildIdInNewDefaultSet: id}}
}

func addCompatible(id, existing string, makeDefault bool) *workflowservice.UpdateWorkerBuildIdCompatibilityRequest {
	return &workflowservice.UpdateWorkerBuildIdCompatibilityRequest{
		Operation: &workflowservice.UpdateWorkerBuildIdCompatibilityRequest_AddNewCompatibleBuildId{
			AddNewCompatibleBuildId: &workflowservice.UpdateWorkerBuildIdCompatibilityRequest_AddNewCompatibleVersion{
				NewBuildId: id, ExistingCompatibleBuildId: existing, MakeSetDefault: makeDefault}}}
}

func getSets(ctx context.Context, t *testing.T, c client.Client, tq string, maxSets int32) [][]string {
	t.Helper()
	resp, err := c.WorkflowService().GetWorkerBuildIdCompatibility(ctx, &workflowservice.GetWorkerBuildIdCompatibilityRequest{
		Namespace: "default", TaskQueue: tq, MaxSets: maxSets})
	requireNoError(t, err, "reading the version sets")
	var out [][]string
	for _, s := range resp.GetMajorVersionSets() {
		out = append(out, s.GetBuildIds())
	}
	return out
}

func TestVersionSetsAPI(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOptions{DynamicConfig: versionSetsConfig})
	c := newClient(t, srv.Addr(), "default")
	ctx := testCtx(t, 30*time.Second)
	tq := taskQueueFor(t)
	set := func(req *workflowservice.UpdateWorkerBuildIdCompatibilityRequest) *workflowservice.UpdateWorkerBuildIdCompatibilityRequest {
		req.TaskQueue = tq
		return req
	}
	want := func(what string, want [][]string) {
		t.Helper()
		if got := getSets(ctx, t, c, tq, 0); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: sets %v, want %v", what, got, want)
		}
	}
	if got := getSets(ctx, t, c, tq, 0); len(got) != 0 {
		t.Errorf("sets of a new queue: %v, want none", got)
	}
	requireNoError(t, updateSets(ctx, t, c, set(addDefault("1.0"))), "adding 1.0")
	requireNoError(t, updateSets(ctx, t, c, set(addDefault("1.0"))), "adding 1.0 again (idempotent)")
	requireNoError(t, updateSets(ctx, t, c, set(addCompatible("1.1", "1.0", false))), "adding 1.1")
	want("after 1.1", [][]string{{"1.0", "1.1"}})
	requireNoError(t, updateSets(ctx, t, c, set(addDefault("2.0"))), "adding 2.0")
	requireNoError(t, updateSets(ctx, t, c, set(addCompatible("1.2", "1.1", false))), "adding 1.2 to the old set")
	want("after 1.2", [][]string{{"1.0", "1.1", "1.2"}, {"2.0"}})
	requireNoError(t, updateSets(ctx, t, c, set(addCompatible("1.3", "1.0", true))), "adding 1.3, its set the default")
	want("after 1.3", [][]string{{"2.0"}, {"1.0", "1.1", "1.2", "1.3"}})
	if got := getSets(ctx, t, c, tq, 1); !reflect.DeepEqual(got, [][]string{{"1.0", "1.1", "1.2", "1.3"}}) {
		t.Errorf("max_sets 1: %v, want only the default set", got)
	}
	requireNoError(t, updateSets(ctx, t, c, set(&workflowservice.UpdateWorkerBuildIdCompatibilityRequest{
		Operation: &workflowservice.UpdateWorkerBuildIdCompatibilityRequest_PromoteBuildIdWithinSet{PromoteBuildIdWithinSet: "1.1"}})), "promoting 1.1")
	want("after promoting 1.1", [][]string{{"2.0"}, {"1.0", "1.2", "1.3", "1.1"}})
	requireNoError(t, updateSets(ctx, t, c, set(&workflowservice.UpdateWorkerBuildIdCompatibilityRequest{
		Operation: &workflowservice.UpdateWorkerBuildIdCompatibilityRequest_PromoteSetByBuildId{PromoteSetByBuildId: "2.0"}})), "promoting 2.0's set")
	want("after promoting 2.0's set", [][]string{{"1.0", "1.2", "1.3", "1.1"}, {"2.0"}})
	requireNoError(t, updateSets(ctx, t, c, set(addDefault("3.0"))), "adding 3.0")
	requireNoError(t, updateSets(ctx, t, c, set(&workflowservice.UpdateWorkerBuildIdCompatibilityRequest{
		Operation: &workflowservice.UpdateWorkerBuildIdCompatibilityRequest_MergeSets_{MergeSets: &workflowservice.UpdateWorkerBuildIdCompatibilityRequest_MergeSets{
			PrimarySetBuildId: "1.2", SecondarySetBuildId: "3.0"}}})), "merging 3.0 into 1.x")
	// The primary set's default (1.1) stays the default; the builds keep the
	// order in which they became defaults; the merged set takes the later place.
	want("after merging", [][]string{{"2.0"}, {"1.0", "1.2", "1.3", "3.0", "1.1"}})

	// Temporal's errors.
	err := updateSets(ctx, t, c, set(addDefault("1.3")))
	requireErrorMessage(t, err, "version 1.3 already exists")
	expectErrorAs[*serviceerror.InvalidArgument](t, err, "adding an existing build as a new default")
	err = updateSets(ctx, t, c, set(addCompatible("4.1", "4.0", false)))
	requireErrorMessage(t, err, "targeted compatible_version 4.0 not found")
	expectErrorAs[*serviceerror.NotFound](t, err, "adding to an unknown build")
	err = updateSets(ctx, t, c, set(addCompatible("2.0", "1.0", false)))
	requireErrorMessage(t, err, "2.0 requested to be made compatible with 1.0 but both versions exist and are incompatible")
	err = updateSets(ctx, t, c, set(addCompatible("1.0", "1.3", false)))
	requireErrorMessage(t, err, "version 1.0 already exists and is not default in set")
	err = updateSets(ctx, t, c, set(&workflowservice.UpdateWorkerBuildIdCompatibilityRequest{
		Operation: &workflowservice.UpdateWorkerBuildIdCompatibilityRequest_PromoteSetByBuildId{PromoteSetByBuildId: "9"}}))
	requireErrorMessage(t, err, "targeted version 9 not found")
	err = updateSets(ctx, t, c, &workflowservice.UpdateWorkerBuildIdCompatibilityRequest{})
	requireErrorMessage(t, err, "request to update worker build ID compatability requires: , `task_queue` to be set, an operation to be specified")
	expectErrorAs[*serviceerror.InvalidArgument](t, err, "an empty update")
	for i := 0; i < 8; i++ {
		requireNoError(t, updateSets(ctx, t, c, set(addDefault(string(rune('a'+i))))), "adding a set")
	}
	err = updateSets(ctx, t, c, set(addDefault("z")))
	requireErrorMessage(t, err, "update would exceed number of compatible version sets permitted in namespace dynamic config (11/10)")
	expectErrorAs[*serviceerror.FailedPrecondition](t, err, "an eleventh set")

	// Reachability of builds of a queue no workflow ran on.
	reach, err := c.WorkflowService().GetWorkerTaskReachability(ctx, &workflowservice.GetWorkerTaskReachabilityRequest{
		Namespace: "default", BuildIds: []string{"h", "1.1", "1.2", "nope"}})
	requireNoError(t, err, "reachability")
	got := reachabilityOf(reach)
	wantReach := map[string]map[string][]enumspb.TaskReachability{
		"h":    {tq: {enumspb.TASK_REACHABILITY_NEW_WORKFLOWS}},
		"1.1":  {tq: {enumspb.TASK_REACHABILITY_NEW_WORKFLOWS}}, // Its set became default within 5 minutes.
		"1.2":  {tq: {}},                                        // Not its set's default.
		"nope": {},
	}
	if !reflect.DeepEqual(got, wantReach) {
		t.Errorf("reachability %v, want %v", got, wantReach)
	}
	_, err = c.WorkflowService().GetWorkerTaskReachability(ctx, &workflowservice.GetWorkerTaskReachabilityRequest{Namespace: "default"})
	requireErrorMessage(t, err, "Must query at least one build ID (or empty string for unversioned worker)")
	_, err = c.WorkflowService().GetWorkerTaskReachability(ctx, &workflowservice.GetWorkerTaskReachabilityRequest{
		Namespace: "default", BuildIds: []string{"a", "b", "c", "d", "e", "f"}})
	requireErrorMessage(t, err, "Too many build ids queried at once, limit: 5")
	_, err = c.WorkflowService().GetWorkerTaskReachability(ctx, &workflowservice.GetWorkerTaskReachabilityRequest{
		Namespace: "default", BuildIds: []string{""}})
	requireErrorMessage(t, err, "Cannot get reachability of an unversioned worker without specifying at least one task queue")

	// The rules-based APIs stay off without their own setting.
	_, err = c.WorkflowService().GetWorkerVersioningRules(ctx, &workflowservice.GetWorkerVersioningRulesRequest{Namespace: "default", TaskQueue: tq})
	requireErrorMessage(t, err, "Worker versioning v0.2 (Rules-based, deprecated) is disabled on this namespace.")
}

// A server serving version sets, and a task queue whose default set is 1.0.
func versionSetsQueue(t *testing.T, timeout time.Duration) (client.Client, context.Context, string) {
	t.Helper()
	srv := startServer(t, serverOptions{DynamicConfig: versionSetsConfig})
	c := newClient(t, srv.Addr(), "default")
	ctx := testCtx(t, timeout)
	tq := taskQueueFor(t)
	requireNoError(t, updateSets(ctx, t, c, forQueue(tq, addDefault("1.0"))), "adding 1.0")
	return c, ctx, tq
}

func forQueue(tq string, req *workflowservice.UpdateWorkerBuildIdCompatibilityRequest) *workflowservice.UpdateWorkerBuildIdCompatibilityRequest {
	req.TaskQueue = tq
	return req
}

// build id -> task queue -> reachability.
func reachabilityOf(resp *workflowservice.GetWorkerTaskReachabilityResponse) map[string]map[string][]enumspb.TaskReachability {
	out := map[string]map[string][]enumspb.TaskReachability{}
	for _, b := range resp.GetBuildIdReachability() {
		m := map[string][]enumspb.TaskReachability{}
		for _, q := range b.GetTaskQueueReachability() {
			r := append([]enumspb.TaskReachability{}, q.GetReachability()...)
			sort.Slice(r, func(i, j int) bool { return r[i] < r[j] })
			m[q.GetTaskQueue()] = r
		}
		out[b.GetBuildId()] = m
	}
	return out
}

// Runs an activity, waits for a signal, runs it again: where each ran.
func versionSetsWorkflow(ctx workflow.Context) ([]string, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 10 * time.Second})
	var first, second string
	if err := workflow.ExecuteActivity(ctx, "WhichBuild").Get(ctx, &first); err != nil {
		return nil, err
	}
	workflow.GetSignalChannel(ctx, "go").Receive(ctx, nil)
	if err := workflow.ExecuteActivity(ctx, "WhichBuild").Get(ctx, &second); err != nil {
		return nil, err
	}
	return []string{first, second}, nil
}

// Starts versionSetsWorkflow and waits until its first activity ran.
func startBuildRun(ctx context.Context, t *testing.T, c client.Client, tq, id string) client.WorkflowRun {
	t.Helper()
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: tq}, "VersionSetsWorkflow")
	requireNoError(t, err, "starting "+id)
	waitForEvent(t, c, id, "", enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED, 30*time.Second)
	return run
}

func startBuildWorker(t *testing.T, c client.Client, tq, build string, versioned bool) worker.Worker {
	t.Helper()
	w := worker.New(c, tq, worker.Options{BuildID: build, UseBuildIDForVersioning: versioned})
	w.RegisterWorkflowWithOptions(versionSetsWorkflow, workflow.RegisterOptions{Name: "VersionSetsWorkflow"})
	w.RegisterActivityWithOptions(func(ctx context.Context) (string, error) { return build, nil },
		activity.RegisterOptions{Name: "WhichBuild"})
	if err := w.Start(); err != nil {
		t.Fatalf("starting worker %s: %v", build, err)
	}
	return w
}

// New workflows go to the default set's default build; a workflow's tasks
// stay on its set (moving to the set's new default); unversioned workers get
// no task of a versioned queue.
func TestVersionSetsRouting(t *testing.T) {
	t.Parallel()
	c, ctx, tq := versionSetsQueue(t, 90*time.Second)

	unversioned := startBuildWorker(t, c, tq, "unversioned", false)
	defer unversioned.Stop()
	w10 := startBuildWorker(t, c, tq, "1.0", true)
	runA := startBuildRun(ctx, t, c, tq, "sets-a")
	w10.Stop()

	// 1.1 is compatible with 1.0 (its set's new default); 2.0 starts a new default set.
	requireNoError(t, updateSets(ctx, t, c, &workflowservice.UpdateWorkerBuildIdCompatibilityRequest{TaskQueue: tq,
		Operation: &workflowservice.UpdateWorkerBuildIdCompatibilityRequest_AddNewCompatibleBuildId{
			AddNewCompatibleBuildId: &workflowservice.UpdateWorkerBuildIdCompatibilityRequest_AddNewCompatibleVersion{
				NewBuildId: "1.1", ExistingCompatibleBuildId: "1.0"}}}), "adding 1.1")
	requireNoError(t, updateSets(ctx, t, c, forQueue(tq, addDefault("2.0"))), "adding 2.0")
	w11 := startBuildWorker(t, c, tq, "1.1", true)
	defer w11.Stop()
	w20 := startBuildWorker(t, c, tq, "2.0", true)
	defer w20.Stop()

	runB := startBuildRun(ctx, t, c, tq, "sets-b")
	requireNoError(t, c.SignalWorkflow(ctx, "sets-a", "", "go", nil), "signalling A")
	requireNoError(t, c.SignalWorkflow(ctx, "sets-b", "", "go", nil), "signalling B")
	// A's workflow tasks on 1.0 then (after the signal) 1.1, B's on 2.0.
	checkBuildRuns(t, c, []buildRun{
		{runA, []string{"1.0", "1.1"}, []string{"1.0", "1.0", "1.1", "1.1"}},
		{runB, []string{"2.0", "2.0"}, []string{"2.0", "2.0", "2.0", "2.0"}}})

	// Reachability now that workflows ran (visibility may lag).
	deadline := time.Now().Add(20 * time.Second)
	want := map[string]map[string][]enumspb.TaskReachability{
		"2.0": {tq: {enumspb.TASK_REACHABILITY_NEW_WORKFLOWS, enumspb.TASK_REACHABILITY_EXISTING_WORKFLOWS}},
		"1.1": {tq: {enumspb.TASK_REACHABILITY_NEW_WORKFLOWS, enumspb.TASK_REACHABILITY_EXISTING_WORKFLOWS}},
		"1.0": {tq: {}},
	}
	for {
		reach, err := c.WorkflowService().GetWorkerTaskReachability(ctx, &workflowservice.GetWorkerTaskReachabilityRequest{
			Namespace: "default", BuildIds: []string{"2.0", "1.1", "1.0"}, TaskQueues: []string{tq}})
		requireNoError(t, err, "reachability")
		got := reachabilityOf(reach)
		if reflect.DeepEqual(got, want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("reachability %v, want %v", got, want)
		}
		time.Sleep(200 * time.Millisecond)
	}
	reach, err := c.WorkflowService().GetWorkerTaskReachability(ctx, &workflowservice.GetWorkerTaskReachabilityRequest{
		Namespace: "default", BuildIds: []string{"2.0"}, TaskQueues: []string{tq},
		Reachability: enumspb.TASK_REACHABILITY_OPEN_WORKFLOWS})
	requireNoError(t, err, "open-workflow reachability")
	if got := reachabilityOf(reach)["2.0"][tq]; !reflect.DeepEqual(got, []enumspb.TaskReachability{enumspb.TASK_REACHABILITY_NEW_WORKFLOWS}) {
		t.Errorf("open-workflow reachability of 2.0: %v, want only new workflows (B closed)", got)
	}
	for _, id := range []string{"sets-a", "sets-b"} {
		replayer := worker.NewWorkflowReplayer()
		replayer.RegisterWorkflowWithOptions(versionSetsWorkflow, workflow.RegisterOptions{Name: "VersionSetsWorkflow"})
		events := getHistory(t, c, id, "")
		if err := replayer.ReplayWorkflowHistory(newTestLogger(t), &historypb.History{Events: events}); err != nil {
			t.Errorf("replaying %s: %v\n%s", id, err, formatHistory(events))
		}
	}
}

// A run of versionSetsWorkflow: the builds its activities and its workflow
// tasks ran on.
type buildRun struct {
	run                       client.WorkflowRun
	activities, workflowTasks []string
}

// Checks each run's result and the builds that completed its workflow
// tasks, each stamped as versioned.
func checkBuildRuns(t *testing.T, c client.Client, runs []buildRun) {
	t.Helper()
	for _, r := range runs {
		var got []string
		requireNoError(t, getResult(t, c, r.run, 30*time.Second, &got), "result of "+r.run.GetID())
		if !reflect.DeepEqual(got, r.activities) {
			t.Errorf("%s: activities ran on %v, want %v", r.run.GetID(), got, r.activities)
		}
		var builds []string
		for _, e := range getHistory(t, c, r.run.GetID(), "") {
			if e.GetEventType() != enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED {
				continue
			}
			v := e.GetWorkflowTaskCompletedEventAttributes().GetWorkerVersion()
			if !v.GetUseVersioning() {
				t.Errorf("%s event %d: worker version %v without use_versioning", r.run.GetID(), e.GetEventId(), v)
			}
			builds = append(builds, v.GetBuildId())
		}
		if !reflect.DeepEqual(builds, r.workflowTasks) {
			t.Errorf("%s: workflow tasks completed by %v, want %v", r.run.GetID(), builds, r.workflowTasks)
		}
	}
}

//nolint:staticcheck // the deprecated capabilities are what this versioning uses
func workerCaps(build string) *commonpb.WorkerVersionCapabilities {
	return &commonpb.WorkerVersionCapabilities{BuildId: build, UseVersioning: true}
}

// A worker of a build that is no longer its set's default is refused.
func TestVersionSetsSupersededPoller(t *testing.T) {
	t.Parallel()
	c, ctx, tq := versionSetsQueue(t, 30*time.Second)
	requireNoError(t, updateSets(ctx, t, c, &workflowservice.UpdateWorkerBuildIdCompatibilityRequest{TaskQueue: tq,
		Operation: &workflowservice.UpdateWorkerBuildIdCompatibilityRequest_AddNewCompatibleBuildId{
			AddNewCompatibleBuildId: &workflowservice.UpdateWorkerBuildIdCompatibilityRequest_AddNewCompatibleVersion{
				NewBuildId: "1.1", ExistingCompatibleBuildId: "1.0"}}}), "adding 1.1")
	pollCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	//nolint:staticcheck // the deprecated capabilities are what this versioning uses
	_, err := c.WorkflowService().PollWorkflowTaskQueue(pollCtx, &workflowservice.PollWorkflowTaskQueueRequest{
		Namespace: "default", TaskQueue: &taskqueuepb.TaskQueue{Name: tq, Kind: enumspb.TASK_QUEUE_KIND_NORMAL},
		Identity: "old-worker", WorkerVersionCapabilities: workerCaps("1.0")})
	var newer *serviceerror.NewerBuildExists
	if !errors.As(err, &newer) || newer.DefaultBuildID != "1.1" {
		t.Errorf("poll of 1.0: %v, want NewerBuildExists naming 1.1", err)
	}
	requireErrorMessage(t, err, `Task queue has a newer compatible build: "1.1"`)
}

// The first run waits for "go" and continues as new; the next returns the
// build that ran it.
func versionSetsContinuing(ctx workflow.Context, hop int) (string, error) {
	if hop == 0 {
		workflow.GetSignalChannel(ctx, "go").Receive(ctx, nil)
		return "", workflow.NewContinueAsNewError(ctx, "VersionSetsContinuing", 1)
	}
	return workflow.GetInfo(ctx).GetCurrentBuildID(), nil
}

// A run continued as new (compatible, the SDK's default on its own task
// queue) stays on its build's set after a new default set was added.
func TestVersionSetsContinueAsNewKeepsBuild(t *testing.T) {
	t.Parallel()
	c, ctx, tq := versionSetsQueue(t, 60*time.Second)
	start := func(build string) {
		w := worker.New(c, tq, worker.Options{BuildID: build, UseBuildIDForVersioning: true})
		w.RegisterWorkflowWithOptions(versionSetsContinuing, workflow.RegisterOptions{Name: "VersionSetsContinuing"})
		requireNoError(t, w.Start(), "starting worker "+build)
		t.Cleanup(w.Stop)
	}
	start("1.0")
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "sets-continuing", TaskQueue: tq}, "VersionSetsContinuing", 0)
	requireNoError(t, err, "starting")
	waitForEvent(t, c, run.GetID(), run.GetRunID(), enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED, 30*time.Second)
	requireNoError(t, updateSets(ctx, t, c, forQueue(tq, addDefault("2.0"))), "adding 2.0")
	start("2.0")
	requireNoError(t, c.SignalWorkflow(ctx, run.GetID(), "", "go", nil), "signalling")
	var got string
	requireNoError(t, getResult(t, c, c.GetWorkflow(ctx, run.GetID(), ""), 30*time.Second, &got), "result")
	if got != "1.0" {
		t.Errorf("the continued run ran on %q, want 1.0", got)
	}
}
