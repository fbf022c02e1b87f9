// The up-front checks Temporal's frontend makes on each request before any
// work is done: required fields, id and length limits, run ids that must be
// UUIDs, task queue names, timeouts and policies. Each failure is the gRPC
// status and message Temporal gives, so SDKs and scripts see the same error.
//
// `Validate` has an overload per request type that Temporal checks; a request
// type without one passes. `Normalize` fills in what Temporal's frontend fills
// in before the request goes further (generated ids, default wait stages).
#pragma once

#include <string_view>

#include <grpcpp/support/status.h>

#include "kairos/history/history_service.h"
#include "kairos/visibility/search_attribute_validator.h"
#include "temporal/api/workflowservice/v1/request_response.pb.h"

namespace kairos::frontend {

namespace wsv1 = temporal::api::workflowservice::v1;

// Temporal's limit on ids, names, identities and request ids (bytes).
inline constexpr size_t kMaxIdLength = 1000;

// A UUID in one of the forms Temporal accepts: 36 characters with hyphens,
// 32 hex digits, `urn:uuid:` + 36, or `{` 36 `}`.
bool IsValidUuid(std::string_view s);

grpc::Status ValidateNamespaceField(const std::string& name);

grpc::Status Validate(const wsv1::StartWorkflowExecutionRequest& req);
grpc::Status Validate(const wsv1::SignalWithStartWorkflowExecutionRequest& req);
grpc::Status Validate(const wsv1::SignalWorkflowExecutionRequest& req);
grpc::Status Validate(const wsv1::RequestCancelWorkflowExecutionRequest& req);
grpc::Status Validate(const wsv1::TerminateWorkflowExecutionRequest& req);
grpc::Status Validate(const wsv1::DescribeWorkflowExecutionRequest& req);
grpc::Status Validate(const wsv1::DeleteWorkflowExecutionRequest& req);
grpc::Status Validate(const wsv1::ResetWorkflowExecutionRequest& req);
grpc::Status Validate(const wsv1::GetWorkflowExecutionHistoryRequest& req);
grpc::Status Validate(const wsv1::GetWorkflowExecutionHistoryReverseRequest& req);
grpc::Status Validate(const wsv1::ResetStickyTaskQueueRequest& req);
grpc::Status Validate(const wsv1::PauseActivityRequest& req);
grpc::Status Validate(const wsv1::ResetActivityRequest& req);
grpc::Status Validate(const wsv1::UpdateActivityOptionsRequest& req);
grpc::Status Validate(const wsv1::UnpauseActivityRequest& req);
grpc::Status Validate(const wsv1::QueryWorkflowRequest& req);
grpc::Status Validate(const wsv1::UpdateWorkflowExecutionRequest& req);
grpc::Status Validate(const wsv1::PollWorkflowExecutionUpdateRequest& req);
grpc::Status Validate(const wsv1::ExecuteMultiOperationRequest& req);
grpc::Status Validate(const wsv1::PollWorkflowTaskQueueRequest& req);
grpc::Status Validate(const wsv1::PollActivityTaskQueueRequest& req);
grpc::Status Validate(const wsv1::RespondWorkflowTaskCompletedRequest& req);
grpc::Status Validate(const wsv1::RespondWorkflowTaskFailedRequest& req);
grpc::Status Validate(const wsv1::RespondActivityTaskCompletedRequest& req);
grpc::Status Validate(const wsv1::RespondActivityTaskFailedRequest& req);
grpc::Status Validate(const wsv1::RespondActivityTaskCanceledRequest& req);
grpc::Status Validate(const wsv1::RecordActivityTaskHeartbeatByIdRequest& req);
grpc::Status Validate(const wsv1::RespondActivityTaskCompletedByIdRequest& req);
grpc::Status Validate(const wsv1::RespondActivityTaskFailedByIdRequest& req);
grpc::Status Validate(const wsv1::RespondActivityTaskCanceledByIdRequest& req);
grpc::Status Validate(const wsv1::DescribeTaskQueueRequest& req);
grpc::Status Validate(const wsv1::StartBatchOperationRequest& req);
grpc::Status Validate(const wsv1::DescribeBatchOperationRequest& req);
grpc::Status Validate(const wsv1::StopBatchOperationRequest& req);
template <class Request>
grpc::Status Validate(const Request&) {
  return grpc::Status::OK;
}

void Normalize(wsv1::StartWorkflowExecutionRequest* req);
void Normalize(wsv1::SignalWithStartWorkflowExecutionRequest* req);
void Normalize(wsv1::UpdateWorkflowExecutionRequest* req);
void Normalize(wsv1::ExecuteMultiOperationRequest* req);
template <class Request>
void Normalize(Request*) {}

// What the requests the __temporal_system Nexus endpoint makes for a
// workflow pass, as a client's would: normalization, validation and the
// namespace's search attributes.
history::SystemNexusAdmission SystemNexusAdmission(const visibility::SearchAttributeValidator* search_attributes);

}  // namespace kairos::frontend
