// The __temporal_system Nexus endpoint: operations a workflow asks of the
// server itself (Temporal 1.32: WorkflowService.SignalWithStartWorkflowExecution),
// scheduled like any Nexus operation but answered in process, without an
// endpoint or a handler worker.
#pragma once

#include <optional>
#include <string>

#include "temporal/api/command/v1/message.pb.h"
#include "temporal/api/common/v1/message.pb.h"
#include "temporal/api/workflowservice/v1/request_response.pb.h"

namespace kairos::history {

inline constexpr char kSystemNexusEndpoint[] = "__temporal_system";
inline constexpr char kSystemNexusWorkflowService[] = "temporal.api.workflowservice.v1.WorkflowService";
inline constexpr char kSystemNexusSignalWithStart[] = "SignalWithStartWorkflowExecution";

// Why the command may not schedule this system operation, in Temporal's
// words (nullopt: it may). `ns_name` is the caller's namespace.
std::optional<std::string> CheckSystemNexusCommand(
    const temporal::api::command::v1::ScheduleNexusOperationCommandAttributes& a, const std::string& ns_name);

// The operation's input: a SignalWithStartWorkflowExecutionRequest in a
// binary or JSON protobuf payload; false (with the reason) when it is not.
bool DecodeSignalWithStart(const temporal::api::common::v1::Payload& input,
                           temporal::api::workflowservice::v1::SignalWithStartWorkflowExecutionRequest* req,
                           std::string* error);

// A system operation's result as Temporal 1.32 encodes it: binary protobuf
// with its message type (later Temporals also mark it as the server's).
temporal::api::common::v1::Payload SystemNexusResult(const google::protobuf::Message& m);

}  // namespace kairos::history
