package e2e

// Workflows and activities for messages_test.go: signals, queries, updates,
// update-with-start, signal-with-start, workflow cancellation, external
// signals/cancellation and signal bursts.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

const (
	signalApprove = "approve"
	signalPay     = "pay"
	signalShip    = "ship"
	signalRelease = "release"
	signalDone    = "done"
	signalItem    = "item"

	queryStatus = "status"
	queryTotal  = "total"

	updateAdd             = "add"
	updateAddAfterRelease = "addAfterRelease"

	actReserveGate         = "ReserveGate"
	actCancelSubscription  = "CancelSubscription"
	actBusyFor             = "BusyFor"
	errNegativeNotAllowed  = "negative amounts are not allowed"
	approvalResultApproved = "approved"
	approvalResultTimedOut = "timed out"
)

// messageWorkflows is every workflow of this file, for the replayer.
var messageWorkflows = []any{
	Approval,
	OrderLifecycle,
	Counter,
	BusyCounter,
	CollectSignals,
	SignalBurst,
	Subscription,
	SignalAndCancelExternal,
	AwaitCancellation,
	AwaitFinish,
}

// ApprovalInput configures Approval.
type ApprovalInput struct {
	Timeout time.Duration
	// CancelTimer cancels the pending timer once approved (otherwise the
	// workflow just completes and leaves it unfired).
	CancelTimer bool
}

// Approval waits for the "approve" signal or a timer, whichever comes first.
func Approval(ctx workflow.Context, in ApprovalInput) (string, error) {
	timerCtx, cancelTimer := workflow.WithCancel(ctx)
	timer := workflow.NewTimer(timerCtx, in.Timeout)
	approved := false
	sel := workflow.NewSelector(ctx)
	sel.AddReceive(workflow.GetSignalChannel(ctx, signalApprove), func(c workflow.ReceiveChannel, _ bool) {
		var approver string
		c.Receive(ctx, &approver)
		approved = true
	})
	sel.AddFuture(timer, func(workflow.Future) {})
	sel.Select(ctx)
	if !approved {
		return approvalResultTimedOut, nil
	}
	if in.CancelTimer {
		cancelTimer()
	}
	return approvalResultApproved, nil
}

// Order statuses reported by OrderLifecycle's "status" query.
const (
	statusReserving        = "reserving"
	statusAwaitingPayment  = "awaiting payment"
	statusAwaitingShipment = "awaiting shipment"
	statusShipped          = "shipped"
)

// OrderLifecycle reserves stock (an activity the test holds), then waits for
// the "pay" and "ship" signals. The "status" query reports the current step.
func OrderLifecycle(ctx workflow.Context, orderID string) (string, error) {
	status := statusReserving
	if err := workflow.SetQueryHandler(ctx, queryStatus, func() (string, error) { return status, nil }); err != nil {
		return "", err
	}
	actCtx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Minute})
	if err := workflow.ExecuteActivity(actCtx, actReserveGate, orderID).Get(ctx, nil); err != nil {
		return "", err
	}
	status = statusAwaitingPayment
	workflow.GetSignalChannel(ctx, signalPay).Receive(ctx, nil)
	status = statusAwaitingShipment
	workflow.GetSignalChannel(ctx, signalShip).Receive(ctx, nil)
	status = statusShipped
	return status, nil
}

// Counter keeps a total changed by updates:
//   - "add"(n) adds n and returns the new total; its validator rejects n < 0;
//   - "addAfterRelease"(n) waits for the "release" signal, then adds n.
//
// The "total" query returns the total; the "done" signal ends the workflow
// (after every update handler finished) with the total.
func Counter(ctx workflow.Context) (int, error) {
	total := 0
	released := false
	if err := workflow.SetQueryHandler(ctx, queryTotal, func() (int, error) { return total, nil }); err != nil {
		return 0, err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, updateAdd,
		func(ctx workflow.Context, n int) (int, error) {
			total += n
			return total, nil
		},
		workflow.UpdateHandlerOptions{Validator: func(ctx workflow.Context, n int) error {
			if n < 0 {
				return errors.New(errNegativeNotAllowed)
			}
			return nil
		}},
	); err != nil {
		return 0, err
	}
	if err := workflow.SetUpdateHandler(ctx, updateAddAfterRelease, func(ctx workflow.Context, n int) (int, error) {
		if err := workflow.Await(ctx, func() bool { return released }); err != nil {
			return 0, err
		}
		total += n
		return total, nil
	}); err != nil {
		return 0, err
	}
	workflow.Go(ctx, func(ctx workflow.Context) {
		workflow.GetSignalChannel(ctx, signalRelease).Receive(ctx, nil)
		released = true
	})
	workflow.GetSignalChannel(ctx, signalDone).Receive(ctx, nil)
	if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
		return 0, err
	}
	return total, nil
}

// BusyCounter is Counter whose first workflow task is kept busy for `busy`
// by a local activity (after the handlers are registered), so that a test
// can send an update while that workflow task is in flight.
func BusyCounter(ctx workflow.Context, busy time.Duration) (int, error) {
	// Counter registers the handlers before it blocks; run the local activity
	// from a goroutine started first so the handlers exist meanwhile.
	workflow.Go(ctx, func(ctx workflow.Context) {
		laCtx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{StartToCloseTimeout: busy + 10*time.Second})
		_ = workflow.ExecuteLocalActivity(laCtx, actBusyFor, busy).Get(ctx, nil)
	})
	return Counter(ctx)
}

// CollectSignals returns the first n payloads of the "item" signal, in the
// order the workflow received them.
func CollectSignals(ctx workflow.Context, n int) ([]string, error) {
	ch := workflow.GetSignalChannel(ctx, signalItem)
	var out []string
	for len(out) < n {
		var s string
		ch.Receive(ctx, &s)
		out = append(out, s)
	}
	return out, nil
}

// SignalBurst keeps its first workflow task busy for `busy` (a local
// activity), then drains the "item" channel until it has n signals.
func SignalBurst(ctx workflow.Context, n int, busy time.Duration) ([]string, error) {
	laCtx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{StartToCloseTimeout: busy + 10*time.Second})
	if err := workflow.ExecuteLocalActivity(laCtx, actBusyFor, busy).Get(ctx, nil); err != nil {
		return nil, err
	}
	return CollectSignals(ctx, n)
}

// Subscription charges every period until it is canceled; on cancellation it
// runs the CancelSubscription cleanup activity on a disconnected context and
// returns the cancellation error.
func Subscription(ctx workflow.Context, period time.Duration) (int, error) {
	charges := 0
	for {
		err := workflow.Sleep(ctx, period)
		if err == nil {
			charges++
			continue
		}
		if !temporal.IsCanceledError(err) {
			return charges, err
		}
		cleanupCtx, _ := workflow.NewDisconnectedContext(ctx)
		cleanupCtx = workflow.WithActivityOptions(cleanupCtx, workflow.ActivityOptions{StartToCloseTimeout: 10 * time.Second})
		if cerr := workflow.ExecuteActivity(cleanupCtx, actCancelSubscription, charges).Get(cleanupCtx, nil); cerr != nil {
			return charges, fmt.Errorf("cleanup failed: %w", cerr)
		}
		return charges, err
	}
}

// SignalAndCancelExternal signals signalTarget ("finish" with a payload
// naming the sender), then requests cancellation of cancelTarget.
func SignalAndCancelExternal(ctx workflow.Context, signalTarget, cancelTarget string) (string, error) {
	self := workflow.GetInfo(ctx).WorkflowExecution.ID
	if err := workflow.SignalExternalWorkflow(ctx, signalTarget, "", signalFinish, "from "+self).Get(ctx, nil); err != nil {
		return "", fmt.Errorf("signaling %s: %w", signalTarget, err)
	}
	if err := workflow.RequestCancelExternalWorkflow(ctx, cancelTarget, "").Get(ctx, nil); err != nil {
		return "", fmt.Errorf("canceling %s: %w", cancelTarget, err)
	}
	return "signaled and canceled", nil
}

// AwaitCancellation blocks until the workflow is canceled and then returns
// the cancellation error (the run closes as canceled).
func AwaitCancellation(ctx workflow.Context) (string, error) {
	err := workflow.Await(ctx, func() bool { return false })
	return "", err
}

// ---------------------------------------------------------------------------
// Activities

// messageActivities holds per-test activity state.
type messageActivities struct {
	gateStarted chan string   // ReserveGate announces its order id
	gate        chan struct{} // closed by the test to let ReserveGate return
	busyStarted chan struct{} // BusyFor announces it started
	cleanups    chan int      // CancelSubscription reports the charge count
}

func newMessageActivities() *messageActivities {
	return &messageActivities{
		gateStarted: make(chan string, 4),
		gate:        make(chan struct{}),
		busyStarted: make(chan struct{}, 4),
		cleanups:    make(chan int, 4),
	}
}

func (a *messageActivities) ReserveGate(ctx context.Context, orderID string) (string, error) {
	a.gateStarted <- orderID
	select {
	case <-a.gate:
		return "reserved-" + orderID, nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

func (a *messageActivities) BusyFor(ctx context.Context, d time.Duration) error {
	select {
	case a.busyStarted <- struct{}{}:
	default:
	}
	select {
	case <-time.After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (a *messageActivities) CancelSubscription(_ context.Context, charges int) (string, error) {
	select {
	case a.cleanups <- charges:
	default:
	}
	return fmt.Sprintf("subscription canceled after %d charges", charges), nil
}

func registerMessageWorkflows(r worker.Registry, a *messageActivities) {
	for _, wf := range messageWorkflows {
		r.RegisterWorkflow(wf)
	}
	r.RegisterActivityWithOptions(a.ReserveGate, activity.RegisterOptions{Name: actReserveGate})
	r.RegisterActivityWithOptions(a.BusyFor, activity.RegisterOptions{Name: actBusyFor})
	r.RegisterActivityWithOptions(a.CancelSubscription, activity.RegisterOptions{Name: actCancelSubscription})
}
