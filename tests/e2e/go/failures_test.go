package e2e

// Failure handling: activity timeouts of every kind, retries with backoff,
// non-retryable errors, heartbeats (timeouts, details carried across
// attempts, cancellation), asynchronous activity completion, workflow
// execution/run timeouts, workflow retry policies and failure details.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	failurepb "go.temporal.io/api/failure/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
)

const (
	evActTimedOut        = enumspb.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT
	evActCancelRequested = enumspb.EVENT_TYPE_ACTIVITY_TASK_CANCEL_REQUESTED
	evActCanceled        = enumspb.EVENT_TYPE_ACTIVITY_TASK_CANCELED
	evWfTimedOut         = enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT
	evWfCanceled         = enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED
	evWfCancelRequested  = enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED
)

// failureEnv is a server, a client and a worker running the failure
// workflows with a fresh set of activities.
type failureEnv struct {
	srv  *server
	c    client.Client
	tq   string
	acts *failureActivities
}

const failureWorkerIdentity = "failures-worker@e2e"

func newFailureEnv(t *testing.T) *failureEnv {
	t.Helper()
	srv := startServer(t, serverOptions{})
	env := &failureEnv{
		srv:  srv,
		c:    newClient(t, srv.Addr(), defaultNamespace),
		tq:   taskQueueFor(t),
		acts: newFailureActivities(),
	}
	startWorker(t, newClientWithIdentity(t, srv.Addr(), defaultNamespace, failureWorkerIdentity), env.tq,
		func(r worker.Registry) {
			registerFailureWorkflows(r)
			registerFailureActivities(r, env.acts)
		})
	return env
}

// callResult is the outcome of one CallActivity workflow.
type callResult struct {
	run     client.WorkflowRun
	result  string
	err     error
	events  []*historypb.HistoryEvent
	elapsed time.Duration
}

// callActivity runs CallActivity(in) to completion (bounded by timeout),
// checks and replays its history.
func (e *failureEnv) callActivity(t *testing.T, id string, in ActivityCall, timeout time.Duration) callResult {
	t.Helper()
	ctx := testCtx(t, timeout)
	begin := time.Now()
	run, err := e.c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: e.tq}, CallActivity, in)
	requireNoError(t, err, "starting CallActivity "+id)
	var res callResult
	res.run = run
	res.err = getResult(t, e.c, run, timeout, &res.result)
	res.elapsed = time.Since(begin)
	res.events = getHistory(t, e.c, run.GetID(), run.GetRunID())
	requireCleanHistory(t, res.events)
	replayHistory(t, res.events, failureWorkflows...)
	return res
}

// requireSingle returns the only event of type et, failing otherwise.
func requireSingle(t testing.TB, events []*historypb.HistoryEvent, et enumspb.EventType) *historypb.HistoryEvent {
	t.Helper()
	found := eventsOfType(events, et)
	if len(found) != 1 {
		t.Fatalf("%d %s events, want exactly 1; history:\n%s", len(found), et, formatHistory(events))
	}
	return found[0]
}

// eventGap is the time between two events' timestamps.
func eventGap(from, to *historypb.HistoryEvent) time.Duration {
	return to.GetEventTime().AsTime().Sub(from.GetEventTime().AsTime())
}

// activityTimeoutChain checks err is WorkflowExecutionError -> ActivityError
// -> TimeoutError of the given type and returns the two inner errors (nil
// when missing). Mismatches are reported without stopping the test, so the
// history checks that follow still run.
func activityTimeoutChain(t *testing.T, err error, activityType string, want enumspb.TimeoutType) (*temporal.ActivityError, *temporal.TimeoutError) {
	t.Helper()
	expectErrorAs[*temporal.WorkflowExecutionError](t, err, "workflow result")
	var actErr *temporal.ActivityError
	if expectErrorAs[*temporal.ActivityError](t, err, "workflow result") {
		errors.As(err, &actErr)
		if got := actErr.ActivityType().GetName(); got != activityType {
			t.Errorf("ActivityError: activity type = %q, want %q", got, activityType)
		}
	}
	var toErr *temporal.TimeoutError
	if expectErrorAs[*temporal.TimeoutError](t, err, "workflow result") {
		errors.As(err, &toErr)
		if toErr.TimeoutType() != want {
			t.Errorf("TimeoutError: timeout type = %v, want %v (error: %v)", toErr.TimeoutType(), want, err)
		}
	}
	return actErr, toErr
}

// requireTimedOutEvent checks the ActivityTaskTimedOut event of a history.
func requireTimedOutEvent(t *testing.T, events []*historypb.HistoryEvent, want enumspb.TimeoutType, wantRetry enumspb.RetryState) *historypb.ActivityTaskTimedOutEventAttributes {
	t.Helper()
	ev := requireSingle(t, events, evActTimedOut)
	a := ev.GetActivityTaskTimedOutEventAttributes()
	if got := a.GetFailure().GetTimeoutFailureInfo().GetTimeoutType(); got != want {
		t.Errorf("ActivityTaskTimedOut: failure timeout type = %v, want %v (failure: %v)", got, want, a.GetFailure())
	}
	if got := a.GetRetryState(); got != wantRetry {
		t.Errorf("ActivityTaskTimedOut: retry_state = %v, want %v", got, wantRetry)
	}
	sched := requireSingle(t, events, evActScheduled)
	if a.GetScheduledEventId() != sched.GetEventId() {
		t.Errorf("ActivityTaskTimedOut: scheduled_event_id = %d, want %d", a.GetScheduledEventId(), sched.GetEventId())
	}
	return a
}

// requireFailedWithActivityTimeout checks the WorkflowExecutionFailed event
// carries the activity failure caused by the timeout.
func requireFailedWithActivityTimeout(t *testing.T, events []*historypb.HistoryEvent, activityType string, want enumspb.TimeoutType) {
	t.Helper()
	last := lastEvent(events)
	if last.GetEventType() != evWfFailed {
		t.Fatalf("last event = %v, want WorkflowExecutionFailed\n%s", last.GetEventType(), formatHistory(events))
	}
	f := last.GetWorkflowExecutionFailedEventAttributes().GetFailure()
	if f.GetActivityFailureInfo().GetActivityType().GetName() != activityType ||
		f.GetCause().GetTimeoutFailureInfo().GetTimeoutType() != want {
		t.Errorf("WorkflowExecutionFailed failure = %v, want an activity failure of %s caused by a %v timeout", f, activityType, want)
	}
}

func TestActivityTimeouts(t *testing.T) {
	t.Parallel()
	env := newFailureEnv(t)

	t.Run("start-to-close", func(t *testing.T) {
		t.Parallel()
		const timeout = time.Second
		res := env.callActivity(t, "timeout-start-to-close", ActivityCall{
			Activity:     actBlockUntilDone,
			Arg:          "start-to-close",
			StartToClose: timeout,
			RetryPolicy:  &temporal.RetryPolicy{MaximumAttempts: 1},
		}, 30*time.Second)
		actErr, _ := activityTimeoutChain(t, res.err, actBlockUntilDone, enumspb.TIMEOUT_TYPE_START_TO_CLOSE)
		if actErr != nil && actErr.RetryState() != enumspb.RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED {
			t.Errorf("ActivityError: retry state = %v, want MAXIMUM_ATTEMPTS_REACHED", actErr.RetryState())
		}
		requireEventTypes(t, res.events,
			evWfStarted,
			evWftScheduled, evWftStarted, evWftCompleted,
			evActScheduled, evActStarted, evActTimedOut,
			evWftScheduled, evWftStarted, evWftCompleted,
			evWfFailed,
		)
		a := requireTimedOutEvent(t, res.events, enumspb.TIMEOUT_TYPE_START_TO_CLOSE, enumspb.RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED)
		started := requireSingle(t, res.events, evActStarted)
		if a.GetStartedEventId() != started.GetEventId() {
			t.Errorf("ActivityTaskTimedOut: started_event_id = %d, want %d", a.GetStartedEventId(), started.GetEventId())
		}
		if got := started.GetActivityTaskStartedEventAttributes().GetAttempt(); got != 1 {
			t.Errorf("ActivityTaskStarted: attempt = %d, want 1", got)
		}
		timedOut := requireSingle(t, res.events, evActTimedOut)
		if gap := eventGap(requireSingle(t, res.events, evActScheduled), timedOut); gap < timeout*9/10 || gap > timeout+8*time.Second {
			t.Errorf("activity timed out %v after it was scheduled, want about %v", gap, timeout)
		}
		if n := len(env.acts.AttemptsFor(actBlockUntilDone, "start-to-close")); n != 1 {
			t.Errorf("activity ran %d times, want 1", n)
		}
		requireFailedWithActivityTimeout(t, res.events, actBlockUntilDone, enumspb.TIMEOUT_TYPE_START_TO_CLOSE)
	})

	t.Run("schedule-to-start", func(t *testing.T) {
		t.Parallel()
		const timeout = time.Second
		res := env.callActivity(t, "timeout-schedule-to-start", ActivityCall{
			Activity:        actBlockUntilDone,
			Arg:             "schedule-to-start",
			TaskQueue:       env.tq + "-nobody-polls-this",
			ScheduleToStart: timeout,
			StartToClose:    5 * time.Second,
		}, 30*time.Second)
		actErr, _ := activityTimeoutChain(t, res.err, actBlockUntilDone, enumspb.TIMEOUT_TYPE_SCHEDULE_TO_START)
		if actErr != nil && actErr.RetryState() != enumspb.RETRY_STATE_TIMEOUT {
			t.Errorf("ActivityError: retry state = %v, want TIMEOUT", actErr.RetryState())
		}
		// Never started: no ActivityTaskStarted event.
		requireEventTypes(t, res.events,
			evWfStarted,
			evWftScheduled, evWftStarted, evWftCompleted,
			evActScheduled, evActTimedOut,
			evWftScheduled, evWftStarted, evWftCompleted,
			evWfFailed,
		)
		// Schedule-to-start timeouts are never retried; Temporal reports TIMEOUT.
		a := requireTimedOutEvent(t, res.events, enumspb.TIMEOUT_TYPE_SCHEDULE_TO_START, enumspb.RETRY_STATE_TIMEOUT)
		if a.GetStartedEventId() != 0 {
			t.Errorf("ActivityTaskTimedOut: started_event_id = %d, want 0 (never started)", a.GetStartedEventId())
		}
		sched := requireSingle(t, res.events, evActScheduled)
		if got := sched.GetActivityTaskScheduledEventAttributes().GetTaskQueue().GetName(); got != env.tq+"-nobody-polls-this" {
			t.Errorf("ActivityTaskScheduled: task queue = %q", got)
		}
		if got := sched.GetActivityTaskScheduledEventAttributes().GetScheduleToStartTimeout().AsDuration(); got != timeout {
			t.Errorf("ActivityTaskScheduled: schedule_to_start_timeout = %v, want %v", got, timeout)
		}
		if gap := eventGap(sched, requireSingle(t, res.events, evActTimedOut)); gap < timeout*9/10 || gap > timeout+8*time.Second {
			t.Errorf("activity timed out %v after it was scheduled, want about %v", gap, timeout)
		}
		if n := len(env.acts.AttemptsFor(actBlockUntilDone, "schedule-to-start")); n != 0 {
			t.Errorf("activity ran %d times, want 0", n)
		}
		requireFailedWithActivityTimeout(t, res.events, actBlockUntilDone, enumspb.TIMEOUT_TYPE_SCHEDULE_TO_START)
	})

	t.Run("schedule-to-close", func(t *testing.T) {
		t.Parallel()
		// Every attempt fails at once (retryably) and is retried every 200ms
		// until a retry no longer fits in the 2s schedule-to-close bound. The
		// server then gives up with a SCHEDULE_TO_CLOSE timeout whose cause is
		// the last attempt's failure; no ActivityTaskStarted is written.
		const bound = 2 * time.Second
		res := env.callActivity(t, "timeout-schedule-to-close", ActivityCall{
			Activity:        actFlaky,
			Arg:             "1000",
			StartToClose:    time.Second,
			ScheduleToClose: bound,
			RetryPolicy:     &temporal.RetryPolicy{InitialInterval: 200 * time.Millisecond, BackoffCoefficient: 1},
		}, 30*time.Second)
		actErr, toErr := activityTimeoutChain(t, res.err, actFlaky, enumspb.TIMEOUT_TYPE_SCHEDULE_TO_CLOSE)
		if actErr != nil && actErr.RetryState() != enumspb.RETRY_STATE_TIMEOUT {
			t.Errorf("ActivityError: retry state = %v, want TIMEOUT", actErr.RetryState())
		}
		attempts := env.acts.AttemptsFor(actFlaky, "1000")
		if len(attempts) < 2 {
			t.Errorf("activity ran %d times, want >= 2 (retried until the schedule-to-close bound)", len(attempts))
		}
		for i, at := range attempts {
			if at.Attempt != int32(i+1) {
				t.Errorf("invocation %d saw attempt %d, want %d", i+1, at.Attempt, i+1)
			}
		}
		lastMsg := fmt.Sprintf("attempt %d failed", len(attempts))
		var causeErr *temporal.ApplicationError
		if toErr == nil {
			// already reported
		} else if !errors.As(toErr.Unwrap(), &causeErr) || causeErr.Message() != lastMsg || causeErr.Type() != errTypeFlaky {
			t.Errorf("TimeoutError cause = %s, want the last attempt's %s error %q", describeErr(toErr.Unwrap()), errTypeFlaky, lastMsg)
		}
		requireEventTypes(t, res.events,
			evWfStarted,
			evWftScheduled, evWftStarted, evWftCompleted,
			evActScheduled, evActTimedOut,
			evWftScheduled, evWftStarted, evWftCompleted,
			evWfFailed,
		)
		a := requireTimedOutEvent(t, res.events, enumspb.TIMEOUT_TYPE_SCHEDULE_TO_CLOSE, enumspb.RETRY_STATE_TIMEOUT)
		if a.GetStartedEventId() != 0 {
			t.Errorf("ActivityTaskTimedOut: started_event_id = %d, want 0", a.GetStartedEventId())
		}
		if c := a.GetFailure().GetCause(); c.GetMessage() != lastMsg || c.GetApplicationFailureInfo().GetType() != errTypeFlaky {
			t.Errorf("ActivityTaskTimedOut: failure cause = %v, want the last attempt's failure %q", c, lastMsg)
		}
		sched := requireSingle(t, res.events, evActScheduled)
		if got := sched.GetActivityTaskScheduledEventAttributes().GetScheduleToCloseTimeout().AsDuration(); got != bound {
			t.Errorf("ActivityTaskScheduled: schedule_to_close_timeout = %v, want %v", got, bound)
		}
		if gap := eventGap(sched, requireSingle(t, res.events, evActTimedOut)); gap > bound+8*time.Second {
			t.Errorf("activity timed out %v after it was scheduled, want about %v", gap, bound)
		}
		if span := attempts[len(attempts)-1].At.Sub(attempts[0].At); len(attempts) >= 2 && span > bound {
			t.Errorf("attempts spanned %v, more than the %v schedule-to-close bound", span, bound)
		}
		requireFailedWithActivityTimeout(t, res.events, actFlaky, enumspb.TIMEOUT_TYPE_SCHEDULE_TO_CLOSE)
	})

	t.Run("heartbeat", func(t *testing.T) {
		t.Parallel()
		const timeout = time.Second
		res := env.callActivity(t, "timeout-heartbeat", ActivityCall{
			Activity:     actHeartbeatOnce,
			Arg:          "progress-1",
			StartToClose: 20 * time.Second,
			Heartbeat:    timeout,
			RetryPolicy:  &temporal.RetryPolicy{MaximumAttempts: 1},
		}, 30*time.Second)
		_, toErr := activityTimeoutChain(t, res.err, actHeartbeatOnce, enumspb.TIMEOUT_TYPE_HEARTBEAT)
		if toErr == nil {
			// already reported
		} else if !toErr.HasLastHeartbeatDetails() {
			t.Errorf("TimeoutError has no last heartbeat details")
		} else {
			var details string
			if err := toErr.LastHeartbeatDetails(&details); err != nil || details != "progress-1" {
				t.Errorf("TimeoutError.LastHeartbeatDetails = %q (%v), want progress-1", details, err)
			}
		}
		requireEventTypes(t, res.events,
			evWfStarted,
			evWftScheduled, evWftStarted, evWftCompleted,
			evActScheduled, evActStarted, evActTimedOut,
			evWftScheduled, evWftStarted, evWftCompleted,
			evWfFailed,
		)
		a := requireTimedOutEvent(t, res.events, enumspb.TIMEOUT_TYPE_HEARTBEAT, enumspb.RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED)
		if got := a.GetFailure().GetTimeoutFailureInfo().GetLastHeartbeatDetails(); got == nil {
			t.Errorf("ActivityTaskTimedOut: no last_heartbeat_details in %v", a.GetFailure())
		} else if s := decodeString(t, got); s != "progress-1" {
			t.Errorf("ActivityTaskTimedOut: last_heartbeat_details = %q, want progress-1", s)
		}
		sched := requireSingle(t, res.events, evActScheduled)
		if got := sched.GetActivityTaskScheduledEventAttributes().GetHeartbeatTimeout().AsDuration(); got != timeout {
			t.Errorf("ActivityTaskScheduled: heartbeat_timeout = %v, want %v", got, timeout)
		}
		// Well before the 20s start-to-close timeout.
		if gap := eventGap(sched, requireSingle(t, res.events, evActTimedOut)); gap < timeout*9/10 || gap > 10*time.Second {
			t.Errorf("activity timed out %v after it was scheduled, want about %v", gap, timeout)
		}
		requireFailedWithActivityTimeout(t, res.events, actHeartbeatOnce, enumspb.TIMEOUT_TYPE_HEARTBEAT)
	})
}

// TestActivityRetryBackoff: the activity fails on attempts 1-3 and succeeds
// on attempt 4. The backoff starts at 1s and grows by 1.5x: real Temporal
// dispatches activity retries with a granularity of about one second (with
// InitialInterval 200ms / coefficient 2 every gap measured ~1.0s), so shorter
// intervals cannot show the growth.
func TestActivityRetryBackoff(t *testing.T) {
	t.Parallel()
	env := newFailureEnv(t)
	policy := &temporal.RetryPolicy{
		InitialInterval:    time.Second,
		BackoffCoefficient: 1.5,
		MaximumInterval:    10 * time.Second,
		MaximumAttempts:    10,
	}
	res := env.callActivity(t, "retry-backoff", ActivityCall{
		Activity:     actFlaky,
		Arg:          "4",
		StartToClose: 5 * time.Second,
		RetryPolicy:  policy,
	}, 30*time.Second)
	requireNoError(t, res.err, "CallActivity(Flaky) result")
	if res.result != "succeeded on attempt 4" {
		t.Errorf("result = %q, want %q", res.result, "succeeded on attempt 4")
	}

	attempts := env.acts.AttemptsFor(actFlaky, "4")
	var got []int32
	for _, a := range attempts {
		got = append(got, a.Attempt)
	}
	if !slices.Equal(got, []int32{1, 2, 3, 4}) {
		t.Fatalf("activity saw attempts %v, want [1 2 3 4]", got)
	}
	expected := []time.Duration{time.Second, 1500 * time.Millisecond, 2250 * time.Millisecond}
	var gaps []time.Duration
	for i := 1; i < len(attempts); i++ {
		gaps = append(gaps, attempts[i].At.Sub(attempts[i-1].At))
	}
	t.Logf("gaps between attempts: %v (expected backoffs %v)", gaps, expected)
	for i, gap := range gaps {
		if gap < expected[i]*8/10 {
			t.Errorf("gap before attempt %d = %v, want >= 0.8 x %v", i+2, gap, expected[i])
		}
		if gap > expected[i]+5*time.Second {
			t.Errorf("gap before attempt %d = %v, far more than the %v backoff", i+2, gap, expected[i])
		}
	}
	for i := 1; i < len(gaps); i++ {
		if gaps[i] <= gaps[i-1] {
			t.Errorf("backoff does not grow: gaps %v", gaps)
			break
		}
	}

	requireEventTypes(t, res.events,
		evWfStarted,
		evWftScheduled, evWftStarted, evWftCompleted,
		evActScheduled, evActStarted, evActCompleted,
		evWftScheduled, evWftStarted, evWftCompleted,
		evWfCompleted,
	)
	sched := res.events[4].GetActivityTaskScheduledEventAttributes()
	rp := sched.GetRetryPolicy()
	if rp.GetInitialInterval().AsDuration() != policy.InitialInterval || rp.GetBackoffCoefficient() != policy.BackoffCoefficient ||
		rp.GetMaximumAttempts() != policy.MaximumAttempts || rp.GetMaximumInterval().AsDuration() != policy.MaximumInterval {
		t.Errorf("ActivityTaskScheduled: retry_policy = %v, want %+v", rp, policy)
	}
	started := res.events[5].GetActivityTaskStartedEventAttributes()
	if started.GetAttempt() != 4 {
		t.Errorf("ActivityTaskStarted: attempt = %d, want 4", started.GetAttempt())
	}
	if started.GetIdentity() != failureWorkerIdentity {
		t.Errorf("ActivityTaskStarted: identity = %q, want %q", started.GetIdentity(), failureWorkerIdentity)
	}
	lf := started.GetLastFailure()
	if lf == nil {
		t.Errorf("ActivityTaskStarted: last_failure not set")
	} else if lf.GetMessage() != "attempt 3 failed" || lf.GetApplicationFailureInfo().GetType() != errTypeFlaky {
		t.Errorf("ActivityTaskStarted: last_failure = %v, want the attempt-3 %s failure", lf, errTypeFlaky)
	}
	done := res.events[6].GetActivityTaskCompletedEventAttributes()
	if got := decodeString(t, done.GetResult()); got != "succeeded on attempt 4" {
		t.Errorf("ActivityTaskCompleted: result = %q", got)
	}
}

func TestActivityNonRetryable(t *testing.T) {
	t.Parallel()
	env := newFailureEnv(t)
	// A retry policy that would retry quickly and forever.
	retryForever := func() *temporal.RetryPolicy {
		return &temporal.RetryPolicy{InitialInterval: 100 * time.Millisecond, BackoffCoefficient: 1}
	}
	check := func(t *testing.T, id, arg, errType, message string, policy *temporal.RetryPolicy, wantNonRetryableFlag bool) {
		res := env.callActivity(t, id, ActivityCall{
			Activity:     actFailWith,
			Arg:          arg,
			StartToClose: 5 * time.Second,
			RetryPolicy:  policy,
		}, 30*time.Second)
		requireErrorAs[*temporal.WorkflowExecutionError](t, res.err, "workflow result")
		actErr := requireErrorAs[*temporal.ActivityError](t, res.err, "workflow result")
		if actErr.RetryState() != enumspb.RETRY_STATE_NON_RETRYABLE_FAILURE {
			t.Errorf("ActivityError: retry state = %v, want NON_RETRYABLE_FAILURE", actErr.RetryState())
		}
		appErr := requireErrorAs[*temporal.ApplicationError](t, res.err, "workflow result")
		if appErr.Type() != errType || appErr.Message() != message || appErr.NonRetryable() != wantNonRetryableFlag {
			t.Errorf("ApplicationError: type=%q message=%q non_retryable=%v, want %q/%q/%v",
				appErr.Type(), appErr.Message(), appErr.NonRetryable(), errType, message, wantNonRetryableFlag)
		}
		if n := len(env.acts.AttemptsFor(actFailWith, arg)); n != 1 {
			t.Errorf("activity ran %d times, want exactly 1", n)
		}
		requireEventTypes(t, res.events,
			evWfStarted,
			evWftScheduled, evWftStarted, evWftCompleted,
			evActScheduled, evActStarted, evActFailed,
			evWftScheduled, evWftStarted, evWftCompleted,
			evWfFailed,
		)
		if got := res.events[5].GetActivityTaskStartedEventAttributes().GetAttempt(); got != 1 {
			t.Errorf("ActivityTaskStarted: attempt = %d, want 1", got)
		}
		fa := res.events[6].GetActivityTaskFailedEventAttributes()
		if fa.GetRetryState() != enumspb.RETRY_STATE_NON_RETRYABLE_FAILURE {
			t.Errorf("ActivityTaskFailed: retry_state = %v, want NON_RETRYABLE_FAILURE", fa.GetRetryState())
		}
		if fa.GetScheduledEventId() != 5 || fa.GetStartedEventId() != 6 {
			t.Errorf("ActivityTaskFailed: scheduled/started = %d/%d, want 5/6", fa.GetScheduledEventId(), fa.GetStartedEventId())
		}
		if fa.GetIdentity() != failureWorkerIdentity {
			t.Errorf("ActivityTaskFailed: identity = %q, want %q", fa.GetIdentity(), failureWorkerIdentity)
		}
		f := fa.GetFailure()
		if f.GetMessage() != message || f.GetApplicationFailureInfo().GetType() != errType ||
			f.GetApplicationFailureInfo().GetNonRetryable() != wantNonRetryableFlag {
			t.Errorf("ActivityTaskFailed: failure = %v, want message %q type %q non_retryable=%v", f, message, errType, wantNonRetryableFlag)
		}
		wf := lastEvent(res.events).GetWorkflowExecutionFailedEventAttributes().GetFailure()
		if wf.GetActivityFailureInfo().GetRetryState() != enumspb.RETRY_STATE_NON_RETRYABLE_FAILURE ||
			wf.GetCause().GetApplicationFailureInfo().GetType() != errType {
			t.Errorf("WorkflowExecutionFailed: failure = %v, want an activity failure (NON_RETRYABLE_FAILURE) caused by %s", wf, errType)
		}
	}

	t.Run("RetryPolicy.NonRetryableErrorTypes", func(t *testing.T) {
		t.Parallel()
		policy := retryForever()
		policy.NonRetryableErrorTypes = []string{"SomethingElse", errTypeBadInput}
		check(t, "non-retryable-by-policy", "bad-input", errTypeBadInput, "bad input", policy, false)
	})
	t.Run("NewNonRetryableApplicationError", func(t *testing.T) {
		t.Parallel()
		check(t, "non-retryable-error", "non-retryable", errTypeFatal, "fatal failure", retryForever(), true)
	})
}

func TestActivityHeartbeatDetailsCarriedOver(t *testing.T) {
	t.Parallel()
	env := newFailureEnv(t)
	res := env.callActivity(t, "heartbeat-details-carried", ActivityCall{
		Activity:     actResumeFromHeartbeat,
		Arg:          "checkpoint-7",
		StartToClose: 20 * time.Second,
		Heartbeat:    time.Second,
		RetryPolicy:  &temporal.RetryPolicy{InitialInterval: 100 * time.Millisecond, MaximumAttempts: 2},
	}, 30*time.Second)
	requireNoError(t, res.err, "CallActivity(ResumeFromHeartbeat) result")
	if want := "attempt 2 resumed from checkpoint-7"; res.result != want {
		t.Errorf("result = %q, want %q", res.result, want)
	}
	if n := len(env.acts.AttemptsFor(actResumeFromHeartbeat, "checkpoint-7")); n != 2 {
		t.Errorf("activity ran %d times, want 2", n)
	}
	requireEventTypes(t, res.events,
		evWfStarted,
		evWftScheduled, evWftStarted, evWftCompleted,
		evActScheduled, evActStarted, evActCompleted,
		evWftScheduled, evWftStarted, evWftCompleted,
		evWfCompleted,
	)
	started := res.events[5].GetActivityTaskStartedEventAttributes()
	if started.GetAttempt() != 2 {
		t.Errorf("ActivityTaskStarted: attempt = %d, want 2", started.GetAttempt())
	}
	if tf := started.GetLastFailure().GetTimeoutFailureInfo(); tf.GetTimeoutType() != enumspb.TIMEOUT_TYPE_HEARTBEAT {
		t.Errorf("ActivityTaskStarted: last_failure = %v, want a HEARTBEAT timeout", started.GetLastFailure())
	}
}

func TestActivityCancellationViaHeartbeat(t *testing.T) {
	t.Parallel()
	env := newFailureEnv(t)
	ctx := testCtx(t, 30*time.Second)
	run, err := env.c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "cancel-activity", TaskQueue: env.tq}, CancelActivityOnSignal)
	requireNoError(t, err, "starting CancelActivityOnSignal")
	select {
	case name := <-env.acts.started:
		if name != actHeartbeatUntilCancel {
			t.Fatalf("unexpected activity %q started", name)
		}
	case <-ctx.Done():
		t.Fatalf("activity did not start; history:\n%s", formatHistory(getHistory(t, env.c, run.GetID(), run.GetRunID())))
	}
	requireNoError(t, env.c.SignalWorkflow(ctx, run.GetID(), run.GetRunID(), signalCancelActivity, nil), "signaling cancel-activity")

	select {
	case seen := <-env.acts.cancelSeen:
		if !errors.Is(seen, context.Canceled) {
			t.Errorf("activity context ended with %v, want context.Canceled", seen)
		}
	case <-ctx.Done():
		t.Fatalf("activity never saw the cancellation; history:\n%s", formatHistory(getHistory(t, env.c, run.GetID(), run.GetRunID())))
	}
	var res string
	requireNoError(t, getResult(t, env.c, run, 20*time.Second, &res), "CancelActivityOnSignal result")
	if res != "activity canceled" {
		t.Errorf("result = %q, want %q", res, "activity canceled")
	}

	events := getHistory(t, env.c, run.GetID(), run.GetRunID())
	requireCleanHistory(t, events)
	replayHistory(t, events, failureWorkflows...)
	sched := requireSingle(t, events, evActScheduled)
	signaled := requireSingle(t, events, evSignaled)
	cancelReq := requireSingle(t, events, evActCancelRequested)
	started := requireSingle(t, events, evActStarted)
	canceled := requireSingle(t, events, evActCanceled)
	if !(sched.GetEventId() < signaled.GetEventId() && signaled.GetEventId() < cancelReq.GetEventId() &&
		cancelReq.GetEventId() < canceled.GetEventId() && started.GetEventId() < canceled.GetEventId()) {
		t.Errorf("unexpected order of activity events:\n%s", formatHistory(events))
	}
	if got := cancelReq.GetActivityTaskCancelRequestedEventAttributes().GetScheduledEventId(); got != sched.GetEventId() {
		t.Errorf("ActivityTaskCancelRequested: scheduled_event_id = %d, want %d", got, sched.GetEventId())
	}
	ca := canceled.GetActivityTaskCanceledEventAttributes()
	if ca.GetScheduledEventId() != sched.GetEventId() || ca.GetStartedEventId() != started.GetEventId() ||
		ca.GetLatestCancelRequestedEventId() != cancelReq.GetEventId() {
		t.Errorf("ActivityTaskCanceled: scheduled/started/latest_cancel_requested = %d/%d/%d, want %d/%d/%d",
			ca.GetScheduledEventId(), ca.GetStartedEventId(), ca.GetLatestCancelRequestedEventId(),
			sched.GetEventId(), started.GetEventId(), cancelReq.GetEventId())
	}
	if ca.GetIdentity() != failureWorkerIdentity {
		t.Errorf("ActivityTaskCanceled: identity = %q, want %q", ca.GetIdentity(), failureWorkerIdentity)
	}
	if n := countEvents(events, evActCompleted) + countEvents(events, evActFailed) + countEvents(events, evActTimedOut); n != 0 {
		t.Errorf("%d other activity close events, want 0\n%s", n, formatHistory(events))
	}
	if last := lastEvent(events); last.GetEventType() != evWfCompleted {
		t.Errorf("last event = %v, want WorkflowExecutionCompleted", last.GetEventType())
	}
}

// asyncCompletion starts CallActivity(CompleteLater) and returns its run and
// the task token the activity handed out.
func (e *failureEnv) startAsync(t *testing.T, ctx context.Context, id, activityID string) (client.WorkflowRun, asyncToken) {
	t.Helper()
	run, err := e.c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: e.tq}, CallActivity, ActivityCall{
		Activity:     actCompleteLater,
		Arg:          id,
		ActivityID:   activityID,
		StartToClose: 2 * time.Minute,
		RetryPolicy:  &temporal.RetryPolicy{MaximumAttempts: 1},
	})
	requireNoError(t, err, "starting CallActivity(CompleteLater)")
	select {
	case tok := <-e.acts.tokens:
		if tok.WorkflowID != id || len(tok.Token) == 0 {
			t.Fatalf("unexpected token %+v for workflow %s", tok, id)
		}
		return run, tok
	case <-ctx.Done():
		t.Fatalf("CompleteLater did not start; history:\n%s", formatHistory(getHistory(t, e.c, run.GetID(), run.GetRunID())))
	}
	return nil, asyncToken{}
}

// checkAsyncHistory checks a run whose activity was completed asynchronously
// by completerIdentity with the given result.
func checkAsyncHistory(t *testing.T, c client.Client, run client.WorkflowRun, want, completerIdentity string) {
	t.Helper()
	var res string
	requireNoError(t, getResult(t, c, run, 20*time.Second, &res), "CallActivity(CompleteLater) result")
	if res != want {
		t.Errorf("result = %q, want %q", res, want)
	}
	events := getHistory(t, c, run.GetID(), run.GetRunID())
	requireCleanHistory(t, events)
	requireEventTypes(t, events,
		evWfStarted,
		evWftScheduled, evWftStarted, evWftCompleted,
		evActScheduled, evActStarted, evActCompleted,
		evWftScheduled, evWftStarted, evWftCompleted,
		evWfCompleted,
	)
	if got := events[5].GetActivityTaskStartedEventAttributes().GetIdentity(); got != failureWorkerIdentity {
		t.Errorf("ActivityTaskStarted: identity = %q, want the worker's %q", got, failureWorkerIdentity)
	}
	done := events[6].GetActivityTaskCompletedEventAttributes()
	if got := decodeString(t, done.GetResult()); got != want {
		t.Errorf("ActivityTaskCompleted: result = %q, want %q", got, want)
	}
	if done.GetIdentity() != completerIdentity {
		t.Errorf("ActivityTaskCompleted: identity = %q, want the completing client's %q", done.GetIdentity(), completerIdentity)
	}
	replayHistory(t, events, failureWorkflows...)
}

func TestAsyncActivityCompletion(t *testing.T) {
	t.Parallel()
	env := newFailureEnv(t)
	const completer = "completer@e2e"
	other := newClientWithIdentity(t, env.srv.Addr(), defaultNamespace, completer)

	// Sequential: both use the same token channel.
	t.Run("by task token", func(t *testing.T) {
		ctx := testCtx(t, 30*time.Second)
		run, tok := env.startAsync(t, ctx, "async-by-token", "")
		requireNoError(t, other.CompleteActivity(ctx, tok.Token, "completed by token", nil), "CompleteActivity")
		checkAsyncHistory(t, env.c, run, "completed by token", completer)
		// The token is spent.
		err := other.CompleteActivity(ctx, tok.Token, "again", nil)
		if err == nil {
			t.Errorf("completing an already completed activity by token succeeded")
		} else {
			t.Logf("second CompleteActivity: %s", describeErr(err))
		}
	})
	t.Run("by activity id", func(t *testing.T) {
		ctx := testCtx(t, 30*time.Second)
		run, tok := env.startAsync(t, ctx, "async-by-id", "approval-42")
		if tok.ActivityID != "approval-42" {
			t.Errorf("activity id = %q, want approval-42", tok.ActivityID)
		}
		requireNoError(t, other.CompleteActivityByID(ctx, defaultNamespace, run.GetID(), run.GetRunID(), "approval-42", "completed by id", nil),
			"CompleteActivityByID")
		checkAsyncHistory(t, env.c, run, "completed by id", completer)
	})
}

func TestAsyncActivityCompletionAcrossServerRestart(t *testing.T) {
	t.Parallel()
	env := newFailureEnv(t)
	ctx := testCtx(t, 60*time.Second)
	run, tok := env.startAsync(t, ctx, "async-across-restart", "")

	env.srv.Kill9()
	env.srv.Restart(t)

	const completer = "completer-after-restart@e2e"
	other := newClientWithIdentity(t, env.srv.Addr(), defaultNamespace, completer)
	requireNoError(t, other.CompleteActivity(ctx, tok.Token, "completed after restart", nil), "CompleteActivity after server restart")
	checkAsyncHistory(t, env.c, run, "completed after restart", completer)
}

func TestWorkflowTimeouts(t *testing.T) {
	t.Parallel()
	env := newFailureEnv(t)
	const timeout = 2 * time.Second
	const sleep = 10 * time.Second

	check := func(t *testing.T, id string, opts client.StartWorkflowOptions, wantExec, wantRun time.Duration, wantRetryState enumspb.RetryState) {
		ctx := testCtx(t, 30*time.Second)
		opts.ID, opts.TaskQueue = id, env.tq
		run, err := env.c.ExecuteWorkflow(ctx, opts, SleepThenReturn, sleep)
		requireNoError(t, err, "starting SleepThenReturn")
		err = getResult(t, env.c, run, 20*time.Second, nil)
		requireErrorAs[*temporal.WorkflowExecutionError](t, err, "workflow result")
		toErr := requireErrorAs[*temporal.TimeoutError](t, err, "workflow result")
		if toErr.TimeoutType() != enumspb.TIMEOUT_TYPE_START_TO_CLOSE {
			t.Errorf("TimeoutError: timeout type = %v, want START_TO_CLOSE (the Go SDK's type for workflow timeouts)", toErr.TimeoutType())
		}

		events := getHistory(t, env.c, id, run.GetRunID())
		requireCleanHistory(t, events)
		requireEventTypes(t, events,
			evWfStarted,
			evWftScheduled, evWftStarted, evWftCompleted,
			evTimerStarted,
			evWfTimedOut,
		)
		started := events[0].GetWorkflowExecutionStartedEventAttributes()
		if got := started.GetWorkflowExecutionTimeout().AsDuration(); got != wantExec {
			t.Errorf("WorkflowExecutionStarted: workflow_execution_timeout = %v, want %v", got, wantExec)
		}
		if got := started.GetWorkflowRunTimeout().AsDuration(); got != wantRun {
			t.Errorf("WorkflowExecutionStarted: workflow_run_timeout = %v, want %v", got, wantRun)
		}
		timedOut := lastEvent(events)
		if got := timedOut.GetWorkflowExecutionTimedOutEventAttributes().GetRetryState(); got != wantRetryState {
			t.Errorf("WorkflowExecutionTimedOut: retry_state = %v, want %v", got, wantRetryState)
		}
		if got := timedOut.GetWorkflowExecutionTimedOutEventAttributes().GetNewExecutionRunId(); got != "" {
			t.Errorf("WorkflowExecutionTimedOut: new_execution_run_id = %q, want none", got)
		}
		if gap := eventGap(events[0], timedOut); gap < timeout*9/10 || gap >= sleep {
			t.Errorf("timed out %v after start, want about %v", gap, timeout)
		}
		desc, err := env.c.DescribeWorkflowExecution(ctx, id, run.GetRunID())
		requireNoError(t, err, "DescribeWorkflowExecution")
		if st := desc.GetWorkflowExecutionInfo().GetStatus(); st != enumspb.WORKFLOW_EXECUTION_STATUS_TIMED_OUT {
			t.Errorf("status = %v, want TIMED_OUT", st)
		}
		if desc.GetWorkflowExecutionInfo().GetCloseTime() == nil {
			t.Errorf("describe: close_time not set")
		}
		replayHistory(t, events, failureWorkflows...)
	}

	t.Run("execution timeout", func(t *testing.T) {
		t.Parallel()
		// Without a run timeout the run timeout defaults to the execution timeout.
		check(t, "wf-execution-timeout", client.StartWorkflowOptions{WorkflowExecutionTimeout: timeout}, timeout, timeout,
			enumspb.RETRY_STATE_TIMEOUT)
	})
	t.Run("run timeout", func(t *testing.T) {
		t.Parallel()
		check(t, "wf-run-timeout", client.StartWorkflowOptions{WorkflowRunTimeout: timeout}, 0, timeout,
			enumspb.RETRY_STATE_RETRY_POLICY_NOT_SET)
	})
}

func TestWorkflowRetryPolicy(t *testing.T) {
	t.Parallel()
	env := newFailureEnv(t)
	ctx := testCtx(t, 45*time.Second)
	const id = "wf-retry"
	const interval = time.Second
	run, err := env.c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:        id,
		TaskQueue: env.tq,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    interval,
			BackoffCoefficient: 1,
			MaximumAttempts:    5,
		},
	}, FailUntilAttempt, int32(3))
	requireNoError(t, err, "starting FailUntilAttempt")
	firstRunID := run.GetRunID() // run.Get follows the chain and moves the handle to the last run
	var res string
	requireNoError(t, getResult(t, env.c, run, 30*time.Second, &res), "FailUntilAttempt result (following the retried runs)")
	if res != "succeeded on attempt 3" {
		t.Errorf("result = %q, want %q", res, "succeeded on attempt 3")
	}

	// Follow the chain of runs through new_execution_run_id.
	runIDs := []string{firstRunID}
	var histories [][]*historypb.HistoryEvent
	for i := 0; ; i++ {
		events := getHistory(t, env.c, id, runIDs[i])
		requireCleanHistory(t, events)
		replayHistory(t, events, failureWorkflows...)
		histories = append(histories, events)
		started := events[0].GetWorkflowExecutionStartedEventAttributes()
		if got := started.GetAttempt(); got != int32(i+1) {
			t.Errorf("run %d: WorkflowExecutionStarted attempt = %d, want %d", i+1, got, i+1)
		}
		if got := started.GetFirstExecutionRunId(); got != runIDs[0] {
			t.Errorf("run %d: first_execution_run_id = %q, want %q", i+1, got, runIDs[0])
		}
		last := lastEvent(events)
		if i == 2 {
			if last.GetEventType() != evWfCompleted {
				t.Fatalf("run 3: last event %v, want WorkflowExecutionCompleted\n%s", last.GetEventType(), formatHistory(events))
			}
			break
		}
		if last.GetEventType() != evWfFailed {
			t.Fatalf("run %d: last event %v, want WorkflowExecutionFailed\n%s", i+1, last.GetEventType(), formatHistory(events))
		}
		fa := last.GetWorkflowExecutionFailedEventAttributes()
		if fa.GetNewExecutionRunId() == "" {
			t.Fatalf("run %d: WorkflowExecutionFailed has no new_execution_run_id", i+1)
		}
		if fa.GetRetryState() != enumspb.RETRY_STATE_IN_PROGRESS {
			t.Errorf("run %d: WorkflowExecutionFailed retry_state = %v, want IN_PROGRESS", i+1, fa.GetRetryState())
		}
		if f := fa.GetFailure(); f.GetMessage() != fmt.Sprintf("run attempt %d failed", i+1) || f.GetApplicationFailureInfo().GetType() != errTypeFailedRun {
			t.Errorf("run %d: failure = %v", i+1, f)
		}
		if st := describeStatus(t, env.c, id, runIDs[i]); st != enumspb.WORKFLOW_EXECUTION_STATUS_FAILED {
			t.Errorf("run %d: status = %v, want FAILED", i+1, st)
		}
		runIDs = append(runIDs, fa.GetNewExecutionRunId())
	}
	if len(runIDs) != 3 {
		t.Fatalf("%d runs, want 3", len(runIDs))
	}

	lastStarted := histories[2][0].GetWorkflowExecutionStartedEventAttributes()
	if got := lastStarted.GetFirstWorkflowTaskBackoff().AsDuration(); got <= 0 {
		t.Errorf("run 3: first_workflow_task_backoff = %v, want > 0", got)
	} else if got < interval*8/10 || got > interval+time.Second {
		t.Errorf("run 3: first_workflow_task_backoff = %v, want about %v", got, interval)
	}
	if got := lastStarted.GetContinuedExecutionRunId(); got != runIDs[1] {
		t.Errorf("run 3: continued_execution_run_id = %q, want run 2 %q", got, runIDs[1])
	}
	if got := lastStarted.GetInitiator(); got != enumspb.CONTINUE_AS_NEW_INITIATOR_RETRY {
		t.Errorf("run 3: initiator = %v, want RETRY", got)
	}
	if rp := lastStarted.GetRetryPolicy(); rp.GetMaximumAttempts() != 5 || rp.GetInitialInterval().AsDuration() != interval {
		t.Errorf("run 3: retry_policy = %v", rp)
	}
	if got := decodeInt32(t, lastStarted); got != 3 {
		t.Errorf("run 3: input = %d, want the original input 3", got)
	}
	// The retry waited for the backoff: run 3 started >= ~1s after run 2 failed.
	if gap := eventGap(lastEvent(histories[1]), histories[2][1]); gap < interval*8/10 {
		t.Errorf("run 3's first workflow task was scheduled %v after run 2 failed, want >= ~%v", gap, interval)
	}
	if st := describeStatus(t, env.c, id, runIDs[2]); st != enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED {
		t.Errorf("run 3: status = %v, want COMPLETED", st)
	}
	if got := env.c.GetWorkflow(ctx, id, "").GetRunID(); got != runIDs[2] && got != "" {
		t.Logf("GetWorkflow(id, \"\") run id = %q", got)
	}
	desc, err := env.c.DescribeWorkflowExecution(ctx, id, "")
	requireNoError(t, err, "DescribeWorkflowExecution(latest run)")
	if got := desc.GetWorkflowExecutionInfo().GetExecution().GetRunId(); got != runIDs[2] {
		t.Errorf("describe latest run: run id = %q, want run 3 %q", got, runIDs[2])
	}
}

func decodeInt32(t testing.TB, started *historypb.WorkflowExecutionStartedEventAttributes) int32 {
	t.Helper()
	var v int32
	decodePayloads(t, started.GetInput(), &v)
	return v
}

func TestWorkflowFailureDetails(t *testing.T) {
	t.Parallel()
	env := newFailureEnv(t)
	ctx := testCtx(t, 30*time.Second)
	run, err := env.c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "wf-failure-details", TaskQueue: env.tq}, FailWithDetails)
	requireNoError(t, err, "starting FailWithDetails")
	err = getResult(t, env.c, run, 20*time.Second, nil)

	requireErrorAs[*temporal.WorkflowExecutionError](t, err, "workflow result")
	appErr := requireErrorAs[*temporal.ApplicationError](t, err, "workflow result")
	if appErr.Type() != errTypeMyType || appErr.Message() != "order rejected" {
		t.Errorf("ApplicationError: type=%q message=%q, want %q/%q", appErr.Type(), appErr.Message(), errTypeMyType, "order rejected")
	}
	if !appErr.HasDetails() {
		t.Errorf("ApplicationError has no details")
	} else {
		var d FailureDetail
		var second string
		if err := appErr.Details(&d, &second); err != nil {
			t.Errorf("decoding ApplicationError details: %v", err)
		} else if d != (FailureDetail{Code: failureDetailCode, Reason: "quota exceeded"}) || second != "second detail" {
			t.Errorf("ApplicationError details = %+v, %q", d, second)
		}
	}
	cause := errors.Unwrap(appErr)
	var causeErr *temporal.ApplicationError
	if cause == nil || !errors.As(cause, &causeErr) {
		t.Errorf("ApplicationError cause = %s, want an *ApplicationError", describeErr(cause))
	} else {
		var vol string
		if causeErr.Type() != errTypeRootCause || causeErr.Message() != "disk full" {
			t.Errorf("cause: type=%q message=%q, want %q/%q", causeErr.Type(), causeErr.Message(), errTypeRootCause, "disk full")
		}
		if err := causeErr.Details(&vol); err != nil || vol != "volume-7" {
			t.Errorf("cause details = %q (%v), want volume-7", vol, err)
		}
	}

	events := getHistory(t, env.c, run.GetID(), run.GetRunID())
	requireCleanHistory(t, events)
	requireEventTypes(t, events, evWfStarted, evWftScheduled, evWftStarted, evWftCompleted, evWfFailed)
	fa := lastEvent(events).GetWorkflowExecutionFailedEventAttributes()
	f := fa.GetFailure()
	if f.GetMessage() != "order rejected" || f.GetApplicationFailureInfo().GetType() != errTypeMyType {
		t.Errorf("WorkflowExecutionFailed: failure = %v", f)
	}
	if n := len(f.GetApplicationFailureInfo().GetDetails().GetPayloads()); n != 2 {
		t.Errorf("WorkflowExecutionFailed: %d detail payloads, want 2", n)
	}
	checkFailureCause(t, f.GetCause())
	if fa.GetRetryState() != enumspb.RETRY_STATE_RETRY_POLICY_NOT_SET {
		t.Errorf("WorkflowExecutionFailed: retry_state = %v, want RETRY_POLICY_NOT_SET", fa.GetRetryState())
	}
	if fa.GetWorkflowTaskCompletedEventId() != 4 {
		t.Errorf("WorkflowExecutionFailed: workflow_task_completed_event_id = %d, want 4", fa.GetWorkflowTaskCompletedEventId())
	}
	if st := describeStatus(t, env.c, run.GetID(), run.GetRunID()); st != enumspb.WORKFLOW_EXECUTION_STATUS_FAILED {
		t.Errorf("status = %v, want FAILED", st)
	}
	replayHistory(t, events, failureWorkflows...)
}

func checkFailureCause(t *testing.T, cause *failurepb.Failure) {
	t.Helper()
	if cause.GetMessage() != "disk full" || cause.GetApplicationFailureInfo().GetType() != errTypeRootCause {
		t.Errorf("WorkflowExecutionFailed: failure cause = %v, want the %s 'disk full' failure", cause, errTypeRootCause)
	}
}
