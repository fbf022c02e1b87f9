// The ways a run ends, each writing Temporal's close event: completion,
// failure and timeout (both retried by the workflow's retry policy, which
// starts the next run), cancellation, and continue-as-new.
#pragma once

#include "kairos/history/mutable_state.h"
#include "temporal/api/command/v1/message.pb.h"

namespace kairos::history {

void CompleteWorkflow(MutableState& ms, const temporal::api::common::v1::Payloads& result);
void FailWorkflow(MutableState& ms, const temporal::api::failure::v1::Failure& failure);
void TimeOutWorkflow(MutableState& ms, bool run_timeout);
void CancelWorkflow(MutableState& ms, const temporal::api::common::v1::Payloads& details);
void ContinueAsNew(MutableState& ms, const temporal::api::command::v1::ContinueAsNewWorkflowExecutionCommandAttributes& a);

}  // namespace kairos::history
