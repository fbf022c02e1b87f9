package e2e

// Workflow and activity definitions shared by the tests, plus the worker
// kinds that can be run out of process (see harness_process_test.go).

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// Activity and signal names. Workflows refer to activities by name so the
// same workflow code can run against different activity implementations
// (e.g. a blocking variant in a worker process that gets killed).
const (
	actComposeGreeting    = "ComposeGreeting"
	actReserveInventory   = "ReserveInventory"
	actChargePayment      = "ChargePayment"
	actShipOrder          = "ShipOrder"
	actRefundPayment      = "RefundPayment"
	actReleaseInventory   = "ReleaseInventory"
	actStep               = "Step"
	actBlockUntilReleased = "BlockUntilReleased"

	signalFinish = "finish"
)

// allWorkflows is every workflow function, for the replayer.
var allWorkflows = []any{
	Greet,
	OrderSaga,
	TwoSteps,
	TimerRace,
	SleepThenReturn,
	RunBlockingActivity,
	AwaitFinish,
}

// ---------------------------------------------------------------------------
// Hello world

// Greet asks an activity to compose a greeting.
func Greet(ctx workflow.Context, name string) (string, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 10 * time.Second})
	var greeting string
	err := workflow.ExecuteActivity(ctx, actComposeGreeting, name).Get(ctx, &greeting)
	return greeting, err
}

type greetingActivities struct{}

func (greetingActivities) ComposeGreeting(_ context.Context, name string) (string, error) {
	return fmt.Sprintf("Hello, %s!", name), nil
}

// ---------------------------------------------------------------------------
// Order saga

// Order is the saga input. FailStep ("payment" or "shipping") makes that step
// fail with a non-retryable application error.
type Order struct {
	ID          string
	Items       []string
	AmountCents int64
	FailStep    string
}

// OrderResult is the saga output on success.
type OrderResult struct {
	OrderID       string
	ReservationID string
	PaymentID     string
	TrackingID    string
}

const (
	errTypePaymentDeclined = "PaymentDeclined"
	errTypeShippingFailed  = "ShippingUnavailable"
)

// compensation is an activity to run to undo a completed (or possibly
// partially applied) step.
type compensation struct {
	activity string
	arg      any
}

// OrderSaga reserves inventory, charges the payment and ships. When a step
// fails, the registered compensations run in reverse order and the workflow
// fails with the original step error.
func OrderSaga(ctx workflow.Context, order Order) (OrderResult, error) {
	stepCtx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 1},
	})
	res := OrderResult{OrderID: order.ID}
	var compensations []compensation

	fail := func(stepErr error) (OrderResult, error) {
		// Compensate even if the workflow is being canceled.
		compCtx, _ := workflow.NewDisconnectedContext(ctx)
		compCtx = workflow.WithActivityOptions(compCtx, workflow.ActivityOptions{
			StartToCloseTimeout: 10 * time.Second,
			RetryPolicy:         &temporal.RetryPolicy{InitialInterval: 100 * time.Millisecond, MaximumAttempts: 5},
		})
		for i := len(compensations) - 1; i >= 0; i-- {
			c := compensations[i]
			if err := workflow.ExecuteActivity(compCtx, c.activity, c.arg).Get(compCtx, nil); err != nil {
				return res, errors.Join(stepErr, fmt.Errorf("compensation %s failed: %w", c.activity, err))
			}
		}
		return res, stepErr
	}

	if err := workflow.ExecuteActivity(stepCtx, actReserveInventory, order).Get(ctx, &res.ReservationID); err != nil {
		return fail(err)
	}
	compensations = append(compensations, compensation{actReleaseInventory, res.ReservationID})

	// Registered before charging: a failed charge may still have been
	// partially applied by the payment provider.
	compensations = append(compensations, compensation{actRefundPayment, order})
	if err := workflow.ExecuteActivity(stepCtx, actChargePayment, order).Get(ctx, &res.PaymentID); err != nil {
		return fail(err)
	}

	if err := workflow.ExecuteActivity(stepCtx, actShipOrder, order).Get(ctx, &res.TrackingID); err != nil {
		return fail(err)
	}
	return res, nil
}

type orderActivities struct{}

func (orderActivities) ReserveInventory(_ context.Context, order Order) (string, error) {
	return "res-" + order.ID, nil
}

func (orderActivities) ChargePayment(_ context.Context, order Order) (string, error) {
	if order.FailStep == "payment" {
		return "", temporal.NewNonRetryableApplicationError("card declined", errTypePaymentDeclined, nil)
	}
	return "pay-" + order.ID, nil
}

func (orderActivities) ShipOrder(_ context.Context, order Order) (string, error) {
	if order.FailStep == "shipping" {
		return "", temporal.NewNonRetryableApplicationError("carrier unavailable", errTypeShippingFailed, nil)
	}
	return "trk-" + order.ID, nil
}

func (orderActivities) RefundPayment(_ context.Context, order Order) (string, error) {
	return "refunded-" + order.ID, nil
}

func (orderActivities) ReleaseInventory(_ context.Context, reservationID string) (string, error) {
	return "released-" + reservationID, nil
}

// ---------------------------------------------------------------------------
// Two steps with an optional durable sleep in between

// TwoStepsInput configures TwoSteps.
type TwoStepsInput struct {
	// Sleep between the steps; no timer when zero.
	Sleep time.Duration
	// StepTimeout is each step's StartToCloseTimeout (default 10s).
	StepTimeout time.Duration
}

// TwoSteps runs Step("A"), sleeps, runs Step("B") and returns "<a>,<b>".
// Steps are retried every second after a failure or timeout.
func TwoSteps(ctx workflow.Context, in TwoStepsInput) (string, error) {
	timeout := in.StepTimeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: timeout,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    time.Second,
			BackoffCoefficient: 1,
			MaximumAttempts:    10,
		},
	})
	var a, b string
	if err := workflow.ExecuteActivity(ctx, actStep, "A").Get(ctx, &a); err != nil {
		return "", err
	}
	if in.Sleep > 0 {
		if err := workflow.Sleep(ctx, in.Sleep); err != nil {
			return "", err
		}
	}
	if err := workflow.ExecuteActivity(ctx, actStep, "B").Get(ctx, &b); err != nil {
		return "", err
	}
	return a + "," + b, nil
}

type stepActivities struct{}

func (stepActivities) Step(_ context.Context, label string) (string, error) {
	return "step-" + label, nil
}

// stepStartedMarker is the marker file a blocking step creates when it starts.
func stepStartedMarker(label string) string { return "step-" + label + "-started" }

// blockingStep is a Step implementation that announces it started (marker
// file in dir) and then never finishes on its own.
func blockingStep(dir string) func(context.Context, string) (string, error) {
	return func(ctx context.Context, label string) (string, error) {
		if err := writeMarker(dir, stepStartedMarker(label)); err != nil {
			return "", err
		}
		<-ctx.Done()
		return "", ctx.Err()
	}
}

func registerTwoSteps(r worker.Registry) {
	r.RegisterWorkflow(TwoSteps)
	r.RegisterActivity(&stepActivities{})
}

// ---------------------------------------------------------------------------
// Timers

// TimerRace starts a short and a long timer, waits for the first to fire and
// cancels the other one. It returns which fired.
func TimerRace(ctx workflow.Context, short, long time.Duration) (string, error) {
	shortCtx, cancelShort := workflow.WithCancel(ctx)
	longCtx, cancelLong := workflow.WithCancel(ctx)
	shortTimer := workflow.NewTimer(shortCtx, short)
	longTimer := workflow.NewTimer(longCtx, long)

	var fired string
	var firedErr error
	sel := workflow.NewSelector(ctx)
	sel.AddFuture(shortTimer, func(f workflow.Future) {
		fired, firedErr = "short", f.Get(ctx, nil)
	})
	sel.AddFuture(longTimer, func(f workflow.Future) {
		fired, firedErr = "long", f.Get(ctx, nil)
	})
	sel.Select(ctx)
	if firedErr != nil {
		return "", firedErr
	}

	loser := shortTimer
	if fired == "short" {
		cancelLong()
		loser = longTimer
	} else {
		cancelShort()
	}
	if err := loser.Get(ctx, nil); !temporal.IsCanceledError(err) {
		return "", fmt.Errorf("losing timer: expected a cancellation, got %v", err)
	}
	return fired + " timer fired", nil
}

// SleepThenReturn sleeps durably and returns.
func SleepThenReturn(ctx workflow.Context, d time.Duration) (string, error) {
	if err := workflow.Sleep(ctx, d); err != nil {
		return "", err
	}
	return fmt.Sprintf("slept %v", d), nil
}

// ---------------------------------------------------------------------------
// Blocking activity (server crash while an activity runs)

// RunBlockingActivity runs BlockUntilReleased with the given start-to-close
// timeout, retrying every second.
func RunBlockingActivity(ctx workflow.Context, startToClose time.Duration) (string, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: startToClose,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    time.Second,
			BackoffCoefficient: 1,
			MaximumAttempts:    10,
		},
	})
	var out string
	if err := workflow.ExecuteActivity(ctx, actBlockUntilReleased).Get(ctx, &out); err != nil {
		return "", err
	}
	return "activity said: " + out, nil
}

// blockingActivities blocks every BlockUntilReleased call until Release.
type blockingActivities struct {
	started     chan int32 // receives the attempt count as each call starts
	release     chan struct{}
	releaseOnce sync.Once
	calls       atomic.Int32
}

func newBlockingActivities() *blockingActivities {
	return &blockingActivities{started: make(chan int32, 16), release: make(chan struct{})}
}

func (a *blockingActivities) BlockUntilReleased(ctx context.Context) (string, error) {
	n := a.calls.Add(1)
	select {
	case a.started <- n:
	default:
	}
	select {
	case <-a.release:
		return fmt.Sprintf("released (attempt %d)", activity.GetInfo(ctx).Attempt), nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// Release lets every pending and future call return.
func (a *blockingActivities) Release() {
	a.releaseOnce.Do(func() { close(a.release) })
}

// ---------------------------------------------------------------------------
// Long-running workflow finished by a signal

// AwaitFinish waits for the "finish" signal and returns its payload.
func AwaitFinish(ctx workflow.Context) (string, error) {
	var v string
	workflow.GetSignalChannel(ctx, signalFinish).Receive(ctx, &v)
	return "finished: " + v, nil
}

// ---------------------------------------------------------------------------
// Out-of-process worker kinds

var workerKinds = map[string]func(worker.Registry, workerEnv){
	// TwoSteps with working steps.
	"two-steps": func(r worker.Registry, _ workerEnv) {
		registerTwoSteps(r)
	},
	// TwoSteps whose steps block forever after creating a marker file.
	"two-steps-blocking": func(r worker.Registry, env workerEnv) {
		r.RegisterWorkflow(TwoSteps)
		r.RegisterActivityWithOptions(blockingStep(env.Dir), activity.RegisterOptions{Name: actStep})
	},
}
