package e2e

// Core workflow behaviour with a healthy server and worker.

import (
	"errors"
	"slices"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"google.golang.org/protobuf/types/known/durationpb"
)

// Short aliases for the event types the tests spell out.
const (
	evWfStarted     = enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED
	evWfCompleted   = enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED
	evWfFailed      = enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED
	evWfTerminated  = enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED
	evWftScheduled  = enumspb.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED
	evWftStarted    = enumspb.EVENT_TYPE_WORKFLOW_TASK_STARTED
	evWftCompleted  = enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
	evWftTimedOut   = enumspb.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT
	evActScheduled  = enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
	evActStarted    = enumspb.EVENT_TYPE_ACTIVITY_TASK_STARTED
	evActCompleted  = enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED
	evActFailed     = enumspb.EVENT_TYPE_ACTIVITY_TASK_FAILED
	evTimerStarted  = enumspb.EVENT_TYPE_TIMER_STARTED
	evTimerFired    = enumspb.EVENT_TYPE_TIMER_FIRED
	evTimerCanceled = enumspb.EVENT_TYPE_TIMER_CANCELED
	evSignaled      = enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED
)

const defaultNamespace = "default"

// describeStatus returns the execution status of a run.
func describeStatus(t testing.TB, c client.Client, workflowID, runID string) enumspb.WorkflowExecutionStatus {
	t.Helper()
	ctx := testCtx(t, 10*time.Second)
	resp, err := c.DescribeWorkflowExecution(ctx, workflowID, runID)
	requireNoError(t, err, "DescribeWorkflowExecution "+workflowID+"/"+runID)
	return resp.GetWorkflowExecutionInfo().GetStatus()
}

func TestHelloWorld(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOptions{})
	const identity = "hello-worker@e2e"
	tq := taskQueueFor(t)
	startWorker(t, newClientWithIdentity(t, srv.Addr(), defaultNamespace, identity), tq, func(r worker.Registry) {
		r.RegisterWorkflow(Greet)
		r.RegisterActivity(&greetingActivities{})
	})
	c := newClient(t, srv.Addr(), defaultNamespace)
	ctx := testCtx(t, 30*time.Second)

	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "hello-world", TaskQueue: tq}, Greet, "World")
	requireNoError(t, err, "starting Greet")
	var greeting string
	requireNoError(t, run.Get(ctx, &greeting), "Greet result")
	if greeting != "Hello, World!" {
		t.Fatalf("Greet returned %q, want %q", greeting, "Hello, World!")
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

	started := events[0].GetWorkflowExecutionStartedEventAttributes()
	if got := started.GetWorkflowType().GetName(); got != "Greet" {
		t.Errorf("started: workflow type = %q, want Greet", got)
	}
	if got := started.GetTaskQueue().GetName(); got != tq {
		t.Errorf("started: task queue = %q, want %q", got, tq)
	}
	if got := decodeString(t, started.GetInput()); got != "World" {
		t.Errorf("started: input = %q, want World", got)
	}
	if got := started.GetAttempt(); got != 1 {
		t.Errorf("started: attempt = %d, want 1", got)
	}
	if got := started.GetWorkflowTaskTimeout().AsDuration(); got != 10*time.Second {
		t.Errorf("started: workflow task timeout = %v, want the 10s default", got)
	}
	if started.GetOriginalExecutionRunId() != run.GetRunID() || started.GetFirstExecutionRunId() != run.GetRunID() {
		t.Errorf("started: original_execution_run_id=%q first_execution_run_id=%q, want run id %q",
			started.GetOriginalExecutionRunId(), started.GetFirstExecutionRunId(), run.GetRunID())
	}

	wftSched := events[1].GetWorkflowTaskScheduledEventAttributes()
	if got := wftSched.GetTaskQueue().GetName(); got != tq {
		t.Errorf("first WorkflowTaskScheduled: task queue = %q, want %q", got, tq)
	}
	if got := wftSched.GetStartToCloseTimeout().AsDuration(); got != 10*time.Second {
		t.Errorf("first WorkflowTaskScheduled: start_to_close_timeout = %v, want 10s", got)
	}
	if got := wftSched.GetAttempt(); got != 1 {
		t.Errorf("first WorkflowTaskScheduled: attempt = %d, want 1", got)
	}

	// Both workflow tasks: started/completed reference the right events and
	// carry the worker identity.
	for _, ids := range [][3]int{{2, 3, 4}, {8, 9, 10}} {
		sched, st, done := int64(ids[0]), events[ids[1]-1], events[ids[2]-1]
		sa := st.GetWorkflowTaskStartedEventAttributes()
		if sa.GetScheduledEventId() != sched {
			t.Errorf("WorkflowTaskStarted %d: scheduled_event_id = %d, want %d", st.GetEventId(), sa.GetScheduledEventId(), sched)
		}
		if sa.GetIdentity() != identity {
			t.Errorf("WorkflowTaskStarted %d: identity = %q, want %q", st.GetEventId(), sa.GetIdentity(), identity)
		}
		ca := done.GetWorkflowTaskCompletedEventAttributes()
		if ca.GetScheduledEventId() != sched || ca.GetStartedEventId() != st.GetEventId() {
			t.Errorf("WorkflowTaskCompleted %d: scheduled/started = %d/%d, want %d/%d",
				done.GetEventId(), ca.GetScheduledEventId(), ca.GetStartedEventId(), sched, st.GetEventId())
		}
		if ca.GetIdentity() != identity {
			t.Errorf("WorkflowTaskCompleted %d: identity = %q, want %q", done.GetEventId(), ca.GetIdentity(), identity)
		}
	}

	actSched := events[4].GetActivityTaskScheduledEventAttributes()
	if got := actSched.GetActivityType().GetName(); got != actComposeGreeting {
		t.Errorf("ActivityTaskScheduled: activity type = %q, want %q", got, actComposeGreeting)
	}
	if got := actSched.GetTaskQueue().GetName(); got != tq {
		t.Errorf("ActivityTaskScheduled: task queue = %q, want %q", got, tq)
	}
	if actSched.GetActivityId() == "" {
		t.Errorf("ActivityTaskScheduled: empty activity id")
	}
	if got := actSched.GetWorkflowTaskCompletedEventId(); got != 4 {
		t.Errorf("ActivityTaskScheduled: workflow_task_completed_event_id = %d, want 4", got)
	}
	if got := actSched.GetStartToCloseTimeout().AsDuration(); got != 10*time.Second {
		t.Errorf("ActivityTaskScheduled: start_to_close_timeout = %v, want 10s", got)
	}
	if got := decodeString(t, actSched.GetInput()); got != "World" {
		t.Errorf("ActivityTaskScheduled: input = %q, want World", got)
	}

	actStarted := events[5].GetActivityTaskStartedEventAttributes()
	if actStarted.GetScheduledEventId() != 5 || actStarted.GetIdentity() != identity || actStarted.GetAttempt() != 1 {
		t.Errorf("ActivityTaskStarted: scheduled_event_id=%d identity=%q attempt=%d, want 5/%q/1",
			actStarted.GetScheduledEventId(), actStarted.GetIdentity(), actStarted.GetAttempt(), identity)
	}
	actDone := events[6].GetActivityTaskCompletedEventAttributes()
	if actDone.GetScheduledEventId() != 5 || actDone.GetStartedEventId() != 6 {
		t.Errorf("ActivityTaskCompleted: scheduled_event_id=%d started_event_id=%d, want 5/6",
			actDone.GetScheduledEventId(), actDone.GetStartedEventId())
	}
	if actDone.GetIdentity() != identity {
		t.Errorf("ActivityTaskCompleted: identity = %q, want %q", actDone.GetIdentity(), identity)
	}
	if got := decodeString(t, actDone.GetResult()); got != "Hello, World!" {
		t.Errorf("ActivityTaskCompleted: result = %q", got)
	}

	completed := events[10].GetWorkflowExecutionCompletedEventAttributes()
	if got := decodeString(t, completed.GetResult()); got != "Hello, World!" {
		t.Errorf("WorkflowExecutionCompleted: result = %q", got)
	}
	if got := completed.GetWorkflowTaskCompletedEventId(); got != 10 {
		t.Errorf("WorkflowExecutionCompleted: workflow_task_completed_event_id = %d, want 10", got)
	}

	desc, err := c.DescribeWorkflowExecution(ctx, run.GetID(), run.GetRunID())
	requireNoError(t, err, "DescribeWorkflowExecution")
	info := desc.GetWorkflowExecutionInfo()
	if info.GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED {
		t.Errorf("describe: status = %v, want COMPLETED", info.GetStatus())
	}
	if info.GetHistoryLength() != int64(len(events)) {
		t.Errorf("describe: history_length = %d, history has %d events", info.GetHistoryLength(), len(events))
	}
	if info.GetType().GetName() != "Greet" || info.GetTaskQueue() != tq {
		t.Errorf("describe: type=%q task_queue=%q", info.GetType().GetName(), info.GetTaskQueue())
	}
	if info.GetCloseTime() == nil {
		t.Errorf("describe: close_time not set on a completed workflow")
	}

	replayHistory(t, events, allWorkflows...)
}

func TestOrderSaga(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOptions{})
	tq := taskQueueFor(t)
	c := newClient(t, srv.Addr(), defaultNamespace)
	startWorker(t, c, tq, func(r worker.Registry) {
		r.RegisterWorkflow(OrderSaga)
		r.RegisterActivity(&orderActivities{})
	})

	runSaga := func(t *testing.T, order Order) (client.WorkflowRun, OrderResult, error, []*historypb.HistoryEvent) {
		ctx := testCtx(t, 30*time.Second)
		run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "order-" + order.ID, TaskQueue: tq}, OrderSaga, order)
		requireNoError(t, err, "starting OrderSaga")
		var res OrderResult
		runErr := run.Get(ctx, &res)
		events := getHistory(t, c, run.GetID(), run.GetRunID())
		requireCleanHistory(t, events)
		replayHistory(t, events, allWorkflows...)
		return run, res, runErr, events
	}

	t.Run("happy path", func(t *testing.T) {
		t.Parallel()
		order := Order{ID: "1001", Items: []string{"book", "pen"}, AmountCents: 2599}
		run, res, err, events := runSaga(t, order)
		requireNoError(t, err, "OrderSaga result")
		want := OrderResult{OrderID: "1001", ReservationID: "res-1001", PaymentID: "pay-1001", TrackingID: "trk-1001"}
		if res != want {
			t.Errorf("result = %+v, want %+v", res, want)
		}
		if got := scheduledActivityTypes(events); !slices.Equal(got, []string{actReserveInventory, actChargePayment, actShipOrder}) {
			t.Errorf("scheduled activities = %v", got)
		}
		if n := countEvents(events, evActCompleted); n != 3 {
			t.Errorf("%d ActivityTaskCompleted events, want 3", n)
		}
		if n := countEvents(events, evActFailed); n != 0 {
			t.Errorf("%d ActivityTaskFailed events, want 0", n)
		}
		if last := lastEvent(events); last.GetEventType() != evWfCompleted {
			t.Errorf("last event = %v, want WorkflowExecutionCompleted", last.GetEventType())
		}
		if st := describeStatus(t, c, run.GetID(), run.GetRunID()); st != enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED {
			t.Errorf("status = %v, want COMPLETED", st)
		}
	})

	// checkCompensated asserts the saga failed at failedStep with errType and
	// compensated with exactly the given activities, in that order.
	checkCompensated := func(t *testing.T, order Order, failedStep, errType, errMsg string, wantScheduled []string, wantResults []string) {
		run, _, err, events := runSaga(t, order)

		// Client side: the workflow failed with the step's activity error.
		requireErrorAs[*temporal.WorkflowExecutionError](t, err, "saga result")
		actErr := requireErrorAs[*temporal.ActivityError](t, err, "saga result")
		if got := actErr.ActivityType().Name; got != failedStep {
			t.Errorf("failed activity = %q, want %q", got, failedStep)
		}
		appErr := requireErrorAs[*temporal.ApplicationError](t, err, "saga result")
		if appErr.Type() != errType || !appErr.NonRetryable() {
			t.Errorf("application error type=%q non_retryable=%v, want %q/true (%v)", appErr.Type(), appErr.NonRetryable(), errType, err)
		}

		// History: steps then compensations, strictly sequential.
		if got := scheduledActivityTypes(events); !slices.Equal(got, wantScheduled) {
			t.Fatalf("scheduled activities = %v, want %v\n%s", got, wantScheduled, formatHistory(events))
		}
		failed := eventsOfType(events, evActFailed)
		if len(failed) != 1 {
			t.Fatalf("%d ActivityTaskFailed events, want 1\n%s", len(failed), formatHistory(events))
		}
		fa := failed[0].GetActivityTaskFailedEventAttributes()
		if sched := eventByID(events, fa.GetScheduledEventId()); sched.GetActivityTaskScheduledEventAttributes().GetActivityType().GetName() != failedStep {
			t.Errorf("ActivityTaskFailed refers to scheduled event %d, which is not %s", fa.GetScheduledEventId(), failedStep)
		}
		if f := fa.GetFailure(); f.GetMessage() != errMsg ||
			f.GetApplicationFailureInfo().GetType() != errType || !f.GetApplicationFailureInfo().GetNonRetryable() {
			t.Errorf("ActivityTaskFailed failure = %v, want message %q type %q non_retryable", f, errMsg, errType)
		}
		// Each compensation is scheduled after the failure and after the
		// previous compensation completed.
		compensations := eventsOfType(events, evActScheduled)[len(wantScheduled)-len(wantResults):]
		prev := failed[0].GetEventId()
		completedBySched := map[int64]*historypb.HistoryEvent{}
		for _, ev := range eventsOfType(events, evActCompleted) {
			completedBySched[ev.GetActivityTaskCompletedEventAttributes().GetScheduledEventId()] = ev
		}
		for i, sched := range compensations {
			if sched.GetEventId() < prev {
				t.Errorf("compensation %d (event %d) scheduled before event %d", i, sched.GetEventId(), prev)
			}
			done := completedBySched[sched.GetEventId()]
			if done == nil {
				t.Errorf("compensation %s (event %d) never completed", wantScheduled[len(wantScheduled)-len(wantResults)+i], sched.GetEventId())
				continue
			}
			if got := decodeString(t, done.GetActivityTaskCompletedEventAttributes().GetResult()); got != wantResults[i] {
				t.Errorf("compensation %d result = %q, want %q", i, got, wantResults[i])
			}
			prev = done.GetEventId()
		}

		last := lastEvent(events)
		if last.GetEventType() != evWfFailed {
			t.Fatalf("last event = %v, want WorkflowExecutionFailed", last.GetEventType())
		}
		wf := last.GetWorkflowExecutionFailedEventAttributes().GetFailure()
		if wf.GetActivityFailureInfo().GetActivityType().GetName() != failedStep ||
			wf.GetCause().GetApplicationFailureInfo().GetType() != errType {
			t.Errorf("WorkflowExecutionFailed failure = %v, want activity failure of %s caused by %s", wf, failedStep, errType)
		}
		if st := describeStatus(t, c, run.GetID(), run.GetRunID()); st != enumspb.WORKFLOW_EXECUTION_STATUS_FAILED {
			t.Errorf("status = %v, want FAILED", st)
		}
	}

	t.Run("payment declined", func(t *testing.T) {
		t.Parallel()
		order := Order{ID: "1002", Items: []string{"lamp"}, AmountCents: 4999, FailStep: "payment"}
		checkCompensated(t, order, actChargePayment, errTypePaymentDeclined, "card declined",
			[]string{actReserveInventory, actChargePayment, actRefundPayment, actReleaseInventory},
			[]string{"refunded-1002", "released-res-1002"})
	})

	t.Run("shipping fails", func(t *testing.T) {
		t.Parallel()
		order := Order{ID: "1003", Items: []string{"desk"}, AmountCents: 19900, FailStep: "shipping"}
		checkCompensated(t, order, actShipOrder, errTypeShippingFailed, "carrier unavailable",
			[]string{actReserveInventory, actChargePayment, actShipOrder, actRefundPayment, actReleaseInventory},
			[]string{"refunded-1003", "released-res-1003"})
	})
}

func TestSleepTimer(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOptions{})
	tq := taskQueueFor(t)
	c := newClient(t, srv.Addr(), defaultNamespace)
	startWorker(t, c, tq, registerTwoSteps)
	ctx := testCtx(t, 30*time.Second)

	const sleep = 2 * time.Second
	begin := time.Now()
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "sleep-timer", TaskQueue: tq}, TwoSteps, TwoStepsInput{Sleep: sleep})
	requireNoError(t, err, "starting TwoSteps")
	var res string
	requireNoError(t, run.Get(ctx, &res), "TwoSteps result")
	elapsed := time.Since(begin)
	if res != "step-A,step-B" {
		t.Errorf("result = %q, want step-A,step-B", res)
	}
	if elapsed < sleep {
		t.Errorf("workflow finished after %v, before its %v sleep was over", elapsed, sleep)
	}

	events := getHistory(t, c, run.GetID(), run.GetRunID())
	requireCleanHistory(t, events)
	requireEventTypes(t, events,
		evWfStarted,
		evWftScheduled, evWftStarted, evWftCompleted,
		evActScheduled, evActStarted, evActCompleted,
		evWftScheduled, evWftStarted, evWftCompleted,
		evTimerStarted, evTimerFired,
		evWftScheduled, evWftStarted, evWftCompleted,
		evActScheduled, evActStarted, evActCompleted,
		evWftScheduled, evWftStarted, evWftCompleted,
		evWfCompleted,
	)
	timerStarted, timerFired := events[10], events[11]
	ts := timerStarted.GetTimerStartedEventAttributes()
	tf := timerFired.GetTimerFiredEventAttributes()
	if got := ts.GetStartToFireTimeout().AsDuration(); got != sleep {
		t.Errorf("TimerStarted: start_to_fire_timeout = %v, want %v", got, sleep)
	}
	if ts.GetWorkflowTaskCompletedEventId() != 10 {
		t.Errorf("TimerStarted: workflow_task_completed_event_id = %d, want 10", ts.GetWorkflowTaskCompletedEventId())
	}
	if tf.GetStartedEventId() != timerStarted.GetEventId() || tf.GetTimerId() != ts.GetTimerId() {
		t.Errorf("TimerFired: started_event_id=%d timer_id=%q, want %d/%q",
			tf.GetStartedEventId(), tf.GetTimerId(), timerStarted.GetEventId(), ts.GetTimerId())
	}
	if gap := timerFired.GetEventTime().AsTime().Sub(timerStarted.GetEventTime().AsTime()); gap < sleep {
		t.Errorf("TimerFired only %v after TimerStarted, want >= %v", gap, sleep)
	}
	replayHistory(t, events, allWorkflows...)
}

func TestTimerSelector(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOptions{})
	tq := taskQueueFor(t)
	c := newClient(t, srv.Addr(), defaultNamespace)
	startWorker(t, c, tq, func(r worker.Registry) { r.RegisterWorkflow(TimerRace) })
	ctx := testCtx(t, 30*time.Second)

	const short, long = 1 * time.Second, 5 * time.Second
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "timer-race", TaskQueue: tq}, TimerRace, short, long)
	requireNoError(t, err, "starting TimerRace")
	var res string
	requireNoError(t, run.Get(ctx, &res), "TimerRace result")
	if res != "short timer fired" {
		t.Errorf("result = %q, want %q", res, "short timer fired")
	}

	events := getHistory(t, c, run.GetID(), run.GetRunID())
	requireCleanHistory(t, events)
	requireEventTypes(t, events,
		evWfStarted,
		evWftScheduled, evWftStarted, evWftCompleted,
		evTimerStarted, evTimerStarted, evTimerFired,
		evWftScheduled, evWftStarted, evWftCompleted,
		evTimerCanceled,
		evWfCompleted,
	)
	shortStarted, longStarted := events[4], events[5]
	if got := shortStarted.GetTimerStartedEventAttributes().GetStartToFireTimeout().AsDuration(); got != short {
		t.Errorf("first TimerStarted: start_to_fire_timeout = %v, want %v", got, short)
	}
	if got := longStarted.GetTimerStartedEventAttributes().GetStartToFireTimeout().AsDuration(); got != long {
		t.Errorf("second TimerStarted: start_to_fire_timeout = %v, want %v", got, long)
	}
	if fired := events[6].GetTimerFiredEventAttributes(); fired.GetStartedEventId() != shortStarted.GetEventId() {
		t.Errorf("TimerFired: started_event_id = %d, want the short timer (%d)", fired.GetStartedEventId(), shortStarted.GetEventId())
	}
	canceled := events[10].GetTimerCanceledEventAttributes()
	if canceled.GetStartedEventId() != longStarted.GetEventId() ||
		canceled.GetTimerId() != longStarted.GetTimerStartedEventAttributes().GetTimerId() {
		t.Errorf("TimerCanceled: started_event_id=%d timer_id=%q, want the long timer (%d/%q)",
			canceled.GetStartedEventId(), canceled.GetTimerId(),
			longStarted.GetEventId(), longStarted.GetTimerStartedEventAttributes().GetTimerId())
	}
	if canceled.GetWorkflowTaskCompletedEventId() != 10 {
		t.Errorf("TimerCanceled: workflow_task_completed_event_id = %d, want 10", canceled.GetWorkflowTaskCompletedEventId())
	}
	if d := lastEvent(events).GetEventTime().AsTime().Sub(events[0].GetEventTime().AsTime()); d >= long {
		t.Errorf("workflow took %v, the long timer (%v) should not have been waited for", d, long)
	}
	replayHistory(t, events, allWorkflows...)
}

func TestStartWorkflowConflicts(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOptions{})
	tq := taskQueueFor(t)
	c := newClient(t, srv.Addr(), defaultNamespace)
	startWorker(t, c, tq, func(r worker.Registry) { r.RegisterWorkflow(AwaitFinish) })
	ctx := testCtx(t, 60*time.Second)

	const id = "conflicting-id"
	opts := func(conflict enumspb.WorkflowIdConflictPolicy, reuse enumspb.WorkflowIdReusePolicy) client.StartWorkflowOptions {
		return client.StartWorkflowOptions{
			ID:                                       id,
			TaskQueue:                                tq,
			WorkflowIDConflictPolicy:                 conflict,
			WorkflowIDReusePolicy:                    reuse,
			WorkflowExecutionErrorWhenAlreadyStarted: true,
		}
	}
	start := func(what string, o client.StartWorkflowOptions) client.WorkflowRun {
		t.Helper()
		run, err := c.ExecuteWorkflow(ctx, o, AwaitFinish)
		requireNoError(t, err, what)
		return run
	}
	finish := func(run client.WorkflowRun, payload string) {
		t.Helper()
		requireNoError(t, c.SignalWorkflow(ctx, id, run.GetRunID(), signalFinish, payload), "signaling "+run.GetRunID())
		var res string
		requireNoError(t, run.Get(ctx, &res), "result of "+run.GetRunID())
		if res != "finished: "+payload {
			t.Errorf("run %s result = %q, want %q", run.GetRunID(), res, "finished: "+payload)
		}
	}
	const (
		conflictFail    = enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL
		conflictUse     = enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING
		conflictTerm    = enumspb.WORKFLOW_ID_CONFLICT_POLICY_TERMINATE_EXISTING
		reuseAllow      = enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE
		reuseFailedOnly = enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE_FAILED_ONLY
		reuseReject     = enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE
	)

	// While running.
	run1 := start("first start", opts(conflictFail, reuseAllow))
	_, err := c.ExecuteWorkflow(ctx, opts(conflictFail, reuseAllow), AwaitFinish)
	already := requireErrorAs[*serviceerror.WorkflowExecutionAlreadyStarted](t, err, "second start with FAIL while running")
	if already.RunId != run1.GetRunID() {
		t.Errorf("WorkflowExecutionAlreadyStarted.RunId = %q, want the running run %q", already.RunId, run1.GetRunID())
	}
	if got := start("start with USE_EXISTING", opts(conflictUse, reuseAllow)).GetRunID(); got != run1.GetRunID() {
		t.Errorf("USE_EXISTING returned run %q, want the running run %q", got, run1.GetRunID())
	}
	// Without WorkflowExecutionErrorWhenAlreadyStarted the SDK hands back the
	// running run (it relies on the run id in the AlreadyStarted details).
	lenient := opts(conflictFail, reuseAllow)
	lenient.WorkflowExecutionErrorWhenAlreadyStarted = false
	if got := start("lenient start while running", lenient).GetRunID(); got != run1.GetRunID() {
		t.Errorf("lenient start returned run %q, want the running run %q", got, run1.GetRunID())
	}

	finish(run1, "one")

	// After a successful completion.
	_, err = c.ExecuteWorkflow(ctx, opts(conflictFail, reuseReject), AwaitFinish)
	requireErrorAs[*serviceerror.WorkflowExecutionAlreadyStarted](t, err, "REJECT_DUPLICATE after completion")
	_, err = c.ExecuteWorkflow(ctx, opts(conflictFail, reuseFailedOnly), AwaitFinish)
	requireErrorAs[*serviceerror.WorkflowExecutionAlreadyStarted](t, err, "ALLOW_DUPLICATE_FAILED_ONLY after a successful completion")
	run2 := start("ALLOW_DUPLICATE after completion", opts(conflictFail, reuseAllow))
	if run2.GetRunID() == run1.GetRunID() {
		t.Fatalf("ALLOW_DUPLICATE after completion returned the old run id %q", run1.GetRunID())
	}

	// TERMINATE_EXISTING replaces the running run.
	run3 := start("TERMINATE_EXISTING while running", opts(conflictTerm, reuseAllow))
	if run3.GetRunID() == run2.GetRunID() {
		t.Fatalf("TERMINATE_EXISTING returned the running run id %q", run2.GetRunID())
	}
	if st := describeStatus(t, c, id, run2.GetRunID()); st != enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED {
		t.Errorf("run replaced via TERMINATE_EXISTING has status %v, want TERMINATED", st)
	}
	if last := lastEvent(getHistory(t, c, id, run2.GetRunID())); last.GetEventType() != evWfTerminated {
		t.Errorf("run replaced via TERMINATE_EXISTING: last event %v, want WorkflowExecutionTerminated", last.GetEventType())
	}

	// Explicit termination.
	requireNoError(t, c.TerminateWorkflow(ctx, id, run3.GetRunID(), "e2e says stop", "detail"), "TerminateWorkflow")
	if st := describeStatus(t, c, id, run3.GetRunID()); st != enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED {
		t.Errorf("terminated run has status %v, want TERMINATED", st)
	}
	terminatedHistory := getHistory(t, c, id, run3.GetRunID())
	requireCleanHistory(t, terminatedHistory)
	last := lastEvent(terminatedHistory)
	if last.GetEventType() != evWfTerminated {
		t.Fatalf("terminated run: last event %v, want WorkflowExecutionTerminated\n%s", last.GetEventType(), formatHistory(terminatedHistory))
	}
	if got := last.GetWorkflowExecutionTerminatedEventAttributes().GetReason(); got != "e2e says stop" {
		t.Errorf("WorkflowExecutionTerminated: reason = %q", got)
	}
	err = run3.Get(ctx, nil)
	requireErrorAs[*temporal.TerminatedError](t, err, "result of the terminated run")
	// Terminating a closed run is an error.
	err = c.TerminateWorkflow(ctx, id, run3.GetRunID(), "again")
	var notFound *serviceerror.NotFound
	if !errors.As(err, &notFound) {
		t.Errorf("terminating a terminated run: want serviceerror.NotFound, got %s", describeErr(err))
	}

	// After a termination, ALLOW_DUPLICATE_FAILED_ONLY allows a new run.
	run4 := start("ALLOW_DUPLICATE_FAILED_ONLY after termination", opts(conflictFail, reuseFailedOnly))
	finish(run4, "four")

	for _, run := range []client.WorkflowRun{run1, run4} {
		events := getHistory(t, c, id, run.GetRunID())
		requireCleanHistory(t, events)
		if n := countEvents(events, evSignaled); n != 1 {
			t.Errorf("run %s: %d WorkflowExecutionSignaled events, want 1", run.GetRunID(), n)
		}
		replayHistory(t, events, allWorkflows...)
	}
}

// TestCustomNamespaceIsolation runs a workflow in a freshly registered
// namespace and checks it is invisible from another namespace.
func TestCustomNamespaceIsolation(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOptions{})
	const ns = "e2e-isolated"
	nc := newNamespaceClient(t, srv.Addr())
	ctx := testCtx(t, 30*time.Second)
	requireNoError(t, nc.Register(ctx, &workflowservice.RegisterNamespaceRequest{
		Namespace:                        ns,
		WorkflowExecutionRetentionPeriod: durationpb.New(24 * time.Hour),
	}), "registering "+ns)

	tq := taskQueueFor(t)
	c := newClient(t, srv.Addr(), ns)
	startWorker(t, c, tq, func(r worker.Registry) {
		r.RegisterWorkflow(Greet)
		r.RegisterActivity(&greetingActivities{})
	})
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "isolated", TaskQueue: tq}, Greet, "Namespace")
	requireNoError(t, err, "starting Greet in "+ns)
	var res string
	requireNoError(t, run.Get(ctx, &res), "Greet result")
	if res != "Hello, Namespace!" {
		t.Errorf("result = %q", res)
	}

	other := newClient(t, srv.Addr(), defaultNamespace)
	_, err = other.DescribeWorkflowExecution(ctx, "isolated", "")
	requireErrorAs[*serviceerror.NotFound](t, err, "describing another namespace's workflow")

	events := getHistory(t, c, run.GetID(), run.GetRunID())
	requireCleanHistory(t, events)
	replayHistory(t, events, allWorkflows...)
}
