package e2e

// Build ids as the worker reports them, with no versioning rules: the
// workflow task started and completed events carry the worker's version
// stamp, describe reports the most recent one, and the BuildIds search
// attribute gathers "unversioned" and "unversioned:<id>" (in describe, in
// list results and as a list filter). Checked on both servers.

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

func buildIDSleeper(ctx workflow.Context) error { return workflow.Sleep(ctx, time.Millisecond) }

func TestBuildIDsAsReported(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOptions{})
	c := newClient(t, srv.Addr(), "default")
	ctx := testCtx(t, 60*time.Second)
	tq := taskQueueFor(t)
	w := worker.New(c, tq, worker.Options{BuildID: "build-7"})
	w.RegisterWorkflowWithOptions(buildIDSleeper, workflow.RegisterOptions{Name: "BuildIDSleeper"})
	if err := w.Start(); err != nil {
		t.Fatalf("starting worker: %v", err)
	}
	t.Cleanup(w.Stop)
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "build-ids", TaskQueue: tq}, "BuildIDSleeper")
	requireNoError(t, err, "starting")
	requireNoError(t, getResult(t, c, run, 30*time.Second, nil), "result")

	events := getHistory(t, c, "build-ids", "")
	tasks := 0
	for _, e := range events {
		var got string
		switch e.GetEventType() {
		case enumspb.EVENT_TYPE_WORKFLOW_TASK_STARTED:
			got = e.GetWorkflowTaskStartedEventAttributes().GetWorkerVersion().GetBuildId()
		case enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
			got = e.GetWorkflowTaskCompletedEventAttributes().GetWorkerVersion().GetBuildId()
			if e.GetWorkflowTaskCompletedEventAttributes().GetWorkerVersion().GetUseVersioning() {
				t.Errorf("event %d: use_versioning set for an unversioned worker", e.GetEventId())
			}
		default:
			continue
		}
		tasks++
		if got != "build-7" {
			t.Errorf("event %d (%v): worker version build id %q, want build-7", e.GetEventId(), e.GetEventType(), got)
		}
	}
	if tasks != 4 {
		t.Errorf("%d workflow task started/completed events, want 4:\n%s", tasks, formatHistory(events))
	}

	want := []string{"unversioned", "unversioned:build-7"}
	d, err := c.DescribeWorkflowExecution(ctx, "build-ids", "")
	requireNoError(t, err, "describing")
	info := d.GetWorkflowExecutionInfo()
	if got := info.GetMostRecentWorkerVersionStamp().GetBuildId(); got != "build-7" {
		t.Errorf("most recent worker version stamp %q, want build-7", got)
	}
	if got := buildIDsOf(t, info.GetSearchAttributes().GetIndexedFields()["BuildIds"]); !reflect.DeepEqual(got, want) {
		t.Errorf("describe's BuildIds %v, want %v", got, want)
	}
	for _, q := range []string{"BuildIds = 'unversioned:build-7'", "BuildIds = 'unversioned'", "BuildIds = 'unversioned:other'"} {
		l, err := c.WorkflowService().ListWorkflowExecutions(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: "default", Query: fmt.Sprintf("WorkflowId = 'build-ids' AND %s", q)})
		requireNoError(t, err, "listing "+q)
		wantRows := 1
		if q == "BuildIds = 'unversioned:other'" {
			wantRows = 0
		}
		if len(l.GetExecutions()) != wantRows {
			t.Errorf("%s: %d rows, want %d", q, len(l.GetExecutions()), wantRows)
			continue
		}
		if wantRows == 1 {
			if got := buildIDsOf(t, l.GetExecutions()[0].GetSearchAttributes().GetIndexedFields()["BuildIds"]); !reflect.DeepEqual(got, want) {
				t.Errorf("%s: listed BuildIds %v, want %v", q, got, want)
			}
		}
	}
}

func buildIDsOf(t testing.TB, p *commonpb.Payload) []string {
	t.Helper()
	var out []string
	if p == nil {
		return nil
	}
	if err := converter.GetDefaultDataConverter().FromPayload(p, &out); err != nil {
		t.Fatalf("decoding BuildIds: %v", err)
	}
	return out
}
