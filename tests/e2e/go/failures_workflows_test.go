package e2e

// Workflows and activities for failures_test.go: activity timeouts, retries,
// non-retryable errors, heartbeats, activity cancellation, async activity
// completion, workflow timeouts, workflow retries and failure details.

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// Activity names used by the failure workflows.
const (
	actBlockUntilDone       = "BlockUntilDone"
	actFlaky                = "Flaky"
	actFailWith             = "FailWith"
	actHeartbeatOnce        = "HeartbeatOnce"
	actResumeFromHeartbeat  = "ResumeFromHeartbeat"
	actHeartbeatUntilCancel = "HeartbeatUntilCanceled"
	actCompleteLater        = "CompleteLater"

	signalCancelActivity = "cancel-activity"

	errTypeFlaky      = "Flaky"
	errTypeBadInput   = "BadInput"
	errTypeFatal      = "Fatal"
	errTypeFailedRun  = "FailedRun"
	errTypeMyType     = "MyType"
	errTypeRootCause  = "IOError"
	failureDetailCode = 42
)

// failureWorkflows is every workflow of this file, for the replayer.
var failureWorkflows = []any{
	CallActivity,
	CancelActivityOnSignal,
	FailUntilAttempt,
	FailWithDetails,
	SleepThenReturn,
}

// ActivityCall describes one activity invocation made by CallActivity.
type ActivityCall struct {
	Activity   string
	Arg        string
	ActivityID string
	// TaskQueue overrides the activity's task queue (default: the workflow's).
	TaskQueue           string
	ScheduleToClose     time.Duration
	ScheduleToStart     time.Duration
	StartToClose        time.Duration
	Heartbeat           time.Duration
	RetryPolicy         *temporal.RetryPolicy
	WaitForCancellation bool
}

// CallActivity runs exactly the activity described by in and returns its
// result, or its error unchanged (so the client sees the whole chain).
func CallActivity(ctx workflow.Context, in ActivityCall) (string, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		TaskQueue:              in.TaskQueue,
		ActivityID:             in.ActivityID,
		ScheduleToCloseTimeout: in.ScheduleToClose,
		ScheduleToStartTimeout: in.ScheduleToStart,
		StartToCloseTimeout:    in.StartToClose,
		HeartbeatTimeout:       in.Heartbeat,
		RetryPolicy:            in.RetryPolicy,
		WaitForCancellation:    in.WaitForCancellation,
	})
	var out string
	err := workflow.ExecuteActivity(ctx, in.Activity, in.Arg).Get(ctx, &out)
	return out, err
}

// CancelActivityOnSignal starts HeartbeatUntilCanceled, waits for the
// "cancel-activity" signal, cancels the activity and waits (cancellation
// type WAIT_CANCELLATION_COMPLETED) until the activity acknowledged it.
func CancelActivityOnSignal(ctx workflow.Context) (string, error) {
	actCtx, cancel := workflow.WithCancel(ctx)
	actCtx = workflow.WithActivityOptions(actCtx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		HeartbeatTimeout:    time.Second,
		WaitForCancellation: true,
		RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 1},
	})
	f := workflow.ExecuteActivity(actCtx, actHeartbeatUntilCancel)
	workflow.GetSignalChannel(ctx, signalCancelActivity).Receive(ctx, nil)
	cancel()
	err := f.Get(ctx, nil)
	if err == nil {
		return "", errors.New("activity completed although it was canceled")
	}
	if !temporal.IsCanceledError(err) {
		return "", fmt.Errorf("expected a canceled error from the activity, got: %w", err)
	}
	return "activity canceled", nil
}

// FailUntilAttempt fails (retryably) on every workflow attempt before
// succeedOn and then succeeds.
func FailUntilAttempt(ctx workflow.Context, succeedOn int32) (string, error) {
	attempt := workflow.GetInfo(ctx).Attempt
	if attempt < succeedOn {
		return "", temporal.NewApplicationError(fmt.Sprintf("run attempt %d failed", attempt), errTypeFailedRun)
	}
	return fmt.Sprintf("succeeded on attempt %d", attempt), nil
}

// FailureDetail is the details payload of FailWithDetails' error.
type FailureDetail struct {
	Code   int
	Reason string
}

// FailWithDetails fails with an application error of type MyType carrying
// details and wrapping a cause.
func FailWithDetails(ctx workflow.Context) (string, error) {
	cause := temporal.NewApplicationError("disk full", errTypeRootCause, "volume-7")
	return "", temporal.NewApplicationErrorWithCause("order rejected", errTypeMyType, cause,
		FailureDetail{Code: failureDetailCode, Reason: "quota exceeded"}, "second detail")
}

// ---------------------------------------------------------------------------
// Activities

// attemptRecord is one invocation of an activity.
type attemptRecord struct {
	Attempt int32
	At      time.Time
	Arg     string
}

// failureActivities implements the activities of this file; one instance per
// test so the recorded attempts belong to that test.
type failureActivities struct {
	mu       sync.Mutex
	attempts map[string][]attemptRecord // activity name -> invocations

	// started receives the activity name each time an activity begins.
	started chan string
	// cancelSeen receives the ctx error HeartbeatUntilCanceled observed.
	cancelSeen chan error
	// tokens receives the task token (and activity info) of CompleteLater.
	tokens chan asyncToken
}

type asyncToken struct {
	Token      []byte
	ActivityID string
	WorkflowID string
	RunID      string
}

func newFailureActivities() *failureActivities {
	return &failureActivities{
		attempts:   map[string][]attemptRecord{},
		started:    make(chan string, 64),
		cancelSeen: make(chan error, 4),
		tokens:     make(chan asyncToken, 4),
	}
}

func (a *failureActivities) record(ctx context.Context, name, arg string) int32 {
	attempt := activity.GetInfo(ctx).Attempt
	a.mu.Lock()
	a.attempts[name] = append(a.attempts[name], attemptRecord{Attempt: attempt, At: time.Now(), Arg: arg})
	a.mu.Unlock()
	select {
	case a.started <- name:
	default:
	}
	return attempt
}

// AttemptsFor returns the recorded invocations of the named activity with
// the given argument, in order.
func (a *failureActivities) AttemptsFor(name, arg string) []attemptRecord {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []attemptRecord
	for _, r := range a.attempts[name] {
		if r.Arg == arg {
			out = append(out, r)
		}
	}
	return out
}

// BlockUntilDone never finishes on its own: it returns when its context is
// done (deadline = the start-to-close / schedule-to-close bound, or worker
// shutdown), which makes the server time the attempt out.
func (a *failureActivities) BlockUntilDone(ctx context.Context, arg string) (string, error) {
	a.record(ctx, actBlockUntilDone, arg)
	<-ctx.Done()
	return "", ctx.Err()
}

// Flaky fails with a retryable application error until the attempt number
// given as arg, then succeeds.
func (a *failureActivities) Flaky(ctx context.Context, arg string) (string, error) {
	succeedOn, err := strconv.Atoi(arg)
	if err != nil {
		return "", temporal.NewNonRetryableApplicationError("bad arg "+arg, errTypeBadInput, err)
	}
	attempt := a.record(ctx, actFlaky, arg)
	if int(attempt) < succeedOn {
		return "", temporal.NewApplicationError(fmt.Sprintf("attempt %d failed", attempt), errTypeFlaky)
	}
	return fmt.Sprintf("succeeded on attempt %d", attempt), nil
}

// FailWith fails with the error selected by arg:
// "bad-input" -> a (retryable by itself) application error of type BadInput;
// "non-retryable" -> temporal.NewNonRetryableApplicationError of type Fatal.
func (a *failureActivities) FailWith(ctx context.Context, arg string) (string, error) {
	a.record(ctx, actFailWith, arg)
	switch arg {
	case "bad-input":
		return "", temporal.NewApplicationError("bad input", errTypeBadInput)
	case "non-retryable":
		return "", temporal.NewNonRetryableApplicationError("fatal failure", errTypeFatal, nil)
	}
	return "", fmt.Errorf("unknown FailWith arg %q", arg)
}

// HeartbeatOnce records one heartbeat with arg as details and then goes
// silent until its context is done.
func (a *failureActivities) HeartbeatOnce(ctx context.Context, arg string) (string, error) {
	a.record(ctx, actHeartbeatOnce, arg)
	activity.RecordHeartbeat(ctx, arg)
	<-ctx.Done()
	return "", ctx.Err()
}

// ResumeFromHeartbeat: attempt 1 heartbeats arg and goes silent (heartbeat
// timeout); later attempts return what they found in the heartbeat details.
func (a *failureActivities) ResumeFromHeartbeat(ctx context.Context, arg string) (string, error) {
	attempt := a.record(ctx, actResumeFromHeartbeat, arg)
	if attempt == 1 {
		activity.RecordHeartbeat(ctx, arg)
		<-ctx.Done()
		return "", ctx.Err()
	}
	if !activity.HasHeartbeatDetails(ctx) {
		return "", temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("attempt %d: no heartbeat details from the previous attempt", attempt), errTypeBadInput, nil)
	}
	var details string
	if err := activity.GetHeartbeatDetails(ctx, &details); err != nil {
		return "", temporal.NewNonRetryableApplicationError("decoding heartbeat details", errTypeBadInput, err)
	}
	return fmt.Sprintf("attempt %d resumed from %s", attempt, details), nil
}

// HeartbeatUntilCanceled heartbeats every 100ms until its context is done,
// reports what ended it on cancelSeen and returns the context error.
func (a *failureActivities) HeartbeatUntilCanceled(ctx context.Context) (string, error) {
	a.record(ctx, actHeartbeatUntilCancel, "")
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for i := 0; ; i++ {
		activity.RecordHeartbeat(ctx, i)
		select {
		case <-ctx.Done():
			select {
			case a.cancelSeen <- ctx.Err():
			default:
			}
			return "", ctx.Err()
		case <-tick.C:
		}
	}
}

// CompleteLater hands its task token to the test and returns
// activity.ErrResultPending; the test completes it from another client.
func (a *failureActivities) CompleteLater(ctx context.Context, arg string) (string, error) {
	a.record(ctx, actCompleteLater, arg)
	info := activity.GetInfo(ctx)
	a.tokens <- asyncToken{
		Token:      info.TaskToken,
		ActivityID: info.ActivityID,
		WorkflowID: info.WorkflowExecution.ID,
		RunID:      info.WorkflowExecution.RunID,
	}
	return "", activity.ErrResultPending
}

func registerFailureActivities(r worker.Registry, a *failureActivities) {
	r.RegisterActivityWithOptions(a.BlockUntilDone, activity.RegisterOptions{Name: actBlockUntilDone})
	r.RegisterActivityWithOptions(a.Flaky, activity.RegisterOptions{Name: actFlaky})
	r.RegisterActivityWithOptions(a.FailWith, activity.RegisterOptions{Name: actFailWith})
	r.RegisterActivityWithOptions(a.HeartbeatOnce, activity.RegisterOptions{Name: actHeartbeatOnce})
	r.RegisterActivityWithOptions(a.ResumeFromHeartbeat, activity.RegisterOptions{Name: actResumeFromHeartbeat})
	r.RegisterActivityWithOptions(a.HeartbeatUntilCanceled, activity.RegisterOptions{Name: actHeartbeatUntilCancel})
	r.RegisterActivityWithOptions(a.CompleteLater, activity.RegisterOptions{Name: actCompleteLater})
}

func registerFailureWorkflows(r worker.Registry) {
	for _, wf := range failureWorkflows {
		r.RegisterWorkflow(wf)
	}
}
