package e2e

import (
	"context"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"google.golang.org/grpc/codes"
)

// listOperationIDs lists the standalone operations a query matches, sorted.
func (s standaloneOps) listOperationIDs(t *testing.T, query string) []string {
	t.Helper()
	resp, err := s.ws.ListNexusOperationExecutions(testCtx(t, 10*time.Second), &workflowservice.ListNexusOperationExecutionsRequest{
		Namespace: "default", Query: query})
	requireNoError(t, err, "list "+query)
	ids := []string{}
	for _, op := range resp.Operations {
		ids = append(ids, op.OperationId)
	}
	sort.Strings(ids)
	return ids
}

// waitForOperations waits until the query lists exactly these operations
// (Temporal's visibility is eventually consistent).
func (s standaloneOps) waitForOperations(t *testing.T, query string, want ...string) {
	t.Helper()
	sort.Strings(want)
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := s.listOperationIDs(t, query)
		if strings.Join(got, ",") == strings.Join(want, ",") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("list %q: got %v, want %v", query, got, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func keywordPayload(value string) *commonpb.Payload { return jsonPayload(`"` + value + `"`) }

// Standalone Nexus operations' search attributes and list queries: custom
// attributes given at start (an unknown one refused), returned by describe
// and list; lists and counts by Service, RequestId, Operation,
// ExecutionStatus (grouped too), times and custom attributes; Temporal's
// refusals.
func TestNexusStandaloneSearchAttributes(t *testing.T) {
	p := startNexusPairWith(t, standaloneNexusConfig)
	s := standaloneOps{p: p, ws: p.caller.WorkflowService()}
	addAttributes(t, p.caller, map[string]enumspb.IndexedValueType{
		"NxColor": enumspb.INDEXED_VALUE_TYPE_KEYWORD, "NxSize": enumspb.INDEXED_VALUE_TYPE_INT})

	_, err := s.start(t, "sa-unknown", "echo", "x", func(r *workflowservice.StartNexusOperationExecutionRequest) {
		r.SearchAttributes = &commonpb.SearchAttributes{IndexedFields: map[string]*commonpb.Payload{"NoSuchAttribute": keywordPayload("a")}}
	})
	requireStatus(t, "unknown attribute", err, codes.InvalidArgument,
		"Namespace default has no mapping defined for search attribute NoSuchAttribute")
	_, err = s.start(t, "sa-bad-value", "echo", "x", func(r *workflowservice.StartNexusOperationExecutionRequest) {
		r.SearchAttributes = &commonpb.SearchAttributes{IndexedFields: map[string]*commonpb.Payload{"NxSize": keywordPayload("a")}}
	})
	requireStatus(t, "attribute of another type", err, codes.InvalidArgument, "invalid value for search attribute NxSize of type Int: a")

	// The attributes just added may take a moment to be known (Temporal).
	withAttributes := func(id, operation, input string, attributes map[string]*commonpb.Payload) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			_, err := s.start(t, id, operation, input, func(r *workflowservice.StartNexusOperationExecutionRequest) {
				r.SearchAttributes = &commonpb.SearchAttributes{IndexedFields: attributes}
			})
			if err == nil {
				return
			}
			if serviceerror.ToStatus(err).Code() != codes.InvalidArgument || time.Now().After(deadline) {
				t.Fatalf("start %s: %v", id, err)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	withAttributes("sa-sync", "echo", "x", map[string]*commonpb.Payload{"NxColor": keywordPayload("red"), "NxSize": jsonPayload("5")})
	withAttributes("sa-async", "greet", "wait-cancel", map[string]*commonpb.Payload{"NxColor": keywordPayload("blue")})
	_, err = s.start(t, "sa-plain", "echo", "y", nil)
	requireNoError(t, err, "start sa-plain")
	s.poll(t, "sa-sync", enumspb.NEXUS_OPERATION_WAIT_STAGE_CLOSED)
	s.poll(t, "sa-plain", enumspb.NEXUS_OPERATION_WAIT_STAGE_CLOSED)
	s.poll(t, "sa-async", enumspb.NEXUS_OPERATION_WAIT_STAGE_STARTED)

	// Describe gives the attributes back.
	described := s.describe(t, "sa-sync")
	fields := described.Info.GetSearchAttributes().GetIndexedFields()
	if len(fields) != 2 || string(fields["NxColor"].GetData()) != `"red"` || string(fields["NxSize"].GetData()) != "5" {
		t.Fatalf("described attributes %v", described.Info.GetSearchAttributes())
	}
	if described.Info.RequestId == "" {
		t.Fatalf("describe without a request id: %v", described.Info)
	}

	// Lists by the operation's attributes and by custom ones.
	all := []string{"sa-async", "sa-plain", "sa-sync"}
	s.waitForOperations(t, `Service = "`+nexusServiceName+`"`, all...)
	s.waitForOperations(t, `Service = "no-such-service"`)
	s.waitForOperations(t, `Service IN ("x", "`+nexusServiceName+`") AND Operation = "echo"`, "sa-plain", "sa-sync")
	s.waitForOperations(t, `RequestId = "`+described.Info.RequestId+`"`, "sa-sync")
	s.waitForOperations(t, `Endpoint = "`+p.endpoint+`" AND StartTime > "2020-01-01T00:00:00Z"`, all...)
	s.waitForOperations(t, `ExecutionStatus = "Running"`, "sa-async")
	s.waitForOperations(t, `ExecutionStatus = "Completed"`, "sa-plain", "sa-sync")
	s.waitForOperations(t, `ExecutionStatus = "NoSuchStatus"`)
	s.waitForOperations(t, `CloseTime IS NULL`, "sa-async")
	s.waitForOperations(t, `NxColor = "red"`, "sa-sync")
	s.waitForOperations(t, `NxSize > 3`, "sa-sync")
	s.waitForOperations(t, `NxColor = "blue" AND ExecutionStatus = "Running"`, "sa-async")
	s.waitForOperations(t, `OperationId = "sa-plain" OR NxColor = "blue"`, "sa-async", "sa-plain")

	// List entries carry the custom attributes, typed.
	list, err := s.ws.ListNexusOperationExecutions(testCtx(t, 10*time.Second), &workflowservice.ListNexusOperationExecutionsRequest{
		Namespace: "default", Query: `OperationId = "sa-sync"`})
	requireNoError(t, err, "list sa-sync")
	if len(list.Operations) != 1 {
		t.Fatalf("list sa-sync: %v", list.Operations)
	}
	entry := list.Operations[0]
	size := entry.GetSearchAttributes().GetIndexedFields()["NxSize"]
	if entry.Service != nexusServiceName || string(size.GetData()) != "5" || string(size.GetMetadata()["type"]) != "Int" ||
		string(entry.GetSearchAttributes().GetIndexedFields()["NxColor"].GetData()) != `"red"` {
		t.Fatalf("list entry %v", entry)
	}

	// Counts, and grouped by status.
	count, err := s.ws.CountNexusOperationExecutions(testCtx(t, 10*time.Second), &workflowservice.CountNexusOperationExecutionsRequest{
		Namespace: "default", Query: `Service = "` + nexusServiceName + `" AND NxColor IS NOT NULL`})
	requireNoError(t, err, "count")
	if count.Count != 2 {
		t.Fatalf("count %v", count)
	}
	grouped, err := s.ws.CountNexusOperationExecutions(testCtx(t, 10*time.Second), &workflowservice.CountNexusOperationExecutionsRequest{
		Namespace: "default", Query: "GROUP BY ExecutionStatus"})
	requireNoError(t, err, "count by status")
	groups := map[string]int64{}
	for _, g := range grouped.Groups {
		if len(g.GroupValues) != 1 || string(g.GroupValues[0].GetMetadata()["type"]) != "Keyword" {
			t.Fatalf("group %v", g)
		}
		groups[string(g.GroupValues[0].GetData())] = g.Count
	}
	if grouped.Count != 3 || len(groups) != 2 || groups[`"Completed"`] != 2 || groups[`"Running"`] != 1 {
		t.Fatalf("count by status %v", grouped)
	}

	// Temporal's refusals.
	listErr := func(query string) error {
		_, err := s.ws.ListNexusOperationExecutions(testCtx(t, 10*time.Second), &workflowservice.ListNexusOperationExecutionsRequest{
			Namespace: "default", Query: query})
		return err
	}
	requireStatus(t, "unknown attribute", listErr(`NoSuchAttribute = "x"`), codes.InvalidArgument,
		"invalid query: invalid search attribute: NoSuchAttribute")
	requireStatus(t, "status as a number", listErr(`ExecutionStatus = 1`), codes.InvalidArgument,
		"invalid query: invalid expression: invalid value type for search attribute ExecutionStatus of type Keyword: 1 (type: int64)")
	requireStatus(t, "attribute of another type", listErr(`NxSize = "a"`), codes.InvalidArgument,
		`invalid query: invalid expression: invalid value type for search attribute NxSize of type Int: "a" (type: string)`)
	_, err = s.ws.CountNexusOperationExecutions(testCtx(t, 10*time.Second), &workflowservice.CountNexusOperationExecutionsRequest{
		Namespace: "default", Query: "GROUP BY Service"})
	requireStatus(t, "group by service", err, codes.InvalidArgument,
		"invalid query: operation is not supported: 'GROUP BY' clause is not supported for search attribute Service")
}

// Describe's long poll: with the token of an earlier answer it waits until
// the operation changes (or answers empty just before the deadline); a
// stale token answers at once; Temporal's refusals.
func TestNexusStandaloneDescribeLongPoll(t *testing.T) {
	p := startNexusPairWith(t, standaloneNexusConfig)
	s := standaloneOps{p: p, ws: p.caller.WorkflowService()}
	_, err := s.start(t, "lp-async", "greet", "wait-cancel", nil)
	requireNoError(t, err, "start lp-async")
	_, err = s.start(t, "lp-sync", "echo", "x", nil)
	requireNoError(t, err, "start lp-sync")
	s.poll(t, "lp-async", enumspb.NEXUS_OPERATION_WAIT_STAGE_STARTED)
	s.poll(t, "lp-sync", enumspb.NEXUS_OPERATION_WAIT_STAGE_CLOSED)
	first := s.describe(t, "lp-async")
	closed := s.describe(t, "lp-sync")
	if len(first.LongPollToken) == 0 || len(closed.LongPollToken) == 0 {
		t.Fatalf("no long-poll token: %v / %v", first, closed)
	}
	describe := func(ctx context.Context, id, runID string, token []byte) (*workflowservice.DescribeNexusOperationExecutionResponse, error) {
		return s.ws.DescribeNexusOperationExecution(ctx, &workflowservice.DescribeNexusOperationExecutionRequest{
			Namespace: "default", OperationId: id, RunId: runID, LongPollToken: token})
	}

	_, err = describe(testCtx(t, 5*time.Second), "lp-async", "", first.LongPollToken)
	requireStatus(t, "token without a run id", err, codes.InvalidArgument, "run_id is required when long_poll_token is provided")
	_, err = describe(testCtx(t, 5*time.Second), "lp-async", first.RunId, []byte("not a token"))
	requireStatus(t, "malformed token", err, codes.InvalidArgument, "invalid long poll token")
	_, err = describe(testCtx(t, 5*time.Second), "lp-async", first.RunId, closed.LongPollToken)
	requireStatus(t, "another operation's token", err, codes.InvalidArgument, "long poll token does not match execution")

	// Unchanged: an empty answer a little before the caller's deadline.
	began := time.Now()
	empty, err := describe(testCtx(t, 3*time.Second), "lp-async", first.RunId, first.LongPollToken)
	requireNoError(t, err, "unchanged long poll")
	if waited := time.Since(began); waited < 1500*time.Millisecond || empty.Info != nil || len(empty.LongPollToken) != 0 {
		t.Fatalf("unchanged long poll answered after %v: %v", waited, empty)
	}
	// A closed operation does not change either.
	began = time.Now()
	empty, err = describe(testCtx(t, 3*time.Second), "lp-sync", closed.RunId, closed.LongPollToken)
	requireNoError(t, err, "closed long poll")
	if waited := time.Since(began); waited < 1500*time.Millisecond || empty.Info != nil {
		t.Fatalf("closed long poll answered after %v: %v", waited, empty)
	}

	// Two waiting polls both see the cancel request.
	var wg sync.WaitGroup
	answers := make([]*workflowservice.DescribeNexusOperationExecutionResponse, 2)
	errs := make([]error, 2)
	waits := make([]time.Duration, 2)
	for i := range answers {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			began := time.Now()
			answers[i], errs[i] = describe(testCtx(t, 20*time.Second), "lp-async", first.RunId, first.LongPollToken)
			waits[i] = time.Since(began)
		}(i)
	}
	time.Sleep(time.Second)
	_, err = s.ws.RequestCancelNexusOperationExecution(testCtx(t, 10*time.Second), &workflowservice.RequestCancelNexusOperationExecutionRequest{
		Namespace: "default", OperationId: "lp-async", Reason: "long poll"})
	requireNoError(t, err, "request cancel")
	wg.Wait()
	for i, answer := range answers {
		requireNoError(t, errs[i], "long poll")
		if waits[i] < 500*time.Millisecond || waits[i] > 15*time.Second || answer.Info.GetCancellationInfo().GetReason() != "long poll" ||
			answer.Info.StateTransitionCount <= first.Info.StateTransitionCount || len(answer.LongPollToken) == 0 {
			t.Fatalf("long poll %d answered after %v: %v", i, waits[i], answer)
		}
	}

	// A stale token answers at once.
	began = time.Now()
	stale, err := describe(testCtx(t, 10*time.Second), "lp-async", first.RunId, first.LongPollToken)
	requireNoError(t, err, "stale long poll")
	if time.Since(began) > 2*time.Second || stale.Info == nil {
		t.Fatalf("stale long poll answered after %v: %v", time.Since(began), stale)
	}
	// Following the tokens, the operation is seen to close.
	token := stale.LongPollToken
	deadline := time.Now().Add(20 * time.Second)
	for stale.Info.GetStatus() == enumspb.NEXUS_OPERATION_EXECUTION_STATUS_RUNNING {
		if time.Now().After(deadline) {
			t.Fatalf("never closed: %v", stale)
		}
		next, err := describe(testCtx(t, 10*time.Second), "lp-async", first.RunId, token)
		requireNoError(t, err, "long poll until closed")
		if next.Info != nil {
			stale, token = next, next.LongPollToken
		}
	}
	if stale.Info.Status != enumspb.NEXUS_OPERATION_EXECUTION_STATUS_CANCELED {
		t.Fatalf("closed as %v", stale.Info)
	}
}
