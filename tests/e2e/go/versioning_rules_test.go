package e2e

// The deprecated rules-based worker versioning (v0.2), which Temporal 1.32
// serves when dynamic config frontend.workerVersioningRuleAPIs is on: the
// rules' API through the Go SDK (operations, conflict tokens, errors) and
// the routing of workers that poll with UseBuildIDForVersioning (new
// workflows by assignment rules, a build's workflows moved by a redirect
// rule). Checked on both servers.

import (
	"context"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/serviceerror"
	taskqueuepb "go.temporal.io/api/taskqueue/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
)

var versioningRulesConfig = []string{"frontend.workerVersioningRuleAPIs=true"}

// One operation (the SDK does not export the operations' interface).
type rulesOp = client.UpdateWorkerVersioningRulesOptions

// Applies an operation with the queue's current conflict token.
func updateRules(ctx context.Context, t *testing.T, c client.Client, tq string, op rulesOp) (*client.WorkerVersioningRules, error) {
	t.Helper()
	rules, err := c.GetWorkerVersioningRules(ctx, client.GetWorkerVersioningOptions{TaskQueue: tq})
	requireNoError(t, err, "reading the rules")
	op.TaskQueue, op.ConflictToken = tq, rules.ConflictToken
	return c.UpdateWorkerVersioningRules(ctx, op)
}

// "build" or "build@ramp" of each assignment rule, in order.
func assignmentTargets(r *client.WorkerVersioningRules) []string {
	var out []string
	for _, a := range r.AssignmentRules {
		s := a.Rule.TargetBuildID
		if ramp, ok := a.Rule.Ramp.(*client.VersioningRampByPercentage); ok && ramp.Percentage != 100 {
			s += "@" + strconv.FormatFloat(float64(ramp.Percentage), 'g', -1, 32)
		}
		out = append(out, s)
	}
	return out
}

func redirectPairs(r *client.WorkerVersioningRules) []string {
	var out []string
	for _, x := range r.RedirectRules {
		out = append(out, x.Rule.SourceBuildID+">"+x.Rule.TargetBuildID)
	}
	return out
}

func insertRule(index int32, build string, ramp float32) *client.VersioningOperationInsertAssignmentRule {
	rule := client.VersioningAssignmentRule{TargetBuildID: build}
	if ramp >= 0 {
		rule.Ramp = &client.VersioningRampByPercentage{Percentage: ramp}
	}
	return &client.VersioningOperationInsertAssignmentRule{RuleIndex: index, Rule: rule}
}

// A server serving the rules, a client, and a fresh task queue.
func versioningRulesQueue(t *testing.T, timeout time.Duration) (*server, client.Client, context.Context, string) {
	t.Helper()
	srv := startServer(t, serverOptions{DynamicConfig: versioningRulesConfig})
	return srv, newClient(t, srv.Addr(), "default"), testCtx(t, timeout), taskQueueFor(t)
}

func TestVersioningRulesAPI(t *testing.T) {
	t.Parallel()
	srv, c, ctx, tq := versioningRulesQueue(t, 60*time.Second)

	first, err := c.GetWorkerVersioningRules(ctx, client.GetWorkerVersioningOptions{TaskQueue: tq})
	requireNoError(t, err, "reading the rules of a new queue")
	if len(first.AssignmentRules)+len(first.RedirectRules) != 0 || len(first.ConflictToken.Token()) == 0 {
		t.Errorf("rules of a new queue: %+v, want none and a conflict token", first)
	}
	// Without the queue's token an update is refused.
	_, err = c.UpdateWorkerVersioningRules(ctx, client.UpdateWorkerVersioningRulesOptions{TaskQueue: tq, Operation: insertRule(0, "1.0", -1)})
	requireErrorMessage(t, err, "provided conflict token '[]' does not match existing one")
	expectErrorAs[*serviceerror.FailedPrecondition](t, err, "an update without the token")

	before := time.Now().Add(-5 * time.Second)
	rules, err := updateRules(ctx, t, c, tq, rulesOp{Operation: insertRule(0, "1.0", -1)})
	requireNoError(t, err, "inserting 1.0")
	if n := len(rules.AssignmentRules); n != 1 || rules.AssignmentRules[0].CreateTime.Before(before) {
		t.Errorf("after inserting 1.0: %+v, want one rule created now", rules.AssignmentRules)
	}
	// A stale token is refused.
	_, err = c.UpdateWorkerVersioningRules(ctx, client.UpdateWorkerVersioningRulesOptions{
		TaskQueue: tq, ConflictToken: first.ConflictToken, Operation: insertRule(0, "9.0", -1)})
	expectErrorAs[*serviceerror.FailedPrecondition](t, err, "an update with a stale token")

	_, err = updateRules(ctx, t, c, tq, rulesOp{Operation: insertRule(0, "2.0", 30)})
	requireNoError(t, err, "inserting 2.0 at 30 %")
	rules, err = updateRules(ctx, t, c, tq, rulesOp{Operation: insertRule(5, "3.0", 10)})
	requireNoError(t, err, "appending 3.0 at 10 %")
	if got, want := assignmentTargets(rules), []string{"2.0@30", "1.0", "3.0@10"}; !reflect.DeepEqual(got, want) {
		t.Errorf("assignment rules %v, want %v", got, want)
	}
	rules, err = updateRules(ctx, t, c, tq, rulesOp{Operation: &client.VersioningOperationReplaceAssignmentRule{
		RuleIndex: 2, Rule: client.VersioningAssignmentRule{TargetBuildID: "3.1", Ramp: &client.VersioningRampByPercentage{Percentage: 20}}}})
	requireNoError(t, err, "replacing 3.0 by 3.1")
	if got, want := assignmentTargets(rules), []string{"2.0@30", "1.0", "3.1@20"}; !reflect.DeepEqual(got, want) {
		t.Errorf("assignment rules %v, want %v", got, want)
	}

	// Temporal's checks.
	_, err = updateRules(ctx, t, c, tq, rulesOp{Operation: insertRule(-1, "4.0", -1)})
	requireErrorMessage(t, err, "rule index cannot be negative")
	expectErrorAs[*serviceerror.InvalidArgument](t, err, "a negative index")
	_, err = updateRules(ctx, t, c, tq, rulesOp{Operation: &client.VersioningOperationDeleteAssignmentRule{RuleIndex: 3}})
	requireErrorMessage(t, err, "rule index 3 is out of bounds for assignment rule list of length 3")
	_, err = updateRules(ctx, t, c, tq, rulesOp{Operation: &client.VersioningOperationDeleteAssignmentRule{RuleIndex: 1}})
	requireErrorMessage(t, err, "at least one fully-ramped assignment rule must exist (use force=true to bypass this requirement and set the unversioned queue as the default)")
	expectErrorAs[*serviceerror.FailedPrecondition](t, err, "deleting the only fully-ramped rule")
	_, err = updateRules(ctx, t, c, tq, rulesOp{Operation: &client.VersioningOperationCommitBuildID{TargetBuildID: "7.0"}})
	requireErrorMessage(t, err, "no versioned poller with build ID '7.0' seen within the last 1m10s, use force=true to commit anyways")
	long := strings.Repeat("b", 256)
	_, err = updateRules(ctx, t, c, tq, rulesOp{Operation: insertRule(0, long, -1)})
	requireErrorMessage(t, err, "BuildId must be <= 255 characters, was 256")
	// A ramp outside [0, 100] (which the SDK refuses before sending).
	_, err = c.WorkflowService().UpdateWorkerVersioningRules(ctx, &workflowservice.UpdateWorkerVersioningRulesRequest{
		Namespace: "default", TaskQueue: tq, ConflictToken: rules.ConflictToken.Token(),
		Operation: &workflowservice.UpdateWorkerVersioningRulesRequest_InsertAssignmentRule{
			InsertAssignmentRule: &workflowservice.UpdateWorkerVersioningRulesRequest_InsertBuildIdAssignmentRule{
				Rule: &taskqueuepb.BuildIdAssignmentRule{TargetBuildId: "4.0",
					Ramp: &taskqueuepb.BuildIdAssignmentRule_PercentageRamp{PercentageRamp: &taskqueuepb.RampByPercentage{RampPercentage: 120}}}}}})
	requireErrorMessage(t, err, "ramp percentage must be in range [0, 100]")

	// Redirect rules.
	redirect := func(source, target string) *client.VersioningOperationAddRedirectRule {
		return &client.VersioningOperationAddRedirectRule{Rule: client.VersioningRedirectRule{SourceBuildID: source, TargetBuildID: target}}
	}
	_, err = updateRules(ctx, t, c, tq, rulesOp{Operation: redirect("1.0", "1.1")})
	requireNoError(t, err, "redirecting 1.0 to 1.1")
	rules, err = updateRules(ctx, t, c, tq, rulesOp{Operation: redirect("1.1", "1.2")})
	requireNoError(t, err, "redirecting 1.1 to 1.2")
	if got, want := redirectPairs(rules), []string{"1.1>1.2", "1.0>1.1"}; !reflect.DeepEqual(got, want) {
		t.Errorf("redirect rules %v, want %v", got, want)
	}
	_, err = updateRules(ctx, t, c, tq, rulesOp{Operation: redirect("1.2", "1.0")})
	requireErrorMessage(t, err, "update would break acyclic requirement")
	expectErrorAs[*serviceerror.FailedPrecondition](t, err, "a cycle")
	_, err = updateRules(ctx, t, c, tq, rulesOp{Operation: redirect("1.0", "5.0")})
	requireErrorMessage(t, err, "source 1.0 already redirects to target 1.1")
	expectErrorAs[*serviceerror.AlreadyExists](t, err, "a second rule of a source")
	_, err = updateRules(ctx, t, c, tq, rulesOp{Operation: redirect("2.0", "5.0")})
	requireErrorMessage(t, err, "redirect rule source build ID cannot be the target of any partially-ramped assignment rule")
	_, err = updateRules(ctx, t, c, tq, rulesOp{Operation: insertRule(0, "1.0", 50)})
	requireErrorMessage(t, err, "update breaks requirement, this build ID cannot be the target of a partially-ramped assignment rule because it is the source of a redirect rule")
	_, err = updateRules(ctx, t, c, tq, rulesOp{Operation: &client.VersioningOperationDeleteRedirectRule{SourceBuildID: "9.9"}})
	requireErrorMessage(t, err, "no redirect rule found with source ID 9.9")
	expectErrorAs[*serviceerror.NotFound](t, err, "deleting an unknown redirect")
	_, err = updateRules(ctx, t, c, tq, rulesOp{Operation: &client.VersioningOperationReplaceRedirectRule{Rule: client.VersioningRedirectRule{SourceBuildID: "1.1", TargetBuildID: "1.3"}}})
	requireNoError(t, err, "replacing 1.1's redirect")
	rules, err = updateRules(ctx, t, c, tq, rulesOp{Operation: &client.VersioningOperationDeleteRedirectRule{SourceBuildID: "1.0"}})
	requireNoError(t, err, "deleting 1.0's redirect")
	if got, want := redirectPairs(rules), []string{"1.1>1.3"}; !reflect.DeepEqual(got, want) {
		t.Errorf("redirect rules %v, want %v", got, want)
	}

	// Committing a build with force: its own and the fully-ramped rules go.
	rules, err = updateRules(ctx, t, c, tq, rulesOp{Operation: &client.VersioningOperationCommitBuildID{TargetBuildID: "3.1", Force: true}})
	requireNoError(t, err, "committing 3.1")
	if got, want := assignmentTargets(rules), []string{"2.0@30", "3.1"}; !reflect.DeepEqual(got, want) {
		t.Errorf("assignment rules after the commit %v, want %v", got, want)
	}
	got, err := c.GetWorkerVersioningRules(ctx, client.GetWorkerVersioningOptions{TaskQueue: tq})
	requireNoError(t, err, "reading the rules")
	if !reflect.DeepEqual(assignmentTargets(got), assignmentTargets(rules)) || !reflect.DeepEqual(redirectPairs(got), redirectPairs(rules)) ||
		string(got.ConflictToken.Token()) != string(rules.ConflictToken.Token()) {
		t.Errorf("read back %+v, want what the last update answered %+v", got, rules)
	}
	// The rules survive a crash of the server.
	srv.Kill9()
	srv.Restart(t)
	got, err = c.GetWorkerVersioningRules(ctx, client.GetWorkerVersioningOptions{TaskQueue: tq})
	requireNoError(t, err, "reading the rules after a restart")
	if !reflect.DeepEqual(assignmentTargets(got), assignmentTargets(rules)) || !reflect.DeepEqual(redirectPairs(got), redirectPairs(rules)) ||
		string(got.ConflictToken.Token()) != string(rules.ConflictToken.Token()) {
		t.Errorf("after a restart %+v, want %+v", got, rules)
	}
	// The version-set APIs stay off without their own setting.
	_, err = c.WorkflowService().GetWorkerBuildIdCompatibility(ctx, &workflowservice.GetWorkerBuildIdCompatibilityRequest{Namespace: "default", TaskQueue: tq})
	requireErrorMessage(t, err, "Worker versioning v0.1 (Version Set-based, deprecated) is disabled on this namespace.")
}

// An assignment rule sends new workflows to 1.0; after 2.0 is committed new
// workflows start there while a 1.0 workflow stays on 1.0, until a redirect
// rule moves its next tasks to 2.0.
func TestVersioningRulesRouting(t *testing.T) {
	t.Parallel()
	_, c, ctx, tq := versioningRulesQueue(t, 90*time.Second)

	_, err := updateRules(ctx, t, c, tq, rulesOp{Operation: insertRule(0, "1.0", -1)})
	requireNoError(t, err, "assigning new workflows to 1.0")
	w10 := startBuildWorker(t, c, tq, "1.0", true)
	defer w10.Stop()
	w20 := startBuildWorker(t, c, tq, "2.0", true)
	defer w20.Stop()

	runA := startBuildRun(ctx, t, c, tq, "rules-a")
	// 2.0's worker polls, so the commit needs no force.
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, err = updateRules(ctx, t, c, tq, rulesOp{Operation: &client.VersioningOperationCommitBuildID{TargetBuildID: "2.0"}})
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	requireNoError(t, err, "committing 2.0")

	runB := startBuildRun(ctx, t, c, tq, "rules-b")
	_, err = updateRules(ctx, t, c, tq, rulesOp{Operation: &client.VersioningOperationAddRedirectRule{
		Rule: client.VersioningRedirectRule{SourceBuildID: "1.0", TargetBuildID: "2.0"}}})
	requireNoError(t, err, "redirecting 1.0 to 2.0")
	requireNoError(t, c.SignalWorkflow(ctx, "rules-a", "", "go", nil), "signalling A")
	requireNoError(t, c.SignalWorkflow(ctx, "rules-b", "", "go", nil), "signalling B")
	// A's workflow tasks on 1.0 until the signal, then on 2.0.
	checkBuildRuns(t, c, []buildRun{
		{runA, []string{"1.0", "2.0"}, []string{"1.0", "1.0", "2.0", "2.0"}},
		{runB, []string{"2.0", "2.0"}, []string{"2.0", "2.0", "2.0", "2.0"}}})
}
