// Turns the commands of a completed workflow task into events and pending
// state, exactly as Temporal records them. An invalid command yields the
// WorkflowTaskFailedCause Temporal would report; the caller then discards
// the whole change and fails the workflow task instead.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "kairos/history/mutable_state.h"
#include "temporal/api/workflowservice/v1/request_response.pb.h"

namespace kairos::history {

struct CommandError {
  enums::WorkflowTaskFailedCause cause;
  std::string message;
  // The run is terminated after the failed task (Temporal does this for
  // payloads over the size limit: retrying could not help).
  bool terminate = false;
};

// Applies one protocol message (an update's acceptance, rejection or
// response) at the position of its ProtocolMessage command.
using ProtocolMessageFn = std::function<std::optional<CommandError>(const std::string& message_id)>;

std::optional<CommandError> ApplyCommands(MutableState& ms,
                                          const temporal::api::workflowservice::v1::RespondWorkflowTaskCompletedRequest& req,
                                          const ProtocolMessageFn& protocol_message);

// Activity bookkeeping shared with the engine (timeouts, retries, completion).
struct ActivityTimeoutsMs {
  int64_t schedule_to_close, schedule_to_start, start_to_close, heartbeat;
};
enum class ActivityTimeoutProblem { kNone, kNegative, kNoCloseTimeout };
// Temporal's checks and normalisation of an activity's timeouts, on schedule
// and on an options update (whose callers word the problems differently).
ActivityTimeoutProblem NormalizeActivityTimeouts(int64_t run_timeout_ms, ActivityTimeoutsMs& timeouts);
void ArmActivityScheduleTimers(MutableState& ms, records::ActivityInfo& activity);
void EnqueueActivityTask(MutableState& ms, records::ActivityInfo& activity);
// When a run's version transition completes: the activities it held back
// (not started, no queued task, not waiting for a retry, not paused) are
// queued again, as Temporal reschedules them.
void ResendHeldActivities(MutableState& ms);
// The activity's next attempt, dispatched by a retry timer at `fire_nanos`.
void ArmActivityRetry(MutableState& ms, records::ActivityInfo& activity, int64_t fire_nanos);
// Writes the started event of an activity that is closing; returns its id
// (kBufferedEventId while a workflow task runs).
int64_t WriteActivityStarted(MutableState& ms, const records::ActivityInfo& activity);
void DropActivityTimers(MutableState& ms, const records::ActivityInfo& activity);

}  // namespace kairos::history
