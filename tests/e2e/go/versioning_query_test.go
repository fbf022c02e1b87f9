package e2e

// Queries of versioned workflows go where their tasks go, as on Temporal
// 1.32: a pinned workflow's to its version's workers (also once it is
// closed, and once another version is current), an auto-upgrade one's to
// the current version. Without workers of its version a query waits for
// one; once the version is drained and no worker polls the queue any more,
// it is refused. Checked on both servers.

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.temporal.io/api/serviceerror"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// queryBuildWorkflow answers the "build" query with its worker's build and
// returns it once signalled "go".
func queryBuildWorkflow(build string) func(workflow.Context) (string, error) {
	return func(ctx workflow.Context) (string, error) {
		if err := workflow.SetQueryHandler(ctx, "build", func() (string, error) { return build, nil }); err != nil {
			return "", err
		}
		workflow.GetSignalChannel(ctx, "go").Receive(ctx, nil)
		return build, nil
	}
}

// startQueryWorker runs build `build` of `dep` on tq with the query
// workflows (and an activity, so that it polls both kinds of task).
func startQueryWorker(t *testing.T, ctx context.Context, c client.Client, tq, dep, build string) worker.Worker {
	t.Helper()
	w := worker.New(c, tq, worker.Options{DeploymentOptions: worker.DeploymentOptions{
		UseVersioning: true,
		Version:       worker.WorkerDeploymentVersion{DeploymentName: dep, BuildID: build},
	}})
	w.RegisterWorkflowWithOptions(queryBuildWorkflow(build), workflow.RegisterOptions{Name: "QueryPinned", VersioningBehavior: workflow.VersioningBehaviorPinned})
	w.RegisterWorkflowWithOptions(queryBuildWorkflow(build), workflow.RegisterOptions{Name: "QueryAutoUpgrade", VersioningBehavior: workflow.VersioningBehaviorAutoUpgrade})
	w.RegisterActivityWithOptions(func(context.Context) (string, error) { return build, nil }, activity.RegisterOptions{Name: "QueryWhichBuild"})
	if err := w.Start(); err != nil {
		t.Fatalf("starting worker %s: %v", build, err)
	}
	t.Cleanup(w.Stop)
	waitForVersion(t, ctx, c, dep, build)
	return w
}

// queryBuild asks the workflow which build answers its query.
func queryBuild(t *testing.T, ctx context.Context, c client.Client, id string) string {
	t.Helper()
	v, err := c.QueryWorkflow(ctx, id, "", "build")
	requireNoError(t, err, "querying "+id)
	var build string
	requireNoError(t, v.Get(&build), "decoding the answer of "+id)
	return build
}

func TestVersioningQueryRouting(t *testing.T) {
	t.Parallel()
	srv := drainingServer(t)
	c, ctx, tq, dep := versioningSetup(t, srv, 180*time.Second)
	w1 := startQueryWorker(t, ctx, c, tq, dep, "v1")
	w2 := startQueryWorker(t, ctx, c, tq, dep, "v2")
	setCurrent(t, ctx, c, dep, "v1")

	pinned, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "qpinned-" + tq, TaskQueue: tq}, "QueryPinned")
	requireNoError(t, err, "starting the pinned workflow")
	auto, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "qauto-" + tq, TaskQueue: tq}, "QueryAutoUpgrade")
	requireNoError(t, err, "starting the auto-upgrade workflow")
	// A workflow pinned to v2 by an override while v1 is current.
	override, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "qoverride-" + tq, TaskQueue: tq,
		VersioningOverride: &client.PinnedVersioningOverride{Version: worker.WorkerDeploymentVersion{DeploymentName: dep, BuildID: "v2"}}},
		"QueryAutoUpgrade")
	requireNoError(t, err, "starting the overridden workflow")
	for id, build := range map[string]string{pinned.GetID(): "v1", auto.GetID(): "v1", override.GetID(): "v2"} {
		waitVersioningInfo(t, ctx, c, id, func(vi *workflowpb.WorkflowExecutionVersioningInfo) bool {
			return vi.GetDeploymentVersion().GetBuildId() == build
		})
	}
	for id, want := range map[string]string{pinned.GetID(): "v1", auto.GetID(): "v1", override.GetID(): "v2"} {
		if got := queryBuild(t, ctx, c, id); got != want {
			t.Errorf("%s with v1 current: query answered by %s, want %s", id, got, want)
		}
	}

	// v2 becomes current: the pinned workflow's queries stay on v1, the
	// auto-upgrade one's move to v2 (before any of its workflow tasks ran
	// there), the overridden one's stay on v2.
	setCurrent(t, ctx, c, dep, "v2")
	for i := 0; i < 3; i++ {
		for id, want := range map[string]string{pinned.GetID(): "v1", auto.GetID(): "v2", override.GetID(): "v2"} {
			if got := queryBuild(t, ctx, c, id); got != want {
				t.Errorf("%s with v2 current (query %d): answered by %s, want %s", id, i, got, want)
			}
		}
	}
	// v1's worker stops: the pinned workflow's query (v1 is draining, the
	// workflow open) waits for a v1 worker, then a new one answers it.
	w1.Stop()
	short, cancel := context.WithTimeout(ctx, 3*time.Second)
	_, err = c.QueryWorkflow(short, pinned.GetID(), "", "build")
	cancel()
	var deadlineErr *serviceerror.DeadlineExceeded
	if !errors.As(err, &deadlineErr) && !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("query to v1 without its workers: %v, want a deadline exceeded", err)
	}
	w1 = startQueryWorker(t, ctx, c, tq, dep, "v1")
	if got := queryBuild(t, ctx, c, pinned.GetID()); got != "v1" {
		t.Errorf("pinned workflow after v1 came back: query answered by %s, want v1", got)
	}

	for _, id := range []string{pinned.GetID(), auto.GetID(), override.GetID()} {
		requireNoError(t, c.SignalWorkflow(ctx, id, "", "go", nil), "signalling "+id)
	}
	for run, want := range map[client.WorkflowRun]string{pinned: "v1", auto: "v2", override: "v2"} {
		if got := runResult(t, c, run); got != want {
			t.Errorf("%s ran on %s, want %s", run.GetID(), got, want)
		}
	}
	// Closed workflows are still queried on their versions.
	for id, want := range map[string]string{pinned.GetID(): "v1", auto.GetID(): "v2", override.GetID(): "v2"} {
		if got := queryBuild(t, ctx, c, id); got != want {
			t.Errorf("closed %s: query answered by %s, want %s", id, got, want)
		}
	}

	// v1 drains (its only pinned workflow closed) and no worker polls the
	// queue any more: the query is refused.
	w1.Stop()
	w2.Stop()
	deadline := time.Now().Add(60 * time.Second)
	waitDrained(t, ctx, c, dep, "v1", deadline)
	for {
		short, cancel := context.WithTimeout(ctx, 3*time.Second)
		_, err = c.QueryWorkflow(short, pinned.GetID(), "", "build")
		cancel()
		var fp *serviceerror.FailedPrecondition
		if errors.As(err, &fp) {
			requireErrorMessage(t, err, "You are trying to query a closed Workflow that is PINNED to Worker Deployment Version v1, "+
				"but v1 is drained and has no pollers to answer the query. Immediately: You can re-deploy Workers in this "+
				"Deployment Version to take those queries, or you can workflow update-options to change your workflow to AUTO_UPGRADE.")
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("query to drained v1 without pollers: %v, want FailedPrecondition", err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}
