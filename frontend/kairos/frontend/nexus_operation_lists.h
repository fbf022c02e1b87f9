// ListNexusOperationExecutions and CountNexusOperationExecutions: standalone
// Nexus operations are listed from the visibility rows of their carrier runs
// (see history's StandaloneNexusNamespaceId), whose task queue is the
// operation's endpoint, type its operation and workflow id its operation id.
#pragma once

#include <string>

#include "temporal/api/nexus/v1/message.pb.h"
#include "temporal/api/workflow/v1/message.pb.h"

namespace kairos::frontend {

// The query with the operations' attribute names (OperationId, Endpoint,
// Operation) turned into the carrier rows' (WorkflowId, TaskQueue,
// WorkflowType); quoted values are left as they are.
std::string CarrierQuery(const std::string& query);

// A carrier run's list entry as the operation's.
temporal::api::nexus::v1::NexusOperationExecutionListInfo NexusOperationListInfo(
    const temporal::api::workflow::v1::WorkflowExecutionInfo& run);

}  // namespace kairos::frontend
