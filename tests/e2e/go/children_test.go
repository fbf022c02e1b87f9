package e2e

// Child workflows: fan-out and results, parent and root in the child's
// history and in DescribeWorkflowExecution, every parent close policy, a
// child that fails, retries, times out, is cancelled or cannot start, a child
// in another namespace, and parent and children across a server kill -9.

import (
	"fmt"
	"slices"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
)

const (
	evChildInitiated  = enumspb.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED
	evChildStartFail  = enumspb.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_FAILED
	evChildStarted    = enumspb.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED
	evChildCompleted  = enumspb.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED
	evChildFailed     = enumspb.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_FAILED
	evChildCanceled   = enumspb.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_CANCELED
	evChildTimedOut   = enumspb.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_TIMED_OUT
	evChildTerminated = enumspb.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_TERMINATED
)

// childRef is what a parent's history says about one child.
type childRef struct {
	initiated *historypb.HistoryEvent
	started   *historypb.HistoryEvent
	closed    *historypb.HistoryEvent
}

// childEvents checks the links between a parent's child events (started and
// close events name an earlier initiated event of the same workflow id, a
// close event names the started event) and returns them by initiated id.
func childEvents(t testing.TB, events []*historypb.HistoryEvent) map[int64]*childRef {
	t.Helper()
	refs := map[int64]*childRef{}
	get := func(ev *historypb.HistoryEvent, initiated int64, wf string) *childRef {
		t.Helper()
		r := refs[initiated]
		if r == nil || initiated >= ev.GetEventId() {
			t.Fatalf("event %d (%s) names initiated event %d, which is no earlier StartChildWorkflowExecutionInitiated\n%s",
				ev.GetEventId(), ev.GetEventType(), initiated, formatHistory(events))
		}
		if got := r.initiated.GetStartChildWorkflowExecutionInitiatedEventAttributes().GetWorkflowId(); wf != got {
			t.Errorf("event %d (%s): workflow id %q, initiated for %q", ev.GetEventId(), ev.GetEventType(), wf, got)
		}
		return r
	}
	closed := func(ev *historypb.HistoryEvent, initiated, started int64, exec *commonpb.WorkflowExecution) {
		t.Helper()
		r := get(ev, initiated, exec.GetWorkflowId())
		if r.started == nil || r.started.GetEventId() != started {
			t.Errorf("event %d (%s): started_event_id %d does not name the child's started event\n%s",
				ev.GetEventId(), ev.GetEventType(), started, formatHistory(events))
		}
		if r.closed != nil {
			t.Errorf("child of initiated event %d closed twice (events %d and %d)", initiated, r.closed.GetEventId(), ev.GetEventId())
		}
		r.closed = ev
	}
	for _, ev := range events {
		switch ev.GetEventType() {
		case evChildInitiated:
			refs[ev.GetEventId()] = &childRef{initiated: ev}
		case evChildStarted:
			a := ev.GetChildWorkflowExecutionStartedEventAttributes()
			r := get(ev, a.GetInitiatedEventId(), a.GetWorkflowExecution().GetWorkflowId())
			if r.started != nil {
				t.Errorf("child of initiated event %d started twice", a.GetInitiatedEventId())
			}
			r.started = ev
		case evChildStartFail:
			a := ev.GetStartChildWorkflowExecutionFailedEventAttributes()
			get(ev, a.GetInitiatedEventId(), a.GetWorkflowId()).closed = ev
		case evChildCompleted:
			a := ev.GetChildWorkflowExecutionCompletedEventAttributes()
			closed(ev, a.GetInitiatedEventId(), a.GetStartedEventId(), a.GetWorkflowExecution())
		case evChildFailed:
			a := ev.GetChildWorkflowExecutionFailedEventAttributes()
			closed(ev, a.GetInitiatedEventId(), a.GetStartedEventId(), a.GetWorkflowExecution())
		case evChildCanceled:
			a := ev.GetChildWorkflowExecutionCanceledEventAttributes()
			closed(ev, a.GetInitiatedEventId(), a.GetStartedEventId(), a.GetWorkflowExecution())
		case evChildTimedOut:
			a := ev.GetChildWorkflowExecutionTimedOutEventAttributes()
			closed(ev, a.GetInitiatedEventId(), a.GetStartedEventId(), a.GetWorkflowExecution())
		case evChildTerminated:
			a := ev.GetChildWorkflowExecutionTerminatedEventAttributes()
			closed(ev, a.GetInitiatedEventId(), a.GetStartedEventId(), a.GetWorkflowExecution())
		}
	}
	return refs
}

// requireChildOf checks a child's started event and DescribeWorkflowExecution
// name the parent (and, the parent having none, the parent as root).
func requireChildOf(t testing.TB, c client.Client, child *commonpb.WorkflowExecution, parentNamespace string,
	parent *commonpb.WorkflowExecution, initiatedID int64) []*historypb.HistoryEvent {
	t.Helper()
	events := getHistory(t, c, child.GetWorkflowId(), child.GetRunId())
	a := events[0].GetWorkflowExecutionStartedEventAttributes()
	if a.GetParentWorkflowNamespace() != parentNamespace || a.GetParentWorkflowNamespaceId() == "" ||
		a.GetParentWorkflowExecution().GetWorkflowId() != parent.GetWorkflowId() ||
		a.GetParentWorkflowExecution().GetRunId() != parent.GetRunId() || a.GetParentInitiatedEventId() != initiatedID {
		t.Errorf("child %s started event names parent %s/%v initiated %d, want %s/%v initiated %d",
			child.GetWorkflowId(), a.GetParentWorkflowNamespace(), a.GetParentWorkflowExecution(), a.GetParentInitiatedEventId(),
			parentNamespace, parent, initiatedID)
	}
	if a.GetRootWorkflowExecution().GetWorkflowId() != parent.GetWorkflowId() || a.GetRootWorkflowExecution().GetRunId() != parent.GetRunId() {
		t.Errorf("child %s root = %v, want the parent %v", child.GetWorkflowId(), a.GetRootWorkflowExecution(), parent)
	}
	desc, err := c.DescribeWorkflowExecution(testCtx(t, 10*time.Second), child.GetWorkflowId(), child.GetRunId())
	requireNoError(t, err, "describing child "+child.GetWorkflowId())
	info := desc.GetWorkflowExecutionInfo()
	if info.GetParentExecution().GetRunId() != parent.GetRunId() || info.GetParentNamespaceId() != a.GetParentWorkflowNamespaceId() ||
		info.GetRootExecution().GetRunId() != parent.GetRunId() {
		t.Errorf("describe child %s: parent %v (namespace %q), root %v; want parent and root %v",
			child.GetWorkflowId(), info.GetParentExecution(), info.GetParentNamespaceId(), info.GetRootExecution(), parent)
	}
	requireCleanHistory(t, events)
	replayHistory(t, events, childWorkflows...)
	return events
}

func waitForStatus(t testing.TB, c client.Client, workflowID, runID string, want enumspb.WorkflowExecutionStatus, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got := describeStatus(t, c, workflowID, runID)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s/%s: status %v, want %v within %v\nhistory:\n%s", workflowID, runID, got, want, timeout,
				formatHistory(getHistory(t, c, workflowID, runID)))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

var invoiceItems = []LineItem{{"apple", 3, 50}, {"pear", 2, 75}, {"plum", 10, 20}, {"fig", 1, 300}}

// requireInvoice checks an Invoice run: its result, one child per item all
// initiated by the same workflow task, each started and completed once, and
// each child's history naming the parent.
func requireInvoice(t testing.TB, parentClient, childClient client.Client, run client.WorkflowRun, res InvoiceResult,
	childNamespace string) {
	t.Helper()
	if want := []int64{150, 150, 200, 300}; !slices.Equal(res.Lines, want) || res.TotalCents != 800 {
		t.Errorf("result = %+v, want lines %v total 800", res, want)
	}
	events := getHistory(t, parentClient, run.GetID(), run.GetRunID())
	requireCleanHistory(t, events)
	requireSingleClose(t, events)
	refs := childEvents(t, events)
	if len(refs) != len(invoiceItems) {
		t.Fatalf("%d children initiated, want %d\n%s", len(refs), len(invoiceItems), formatHistory(events))
	}
	parent := &commonpb.WorkflowExecution{WorkflowId: run.GetID(), RunId: run.GetRunID()}
	var wftCompleted int64
	for id, r := range refs {
		a := r.initiated.GetStartChildWorkflowExecutionInitiatedEventAttributes()
		if wftCompleted == 0 {
			wftCompleted = a.GetWorkflowTaskCompletedEventId()
		}
		if a.GetWorkflowTaskCompletedEventId() != wftCompleted {
			t.Errorf("children initiated by different workflow tasks (%d, %d): not in parallel", wftCompleted, a.GetWorkflowTaskCompletedEventId())
		}
		if eventByID(events, wftCompleted).GetEventType() != evWftCompleted {
			t.Errorf("initiated event %d: workflow_task_completed_event_id %d is no WorkflowTaskCompleted", id, wftCompleted)
		}
		if a.GetNamespace() != childNamespace || a.GetNamespaceId() == "" || a.GetTaskQueue().GetName() == "" ||
			a.GetParentClosePolicy() != enumspb.PARENT_CLOSE_POLICY_TERMINATE ||
			a.GetWorkflowIdReusePolicy() != enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE ||
			a.GetWorkflowType().GetName() != "LineItemTotal" || a.GetWorkflowTaskTimeout().AsDuration() != 10*time.Second {
			t.Errorf("initiated event %d: unexpected attributes %v", id, a)
		}
		if r.started == nil || r.closed == nil || r.closed.GetEventType() != evChildCompleted {
			t.Fatalf("child of initiated event %d: started %v, closed %v\n%s", id, r.started, r.closed, formatHistory(events))
		}
		sa := r.started.GetChildWorkflowExecutionStartedEventAttributes()
		if sa.GetNamespace() != childNamespace || sa.GetWorkflowType().GetName() != "LineItemTotal" {
			t.Errorf("started event %d: namespace %q, type %q", r.started.GetEventId(), sa.GetNamespace(), sa.GetWorkflowType().GetName())
		}
		ca := r.closed.GetChildWorkflowExecutionCompletedEventAttributes()
		if ca.GetWorkflowExecution().GetRunId() != sa.GetWorkflowExecution().GetRunId() {
			t.Errorf("child completed as run %s, started as %s", ca.GetWorkflowExecution().GetRunId(), sa.GetWorkflowExecution().GetRunId())
		}
		childEvents := requireChildOf(t, childClient, sa.GetWorkflowExecution(), defaultNamespace, parent, id)
		requireSingleClose(t, childEvents)
		if sku := childEvents[0].GetWorkflowExecutionStartedEventAttributes().GetMemo().GetFields()["sku"]; sku == nil ||
			decodeString(t, &commonpb.Payloads{Payloads: []*commonpb.Payload{sku}}) == "" {
			t.Errorf("child %s: memo %v, want its sku", sa.GetWorkflowExecution().GetWorkflowId(),
				childEvents[0].GetWorkflowExecutionStartedEventAttributes().GetMemo())
		}
	}
	desc, err := parentClient.DescribeWorkflowExecution(testCtx(t, 10*time.Second), run.GetID(), run.GetRunID())
	requireNoError(t, err, "describing the parent")
	if n := len(desc.GetPendingChildren()); n != 0 {
		t.Errorf("closed parent lists %d pending children", n)
	}
	replayHistory(t, events, childWorkflows...)
}

func TestChildPerLineItem(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOptions{})
	tq := taskQueueFor(t)
	c := newClient(t, srv.Addr(), defaultNamespace)
	startWorker(t, c, tq, registerChildWorkflows)
	run, err := c.ExecuteWorkflow(testCtx(t, 10*time.Second), client.StartWorkflowOptions{ID: "invoice", TaskQueue: tq},
		Invoice, InvoiceInput{ChildIDPrefix: "invoice", Items: invoiceItems})
	requireNoError(t, err, "starting Invoice")
	var res InvoiceResult
	requireNoError(t, getResult(t, c, run, 30*time.Second, &res), "Invoice result")
	requireInvoice(t, c, c, run, res, defaultNamespace)
}

func TestChildInOtherNamespace(t *testing.T) {
	t.Parallel()
	const other = "children-elsewhere"
	srv := startServer(t, serverOptions{Namespaces: []string{other}})
	tq := taskQueueFor(t)
	c := newClient(t, srv.Addr(), defaultNamespace)
	oc := newClient(t, srv.Addr(), other)
	startWorker(t, c, tq, registerChildWorkflows)
	startWorker(t, oc, tq, registerChildWorkflows)
	run, err := c.ExecuteWorkflow(testCtx(t, 10*time.Second), client.StartWorkflowOptions{ID: "invoice-x", TaskQueue: tq},
		Invoice, InvoiceInput{ChildIDPrefix: "invoice-x", Items: invoiceItems, ChildNamespace: other})
	requireNoError(t, err, "starting Invoice")
	var res InvoiceResult
	requireNoError(t, getResult(t, c, run, 30*time.Second, &res), "Invoice result")
	requireInvoice(t, c, oc, run, res, other)
	// The children live in the other namespace only.
	if _, err := c.DescribeWorkflowExecution(testCtx(t, 5*time.Second), "invoice-x-line-0", ""); err == nil {
		t.Errorf("a child is visible in the parent's namespace")
	}
}

func TestParentClosePolicies(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		policy enumspb.ParentClosePolicy
		end    string // complete, fail, continue-as-new, terminate, cancel
		want   enumspb.WorkflowExecutionStatus
	}{
		{"terminate-on-complete", enumspb.PARENT_CLOSE_POLICY_TERMINATE, "complete", enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED},
		{"default-on-terminate", enumspb.PARENT_CLOSE_POLICY_UNSPECIFIED, "terminate", enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED},
		{"terminate-on-cancel", enumspb.PARENT_CLOSE_POLICY_TERMINATE, "cancel", enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED},
		{"request-cancel-on-fail", enumspb.PARENT_CLOSE_POLICY_REQUEST_CANCEL, "fail", enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED},
		{"request-cancel-on-continue-as-new", enumspb.PARENT_CLOSE_POLICY_REQUEST_CANCEL, "continue-as-new", enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED},
		{"abandon-on-complete", enumspb.PARENT_CLOSE_POLICY_ABANDON, "complete", enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := startServer(t, serverOptions{InMemory: true})
			tq := taskQueueFor(t)
			c := newClient(t, srv.Addr(), defaultNamespace)
			startWorker(t, c, tq, registerChildWorkflows)
			id := "parent-" + tc.name
			run, err := c.ExecuteWorkflow(testCtx(t, 10*time.Second), client.StartWorkflowOptions{ID: id, TaskQueue: tq},
				ParentOfBlockedChildren, ParentInput{ChildIDPrefix: id, Children: 2, Policy: tc.policy, End: tc.end})
			requireNoError(t, err, "starting the parent")
			waitForHistory(t, c, id, run.GetRunID(), 20*time.Second, "both children started", func(evs []*historypb.HistoryEvent) bool {
				return countEvents(evs, evChildStarted) == 2 && countEvents(evs, evWftCompleted) >= 3
			})
			parent := &commonpb.WorkflowExecution{WorkflowId: id, RunId: run.GetRunID()}

			desc, err := c.DescribeWorkflowExecution(testCtx(t, 10*time.Second), id, run.GetRunID())
			requireNoError(t, err, "describing the parent")
			pending := desc.GetPendingChildren()
			wantPolicy := tc.policy
			if wantPolicy == enumspb.PARENT_CLOSE_POLICY_UNSPECIFIED {
				wantPolicy = enumspb.PARENT_CLOSE_POLICY_TERMINATE
			}
			if len(pending) != 2 {
				t.Fatalf("describe: %d pending children, want 2", len(pending))
			}
			children := map[string]string{}
			for _, p := range pending {
				if p.GetRunId() == "" || p.GetWorkflowTypeName() != "BlockedChild" || p.GetParentClosePolicy() != wantPolicy {
					t.Errorf("pending child %v", p)
				}
				children[p.GetWorkflowId()] = p.GetRunId()
			}

			switch tc.end {
			case "terminate":
				requireNoError(t, c.TerminateWorkflow(testCtx(t, 5*time.Second), id, run.GetRunID(), "test ends it"), "terminate")
			case "cancel":
				requireNoError(t, c.CancelWorkflow(testCtx(t, 5*time.Second), id, run.GetRunID()), "cancel")
			default:
				requireNoError(t, c.SignalWorkflow(testCtx(t, 5*time.Second), id, run.GetRunID(), signalFinish, nil), "signal")
			}
			waitForHistory(t, c, id, run.GetRunID(), 20*time.Second, "parent closed", func(evs []*historypb.HistoryEvent) bool {
				switch lastEvent(evs).GetEventType() {
				case evWfCompleted, evWfFailed, evWfTerminated, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED,
					enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
					return true
				}
				return false
			})

			for wf, runID := range children {
				if tc.want == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
					time.Sleep(time.Second) // Abandoned: nothing may happen to it.
				}
				waitForStatus(t, c, wf, runID, tc.want, 20*time.Second)
				events := getHistory(t, c, wf, runID)
				switch tc.want {
				case enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED:
					a := lastEvent(events).GetWorkflowExecutionTerminatedEventAttributes()
					if a.GetReason() != "by parent close policy" {
						t.Errorf("child %s terminated with reason %q", wf, a.GetReason())
					}
				case enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED:
					req := eventsOfType(events, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED)
					if len(req) != 1 || req[0].GetWorkflowExecutionCancelRequestedEventAttributes().GetExternalWorkflowExecution().GetRunId() != run.GetRunID() {
						t.Errorf("child %s: cancel requests %v, want one from the parent", wf, req)
					}
				case enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING:
					requireNoError(t, c.SignalWorkflow(testCtx(t, 5*time.Second), wf, runID, signalFinish, nil), "signal abandoned child")
					waitForStatus(t, c, wf, runID, enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED, 20*time.Second)
				}
				requireChildOf(t, c, &commonpb.WorkflowExecution{WorkflowId: wf, RunId: runID}, defaultNamespace, parent,
					childInitiatedID(t, c, parent, wf))
			}
			events := getHistory(t, c, id, run.GetRunID())
			requireCleanHistory(t, events)
			childEvents(t, events)
			if tc.end != "terminate" {
				replayHistory(t, events, childWorkflows...)
			}
		})
	}
}

func childInitiatedID(t testing.TB, c client.Client, parent *commonpb.WorkflowExecution, childID string) int64 {
	t.Helper()
	for _, ev := range eventsOfType(getHistory(t, c, parent.GetWorkflowId(), parent.GetRunId()), evChildInitiated) {
		if ev.GetStartChildWorkflowExecutionInitiatedEventAttributes().GetWorkflowId() == childID {
			return ev.GetEventId()
		}
	}
	t.Fatalf("no child %s initiated by %v", childID, parent)
	return 0
}

func TestChildOutcomes(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOptions{})
	tq := taskQueueFor(t)
	c := newClient(t, srv.Addr(), defaultNamespace)
	startWorker(t, c, tq, registerChildWorkflows)

	// Holds the id the "taken" case's child asks for.
	taken, err := c.ExecuteWorkflow(testCtx(t, 10*time.Second), client.StartWorkflowOptions{ID: "taken-id", TaskQueue: tq}, BlockedChild)
	requireNoError(t, err, "starting the workflow that holds the id")

	cases := []struct {
		kind, want string
		closeEvent enumspb.EventType
	}{
		{"fail", "failed: child broke", evChildFailed},
		{"retry", "completed: attempt 2", evChildCompleted},
		{"timeout", "timed out: " + enumspb.TIMEOUT_TYPE_START_TO_CLOSE.String(), evChildTimedOut},
		{"cancel", "canceled", evChildCanceled},
		{"taken:taken-id", "already started", evChildStartFail},
	}
	for _, tc := range cases {
		t.Run(tc.kind, func(t *testing.T) {
			t.Parallel()
			id := fmt.Sprintf("outcome-%s", tc.kind[:4])
			run, err := c.ExecuteWorkflow(testCtx(t, 10*time.Second), client.StartWorkflowOptions{ID: id, TaskQueue: tq}, ChildOutcome, tc.kind, id+"-child")
			requireNoError(t, err, "starting ChildOutcome")
			var res string
			requireNoError(t, getResult(t, c, run, 30*time.Second, &res), "ChildOutcome result")
			if res != tc.want {
				t.Errorf("result = %q, want %q", res, tc.want)
			}
			events := getHistory(t, c, id, run.GetRunID())
			requireCleanHistory(t, events)
			requireSingleClose(t, events)
			refs := childEvents(t, events)
			if len(refs) != 1 {
				t.Fatalf("%d children initiated, want 1", len(refs))
			}
			for initiated, r := range refs {
				if r.closed == nil || r.closed.GetEventType() != tc.closeEvent {
					t.Fatalf("child closed with %v, want %v\n%s", r.closed, tc.closeEvent, formatHistory(events))
				}
				parent := &commonpb.WorkflowExecution{WorkflowId: id, RunId: run.GetRunID()}
				switch tc.kind {
				case "fail":
					a := r.closed.GetChildWorkflowExecutionFailedEventAttributes()
					if a.GetFailure().GetMessage() != "child broke" || a.GetFailure().GetApplicationFailureInfo().GetType() != errTypeFatal {
						t.Errorf("ChildWorkflowExecutionFailed failure = %v", a.GetFailure())
					}
				case "retry":
					started := r.started.GetChildWorkflowExecutionStartedEventAttributes().GetWorkflowExecution()
					done := r.closed.GetChildWorkflowExecutionCompletedEventAttributes().GetWorkflowExecution()
					if started.GetRunId() == done.GetRunId() {
						t.Errorf("the retried child completed in its first run %s", started.GetRunId())
					}
					requireChildOf(t, c, started, defaultNamespace, parent, initiated)
					second := requireChildOf(t, c, done, defaultNamespace, parent, initiated)
					if a := second[0].GetWorkflowExecutionStartedEventAttributes(); a.GetAttempt() != 2 ||
						a.GetInitiator() != enumspb.CONTINUE_AS_NEW_INITIATOR_RETRY {
						t.Errorf("second run started with attempt %d initiator %v", a.GetAttempt(), a.GetInitiator())
					}
				case "cancel":
					if n := countEvents(events, enumspb.EVENT_TYPE_EXTERNAL_WORKFLOW_EXECUTION_CANCEL_REQUESTED); n != 1 {
						t.Errorf("%d ExternalWorkflowExecutionCancelRequested, want 1", n)
					}
					child := r.started.GetChildWorkflowExecutionStartedEventAttributes().GetWorkflowExecution()
					ce := requireChildOf(t, c, child, defaultNamespace, parent, initiated)
					if lastEvent(ce).GetEventType() != enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED {
						t.Errorf("child ended with %v", lastEvent(ce).GetEventType())
					}
				case "taken:taken-id":
					a := r.closed.GetStartChildWorkflowExecutionFailedEventAttributes()
					if a.GetCause() != enumspb.START_CHILD_WORKFLOW_EXECUTION_FAILED_CAUSE_WORKFLOW_ALREADY_EXISTS ||
						a.GetWorkflowId() != "taken-id" || r.started != nil {
						t.Errorf("StartChildWorkflowExecutionFailed = %v (started %v)", a, r.started)
					}
				}
			}
			replayHistory(t, events, childWorkflows...)
		})
	}
	t.Cleanup(func() {
		// The workflow holding the id was never touched by the parent.
		if st := describeStatus(t, c, "taken-id", taken.GetRunID()); st != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
			t.Errorf("the workflow holding the id is %v", st)
		}
	})
}

// TestChildrenAcrossServerKill9: the server dies while a parent waits on
// children that wait on timers; after a restart on the same database every
// child's result reaches the parent exactly once.
func TestChildrenAcrossServerKill9(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOptions{})
	tq := taskQueueFor(t)
	c := newClient(t, srv.Addr(), defaultNamespace)
	startWorker(t, c, tq, registerChildWorkflows)
	run, err := c.ExecuteWorkflow(testCtx(t, 10*time.Second), client.StartWorkflowOptions{ID: "invoice-crash", TaskQueue: tq},
		Invoice, InvoiceInput{ChildIDPrefix: "invoice-crash", Items: invoiceItems, Pause: 3 * time.Second})
	requireNoError(t, err, "starting Invoice")
	waitForHistory(t, c, run.GetID(), run.GetRunID(), 20*time.Second, "children started", func(evs []*historypb.HistoryEvent) bool {
		return countEvents(evs, evChildStarted) >= 2
	})

	srv.Kill9()
	srv.Restart(t)

	var res InvoiceResult
	requireNoError(t, c.GetWorkflow(testCtx(t, 5*time.Second), run.GetID(), run.GetRunID()).Get(testCtx(t, 45*time.Second), &res),
		"Invoice result after the server restart")
	requireInvoice(t, c, c, run, res, defaultNamespace)
}

// TestFailingWorkflowTaskIsNotRetriedInATightLoop measures how often a
// workflow task that always fails is handed out: after its first failure the
// retries wait for the task timeout, which grows past the third attempt.
func TestFailingWorkflowTaskIsNotRetriedInATightLoop(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverOptions{InMemory: true})
	tq := taskQueueFor(t)
	c := newClient(t, srv.Addr(), defaultNamespace)
	startWorker(t, c, tq, registerChildWorkflows)
	run, err := c.ExecuteWorkflow(testCtx(t, 10*time.Second), client.StartWorkflowOptions{
		ID: "always-panics", TaskQueue: tq, WorkflowTaskTimeout: time.Second,
	}, AlwaysPanics)
	requireNoError(t, err, "starting AlwaysPanics")
	const window = 8 * time.Second
	time.Sleep(window)
	runs := alwaysPanicsRuns.Load()
	t.Logf("%d workflow tasks handed out in %v", runs, window)
	// Attempt 1 fails at once, attempts 2 and 3 time out after 1 s each, the
	// 4th after 1 s + 4-5 s: 5 in 8 s, 6 with slack (a tight loop makes thousands).
	if runs < 3 || runs > 6 {
		t.Errorf("%d workflow tasks in %v, want 3 to 6", runs, window)
	}
	desc, err := c.DescribeWorkflowExecution(testCtx(t, 5*time.Second), run.GetID(), run.GetRunID())
	requireNoError(t, err, "describe")
	if a := desc.GetPendingWorkflowTask().GetAttempt(); int64(a) < runs {
		t.Errorf("pending workflow task attempt %d, after %d deliveries", a, runs)
	}
	events := getHistory(t, c, run.GetID(), run.GetRunID())
	if n := countEvents(events, enumspb.EVENT_TYPE_WORKFLOW_TASK_FAILED); n != 1 {
		t.Errorf("%d WorkflowTaskFailed events, want 1 (later attempts are transient)\n%s", n, formatHistory(events))
	}
	requireNoError(t, c.TerminateWorkflow(testCtx(t, 5*time.Second), run.GetID(), run.GetRunID(), "test over"), "terminate")
}
