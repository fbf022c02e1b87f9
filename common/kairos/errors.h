// gRPC statuses shaped the way Temporal answers them: canonical code, a clear
// message, and a google.rpc.Status detail carrying the typed
// temporal.api.errordetails.v1 failure that SDKs turn into typed errors.
#pragma once

#include <string>

#include <grpcpp/support/status.h>

namespace kairos::errors {

grpc::Status InvalidArgument(const std::string& message);
grpc::Status NotFound(const std::string& message);
grpc::Status Internal(const std::string& message);
grpc::Status Unavailable(const std::string& message);
grpc::Status FailedPrecondition(const std::string& message);
grpc::Status AlreadyExists(const std::string& message);
grpc::Status Unimplemented(const std::string& rpc_name);
grpc::Status NamespaceNotFound(const std::string& ns);
grpc::Status NamespaceAlreadyExists(const std::string& ns);
grpc::Status WorkflowAlreadyStarted(const std::string& message, const std::string& start_request_id,
                                    const std::string& run_id);
grpc::Status NexusOperationAlreadyStarted(const std::string& message, const std::string& start_request_id,
                                          const std::string& run_id);
grpc::Status QueryFailed(const std::string& message);
grpc::Status ResourceExhausted(const std::string& message);
grpc::Status Canceled(const std::string& message);
grpc::Status PermissionDenied(const std::string& message);
// RESOURCE_EXHAUSTED, cause BUSY_WORKFLOW: SDKs retry it.
grpc::Status WorkflowBusy(const std::string& message);
// RESOURCE_EXHAUSTED, cause CONCURRENT_LIMIT, scope NAMESPACE.
grpc::Status ConcurrentLimit(const std::string& message);
grpc::Status DeadlineExceeded(const std::string& message);
// Update-with-start: the failed operation's status, the others aborted.
grpc::Status MultiOperationFailed(const grpc::Status& cause, int failed_index, int operations = 2);

}  // namespace kairos::errors
