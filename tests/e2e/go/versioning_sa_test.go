package e2e

// The search attributes Temporal 1.32 writes for versioned workflows:
// BuildIds lists "pinned:<deployment>:<build>" first while the run is
// pinned, then each build as the worker reported it ("versioned:<build>");
// TemporalUsedWorkerDeploymentVersions lists every version a workflow task
// of the run completed on; TemporalWorkerDeploymentVersion names the
// effective version. Checked on both servers.

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
)

// versioningSearchAttributes decodes the run's versioning search attributes.
func versioningSearchAttributes(t *testing.T, c client.Client, id string) map[string]any {
	t.Helper()
	d, err := c.DescribeWorkflowExecution(testCtx(t, 10*time.Second), id, "")
	requireNoError(t, err, "describing "+id)
	out := map[string]any{}
	for key, p := range d.GetWorkflowExecutionInfo().GetSearchAttributes().GetIndexedFields() {
		var v any
		if err := converter.GetDefaultDataConverter().FromPayload(p, &v); err != nil {
			t.Fatalf("decoding %s: %v", key, err)
		}
		out[key] = v
	}
	return out
}

func TestVersioningSearchAttributeValues(t *testing.T) {
	t.Parallel()
	c, ctx, tq, dep := twoBuildsV1Current(t, 120*time.Second)
	pinned := startVersionedWaiting(t, ctx, c, "sa-pinned-"+tq, tq, "VersionedPinned", "")
	auto := startVersionedWaiting(t, ctx, c, "sa-auto-"+tq, tq, "VersionedAutoUpgrade", "")
	overridden := startVersionedWaiting(t, ctx, c, "sa-override-"+tq, tq, "VersionedAutoUpgrade", dep)
	for _, run := range []client.WorkflowRun{pinned, auto, overridden} {
		waitForCompletedTasks(t, c, run.GetID(), run.GetRunID(), 1)
	}
	setCurrent(t, ctx, c, dep, "v2")
	for _, run := range []client.WorkflowRun{pinned, auto, overridden} {
		requireNoError(t, c.SignalWorkflow(ctx, run.GetID(), "", "go", nil), "signalling")
		runResult(t, c, run)
	}
	v1, v2 := dep+":v1", dep+":v2"
	for _, want := range []struct {
		run               client.WorkflowRun
		buildIDs, used    []any
		version, behavior string
	}{
		{pinned, []any{"pinned:" + v1, "versioned:v1"}, []any{v1}, v1, "Pinned"},
		{auto, []any{"versioned:v1", "versioned:v2"}, []any{v1, v2}, v2, "AutoUpgrade"},
		{overridden, []any{"pinned:" + v2, "versioned:v2"}, []any{v2}, v2, "Pinned"},
	} {
		sa := versioningSearchAttributes(t, c, want.run.GetID())
		if fmt.Sprint(sa["BuildIds"]) != fmt.Sprint(want.buildIDs) ||
			fmt.Sprint(sa["TemporalUsedWorkerDeploymentVersions"]) != fmt.Sprint(want.used) ||
			sa["TemporalWorkerDeploymentVersion"] != want.version || sa["TemporalWorkflowVersioningBehavior"] != want.behavior {
			t.Errorf("%s: search attributes %v, want BuildIds %v, used versions %v, version %s, behavior %s",
				want.run.GetID(), sa, want.buildIDs, want.used, want.version, want.behavior)
		}
	}
	// And they are searchable.
	for query, want := range map[string][]string{
		fmt.Sprintf("BuildIds = 'pinned:%s'", v1):                      {pinned.GetID()},
		fmt.Sprintf("TemporalUsedWorkerDeploymentVersions = '%s'", v1): {auto.GetID(), pinned.GetID()},
	} {
		slices.Sort(want)
		deadline := time.Now().Add(10 * time.Second)
		for {
			l, err := c.WorkflowService().ListWorkflowExecutions(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: "default", Query: query})
			requireNoError(t, err, "listing "+query)
			var got []string
			for _, e := range l.GetExecutions() {
				got = append(got, e.GetExecution().GetWorkflowId())
			}
			slices.Sort(got)
			if fmt.Sprint(got) == fmt.Sprint(want) {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("%s: listed %v, want %v", query, got, want)
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
}
