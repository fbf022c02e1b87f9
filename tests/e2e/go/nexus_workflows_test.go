package e2e

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nexus-rpc/sdk-go/nexus"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/temporalnexus"
	"go.temporal.io/sdk/workflow"
)

// The Nexus service the tests' handler worker offers.
const nexusServiceName = "greeting"

// nexusCall is what NexusCallerWorkflow calls.
type nexusCall struct {
	Endpoint  string
	Operation string
	Input     string
	Timeout   time.Duration
	// The command's schedule-to-start and start-to-close timeouts.
	ScheduleToStart time.Duration
	StartToClose    time.Duration
	// Cancel the operation once it has started, then wait for its outcome.
	CancelAfterStart bool
	// Cancel the operation after this long, started or not.
	CancelAfter time.Duration
	// The "update" operation's input (instead of Input).
	Update *nexusUpdateInput
}

// NexusCallerWorkflow runs one Nexus operation and returns its result.
func NexusCallerWorkflow(ctx workflow.Context, call nexusCall) (string, error) {
	c := workflow.NewNexusClient(call.Endpoint, nexusServiceName)
	opts := workflow.NexusOperationOptions{ScheduleToCloseTimeout: call.Timeout,
		ScheduleToStartTimeout: call.ScheduleToStart, StartToCloseTimeout: call.StartToClose}
	opCtx, cancel := workflow.WithCancel(ctx)
	var input any = call.Input
	if call.Update != nil {
		input = *call.Update
	}
	fut := c.ExecuteOperation(opCtx, call.Operation, input, opts)
	if call.CancelAfterStart {
		var exec workflow.NexusOperationExecution
		if err := fut.GetNexusOperationExecution().Get(ctx, &exec); err != nil {
			return "", err
		}
		cancel()
	}
	if call.CancelAfter > 0 {
		workflow.Go(ctx, func(ctx workflow.Context) {
			_ = workflow.Sleep(ctx, call.CancelAfter)
			cancel()
		})
	}
	var out string
	err := fut.Get(ctx, &out)
	return out, err
}

// NexusHandlerWorkflow backs the asynchronous operation: an input starting
// with "wait" waits for a "finish" signal (whose value it returns), an input
// "fail" fails, one starting with "continue" continues as new (with "after "
// before it), anything else answers after a short timer.
func NexusHandlerWorkflow(ctx workflow.Context, input string) (string, error) {
	switch {
	case strings.HasPrefix(input, "continue"):
		return "", workflow.NewContinueAsNewError(ctx, NexusHandlerWorkflow, "after "+input)
	case strings.HasPrefix(input, "stubborn"):
		// Ignores the caller's cancel request: waits for "finish" regardless.
		var value string
		dctx, _ := workflow.NewDisconnectedContext(ctx)
		workflow.GetSignalChannel(dctx, "finish").Receive(dctx, &value)
		return value, nil
	case strings.HasPrefix(input, "wait"):
		// Cancellation (the caller's cancel request) ends the wait.
		var value string
		sel := workflow.NewSelector(ctx)
		sel.AddReceive(workflow.GetSignalChannel(ctx, "finish"), func(c workflow.ReceiveChannel, _ bool) { c.Receive(ctx, &value) })
		sel.AddReceive(ctx.Done(), func(workflow.ReceiveChannel, bool) {})
		sel.Select(ctx)
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		return value, nil
	case input == "fail":
		return "", errors.New("handler workflow failed")
	default:
		if err := workflow.Sleep(ctx, 200*time.Millisecond); err != nil {
			return "", err
		}
		return "hello " + input, nil
	}
}

// nexusHandlerWorkflowID is the id of the workflow an operation starts
// (derived from the input, so that a retried start finds the same one).
func nexusHandlerWorkflowID(input string) string { return "nexus-handler-" + input }

// newNexusService: "echo" (synchronous), "greet" (a workflow run), "fail"
// (a handler or operation error chosen by the input) and "flaky" (two
// retryable errors, then a result; `flakyCalls` counts the attempts).
func newNexusService(flakyCalls *atomic.Int32) *nexus.Service {
	svc := nexus.NewService(nexusServiceName)
	echo := nexus.NewSyncOperation("echo", func(ctx context.Context, input string, _ nexus.StartOperationOptions) (string, error) {
		return "echo: " + input, nil
	})
	greet := temporalnexus.NewWorkflowRunOperation("greet", NexusHandlerWorkflow,
		func(ctx context.Context, input string, _ nexus.StartOperationOptions) (client.StartWorkflowOptions, error) {
			opts := client.StartWorkflowOptions{ID: nexusHandlerWorkflowID(input)}
			if strings.HasPrefix(input, "cron") {
				opts.CronSchedule = "@every 1s"
			}
			return opts, nil
		})
	fail := nexus.NewSyncOperation("fail", func(ctx context.Context, input string, _ nexus.StartOperationOptions) (string, error) {
		if input == "operation" {
			return "", nexus.NewOperationFailedError("the operation failed")
		}
		if input == "unavailable" {
			return "", nexus.HandlerErrorf(nexus.HandlerErrorTypeUnavailable, "not now")
		}
		return "", nexus.HandlerErrorf(nexus.HandlerErrorTypeBadRequest, "bad input %q", input)
	})
	flaky := nexus.NewSyncOperation("flaky", func(ctx context.Context, input string, _ nexus.StartOperationOptions) (string, error) {
		if flakyCalls.Add(1) <= 2 {
			return "", nexus.HandlerErrorf(nexus.HandlerErrorTypeInternal, "try again")
		}
		return "recovered " + input, nil
	})
	update := temporalnexus.MustNewTemporalOperation(temporalnexus.TemporalOperationOptions[nexusUpdateInput, string]{
		Name: "update",
		Start: func(ctx context.Context, nc temporalnexus.NexusClient, in nexusUpdateInput,
			_ temporalnexus.StartTemporalOperationOptions) (temporalnexus.TemporalOperationResult[string], error) {
			return temporalnexus.StartUpdateWorkflow[string](ctx, nc, client.UpdateWorkflowOptions{
				WorkflowID: in.WorkflowID, UpdateName: "set", UpdateID: in.UpdateID, Args: []any{in.Value},
				WaitForStage: client.WorkflowUpdateStageAccepted})
		},
	})
	if err := svc.Register(echo, greet, fail, flaky, update); err != nil {
		panic(err)
	}
	return svc
}

// nexusUpdateInput: the "update" operation runs update "set" (Value) of the
// handler namespace's NexusUpdatableWorkflow WorkflowID, with this update id
// (empty: the Nexus request id, as the SDK defaults it).
type nexusUpdateInput struct {
	WorkflowID string
	UpdateID   string
	Value      string
}

// NexusUpdatableWorkflow backs the "update" operation: update "set" takes a
// second (a timer, so that the operation is asynchronous), then answers the
// change; "fail" fails the update; "hang" never completes; "held" waits
// for a "release" signal first. The run ends once set to "done", or at once
// on a "quit" signal (leaving a hanging update without its outcome).
func NexusUpdatableWorkflow(ctx workflow.Context) (string, error) {
	status := "pending"
	quit, released := false, false
	workflow.Go(ctx, func(ctx workflow.Context) {
		workflow.GetSignalChannel(ctx, "quit").Receive(ctx, nil)
		quit = true
	})
	workflow.Go(ctx, func(ctx workflow.Context) {
		workflow.GetSignalChannel(ctx, "release").Receive(ctx, nil)
		released = true
	})
	err := workflow.SetUpdateHandler(ctx, "set", func(ctx workflow.Context, value string) (string, error) {
		if value == "hang" {
			return "", workflow.Await(ctx, func() bool { return false })
		}
		if value == "held" {
			if err := workflow.Await(ctx, func() bool { return released }); err != nil {
				return "", err
			}
		}
		if err := workflow.Sleep(ctx, time.Second); err != nil {
			return "", err
		}
		if value == "fail" {
			return "", temporal.NewApplicationError("update refused", "Refused")
		}
		before := status
		status = value
		return "from " + before + " to " + value, nil
	})
	if err != nil {
		return "", err
	}
	if err := workflow.Await(ctx, func() bool { return status == "done" || quit }); err != nil {
		return "", err
	}
	return status, nil
}
