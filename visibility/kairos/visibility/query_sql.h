// Translation of a List Filter into a condition over Kairos's visibility
// table, with Temporal's SQL-visibility semantics and error messages:
// names resolve to system columns or to the run's search-attribute values,
// values are checked against the attribute's type and bound as parameters.
#pragma once

#include <string>

#include <grpcpp/support/status.h>

#include "kairos/persistence/store.h"
#include "kairos/visibility/search_attributes.h"

namespace kairos::visibility {

enum class QueryUse { kList, kCount };

// Whose rows a query lists: workflow runs, or standalone Nexus operations
// (their carrier runs' rows, see history's StandaloneNexusNamespaceId),
// queried with the attributes Temporal's CHASM visibility gives operations:
// OperationId (also WorkflowId), Endpoint, Service, Operation, RequestId,
// ExecutionStatus (a Keyword of the operation's status names), the times,
// and the namespace's custom attributes.
enum class QueryTarget { kWorkflows, kNexusOperations };

// Where a carrier run keeps its operation's service and request id: in its
// search attributes, under names no user attribute can take.
inline constexpr char kNexusServiceAttribute[] = "TemporalNexusService";
inline constexpr char kNexusRequestIdAttribute[] = "TemporalNexusRequestId";

struct TranslatedQuery {
  persistence::VisibilityFilter filter;
  // Count ... GROUP BY: the attribute, its column and type.
  std::string group_by;
  std::string group_column;
  enums::IndexedValueType group_type = enums::INDEXED_VALUE_TYPE_UNSPECIFIED;
};

// Errors are INVALID_ARGUMENT "invalid query: ..." in Temporal's words.
grpc::Status TranslateQuery(const std::string& query, const TypeMap& custom, QueryUse use, TranslatedQuery* out,
                            QueryTarget target = QueryTarget::kWorkflows);

// "Running", "Completed", ... and back (also WORKFLOW_EXECUTION_STATUS_*).
std::string StatusName(int status);
std::optional<int> ParseStatusName(const std::string& name);

}  // namespace kairos::visibility
