// Child workflows on the parent's side, as Temporal records them: the
// StartChildWorkflowExecution command, the events that report the child's
// start and close, and the durable steps armed when a run closes (its result
// to its parent, its parent close policy to its children). The engine runs
// those steps (engine_children.cc); everything here only changes one run.
#pragma once

#include <optional>
#include <string>

#include "kairos/history/commands.h"
#include "kairos/history/mutable_state.h"
#include "temporal/api/command/v1/message.pb.h"

namespace kairos::history {

// StartChildWorkflowExecutionInitiated, the pending child, and the
// START_CHILD step that starts it after this change commits.
std::optional<CommandError> StartChildWorkflow(MutableState& ms,
                                               temporal::api::command::v1::StartChildWorkflowExecutionCommandAttributes a);

// ChildWorkflowExecutionStarted for a pending child.
void RecordChildStarted(MutableState& ms, records::ChildInfo& child, const std::string& run_id);

// StartChildWorkflowExecutionFailed; the child is no longer pending.
void RecordChildStartFailed(MutableState& ms, int64_t initiated_event_id, enums::StartChildWorkflowExecutionFailedCause cause);

// The child's close event as seen by its parent (ChildWorkflowExecution-
// Completed / Failed / Canceled / Terminated / TimedOut); the child is no
// longer pending. False when `close_event` is no close event.
bool RecordChildClosed(MutableState& ms, int64_t initiated_event_id, const temporal::api::common::v1::WorkflowExecution& child,
                       const hv1::HistoryEvent& close_event);

// A child event another run recorded after a reset's point (started,
// start failed, closed), applied again to the reset's new run when that
// child is pending there (same initiated event id and workflow id), as
// Temporal's resetter reconnects children. False when it does not apply.
bool ReapplyChildEvent(MutableState& ms, const hv1::HistoryEvent& event);

// For a run that closed in this change: the steps that report its result to
// its parent (unless a next run carries on) and that apply its parent close
// policy to its pending children.
void ArmCloseSteps(MutableState& ms);

}  // namespace kairos::history
