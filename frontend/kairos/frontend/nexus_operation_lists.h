// ListNexusOperationExecutions and CountNexusOperationExecutions: standalone
// Nexus operations are listed from the visibility rows of their carrier runs
// (see history's StandaloneNexusNamespaceId, and visibility's
// QueryTarget::kNexusOperations for the attributes their queries name).
#pragma once

#include "temporal/api/nexus/v1/message.pb.h"
#include "temporal/api/workflow/v1/message.pb.h"

namespace kairos::frontend {

// A carrier run's list entry as the operation's: its search attributes are
// the operation's custom ones (the service and request id kept with them
// are left out).
temporal::api::nexus::v1::NexusOperationExecutionListInfo NexusOperationListInfo(
    const temporal::api::workflow::v1::WorkflowExecutionInfo& run);

}  // namespace kairos::frontend
