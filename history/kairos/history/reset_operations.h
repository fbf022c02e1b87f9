// Post-reset operations (ResetWorkflowExecutionRequest.post_reset_operations),
// as Temporal 1.32 takes them: only UpdateWorkflowOptions, applied to the
// reset's new run before its first workflow task. Of the options, Kairos
// takes the priority and the versioning override; a time-skipping
// configuration needs a feature Kairos does not have and is refused.
#pragma once

#include <grpcpp/support/status.h>

#include "kairos/history/mutable_state.h"
#include "temporal/api/workflowservice/v1/request_response.pb.h"

namespace kairos::history {

// InvalidArgument with Temporal's message for an operation it does not take
// (SignalWorkflow, an empty one) or an update mask path that names no field.
grpc::Status CheckPostResetOperations(const temporal::api::workflowservice::v1::ResetWorkflowExecutionRequest& req);

// Merges each operation's options (the paths of its mask) into the run's
// and writes WorkflowExecutionOptionsUpdated when they changed.
void ApplyPostResetOperations(MutableState& ms,
                              const temporal::api::workflowservice::v1::ResetWorkflowExecutionRequest& req);

}  // namespace kairos::history
