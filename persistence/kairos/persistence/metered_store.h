// Temporal's persistence metrics for any Store: persistence_requests,
// persistence_latency and persistence_errors per operation, named after
// Temporal's persistence operations where one matches (ReadHistoryBranch,
// GetWorkflowExecution, ListWorkflowExecutions, ...), Kairos's own names
// otherwise (Commit: the one transaction of a group of writes).
#pragma once

#include <memory>

#include "kairos/persistence/store.h"

namespace kairos::metrics {
class Registry;
}

namespace kairos::persistence {

std::unique_ptr<Store> WithPersistenceMetrics(std::unique_ptr<Store> inner, metrics::Registry* registry);

}  // namespace kairos::persistence
