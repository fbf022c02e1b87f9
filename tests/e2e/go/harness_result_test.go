package e2e

// Waiting for workflow results without letting a misbehaving server hang or
// crash the test binary.

import (
	"context"
	"fmt"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
)

// getResult is run.Get bounded by timeout. If no result arrives in time the
// test fails with the run's history (and the causes of any failed workflow
// tasks). A panic inside the SDK while waiting - e.g. the Go SDK v1.50.0
// dereferences GetWorkflowExecutionHistoryResponse.history without a nil
// check, so a long-poll response without a history crashes the caller - is
// turned into a test failure instead of killing the whole test binary.
func getResult(t testing.TB, c client.Client, run client.WorkflowRun, timeout time.Duration, valuePtr any) (err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	workflowID, runID := run.GetID(), run.GetRunID()
	panicked := func() (p any) {
		defer func() {
			if r := recover(); r != nil {
				p = fmt.Sprintf("%v\n%s", r, debug.Stack())
			}
		}()
		err = run.Get(ctx, valuePtr)
		return nil
	}()
	if panicked != nil {
		t.Fatalf("the Go SDK panicked while waiting for the result of %s/%s: %v\nhistory:\n%s",
			workflowID, runID, panicked, historyForFailure(c, workflowID, runID))
	}
	if ctx.Err() != nil {
		t.Fatalf("no result for %s/%s within %v (last error: %s)\nhistory:\n%s",
			workflowID, runID, timeout, describeErr(err), historyForFailure(c, workflowID, runID))
	}
	return err
}

// historyForFailure renders a run's history for a failure message, with the
// causes of failed workflow tasks spelled out. It never fails the test.
func historyForFailure(c client.Client, workflowID, runID string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	events, err := fetchHistory(ctx, c, workflowID, runID)
	if err != nil {
		return fmt.Sprintf("(fetching history failed: %s)", describeErr(err))
	}
	return formatHistoryDetailed(events)
}

// formatHistoryDetailed is formatHistory plus the failure of each
// WorkflowTaskFailed event (nondeterminism, unknown commands, ...).
func formatHistoryDetailed(events []*historypb.HistoryEvent) string {
	var b strings.Builder
	for _, ev := range events {
		fmt.Fprintf(&b, "  %3d %s", ev.GetEventId(), ev.GetEventType())
		if a := ev.GetWorkflowTaskFailedEventAttributes(); a != nil {
			msg := a.GetFailure().GetMessage()
			if len(msg) > 300 {
				msg = msg[:300] + "..."
			}
			fmt.Fprintf(&b, " cause=%v failure=%q", a.GetCause(), msg)
		}
		b.WriteString("\n")
	}
	return b.String()
}
