#include "kairos/errors.h"

#include <google/protobuf/any.pb.h>

#include "kairos/rpc_status.pb.h"
#include "temporal/api/errordetails/v1/message.pb.h"

namespace kairos::errors {
namespace {

namespace ed = temporal::api::errordetails::v1;

grpc::Status WithDetail(grpc::StatusCode code, const std::string& message,
                        const google::protobuf::Message& detail) {
  kairos::records::RpcStatus status;
  status.set_code(static_cast<int32_t>(code));
  status.set_message(message);
  status.add_details()->PackFrom(detail);
  return grpc::Status(code, message, status.SerializeAsString());
}

}  // namespace

grpc::Status InvalidArgument(const std::string& m) { return {grpc::StatusCode::INVALID_ARGUMENT, m}; }
grpc::Status Internal(const std::string& m) { return {grpc::StatusCode::INTERNAL, m}; }
grpc::Status Unavailable(const std::string& m) { return {grpc::StatusCode::UNAVAILABLE, m}; }
grpc::Status FailedPrecondition(const std::string& m) { return {grpc::StatusCode::FAILED_PRECONDITION, m}; }
grpc::Status AlreadyExists(const std::string& m) { return {grpc::StatusCode::ALREADY_EXISTS, m}; }
static grpc::Status NamespaceResourceExhausted(const std::string& m, temporal::api::enums::v1::ResourceExhaustedCause cause) {
  ed::ResourceExhaustedFailure d;
  d.set_cause(cause);
  d.set_scope(temporal::api::enums::v1::RESOURCE_EXHAUSTED_SCOPE_NAMESPACE);
  return WithDetail(grpc::StatusCode::RESOURCE_EXHAUSTED, m, d);
}

grpc::Status WorkflowBusy(const std::string& m) {
  return NamespaceResourceExhausted(m, temporal::api::enums::v1::RESOURCE_EXHAUSTED_CAUSE_BUSY_WORKFLOW);
}

grpc::Status ConcurrentLimit(const std::string& m) {
  return NamespaceResourceExhausted(m, temporal::api::enums::v1::RESOURCE_EXHAUSTED_CAUSE_CONCURRENT_LIMIT);
}

grpc::Status PermissionDenied(const std::string& m) {
  return WithDetail(grpc::StatusCode::PERMISSION_DENIED, m, ed::PermissionDeniedFailure());
}

grpc::Status Canceled(const std::string& m) { return {grpc::StatusCode::CANCELLED, m}; }
grpc::Status DeadlineExceeded(const std::string& m) { return {grpc::StatusCode::DEADLINE_EXCEEDED, m}; }

grpc::Status NotFound(const std::string& m) {
  return WithDetail(grpc::StatusCode::NOT_FOUND, m, ed::NotFoundFailure());
}

grpc::Status Unimplemented(const std::string& rpc_name) {
  return {grpc::StatusCode::UNIMPLEMENTED, rpc_name + " is not implemented by Kairos"};
}

grpc::Status NamespaceNotFound(const std::string& ns) {
  ed::NamespaceNotFoundFailure d;
  d.set_namespace_(ns);
  return WithDetail(grpc::StatusCode::NOT_FOUND, "Namespace " + ns + " is not found.", d);
}

grpc::Status NamespaceAlreadyExists(const std::string& ns) {
  return WithDetail(grpc::StatusCode::ALREADY_EXISTS, "Namespace \"" + ns + "\" already exists",
                    ed::NamespaceAlreadyExistsFailure());
}

grpc::Status WorkflowAlreadyStarted(const std::string& message, const std::string& start_request_id,
                                    const std::string& run_id) {
  ed::WorkflowExecutionAlreadyStartedFailure d;
  d.set_start_request_id(start_request_id);
  d.set_run_id(run_id);
  return WithDetail(grpc::StatusCode::ALREADY_EXISTS, message, d);
}

grpc::Status NexusOperationAlreadyStarted(const std::string& message, const std::string& start_request_id,
                                          const std::string& run_id) {
  ed::NexusOperationExecutionAlreadyStartedFailure d;
  d.set_start_request_id(start_request_id);
  d.set_run_id(run_id);
  return WithDetail(grpc::StatusCode::ALREADY_EXISTS, message, d);
}

grpc::Status QueryFailed(const std::string& m) {
  return WithDetail(grpc::StatusCode::INVALID_ARGUMENT, m, ed::QueryFailedFailure());
}

grpc::Status ResourceExhausted(const std::string& m) {
  return WithDetail(grpc::StatusCode::RESOURCE_EXHAUSTED, m, ed::ResourceExhaustedFailure());
}

grpc::Status MultiOperationFailed(const grpc::Status& cause, int failed_index, int operations) {
  ed::MultiOperationExecutionFailure d;
  for (int i = 0; i < operations; ++i) {
    auto* op = d.add_statuses();
    if (i == failed_index) {
      op->set_code(static_cast<int32_t>(cause.error_code()));
      op->set_message(cause.error_message());
      kairos::records::RpcStatus inner;
      if (!cause.error_details().empty() && inner.ParseFromString(cause.error_details()))
        for (const auto& any : inner.details()) *op->add_details() = any;
    } else {
      op->set_code(static_cast<int32_t>(grpc::StatusCode::ABORTED));
      op->set_message("Operation was aborted.");
    }
  }
  // The call carries the failed operation's code, as Temporal's does.
  return WithDetail(cause.error_code(), "Update-with-Start could not be executed.", d);
}

}  // namespace kairos::errors
