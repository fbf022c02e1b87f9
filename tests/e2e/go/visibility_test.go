package e2e

// Visibility: custom search attributes of every type registered through the
// OperatorService, set at start and upserted by workflows, then found with
// Temporal's List Filter (list, count, group by, open/closed lists), and
// keyset paging that returns each run once while workflows keep starting.

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	filterpb "go.temporal.io/api/filter/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
)

var visibilityAttributes = map[string]enumspb.IndexedValueType{
	"CustomerId": enumspb.INDEXED_VALUE_TYPE_KEYWORD,
	"Notes":      enumspb.INDEXED_VALUE_TYPE_TEXT,
	"Amount":     enumspb.INDEXED_VALUE_TYPE_INT,
	"Score":      enumspb.INDEXED_VALUE_TYPE_DOUBLE,
	"Vip":        enumspb.INDEXED_VALUE_TYPE_BOOL,
	"DueAt":      enumspb.INDEXED_VALUE_TYPE_DATETIME,
	"Tags":       enumspb.INDEXED_VALUE_TYPE_KEYWORD_LIST,
}

func registerVisibilityAttributes(t *testing.T, c client.Client) {
	t.Helper()
	addAttributes(t, c, visibilityAttributes)
}

func addAttributes(t *testing.T, c client.Client, attributes map[string]enumspb.IndexedValueType) {
	t.Helper()
	_, err := c.OperatorService().AddSearchAttributes(testCtx(t, 10*time.Second), &operatorservice.AddSearchAttributesRequest{
		Namespace:        defaultNamespace,
		SearchAttributes: attributes,
	})
	requireNoError(t, err, "AddSearchAttributes")
}

// listIDs returns the workflow ids a query lists, sorted, following pages.
func listIDs(t *testing.T, c client.Client, query string) []string {
	t.Helper()
	var ids []string
	var token []byte
	for {
		resp, err := c.ListWorkflow(testCtx(t, 10*time.Second), &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: defaultNamespace, Query: query, PageSize: 2, NextPageToken: token,
		})
		requireNoError(t, err, "ListWorkflow "+query)
		for _, e := range resp.GetExecutions() {
			ids = append(ids, e.GetExecution().GetWorkflowId())
		}
		token = resp.GetNextPageToken()
		if len(token) == 0 {
			break
		}
	}
	sort.Strings(ids)
	return ids
}

func countRuns(t *testing.T, c client.Client, query string) *workflowservice.CountWorkflowExecutionsResponse {
	t.Helper()
	resp, err := c.CountWorkflow(testCtx(t, 10*time.Second), &workflowservice.CountWorkflowExecutionsRequest{
		Namespace: defaultNamespace, Query: query,
	})
	requireNoError(t, err, "CountWorkflow "+query)
	return resp
}

// waitForCount waits until the query counts `want` runs.
func waitForCount(t *testing.T, c client.Client, query string, want int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := countRuns(t, c, query).GetCount()
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("count of %q: got %d, want %d", query, got, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestVisibilityListFilter(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOptions{})
	c := newClient(t, srv.Addr(), defaultNamespace)
	registerVisibilityAttributes(t, c)

	listed, err := c.OperatorService().ListSearchAttributes(testCtx(t, 10*time.Second),
		&operatorservice.ListSearchAttributesRequest{Namespace: defaultNamespace})
	requireNoError(t, err, "ListSearchAttributes")
	for name, typ := range visibilityAttributes {
		if got := listed.GetCustomAttributes()[name]; got != typ {
			t.Errorf("ListSearchAttributes: %s is %v, want %v", name, got, typ)
		}
	}
	if listed.GetSystemAttributes()["ExecutionStatus"] != enumspb.INDEXED_VALUE_TYPE_KEYWORD {
		t.Errorf("ListSearchAttributes: system attributes lack ExecutionStatus: %v", listed.GetSystemAttributes())
	}

	tq := taskQueueFor(t)
	startWorker(t, c, tq, func(r worker.Registry) { r.RegisterWorkflow(VisibilityWorkflow) })
	before := time.Now().Add(-time.Second).UTC()
	due := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	start := func(id string, in VisibilityInput, sa ...temporal.SearchAttributeUpdate) client.WorkflowRun {
		run, err := c.ExecuteWorkflow(testCtx(t, 10*time.Second), client.StartWorkflowOptions{
			ID: id, TaskQueue: tq, TypedSearchAttributes: temporal.NewSearchAttributes(sa...),
		}, VisibilityWorkflow, in)
		requireNoError(t, err, "start "+id)
		return run
	}
	w1 := start("vis-w1", VisibilityInput{}, saCustomer.ValueSet("c1"), saAmount.ValueSet(10), saScore.ValueSet(1.5),
		saVip.ValueSet(true), saDueAt.ValueSet(due), saTags.ValueSet([]string{"red", "blue"}),
		saNotes.ValueSet("Rush order, fragile"))
	start("vis-w2", VisibilityInput{Wait: true}, saCustomer.ValueSet("c2"), saAmount.ValueSet(200),
		saScore.ValueSet(9.25), saVip.ValueSet(false), saTags.ValueSet([]string{"blue"}))
	start("vis-w3", VisibilityInput{Wait: true, Upsert: true, Customer: "c3", Amount: 50, Tags: []string{"green"}})
	start("vis-w4", VisibilityInput{Wait: true}, saCustomer.ValueSet("c1"), saNotes.ValueSet("gentle handling"))

	var out string
	requireNoError(t, getResult(t, c, w1, 20*time.Second, &out), "vis-w1 result")
	requireNoError(t, c.TerminateWorkflow(testCtx(t, 10*time.Second), "vis-w4", "", "test"), "terminate vis-w4")
	waitForCount(t, c, "CustomerId = 'c3'", 1) // The upsert is indexed.
	waitForCount(t, c, "ExecutionStatus = 'Terminated'", 1)

	all := []string{"vis-w1", "vis-w2", "vis-w3", "vis-w4"}
	cases := []struct {
		query string
		want  []string
	}{
		{"CustomerId = 'c1'", []string{"vis-w1", "vis-w4"}},
		{"CustomerId = 'c1' AND ExecutionStatus = 'Completed'", []string{"vis-w1"}},
		{"ExecutionStatus = 'Running'", []string{"vis-w2", "vis-w3"}},
		{"Amount > 20", []string{"vis-w2", "vis-w3"}},
		{"Amount BETWEEN 10 AND 50", []string{"vis-w1", "vis-w3"}},
		{"Score >= 2.0", []string{"vis-w2"}},
		{"Vip = true", []string{"vis-w1"}},
		{"Tags = 'blue'", []string{"vis-w1", "vis-w2"}},
		{"Tags IN ('green', 'red')", []string{"vis-w1", "vis-w3"}},
		{"Tags != 'blue'", []string{"vis-w3", "vis-w4"}},
		{"Notes = 'fragile'", []string{"vis-w1"}},
		{"DueAt < '2031-01-01T00:00:00Z'", []string{"vis-w1"}},
		{"DueAt IS NULL", []string{"vis-w2", "vis-w3", "vis-w4"}},
		{"TemporalChangeVersion = 'fix-1-1'", []string{"vis-w3"}},
		{"WorkflowId STARTS_WITH 'vis-w'", all},
		{"ExecutionStatus = 'Terminated' OR Vip = false", []string{"vis-w2", "vis-w4"}},
		{"StartTime >= '" + before.Format(time.RFC3339) + "' and TaskQueue = '" + tq + "'", all},
		{"StartTime < '" + before.Format(time.RFC3339) + "'", nil},
		{"CloseTime IS NOT NULL", []string{"vis-w1", "vis-w4"}},
		{"WorkflowType = 'VisibilityWorkflow' AND NOT (CustomerId = 'c1')", []string{"vis-w2", "vis-w3"}},
		{"(CustomerId = 'c2' OR CustomerId = 'c3') AND `Amount` < 100", []string{"vis-w3"}},
		{"WorkflowId IN (\"vis-w1\", \"vis-w4\") AND ExecutionStatus != 'Completed'", []string{"vis-w4"}},
	}
	for _, tc := range cases {
		if got := listIDs(t, c, tc.query); !slices.Equal(got, tc.want) {
			t.Errorf("list %q: got %v, want %v", tc.query, got, tc.want)
		}
		if got := countRuns(t, c, tc.query).GetCount(); got != int64(len(tc.want)) {
			t.Errorf("count %q: got %d, want %d", tc.query, got, len(tc.want))
		}
	}

	// Counts grouped by status.
	grouped := countRuns(t, c, "GROUP BY ExecutionStatus")
	groups := map[string]int64{}
	for _, g := range grouped.GetGroups() {
		var status string
		requireNoError(t, converter.GetDefaultDataConverter().FromPayload(g.GetGroupValues()[0], &status), "group value")
		groups[status] = g.GetCount()
	}
	if grouped.GetCount() != 4 || groups["Running"] != 2 || groups["Completed"] != 1 || groups["Terminated"] != 1 {
		t.Errorf("GROUP BY ExecutionStatus: count %d, groups %v", grouped.GetCount(), groups)
	}

	// Refused queries, as Temporal refuses them.
	for query, want := range map[string]string{
		"CloseTime = missing": "did you forget to quote 'missing'?",
		"Nope = 1":            "column name 'Nope' is not a valid search attribute",
		"Amount = 'many'":     "invalid value type for search attribute Amount of type Int",
		"WorkflowId = ":       "malformed SQL query",
	} {
		_, err := c.ListWorkflow(testCtx(t, 10*time.Second), &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: defaultNamespace, Query: query,
		})
		invalid := requireErrorAs[*serviceerror.InvalidArgument](t, err, "list "+query)
		if !strings.HasPrefix(invalid.Error(), "invalid query: ") || !strings.Contains(invalid.Error(), want) {
			t.Errorf("list %q: error %q, want it to contain %q", query, invalid.Error(), want)
		}
	}

	// Describe and list return search attributes with their type.
	desc, err := c.DescribeWorkflowExecution(testCtx(t, 10*time.Second), "vis-w3", "")
	requireNoError(t, err, "describe vis-w3")
	fields := desc.GetWorkflowExecutionInfo().GetSearchAttributes().GetIndexedFields()
	for name, typ := range map[string]string{"CustomerId": "Keyword", "Amount": "Int", "Tags": "KeywordList"} {
		if got := string(fields[name].GetMetadata()["type"]); got != typ {
			t.Errorf("describe vis-w3: %s has type %q, want %q (%v)", name, got, typ, fields[name])
		}
	}
	typed, err := c.ListWorkflow(testCtx(t, 10*time.Second), &workflowservice.ListWorkflowExecutionsRequest{
		Namespace: defaultNamespace, Query: "WorkflowId = 'vis-w1'",
	})
	requireNoError(t, err, "list vis-w1")
	if len(typed.GetExecutions()) != 1 {
		t.Fatalf("list vis-w1: %d executions", len(typed.GetExecutions()))
	}
	var notes string
	payload := typed.GetExecutions()[0].GetSearchAttributes().GetIndexedFields()["Notes"]
	requireNoError(t, converter.GetDefaultDataConverter().FromPayload(payload, &notes), "Notes payload")
	if notes != "Rush order, fragile" || string(payload.GetMetadata()["type"]) != "Text" {
		t.Errorf("list vis-w1: Notes %q with metadata %v", notes, payload.GetMetadata())
	}

	// The older open/closed lists.
	open, err := c.WorkflowService().ListOpenWorkflowExecutions(testCtx(t, 10*time.Second),
		&workflowservice.ListOpenWorkflowExecutionsRequest{
			Namespace:       defaultNamespace,
			StartTimeFilter: &filterpb.StartTimeFilter{EarliestTime: nil},
		})
	requireNoError(t, err, "ListOpenWorkflowExecutions")
	if got := executionIDs(open.GetExecutions()); !slices.Equal(got, []string{"vis-w2", "vis-w3"}) {
		t.Errorf("ListOpenWorkflowExecutions: %v", got)
	}
	closed, err := c.WorkflowService().ListClosedWorkflowExecutions(testCtx(t, 10*time.Second),
		&workflowservice.ListClosedWorkflowExecutionsRequest{
			Namespace: defaultNamespace,
			Filters: &workflowservice.ListClosedWorkflowExecutionsRequest_StatusFilter{
				StatusFilter: &filterpb.StatusFilter{Status: enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED},
			},
		})
	requireNoError(t, err, "ListClosedWorkflowExecutions")
	if got := executionIDs(closed.GetExecutions()); !slices.Equal(got, []string{"vis-w1"}) {
		t.Errorf("ListClosedWorkflowExecutions: %v", got)
	}

	// Removing an attribute makes queries on it invalid.
	_, err = c.OperatorService().RemoveSearchAttributes(testCtx(t, 10*time.Second),
		&operatorservice.RemoveSearchAttributesRequest{Namespace: defaultNamespace, SearchAttributes: []string{"Score"}})
	requireNoError(t, err, "RemoveSearchAttributes")
	_, err = c.CountWorkflow(testCtx(t, 10*time.Second), &workflowservice.CountWorkflowExecutionsRequest{
		Namespace: defaultNamespace, Query: "Score > 1",
	})
	requireErrorAs[*serviceerror.InvalidArgument](t, err, "count on a removed attribute")
}

func executionIDs[T interface {
	GetExecution() *commonpb.WorkflowExecution
}](es []T) []string {
	var ids []string
	for _, e := range es {
		ids = append(ids, e.GetExecution().GetWorkflowId())
	}
	sort.Strings(ids)
	return ids
}

// Paging through 1,000 runs while more start returns each run once and
// every run that existed when the walk began.
func TestVisibilityPagingWhileStarting(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOptions{})
	c := newClient(t, srv.Addr(), defaultNamespace)
	tq := taskQueueFor(t) // No worker: the runs stay open.
	startN := func(prefix string, n int) {
		for i := 0; i < n; i++ {
			_, err := c.ExecuteWorkflow(testCtx(t, 10*time.Second), client.StartWorkflowOptions{
				ID: fmt.Sprintf("%s-%04d", prefix, i), TaskQueue: tq,
			}, "NoSuchWorkflow")
			requireNoError(t, err, "start")
		}
	}
	startN("page", 1000)

	seen := map[string]int{}
	var token []byte
	pages := 0
	for {
		resp, err := c.ListWorkflow(testCtx(t, 10*time.Second), &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: defaultNamespace, Query: "TaskQueue = '" + tq + "'", PageSize: 100, NextPageToken: token,
		})
		requireNoError(t, err, "ListWorkflow page")
		for _, e := range resp.GetExecutions() {
			seen[e.GetExecution().GetRunId()+"/"+e.GetExecution().GetWorkflowId()]++
		}
		pages++
		startN(fmt.Sprintf("meanwhile-%02d", pages), 10)
		token = resp.GetNextPageToken()
		if len(token) == 0 {
			break
		}
	}
	original := 0
	for key, n := range seen {
		if n != 1 {
			t.Errorf("%s listed %d times", key, n)
		}
		if strings.Contains(key, "/page-") {
			original++
		}
	}
	if original != 1000 {
		t.Errorf("listed %d of the 1000 runs that existed before paging (%d pages)", original, pages)
	}
	if got := countRuns(t, c, "TaskQueue = '"+tq+"'").GetCount(); got != int64(1000+10*pages) {
		t.Errorf("count: %d, want %d", got, 1000+10*pages)
	}
}
