package e2e

// Search attributes are checked where Temporal checks them: at start (and
// signal-with-start) the request is refused with INVALID_ARGUMENT; in an
// upsert, continue-as-new or child command the workflow task fails with
// cause BAD_SEARCH_ATTRIBUTES. Messages are Temporal 1.32's.

import (
	"fmt"
	"strings"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	taskqueuepb "go.temporal.io/api/taskqueue/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
)

func protoSize(m proto.Message) int { return proto.Size(m) }

func jsonPayload(data string) *commonpb.Payload {
	return &commonpb.Payload{Metadata: map[string][]byte{"encoding": []byte("json/plain")}, Data: []byte(data)}
}

func TestSearchAttributesValidatedAtStart(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOptions{})
	c := newClient(t, srv.Addr(), defaultNamespace)
	registerVisibilityAttributes(t, c)
	svc := c.WorkflowService()

	long := `"` + strings.Repeat("a", 2100) + `"`
	many := map[string]*commonpb.Payload{}
	for i := 0; i < 101; i++ {
		many[fmt.Sprintf("Undefined%03d", i)] = jsonPayload(`"x"`)
	}
	cases := []struct {
		name   string
		fields map[string]*commonpb.Payload
		want   string // "" = accepted
	}{
		{"unknown", map[string]*commonpb.Payload{"NoSuchAttribute": jsonPayload(`"x"`)},
			"Namespace default has no mapping defined for search attribute NoSuchAttribute"},
		{"system", map[string]*commonpb.Payload{"StartTime": jsonPayload(`"2026-01-01T00:00:00Z"`)},
			"StartTime attribute can't be set in SearchAttributes"},
		{"not whitelisted", map[string]*commonpb.Payload{"TemporalWorkerDeployment": jsonPayload(`"d"`)},
			"TemporalWorkerDeployment attribute can't be set in SearchAttributes"},
		{"int from string", map[string]*commonpb.Payload{"Amount": jsonPayload(`"abc"`)},
			"invalid value for search attribute Amount of type Int: abc"},
		{"int from fraction", map[string]*commonpb.Payload{"Amount": jsonPayload(`1.5`)},
			"invalid value for search attribute Amount of type Int: 1.5"},
		{"bool from string", map[string]*commonpb.Payload{"Vip": jsonPayload(`"123"`)},
			"invalid value for search attribute Vip of type Bool: 123"},
		{"datetime from word", map[string]*commonpb.Payload{"DueAt": jsonPayload(`"yesterday"`)},
			"invalid value for search attribute DueAt of type Datetime: yesterday"},
		{"double from bool", map[string]*commonpb.Payload{"Score": jsonPayload(`true`)},
			"invalid value for search attribute Score of type Double: true"},
		{"keyword from number", map[string]*commonpb.Payload{"CustomerId": jsonPayload(`12`)},
			"invalid value for search attribute CustomerId of type Keyword: 12"},
		{"not json", map[string]*commonpb.Payload{"CustomerId": jsonPayload(`{oops`)},
			// Go's text format varies its spacing on purpose: only the start is stable.
			"prefix:invalid value for search attribute CustomerId of type Keyword: value from <metadata:{key:"},
		{"value too long", map[string]*commonpb.Payload{"CustomerId": jsonPayload(long)},
			"search attribute CustomerId value size 2102 exceeds size limit 2048"},
		// Unregistered names are refused before they are counted.
		{"too many", many, "prefix:Namespace default has no mapping defined for search attribute Undefined"},
		{"every type", map[string]*commonpb.Payload{
			"CustomerId": jsonPayload(`"c1"`), "Notes": jsonPayload(`"some words"`), "Amount": jsonPayload(`12`),
			"Score": jsonPayload(`2`), "Vip": jsonPayload(`false`), "DueAt": jsonPayload(`"2030-01-01T00:00:00.5+01:00"`),
			"Tags": jsonPayload(`["a","b"]`), "TemporalChangeVersion": jsonPayload(`["fix-1"]`),
		}, ""},
		{"single keyword for a list", map[string]*commonpb.Payload{"Tags": jsonPayload(`"a"`)},
			"invalid value for search attribute Tags of type KeywordList: a"},
		{"null unsets", map[string]*commonpb.Payload{"Amount": jsonPayload(`null`)}, ""},
		{"empty list unsets", map[string]*commonpb.Payload{"Amount": jsonPayload(`[]`)}, ""},
		{"keyword from a list", map[string]*commonpb.Payload{"CustomerId": jsonPayload(`["a","b"]`)},
			"invalid value for search attribute CustomerId of type Keyword: [a b]"},
		// A scalar in a list of one is that scalar (older SDKs send lists).
		{"keyword from a one-item list", map[string]*commonpb.Payload{"CustomerId": jsonPayload(`["a"]`)}, ""},
		{"int from a one-item list", map[string]*commonpb.Payload{"Amount": jsonPayload(`[1]`)}, ""},
		{"bool from a one-item list", map[string]*commonpb.Payload{"Vip": jsonPayload(`[true]`)}, ""},
		{"int from a list", map[string]*commonpb.Payload{"Amount": jsonPayload(`[1,2]`)},
			"invalid value for search attribute Amount of type Int: [1 2]"},
		{"int from a string", map[string]*commonpb.Payload{"Amount": jsonPayload(`"12"`)},
			"invalid value for search attribute Amount of type Int: 12"},
		{"int written 12.0", map[string]*commonpb.Payload{"Amount": jsonPayload(`12.0`)},
			"invalid value for search attribute Amount of type Int: 12"},
		{"int written 1e3", map[string]*commonpb.Payload{"Amount": jsonPayload(`1e3`)},
			"invalid value for search attribute Amount of type Int: 1000"},
		{"int beyond int64", map[string]*commonpb.Payload{"Amount": jsonPayload(`123456789012345678901`)},
			"invalid value for search attribute Amount of type Int: 1.2345678901234568e+20"},
		{"double 1e300", map[string]*commonpb.Payload{"Score": jsonPayload(`1e300`)},
			""},
		{"double from a string", map[string]*commonpb.Payload{"Score": jsonPayload(`"1.5"`)},
			"invalid value for search attribute Score of type Double: 1.5"},
		{"datetime from a number", map[string]*commonpb.Payload{"DueAt": jsonPayload(`123`)},
			"invalid value for search attribute DueAt of type Datetime: 123"},
		{"datetime without a time", map[string]*commonpb.Payload{"DueAt": jsonPayload(`"2030-01-01"`)},
			"invalid value for search attribute DueAt of type Datetime: 2030-01-01"},
		{"datetime in lower case", map[string]*commonpb.Payload{"DueAt": jsonPayload(`"2030-01-01t00:00:00z"`)},
			"invalid value for search attribute DueAt of type Datetime: 2030-01-01t00:00:00z"},
		{"datetime in a list", map[string]*commonpb.Payload{"DueAt": jsonPayload(`["2030-01-01T00:00:00Z"]`)},
			""},
		{"text from a number", map[string]*commonpb.Payload{"Notes": jsonPayload(`12`)},
			"invalid value for search attribute Notes of type Text: 12"},
		{"text from an object", map[string]*commonpb.Payload{"Notes": jsonPayload(`{"a":1,"b":[true,null]}`)},
			"invalid value for search attribute Notes of type Text: map[a:1 b:[true <nil>]]"},
		{"bool from a string", map[string]*commonpb.Payload{"Vip": jsonPayload(`"true"`)},
			"invalid value for search attribute Vip of type Bool: true"},
		{"keyword list with a number", map[string]*commonpb.Payload{"Tags": jsonPayload(`["a",1]`)},
			"invalid value for search attribute Tags of type KeywordList: [a 1]"},
		{"keyword list with a null", map[string]*commonpb.Payload{"Tags": jsonPayload(`[null]`)},
			""},
		{"binary/null unsets", map[string]*commonpb.Payload{"Amount": {Metadata: map[string][]byte{"encoding": []byte("binary/null")}}},
			""},
		{"json without data", map[string]*commonpb.Payload{"Amount": {Metadata: map[string][]byte{"encoding": []byte("json/plain")}}},
			"prefix:invalid value for search attribute Amount of type Int: value from <metadata:{key:"},
		{"no encoding", map[string]*commonpb.Payload{"Amount": {Data: []byte("12")}},
			"prefix:invalid value for search attribute Amount of type Int: value from <data:"},
		{"binary/plain", map[string]*commonpb.Payload{"Amount": {Metadata: map[string][]byte{"encoding": []byte("binary/plain")}, Data: []byte("12")}},
			"invalid value for search attribute Amount of type Int: [49 50]"},
		{"type metadata is ignored", map[string]*commonpb.Payload{"Amount": {Metadata: map[string][]byte{"encoding": []byte("json/plain"), "type": []byte("Keyword")}, Data: []byte(`"x"`)}},
			"invalid value for search attribute Amount of type Int: x"},
		{"int from a small fraction", map[string]*commonpb.Payload{"Amount": jsonPayload(`-0.000001`)},
			"invalid value for search attribute Amount of type Int: -1e-06"},
		{"int from 1e21", map[string]*commonpb.Payload{"Amount": jsonPayload(`1e21`)},
			"invalid value for search attribute Amount of type Int: 1e+21"},
		{"value just under the limit", map[string]*commonpb.Payload{"CustomerId": jsonPayload(`"` + strings.Repeat("b", 2046) + `"`)}, ""},
	}
	for i, tc := range cases {
		req := &workflowservice.StartWorkflowExecutionRequest{
			Namespace:        defaultNamespace,
			WorkflowId:       fmt.Sprintf("sa-start-%d", i),
			WorkflowType:     &commonpb.WorkflowType{Name: "Manual"},
			TaskQueue:        &taskqueuepb.TaskQueue{Name: "sa-validation"},
			SearchAttributes: &commonpb.SearchAttributes{IndexedFields: tc.fields},
			RequestId:        fmt.Sprintf("sa-start-%d", i),
		}
		_, err := svc.StartWorkflowExecution(testCtx(t, 10*time.Second), req)
		if tc.want == "" {
			requireNoError(t, err, "start "+tc.name)
			continue
		}
		if prefix, ok := strings.CutPrefix(tc.want, "prefix:"); ok {
			if st := serviceerror.ToStatus(err); st.Code() != codes.InvalidArgument || !strings.HasPrefix(st.Message(), prefix) {
				t.Errorf("start %s: got %v %q, want InvalidArgument %q...", tc.name, st.Code(), st.Message(), prefix)
			}
		} else {
			requireStatus(t, "start "+tc.name, err, codes.InvalidArgument, tc.want)
		}
		// Nothing was written: the id is free.
		_, derr := svc.DescribeWorkflowExecution(testCtx(t, 10*time.Second), &workflowservice.DescribeWorkflowExecutionRequest{
			Namespace: defaultNamespace, Execution: &commonpb.WorkflowExecution{WorkflowId: req.WorkflowId},
		})
		if serviceerror.ToStatus(derr).Code() != codes.NotFound {
			t.Errorf("%s: a refused start left a run behind: %v", tc.name, derr)
		}
	}

	// The total size counts the whole map, metadata included: one small
	// value with 41 KB of metadata passes the per-value check only.
	padded := jsonPayload(`"c1"`)
	padded.Metadata["pad"] = []byte(strings.Repeat("p", 41000))
	total := &commonpb.SearchAttributes{IndexedFields: map[string]*commonpb.Payload{"CustomerId": padded}}
	_, err := svc.StartWorkflowExecution(testCtx(t, 10*time.Second), &workflowservice.StartWorkflowExecutionRequest{
		Namespace: defaultNamespace, WorkflowId: "sa-start-total", WorkflowType: &commonpb.WorkflowType{Name: "Manual"},
		TaskQueue: &taskqueuepb.TaskQueue{Name: "sa-validation"}, SearchAttributes: total, RequestId: "sa-start-total",
	})
	// Temporal counts the map after mapping names to its columns, so the
	// size it names may differ by a few bytes from the request's.
	st := serviceerror.ToStatus(err)
	var size int
	if _, serr := fmt.Sscanf(st.Message(), "total size of search attributes %d exceeds size limit 40960", &size); serr != nil ||
		st.Code() != codes.InvalidArgument || size < protoSize(total)-16 || size > protoSize(total) {
		t.Errorf("start with 41 KB of search attributes: got %v %q", st.Code(), st.Message())
	}

	// Signal-with-start checks them the same way.
	_, err = svc.SignalWithStartWorkflowExecution(testCtx(t, 10*time.Second), &workflowservice.SignalWithStartWorkflowExecutionRequest{
		Namespace: defaultNamespace, WorkflowId: "sa-sws", WorkflowType: &commonpb.WorkflowType{Name: "Manual"},
		TaskQueue: &taskqueuepb.TaskQueue{Name: "sa-validation"}, SignalName: "go",
		SearchAttributes: &commonpb.SearchAttributes{IndexedFields: map[string]*commonpb.Payload{"Nope": jsonPayload(`1`)}},
	})
	requireStatus(t, "signal-with-start", err, codes.InvalidArgument, "Namespace default has no mapping defined for search attribute Nope")
}

// UpsertUnknown upserts an attribute no namespace has registered.
func UpsertUnknown(ctx workflow.Context) error {
	return workflow.UpsertSearchAttributes(ctx, map[string]interface{}{"NoSuchAttribute": "x"})
}

// ChildWithUnknown starts a child with an attribute that is not registered.
func ChildWithUnknown(ctx workflow.Context) error {
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID: "sa-child-of-" + workflow.GetInfo(ctx).WorkflowExecution.ID, SearchAttributes: map[string]interface{}{"Amount": "not a number"},
	})
	return workflow.ExecuteChildWorkflow(cctx, "Manual").Get(ctx, nil)
}

func TestSearchAttributesValidatedInCommands(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOptions{})
	c := newClient(t, srv.Addr(), defaultNamespace)
	registerVisibilityAttributes(t, c)
	tq := taskQueueFor(t)
	startWorker(t, c, tq, func(r worker.Registry) {
		r.RegisterWorkflow(UpsertUnknown)
		r.RegisterWorkflow(ChildWithUnknown)
	})
	cases := []struct {
		workflow any
		id       string
		message  string
	}{
		{UpsertUnknown, "sa-upsert", "BadSearchAttributes: Namespace default has no mapping defined for search attribute NoSuchAttribute"},
		{ChildWithUnknown, "sa-child", "BadSearchAttributes: invalid SearchAttributes on StartChildWorkflowCommand: " +
			"invalid value for search attribute Amount of type Int: not a number. WorkflowId=sa-child-of-sa-child WorkflowType=Manual Namespace=default"},
	}
	for _, tc := range cases {
		run, err := c.ExecuteWorkflow(testCtx(t, 10*time.Second), client.StartWorkflowOptions{ID: tc.id, TaskQueue: tq}, tc.workflow)
		requireNoError(t, err, "start "+tc.id)
		ev := waitForEvent(t, c, tc.id, run.GetRunID(), enumspb.EVENT_TYPE_WORKFLOW_TASK_FAILED, 20*time.Second)
		a := ev.GetWorkflowTaskFailedEventAttributes()
		if a.GetCause() != enumspb.WORKFLOW_TASK_FAILED_CAUSE_BAD_SEARCH_ATTRIBUTES {
			t.Errorf("%s: cause %v, want BAD_SEARCH_ATTRIBUTES", tc.id, a.GetCause())
		}
		if got := a.GetFailure().GetMessage(); got != tc.message {
			t.Errorf("%s: failure message %q, want %q", tc.id, got, tc.message)
		}
		// The refused command left nothing behind: no upsert, no child.
		events := getHistory(t, c, tc.id, run.GetRunID())
		if n := countEvents(events, enumspb.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES) +
			countEvents(events, enumspb.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED); n != 0 {
			t.Errorf("%s: the refused command wrote %d events:\n%s", tc.id, n, formatHistory(events))
		}
		requireNoError(t, c.TerminateWorkflow(testCtx(t, 10*time.Second), tc.id, "", "test over"), "terminate "+tc.id)
	}
}

// UpsertNotes upserts the Text attribute Notes with n characters.
func UpsertNotes(ctx workflow.Context, n int) error {
	if err := workflow.UpsertSearchAttributes(ctx, map[string]interface{}{"Notes": strings.Repeat("n", n)}); err != nil {
		return err
	}
	return workflow.Sleep(ctx, time.Millisecond)
}

// An upsert whose value is over the 2 KiB per-value limit fails the task
// with BadSearchAttributes and terminates the run (Temporal's size checks
// after the validation: retrying could not help); just under, it is kept.
func TestSearchAttributeSizeInUpsert(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOptions{})
	c := newClient(t, srv.Addr(), defaultNamespace)
	registerVisibilityAttributes(t, c)
	tq := taskQueueFor(t)
	startWorker(t, c, tq, func(r worker.Registry) { r.RegisterWorkflow(UpsertNotes) })
	// The payload's data is the JSON string: two quotes around the text.
	for _, n := range []int{2046, 2047} {
		id := fmt.Sprintf("sa-upsert-size-%d", n)
		run, err := c.ExecuteWorkflow(testCtx(t, 10*time.Second), client.StartWorkflowOptions{ID: id, TaskQueue: tq}, UpsertNotes, n)
		requireNoError(t, err, "start "+id)
		err = getResult(t, c, run, 20*time.Second, nil)
		events := getHistory(t, c, id, run.GetRunID())
		last := lastEvent(events)
		if n == 2046 {
			if err != nil || countEvents(events, enumspb.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES) != 1 {
				t.Errorf("%s: want the upsert kept and the run completed (%v)", id, err)
			}
			continue
		}
		failed := eventsOfType(events, enumspb.EVENT_TYPE_WORKFLOW_TASK_FAILED)
		if len(failed) != 1 || last.GetEventType() != enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED {
			t.Fatalf("%s: want one failed task and the run terminated:\n%s", id, formatHistoryDetailed(events))
		}
		want := "BadSearchAttributes: search attribute Notes value size 2049 exceeds size limit 2048"
		a := failed[0].GetWorkflowTaskFailedEventAttributes()
		if a.GetCause() != enumspb.WORKFLOW_TASK_FAILED_CAUSE_BAD_SEARCH_ATTRIBUTES || a.GetFailure().GetMessage() != want {
			t.Errorf("%s: task failed with %v %q", id, a.GetCause(), a.GetFailure().GetMessage())
		}
		if term := last.GetWorkflowExecutionTerminatedEventAttributes(); term.GetReason() != want || term.GetIdentity() != "history-service" {
			t.Errorf("%s: terminated with reason %q identity %q", id, term.GetReason(), term.GetIdentity())
		}
		if countEvents(events, enumspb.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES) != 0 {
			t.Errorf("%s: the refused upsert was written", id)
		}
	}
}
