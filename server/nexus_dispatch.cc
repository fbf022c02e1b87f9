#include "nexus_dispatch.h"

#include "kairos/history/nexus_operations.h"

#include <cctype>
#include <future>
#include <memory>

namespace kairos {
namespace {

// Whether the id reads as a UUID, with or without hyphens: Temporal's store
// fails on any other id (an internal error, not "not found").
bool LooksLikeUuid(const std::string& id) {
  std::string hex;
  for (size_t i = 0; i < id.size(); ++i) {
    if (id.size() == 36 && (i == 8 || i == 13 || i == 18 || i == 23)) {
      if (id[i] != '-') return false;
      continue;
    }
    if (!std::isxdigit(static_cast<unsigned char>(id[i]))) return false;
    hex += id[i];
  }
  return hex.size() == 32 && (id.size() == 32 || id.size() == 36);
}

}  // namespace

grpc::Status NexusTaskDispatcher::EndpointTarget(const std::string& endpoint_id, http::NexusTarget* target) {
  if (!LooksLikeUuid(endpoint_id)) return {grpc::StatusCode::INTERNAL, "endpoint id is not a UUID"};
  auto route = endpoints_->RouteById(endpoint_id);
  if (!route) return {grpc::StatusCode::NOT_FOUND, "nexus endpoint not found"};
  if (route->namespace_id.empty()) return {grpc::StatusCode::FAILED_PRECONDITION, "not a worker target"};
  target->namespace_id = route->namespace_id;
  target->namespace_name = namespaces_->NameOf(route->namespace_id);
  if (target->namespace_name.empty()) return {grpc::StatusCode::UNAVAILABLE, "target namespace is gone"};
  target->task_queue = route->task_queue;
  target->endpoint_name = route->endpoint_name;
  return grpc::Status::OK;
}

grpc::Status NexusTaskDispatcher::QueueTarget(const std::string& namespace_name, const std::string& task_queue,
                                              http::NexusTarget* target) {
  target->namespace_name = namespace_name;
  target->task_queue = task_queue;
  return namespaces_->Resolve(namespace_name, &target->namespace_id);
}

grpc::Status NexusTaskDispatcher::Authorize(const std::string& authorization, const std::string& api,
                                            const http::NexusTarget& target) {
  if (!authorizer_) return grpc::Status::OK;
  return authorizer_->Authorize(authorization, api, target.namespace_name);
}

grpc::Status NexusTaskDispatcher::Dispatch(const http::NexusTarget& target, temporal::api::nexus::v1::Request request,
                                           std::chrono::steady_clock::time_point deadline, http::NexusAnswer* answer) {
  // Shared with the reply, which may come after this call has given up.
  auto done = std::make_shared<std::promise<std::pair<grpc::Status, http::NexusAnswer>>>();
  auto future = done->get_future();
  matching_->AddNexusTask(target.namespace_id, target.task_queue, std::move(request), deadline,
                          [done](grpc::Status st, const matching::NexusTaskResult& result) {
                            http::NexusAnswer a{result.handler_failed, result.response, result.handler_failure};
                            done->set_value({std::move(st), std::move(a)});
                          });
  // Matching answers DEADLINE_EXCEEDED at the deadline; the margin covers a
  // shutdown, after which it answers nothing.
  if (future.wait_until(deadline + std::chrono::seconds(2)) != std::future_status::ready)
    return {grpc::StatusCode::DEADLINE_EXCEEDED, "no worker answered"};
  auto [st, a] = future.get();
  if (!st.ok()) return st;
  *answer = std::move(a);
  return grpc::Status::OK;
}

size_t NexusTaskDispatcher::PayloadLimit(const http::NexusTarget&) {
  return static_cast<size_t>(limits_->blob_size_error);
}

grpc::Status NexusTaskDispatcher::NamespaceName(const std::string& namespace_id, std::string* name) {
  // A standalone operation's carrier run lives under its namespace's id with a suffix.
  std::string id = namespace_id;
  if (history::IsStandaloneNexusNamespaceId(id))
    id.resize(id.size() - std::string(history::kStandaloneNexusSuffix).size());
  *name = namespaces_->NameOf(id);
  if (name->empty()) return {grpc::StatusCode::NOT_FOUND, "namespace not found"};
  return grpc::Status::OK;
}

grpc::Status NexusTaskDispatcher::CompleteOperation(const nexus::InboundCompletion& completion) {
  return history_->CompleteNexusOperation(completion);
}

}  // namespace kairos
