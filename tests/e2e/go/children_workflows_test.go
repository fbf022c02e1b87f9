package e2e

// Workflows for children_test.go and cron_test.go: a parent that fans out one
// child per invoice line item, parents that end in every way with children
// under each parent close policy, children that fail, time out or are
// cancelled, and a cron workflow that counts its runs.

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// childWorkflows is every workflow of this file, for the replayer.
var childWorkflows = []any{
	Invoice,
	LineItemTotal,
	ParentOfBlockedChildren,
	BlockedChild,
	ChildOutcome,
	FailingChild,
	CronCounter,
	AlwaysPanics,
}

func registerChildWorkflows(r worker.Registry) {
	for _, wf := range childWorkflows {
		r.RegisterWorkflow(wf)
	}
}

// ---------------------------------------------------------------------------
// One child per line item

type LineItem struct {
	SKU        string
	Quantity   int64
	PriceCents int64
}

type InvoiceInput struct {
	// ChildIDPrefix names the children (<prefix>-line-<i>); the replayer
	// does not know the original workflow id.
	ChildIDPrefix string
	Items         []LineItem
	// ChildNamespace runs the children in another namespace when set.
	ChildNamespace string
	// Pause makes each child sleep first (so that a test can crash the
	// server while they wait).
	Pause time.Duration
}

type InvoiceResult struct {
	Lines      []int64
	TotalCents int64
}

// Invoice starts one LineItemTotal child per item, all at once, and adds up
// their results in item order.
func Invoice(ctx workflow.Context, in InvoiceInput) (InvoiceResult, error) {
	futures := make([]workflow.ChildWorkflowFuture, len(in.Items))
	for i, item := range in.Items {
		cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
			WorkflowID: fmt.Sprintf("%s-line-%d", in.ChildIDPrefix, i),
			Namespace:  in.ChildNamespace,
			Memo:       map[string]any{"sku": item.SKU},
		})
		futures[i] = workflow.ExecuteChildWorkflow(cctx, LineItemTotal, item, in.Pause)
	}
	var res InvoiceResult
	for _, f := range futures {
		var cents int64
		if err := f.Get(ctx, &cents); err != nil {
			return res, err
		}
		res.Lines = append(res.Lines, cents)
		res.TotalCents += cents
	}
	return res, nil
}

func LineItemTotal(ctx workflow.Context, item LineItem, pause time.Duration) (int64, error) {
	if pause > 0 {
		if err := workflow.Sleep(ctx, pause); err != nil {
			return 0, err
		}
	}
	if item.Quantity <= 0 {
		return 0, temporal.NewNonRetryableApplicationError("bad quantity", errTypeBadInput, nil)
	}
	return item.Quantity * item.PriceCents, nil
}

// ---------------------------------------------------------------------------
// Parent close policies

type ParentInput struct {
	ChildIDPrefix string
	Children      int
	Policy        enumspb.ParentClosePolicy
	// How the parent ends after signalFinish: "complete", "fail" or
	// "continue-as-new" (the next run ends at once); a cancellation of the
	// parent ends it as canceled.
	End string
}

// ParentOfBlockedChildren starts children that block until cancelled, waits
// until they have all started, then ends as told once signalled.
func ParentOfBlockedChildren(ctx workflow.Context, in ParentInput) (string, error) {
	if in.Children == 0 {
		return "next run", nil
	}
	// The children do not follow the parent's cancellation: otherwise the
	// SDK's own cancel requests to them race the close policy under test.
	children, _ := workflow.NewDisconnectedContext(ctx)
	for i := 0; i < in.Children; i++ {
		cctx := workflow.WithChildOptions(children, workflow.ChildWorkflowOptions{
			WorkflowID:        fmt.Sprintf("%s-child-%d", in.ChildIDPrefix, i),
			ParentClosePolicy: in.Policy,
		})
		f := workflow.ExecuteChildWorkflow(cctx, BlockedChild)
		if err := f.GetChildWorkflowExecution().Get(ctx, nil); err != nil {
			return "", err
		}
	}
	if err := awaitFinishOrCancel(ctx); err != nil {
		return "", err
	}
	switch in.End {
	case "fail":
		return "", temporal.NewNonRetryableApplicationError("parent gives up", errTypeFatal, nil)
	case "continue-as-new":
		return "", workflow.NewContinueAsNewError(ctx, ParentOfBlockedChildren, ParentInput{})
	}
	return "done", nil
}

// BlockedChild waits for signalFinish; a cancellation ends it as canceled.
func BlockedChild(ctx workflow.Context) (string, error) {
	if err := awaitFinishOrCancel(ctx); err != nil {
		return "", err
	}
	return "finished", nil
}

// awaitFinishOrCancel waits for signalFinish, or returns the cancellation.
func awaitFinishOrCancel(ctx workflow.Context) error {
	sel := workflow.NewSelector(ctx)
	sel.AddReceive(workflow.GetSignalChannel(ctx, signalFinish), func(c workflow.ReceiveChannel, _ bool) { c.Receive(ctx, nil) })
	sel.AddReceive(ctx.Done(), func(workflow.ReceiveChannel, bool) {})
	sel.Select(ctx)
	return ctx.Err()
}

// ---------------------------------------------------------------------------
// Children that fail, time out, are cancelled, retry, or cannot start

// ChildOutcome runs one child and describes how it ended:
//   - "fail": FailingChild fails with a non-retryable error
//   - "retry": FailingChild fails its first attempt, its retry policy runs it again
//   - "timeout": BlockedChild outlives its 1s run timeout
//   - "cancel": BlockedChild is cancelled by the parent once started
//   - "taken:<id>": a child whose workflow id is already in use
func ChildOutcome(ctx workflow.Context, kind, childID string) (string, error) {
	opts := workflow.ChildWorkflowOptions{WorkflowID: childID}
	switch {
	case kind == "retry":
		opts.RetryPolicy = &temporal.RetryPolicy{InitialInterval: 100 * time.Millisecond, MaximumAttempts: 3}
	case kind == "timeout":
		opts.WorkflowRunTimeout = time.Second
	case kind == "cancel":
		opts.WaitForCancellation = true
	case strings.HasPrefix(kind, "taken:"):
		opts.WorkflowID = strings.TrimPrefix(kind, "taken:")
	}
	cctx, cancel := workflow.WithCancel(ctx)
	cctx = workflow.WithChildOptions(cctx, opts)
	var f workflow.ChildWorkflowFuture
	if kind == "fail" || kind == "retry" {
		f = workflow.ExecuteChildWorkflow(cctx, FailingChild, kind)
	} else {
		f = workflow.ExecuteChildWorkflow(cctx, BlockedChild)
	}
	if err := f.GetChildWorkflowExecution().Get(ctx, nil); err != nil {
		var started *temporal.ChildWorkflowExecutionAlreadyStartedError
		if errors.As(err, &started) {
			return "already started", nil
		}
		return "", err
	}
	if kind == "cancel" {
		cancel()
	}
	var res string
	err := f.Get(ctx, &res)
	var app *temporal.ApplicationError
	var timeout *temporal.TimeoutError
	var canceled *temporal.CanceledError
	switch {
	case err == nil:
		return "completed: " + res, nil
	case errors.As(err, &app):
		return "failed: " + app.Message(), nil
	case errors.As(err, &timeout):
		return "timed out: " + timeout.TimeoutType().String(), nil
	case errors.As(err, &canceled):
		return "canceled", nil
	}
	return "", err
}

func FailingChild(ctx workflow.Context, kind string) (string, error) {
	attempt := workflow.GetInfo(ctx).Attempt
	if kind == "retry" && attempt == 1 {
		return "", temporal.NewApplicationError("first attempt fails", errTypeFlaky)
	}
	if kind == "fail" {
		return "", temporal.NewNonRetryableApplicationError("child broke", errTypeFatal, nil)
	}
	return fmt.Sprintf("attempt %d", attempt), nil
}

// ---------------------------------------------------------------------------
// A workflow task that always fails

// alwaysPanicsRuns counts how often AlwaysPanics was handed a workflow task.
var alwaysPanicsRuns atomic.Int64

func AlwaysPanics(ctx workflow.Context) error {
	alwaysPanicsRuns.Add(1)
	panic("this workflow cannot make progress")
}

// ---------------------------------------------------------------------------
// Cron

// CronCounter returns one more than the previous run's result.
func CronCounter(ctx workflow.Context) (int, error) {
	last := 0
	if workflow.HasLastCompletionResult(ctx) {
		if err := workflow.GetLastCompletionResult(ctx, &last); err != nil {
			return 0, err
		}
	}
	return last + 1, nil
}
