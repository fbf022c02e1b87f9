// The history service: owns each workflow run's mutable state and its
// append-only event history. Every change to a run is serialized per
// workflow and committed as one store transaction; tasks and timers it
// creates reach matching and the timer wheel only after that commit.
#pragma once

#include "kairos/nexus/callback_token.h"
#include "kairos/nexus/completion.h"

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <grpcpp/support/status.h>

#include "kairos/history/versioning.h"
#include "kairos/matching/matching_service.h"
#include "kairos/records.pb.h"
#include "temporal/api/workflowservice/v1/request_response.pb.h"

namespace kairos {
class Executor;
namespace persistence {
class Store;
}
namespace matching {
class MatchingService;
}
namespace metrics {
class Registry;
}
namespace visibility {
class SearchAttributeValidator;
}
}  // namespace kairos

namespace kairos::history {

namespace wsv1 = temporal::api::workflowservice::v1;

struct NamespaceRef {
  std::string id;
  std::string name;
};

using SystemNexusAdmission =
    std::function<grpc::Status(const NamespaceRef& ns, wsv1::SignalWithStartWorkflowExecutionRequest* req)>;

using Deadline = std::chrono::steady_clock::time_point;

// Where a Nexus endpoint sends operations (a worker target).
struct NexusEndpointRoute {
  std::string id;
  std::string namespace_id;  // Empty: not a worker target.
  std::string task_queue;
  std::string external_url;  // An external target's URL (namespace_id empty).
};
// Sends a Nexus request to an external endpoint's URL over HTTP, off
// history's threads; `reply` as matching's (UNAVAILABLE when the handler
// could not be reached, DEADLINE_EXCEEDED when it did not answer in time).
using NexusExternalCaller = std::function<void(const std::string& url, temporal::api::nexus::v1::Request request,
                                               int64_t timeout_ms, matching::NexusReply reply)>;
using NexusCallbackCompletion = nexus::InboundCompletion;
using NexusEndpointLookup = std::function<std::optional<NexusEndpointRoute>(const std::string& endpoint_name)>;
using Done = std::function<void(grpc::Status)>;

class HistoryService {
 public:
  virtual ~HistoryService() = default;

  // Loads durable timers into the wheel and queued tasks into matching.
  virtual void Start() = 0;
  virtual void Stop() = 0;

  virtual grpc::Status StartWorkflowExecution(const NamespaceRef& ns, const wsv1::StartWorkflowExecutionRequest& req,
                                              wsv1::StartWorkflowExecutionResponse* resp) = 0;
  virtual grpc::Status RespondWorkflowTaskCompleted(const NamespaceRef& ns,
                                                    const wsv1::RespondWorkflowTaskCompletedRequest& req,
                                                    wsv1::RespondWorkflowTaskCompletedResponse* resp) = 0;
  virtual grpc::Status RespondWorkflowTaskFailed(const NamespaceRef& ns, const wsv1::RespondWorkflowTaskFailedRequest& req,
                                                 wsv1::RespondWorkflowTaskFailedResponse* resp) = 0;

  virtual grpc::Status RecordActivityTaskHeartbeat(const NamespaceRef& ns,
                                                   const wsv1::RecordActivityTaskHeartbeatRequest& req,
                                                   wsv1::RecordActivityTaskHeartbeatResponse* resp) = 0;
  virtual grpc::Status RecordActivityTaskHeartbeatById(const NamespaceRef& ns,
                                                       const wsv1::RecordActivityTaskHeartbeatByIdRequest& req,
                                                       wsv1::RecordActivityTaskHeartbeatByIdResponse* resp) = 0;
  virtual grpc::Status RespondActivityTaskCompleted(const NamespaceRef& ns,
                                                    const wsv1::RespondActivityTaskCompletedRequest& req) = 0;
  virtual grpc::Status RespondActivityTaskCompletedById(const NamespaceRef& ns,
                                                        const wsv1::RespondActivityTaskCompletedByIdRequest& req) = 0;
  virtual grpc::Status RespondActivityTaskFailed(const NamespaceRef& ns, const wsv1::RespondActivityTaskFailedRequest& req) = 0;
  virtual grpc::Status RespondActivityTaskFailedById(const NamespaceRef& ns,
                                                     const wsv1::RespondActivityTaskFailedByIdRequest& req) = 0;
  virtual grpc::Status RespondActivityTaskCanceled(const NamespaceRef& ns,
                                                   const wsv1::RespondActivityTaskCanceledRequest& req) = 0;
  virtual grpc::Status RespondActivityTaskCanceledById(const NamespaceRef& ns,
                                                       const wsv1::RespondActivityTaskCanceledByIdRequest& req) = 0;

  virtual grpc::Status SignalWorkflowExecution(const NamespaceRef& ns, const wsv1::SignalWorkflowExecutionRequest& req,
                                               wsv1::SignalWorkflowExecutionResponse* resp) = 0;
  virtual grpc::Status SignalWithStartWorkflowExecution(const NamespaceRef& ns,
                                                        const wsv1::SignalWithStartWorkflowExecutionRequest& req,
                                                        wsv1::SignalWithStartWorkflowExecutionResponse* resp) = 0;
  virtual grpc::Status RequestCancelWorkflowExecution(const NamespaceRef& ns,
                                                      const wsv1::RequestCancelWorkflowExecutionRequest& req) = 0;
  virtual grpc::Status TerminateWorkflowExecution(const NamespaceRef& ns,
                                                  const wsv1::TerminateWorkflowExecutionRequest& req) = 0;
  virtual grpc::Status DescribeWorkflowExecution(const NamespaceRef& ns, const wsv1::DescribeWorkflowExecutionRequest& req,
                                                 wsv1::DescribeWorkflowExecutionResponse* resp) = 0;
  // May wait (wait_new_event) until `deadline`; `done` runs exactly once.
  virtual void GetWorkflowExecutionHistory(const NamespaceRef& ns, const wsv1::GetWorkflowExecutionHistoryRequest* req,
                                           wsv1::GetWorkflowExecutionHistoryResponse* resp, Deadline deadline,
                                           Done done) = 0;
  virtual grpc::Status GetWorkflowExecutionHistoryReverse(const NamespaceRef& ns,
                                                          const wsv1::GetWorkflowExecutionHistoryReverseRequest& req,
                                                          wsv1::GetWorkflowExecutionHistoryReverseResponse* resp) = 0;
  // Queries are answered by a worker: `done` runs when it answers, when the
  // query is rejected, or at `deadline`.
  virtual void QueryWorkflow(const NamespaceRef& ns, const wsv1::QueryWorkflowRequest* req,
                             wsv1::QueryWorkflowResponse* resp, Deadline deadline, Done done) = 0;
  virtual grpc::Status RespondQueryTaskCompleted(const NamespaceRef& ns,
                                                 const wsv1::RespondQueryTaskCompletedRequest& req) = 0;
  // Updates wait for the stage their wait policy names (or `deadline`).
  virtual void UpdateWorkflowExecution(const NamespaceRef& ns, const wsv1::UpdateWorkflowExecutionRequest* req,
                                       wsv1::UpdateWorkflowExecutionResponse* resp, Deadline deadline, Done done) = 0;
  virtual void PollWorkflowExecutionUpdate(const NamespaceRef& ns, const wsv1::PollWorkflowExecutionUpdateRequest* req,
                                           wsv1::PollWorkflowExecutionUpdateResponse* resp, Deadline deadline,
                                           Done done) = 0;
  virtual void ExecuteMultiOperation(const NamespaceRef& ns, const wsv1::ExecuteMultiOperationRequest* req,
                                     wsv1::ExecuteMultiOperationResponse* resp, Deadline deadline, Done done) = 0;
  virtual grpc::Status ResetStickyTaskQueue(const NamespaceRef& ns, const wsv1::ResetStickyTaskQueueRequest& req) = 0;
  // Pending activities paused and unpaused by id or type (see activity_pause.cc).
  virtual grpc::Status PauseActivity(const NamespaceRef& ns, const wsv1::PauseActivityRequest& req) = 0;
  virtual grpc::Status UnpauseActivity(const NamespaceRef& ns, const wsv1::UnpauseActivityRequest& req) = 0;
  // A run's versioning override set or removed (see execution_options.cc).
  virtual grpc::Status UpdateWorkflowExecutionOptions(const NamespaceRef& ns,
                                                      const wsv1::UpdateWorkflowExecutionOptionsRequest& req,
                                                      wsv1::UpdateWorkflowExecutionOptionsResponse* resp) = 0;
  // Pending activities reset to their first attempt, and their options
  // changed, by id, type or all (see activity_reset.cc).
  virtual grpc::Status ResetActivity(const NamespaceRef& ns, const wsv1::ResetActivityRequest& req) = 0;
  virtual grpc::Status UpdateActivityOptions(const NamespaceRef& ns, const wsv1::UpdateActivityOptionsRequest& req,
                                             wsv1::UpdateActivityOptionsResponse* resp) = 0;

  // A new run from a prefix of a run's history (see reset.cc).
  virtual grpc::Status ResetWorkflowExecution(const NamespaceRef& ns, const wsv1::ResetWorkflowExecutionRequest& req,
                                              wsv1::ResetWorkflowExecutionResponse* resp) = 0;
  // Removes a run for good: its state, history, visibility, and the tasks
  // and timers it owns. A running run is terminated first (reason "Delete
  // workflow execution") and removed a moment later; a closed one at once.
  // Batch operations call this too.
  virtual grpc::Status DeleteWorkflowExecution(const NamespaceRef& ns,
                                               const wsv1::DeleteWorkflowExecutionRequest& req) = 0;
  // Retention: removes up to `limit` runs of a namespace that closed before
  // `closed_before_nanos`, oldest first, one transaction each; returns how
  // many went.
  virtual int DeleteClosedRunsBefore(const std::string& namespace_id, int64_t closed_before_nanos, int limit) = 0;

  // Standalone Nexus operations (standalone_nexus.cc): each is carried by a
  // hidden run (see StandaloneNexusNamespaceId); the poll waits until the
  // stage asked for or the deadline, describe with a long-poll token until
  // the operation changed since it.
  virtual grpc::Status StartNexusOperationExecution(const NamespaceRef& ns,
                                                    const wsv1::StartNexusOperationExecutionRequest& req,
                                                    wsv1::StartNexusOperationExecutionResponse* resp) = 0;
  virtual void DescribeNexusOperationExecution(const NamespaceRef& ns, const wsv1::DescribeNexusOperationExecutionRequest* req,
                                               wsv1::DescribeNexusOperationExecutionResponse* resp, Deadline deadline,
                                               Done done) = 0;
  virtual void PollNexusOperationExecution(const NamespaceRef& ns, const wsv1::PollNexusOperationExecutionRequest* req,
                                           wsv1::PollNexusOperationExecutionResponse* resp, Deadline deadline,
                                           Done done) = 0;
  virtual grpc::Status RequestCancelNexusOperationExecution(const NamespaceRef& ns,
                                                            const wsv1::RequestCancelNexusOperationExecutionRequest& req) = 0;
  virtual grpc::Status TerminateNexusOperationExecution(const NamespaceRef& ns,
                                                        const wsv1::TerminateNexusOperationExecutionRequest& req) = 0;
  virtual grpc::Status DeleteNexusOperationExecution(const NamespaceRef& ns,
                                                     const wsv1::DeleteNexusOperationExecutionRequest& req) = 0;

  // The Nexus endpoint registry, set before Start (none: every endpoint is unknown).
  virtual void SetNexusEndpoints(NexusEndpointLookup lookup) = 0;
  // Delivers handler runs' outcomes to callback URLs outside the server; set
  // before Start (none: such callbacks are never called).
  virtual void SetNexusCompletionSender(nexus::CompletionSender sender) = 0;
  // Calls external endpoints' handlers, set before Start (none: their
  // operations fail with "endpoint not registered").
  virtual void SetNexusExternalCaller(NexusExternalCaller caller) = 0;
  // The callback URL operations give handlers outside the server; may be
  // set again at any time (the HTTP port is known once it is bound).
  virtual void SetNexusCallbackUrls(nexus::CallbackUrlConfig callbacks) = 0;
  // Records an operation's outcome that its handler posted to the
  // completion route, as Temporal's CompleteNexusOperation: NOT_FOUND
  // "stale reference: state machine not found: ..." (the operation is not
  // pending), "workflow execution not found", "operation not found"
  // (another request id).
  virtual grpc::Status CompleteNexusOperation(const NexusCallbackCompletion& completion) = 0;
  // What a client's request passes before it reaches history (the
  // frontend's normalization, validation and search attribute checks), for
  // the requests the __temporal_system endpoint makes for a workflow; set
  // before Start (none: they go unchecked).
  virtual void SetSystemNexusAdmission(SystemNexusAdmission admit) = 0;
  // Worker deployments, set before Start (none: nothing versioned is
  // inherited across task queues and no target version changes).
  virtual void SetDeployments(DeploymentLookup lookup) = 0;
};

struct Limits;

// How much of the workflows' durable state history keeps in memory.
struct ScaleOptions {
  // Running runs whose committed state is cached, and as many current-run
  // pointers; beyond that the least recently used are read back from the
  // store when next needed.
  size_t cache_max_workflows = 10'000;
  // Durable timers in memory: those due within the look-ahead, read from
  // the store a page at a time, at most timers_max_in_memory of them.
  int64_t timer_lookahead_ms = 60'000;
  int timer_page_size = 2'000;
  size_t timers_max_in_memory = 200'000;
};

// `limits`: Temporal's per-workflow limits (its defaults when null);
// `search_attributes` checks what workflow commands set (null: no checks);
// `metrics` receives workflow outcomes and timer lag (null: nowhere).
std::unique_ptr<HistoryService> NewHistoryService(persistence::Store* store, matching::MatchingService* matching,
                                                  Executor* executor, const Limits* limits = nullptr,
                                                  const visibility::SearchAttributeValidator* search_attributes = nullptr,
                                                  metrics::Registry* metrics = nullptr,
                                                  const ScaleOptions& scale = {});

}  // namespace kairos::history
