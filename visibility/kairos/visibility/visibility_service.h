// The visibility service: Temporal's list, scan and count RPCs over the
// visibility rows history writes with each state change. Pages are keyset
// pages (close time, start time, run id), so a page never shifts while
// workflows start.
#pragma once

#include <string>

#include <grpcpp/support/status.h>

#include "kairos/persistence/store.h"
#include "kairos/visibility/search_attributes.h"
#include "temporal/api/workflowservice/v1/request_response.pb.h"

namespace kairos::visibility {

namespace wsv1 = temporal::api::workflowservice::v1;

struct TranslatedQuery;

// Temporal's default and largest visibility page.
inline constexpr int kMaxPageSize = 1000;

class VisibilityService {
 public:
  VisibilityService(persistence::Store* store, const SearchAttributeRegistry* attributes)
      : store_(store), attributes_(attributes) {}

  grpc::Status List(const std::string& namespace_id, const wsv1::ListWorkflowExecutionsRequest& req,
                    wsv1::ListWorkflowExecutionsResponse* resp);
  grpc::Status Scan(const std::string& namespace_id, const wsv1::ScanWorkflowExecutionsRequest& req,
                    wsv1::ScanWorkflowExecutionsResponse* resp);
  grpc::Status Count(const std::string& namespace_id, const wsv1::CountWorkflowExecutionsRequest& req,
                     wsv1::CountWorkflowExecutionsResponse* resp);
  grpc::Status ListOpen(const std::string& namespace_id, const wsv1::ListOpenWorkflowExecutionsRequest& req,
                        wsv1::ListOpenWorkflowExecutionsResponse* resp);
  grpc::Status ListClosed(const std::string& namespace_id, const wsv1::ListClosedWorkflowExecutionsRequest& req,
                          wsv1::ListClosedWorkflowExecutionsResponse* resp);

  // Standalone Nexus operations' lists and counts (QueryTarget::
  // kNexusOperations): the rows of their carrier runs, kept under
  // `rows_namespace_id`, queried with the operations' attribute names and
  // the custom attributes of the namespace `namespace_id`.
  grpc::Status ListNexusOperations(const std::string& namespace_id, const std::string& rows_namespace_id,
                                   const std::string& query, int page_size, const std::string& token,
                                   wsv1::ListWorkflowExecutionsResponse* resp);
  grpc::Status CountNexusOperations(const std::string& namespace_id, const std::string& rows_namespace_id,
                                    const std::string& query, wsv1::CountWorkflowExecutionsResponse* resp);

 private:
  using Executions = google::protobuf::RepeatedPtrField<temporal::api::workflow::v1::WorkflowExecutionInfo>;

  // One page of rows matching `filter` into `out`; sets the next token.
  // Attribute types are those of `attributes_namespace_id` (empty: the rows').
  grpc::Status Page(const std::string& namespace_id, const persistence::VisibilityFilter& filter, int page_size,
                    const std::string& token, Executions* out, std::string* next_token,
                    const std::string& attributes_namespace_id = "");
  // The count of the rows a translated query matches, and its groups.
  grpc::Status CountRows(const std::string& namespace_id, const TranslatedQuery& q,
                         wsv1::CountWorkflowExecutionsResponse* resp);

  persistence::Store* store_;
  const SearchAttributeRegistry* attributes_;
};

}  // namespace kairos::visibility
