// Nexus's HTTP endpoint on the HTTP API port, as Temporal exposes it: a
// Nexus caller outside Temporal (any Nexus HTTP client) starts and cancels
// operations of an endpoint's handler workers with
//   POST /nexus/endpoints/{id}/services/{service}/{operation}
//   POST /nexus/endpoints/{id}/services/{service}/{operation}/cancel
// or, by namespace and task queue,
//   POST /namespaces/{ns}/task-queues/{queue}/nexus-services/{service}/{operation}[/cancel]
// Each request becomes one Nexus task for a worker polling the target queue;
// its answer becomes the Nexus protocol's response (status, content headers,
// failure JSON) as Temporal's frontend writes it.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include <grpcpp/support/status.h>

#include <nlohmann/json.hpp>

#include "kairos/http/api_handler.h"
#include "kairos/nexus/completion.h"
#include "temporal/api/failure/v1/message.pb.h"
#include "temporal/api/nexus/v1/message.pb.h"

namespace kairos::http {

// Where a request's Nexus task goes.
struct NexusTarget {
  std::string namespace_name;
  std::string namespace_id;
  std::string task_queue;
  std::string endpoint_name;  // Empty when addressed by namespace and queue.
};

// A handler worker's answer to a Nexus task.
struct NexusAnswer {
  bool handler_failed = false;
  temporal::api::nexus::v1::Response response;
  temporal::api::failure::v1::Failure handler_failure;  // With NexusHandlerFailureInfo.
};

// What the endpoint needs of the rest of the server (the process wires it to
// the endpoint registry, the namespaces, the authorizer and matching).
class NexusDispatcher {
 public:
  virtual ~NexusDispatcher() = default;

  // An endpoint's worker target: NOT_FOUND when no endpoint has the id,
  // FAILED_PRECONDITION when its target is not a worker (an external URL),
  // UNAVAILABLE when its target namespace is gone.
  virtual grpc::Status EndpointTarget(const std::string& endpoint_id, NexusTarget* target) = 0;
  // A namespace's queue: NOT_FOUND when the namespace does not exist.
  virtual grpc::Status QueueTarget(const std::string& namespace_name, const std::string& task_queue,
                                   NexusTarget* target) = 0;
  // Whether the bearer of `authorization` may dispatch through `api` in the
  // target's namespace: PERMISSION_DENIED or UNAUTHENTICATED when not.
  virtual grpc::Status Authorize(const std::string& authorization, const std::string& api,
                                 const NexusTarget& target) = 0;
  // Gives `request` to a worker polling the target's queue and blocks until
  // it answers (OK) or `deadline` passes (DEADLINE_EXCEEDED).
  virtual grpc::Status Dispatch(const NexusTarget& target, temporal::api::nexus::v1::Request request,
                                std::chrono::steady_clock::time_point deadline, NexusAnswer* answer) = 0;
  // The largest request payload a namespace takes (Temporal's blob size limit).
  virtual size_t PayloadLimit(const NexusTarget& target) = 0;

  // For the completion route (nexus_completion_route.h). The name of the
  // namespace with id `namespace_id`: NOT_FOUND when there is none.
  virtual grpc::Status NamespaceName(const std::string& namespace_id, std::string* name);
  // Records an operation's outcome on its caller (history's
  // CompleteNexusOperation).
  virtual grpc::Status CompleteOperation(const nexus::InboundCompletion& completion);
};

// An error of the protocol: its status, failure and headers.
struct NexusError {
  int status = 500;
  nlohmann::ordered_json failure;
  std::optional<bool> retryable;  // The Nexus-Request-Retryable header.
  std::string operation_state;    // Nexus-Operation-State of an operation's failure.
  bool from_worker = false;       // Temporal-Nexus-Failure-Source: worker.
};
// The HTTP status of a handler error type (500 for an unknown one).
int StatusOfHandlerError(const std::string& type);
// A handler error the server answers itself.
NexusError NexusServerError(const std::string& type, const std::string& message, std::optional<bool> retryable = {});
HttpReply NexusErrorReply(const NexusError& e);

// Whether the request's path is one of the endpoint's.
bool IsNexusPath(const std::string& raw_path);

// Serves one request of IsNexusPath (blocks while the worker works).
HttpReply ServeNexus(NexusDispatcher& dispatcher, const ApiRequest& request);

}  // namespace kairos::http
