#include <optional>

#include <spdlog/spdlog.h>

#include "authorized_services.h"
#include "kairos/batcher/batch_service.h"
#include "kairos/deployments/build_id_versioning.h"
#include "kairos/deployments/deployment_registry.h"
#include "kairos/errors.h"
#include "kairos/frontend/callback_rules.h"
#include "kairos/frontend/frontend.h"
#include "kairos/frontend/namespace_registry.h"
#include "kairos/frontend/nexus_operation_lists.h"
#include "kairos/frontend/reactors.h"
#include "kairos/frontend/request_validation.h"
#include "kairos/frontend/task_queue_describe.h"
#include "kairos/history/history_service.h"
#include "kairos/history/nexus_operations.h"
#include "kairos/matching/matching_service.h"
#include "kairos/scheduler/scheduler_service.h"
#include "kairos/time_util.h"
#include "kairos/visibility/search_attribute_validator.h"
#include "kairos/visibility/search_attributes.h"
#include "kairos/visibility/visibility_service.h"
#include "kairos/workflow_service_rpcs.inc"
#include "temporal/api/workflowservice/v1/service.grpc.pb.h"

namespace kairos::frontend {
namespace {

namespace wsv1 = temporal::api::workflowservice::v1;
namespace enums = temporal::api::enums::v1;
using history::NamespaceRef;
using SteadyClock = std::chrono::steady_clock;

// Task-queue long polls answer empty a second before the caller's deadline
// (so the empty answer arrives in time) and after at most a minute (SDKs wait
// 70 s); a caller must leave at least two seconds, as Temporal requires.
constexpr auto kPollTailRoom = std::chrono::seconds(1);
constexpr auto kMinPollTimeout = std::chrono::seconds(2);
constexpr auto kMaxPoll = std::chrono::seconds(60);
// Waits on a workflow's state (new events, update stages) end after this
// long on their own; the caller's deadline may end them sooner.
constexpr auto kMaxStateWait = std::chrono::seconds(20);

std::chrono::system_clock::duration Remaining(grpc::CallbackServerContext* ctx) {
  return ctx->deadline() - std::chrono::system_clock::now();
}

bool HasDeadline(grpc::CallbackServerContext* ctx) {
  return ctx->deadline() != std::chrono::system_clock::time_point::max();
}

grpc::Status ValidatePollDeadline(grpc::CallbackServerContext* ctx) {
  if (!HasDeadline(ctx)) return errors::InvalidArgument("Context timeout is not set.");
  if (Remaining(ctx) < kMinPollTimeout) return errors::FailedPrecondition("Context timeout is too short.");
  return grpc::Status::OK;
}

SteadyClock::time_point ExpiryBefore(grpc::CallbackServerContext* ctx, SteadyClock::duration max,
                                     SteadyClock::duration tail_room) {
  auto limit = SteadyClock::now() + max;
  if (!HasDeadline(ctx)) return limit;
  auto expiry = SteadyClock::now() + std::chrono::duration_cast<SteadyClock::duration>(Remaining(ctx) - tail_room);
  return std::min(expiry, limit);
}

SteadyClock::time_point PollExpiry(grpc::CallbackServerContext* ctx) {
  return ExpiryBefore(ctx, kMaxPoll, kPollTailRoom);
}

SteadyClock::time_point HistoryWaitExpiry(grpc::CallbackServerContext* ctx) {
  return ExpiryBefore(ctx, kMaxStateWait, kPollTailRoom);
}

// Standalone Nexus operations' long polls (describe and poll), as Temporal's
// nexusoperation.longPollTimeout (a minute) and longPollBuffer.
SteadyClock::time_point NexusWaitExpiry(grpc::CallbackServerContext* ctx) {
  return ExpiryBefore(ctx, std::chrono::minutes(1), kPollTailRoom);
}

// A little past the caller's deadline: the caller has given up by then.
SteadyClock::time_point UpdateWaitExpiry(grpc::CallbackServerContext* ctx) {
  return ExpiryBefore(ctx, kMaxStateWait, -std::chrono::milliseconds(50));
}

// Every RPC of the service answers UNIMPLEMENTED with its name unless
// overridden below.
class UnimplementedWorkflowService : public wsv1::WorkflowService::CallbackService {
 public:
#define KAIROS_UNIMPLEMENTED(Name, Req, Resp)                                                              \
  grpc::ServerUnaryReactor* Name(grpc::CallbackServerContext* ctx, const wsv1::Req*, wsv1::Resp*) override { \
    auto* reactor = ctx->DefaultReactor();                                                                 \
    reactor->Finish(errors::Unimplemented(#Name));                                                         \
    return reactor;                                                                                        \
  }
  KAIROS_WORKFLOW_SERVICE_RPCS(KAIROS_UNIMPLEMENTED)
#undef KAIROS_UNIMPLEMENTED
};

// A handler error as a Failure with NexusHandlerFailureInfo: newer SDKs send
// one, older ones the deprecated HandlerError.
temporal::api::failure::v1::Failure NexusHandlerFailure(const wsv1::RespondNexusTaskFailedRequest& req) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  if (req.has_failure() || !req.has_error()) return req.failure();
  const auto& e = req.error();
  temporal::api::failure::v1::Failure f;
  f.set_message(e.failure().message());
  f.set_stack_trace(e.failure().stack_trace());
  auto* info = f.mutable_nexus_handler_failure_info();
  info->set_type(e.error_type());
  info->set_retry_behavior(e.retry_behavior());
  return f;
#pragma GCC diagnostic pop
}

class WorkflowServiceImpl final : public UnimplementedWorkflowService {
 public:
  WorkflowServiceImpl(const Dependencies& deps, FrontendOptions options)
      : d_(deps), options_(std::move(options)),
        callback_rules_(deps.callback_rules ? *deps.callback_rules : CallbackRules{}) {}

  // ------------------------------------------------------------ system
  grpc::ServerUnaryReactor* GetSystemInfo(grpc::CallbackServerContext* ctx, const wsv1::GetSystemInfoRequest*,
                                          wsv1::GetSystemInfoResponse* resp) override {
    resp->set_server_version(options_.server_version);
    auto* caps = resp->mutable_capabilities();
    // Only what is true of Kairos.
    caps->set_internal_error_differentiation(true);
    caps->set_activity_failure_include_heartbeat(true);
    caps->set_encoded_failure_attributes(true);
    caps->set_upsert_memo(true);
    caps->set_sdk_metadata(true);
    caps->set_eager_workflow_start(true);
    caps->set_supports_schedules(true);
    caps->set_count_group_by_execution_status(true);
    // Without it, SDKs report their build id only as a binary checksum, and
    // workflow tasks carry no worker version for workflow.info() to read.
    caps->set_build_id_based_versioning(true);
    caps->set_nexus(true);  // As Temporal with its HTTP API on; SDKs check it before Nexus calls.
    auto* reactor = ctx->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

  grpc::ServerUnaryReactor* GetClusterInfo(grpc::CallbackServerContext* ctx, const wsv1::GetClusterInfoRequest*,
                                           wsv1::GetClusterInfoResponse* resp) override {
    resp->set_server_version(options_.server_version);
    resp->set_cluster_id("kairos");
    resp->set_cluster_name("active");
    resp->set_history_shard_count(1);
    resp->set_persistence_store("sqlite");
    resp->set_visibility_store("sqlite");
    resp->set_initial_failover_version(1);
    resp->set_failover_version_increment(10);
    (*resp->mutable_supported_clients())["temporal-go"] = ">=1.0.0";
    (*resp->mutable_supported_clients())["temporal-typescript"] = ">=1.0.0";
    (*resp->mutable_supported_clients())["temporal-python"] = ">=1.0.0";
    (*resp->mutable_supported_clients())["temporal-cli"] = ">=0.1.0";
    auto* reactor = ctx->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

  // -------------------------------------------------------- namespaces
  grpc::ServerUnaryReactor* RegisterNamespace(grpc::CallbackServerContext* ctx, const wsv1::RegisterNamespaceRequest* req,
                                              wsv1::RegisterNamespaceResponse*) override {
    return RunOnExecutor(ctx, d_.executor, [this, req] { return d_.namespaces->Register(*req); });
  }
  grpc::ServerUnaryReactor* DescribeNamespace(grpc::CallbackServerContext* ctx, const wsv1::DescribeNamespaceRequest* req,
                                              wsv1::DescribeNamespaceResponse* resp) override {
    auto* reactor = ctx->DefaultReactor();
    reactor->Finish(d_.namespaces->Describe(*req, resp));
    return reactor;
  }
  grpc::ServerUnaryReactor* ListNamespaces(grpc::CallbackServerContext* ctx, const wsv1::ListNamespacesRequest* req,
                                           wsv1::ListNamespacesResponse* resp) override {
    auto* reactor = ctx->DefaultReactor();
    reactor->Finish(d_.namespaces->List(*req, resp));
    return reactor;
  }
  grpc::ServerUnaryReactor* UpdateNamespace(grpc::CallbackServerContext* ctx, const wsv1::UpdateNamespaceRequest* req,
                                            wsv1::UpdateNamespaceResponse* resp) override {
    return RunOnExecutor(ctx, d_.executor, [this, req, resp] { return d_.namespaces->Update(*req, resp); });
  }

  // --------------------------------------------------------- workflows
#define KAIROS_HISTORY_CALL(Name)                                                                                   \
  grpc::ServerUnaryReactor* Name(grpc::CallbackServerContext* ctx, const wsv1::Name##Request* req,                 \
                                 wsv1::Name##Response* resp) override {                                             \
    return RunOnExecutor(ctx, d_.executor, [this, req, resp]() -> grpc::Status {                                    \
      NamespaceRef ns;                                                                                              \
      if (auto st = Admit(req, &ns); !st.ok()) return st;                                                           \
      return d_.history->Name(ns, *req, resp);                                                                      \
    });                                                                                                             \
  }
#define KAIROS_HISTORY_CALL_NO_RESPONSE(Name)                                                                       \
  grpc::ServerUnaryReactor* Name(grpc::CallbackServerContext* ctx, const wsv1::Name##Request* req,                 \
                                 wsv1::Name##Response*) override {                                                  \
    return RunOnExecutor(ctx, d_.executor, [this, req]() -> grpc::Status {                                          \
      NamespaceRef ns;                                                                                              \
      if (auto st = Admit(req, &ns); !st.ok()) return st;                                                           \
      return d_.history->Name(ns, *req);                                                                            \
    });                                                                                                             \
  }
  KAIROS_HISTORY_CALL(StartWorkflowExecution)
  KAIROS_HISTORY_CALL(RespondWorkflowTaskCompleted)
  KAIROS_HISTORY_CALL(RespondWorkflowTaskFailed)
  KAIROS_HISTORY_CALL(RecordActivityTaskHeartbeat)
  KAIROS_HISTORY_CALL(RecordActivityTaskHeartbeatById)
  KAIROS_HISTORY_CALL(GetWorkflowExecutionHistoryReverse)
  KAIROS_HISTORY_CALL(SignalWithStartWorkflowExecution)
  KAIROS_HISTORY_CALL(SignalWorkflowExecution)
  KAIROS_HISTORY_CALL(ResetWorkflowExecution)
  KAIROS_HISTORY_CALL(UpdateWorkflowExecutionOptions)
  KAIROS_HISTORY_CALL(UpdateActivityOptions)
  KAIROS_HISTORY_CALL_NO_RESPONSE(RespondQueryTaskCompleted)
  KAIROS_HISTORY_CALL_NO_RESPONSE(RequestCancelWorkflowExecution)
  KAIROS_HISTORY_CALL_NO_RESPONSE(RespondActivityTaskCompleted)
  KAIROS_HISTORY_CALL_NO_RESPONSE(RespondActivityTaskCompletedById)
  KAIROS_HISTORY_CALL_NO_RESPONSE(RespondActivityTaskFailed)
  KAIROS_HISTORY_CALL_NO_RESPONSE(RespondActivityTaskFailedById)
  KAIROS_HISTORY_CALL_NO_RESPONSE(RespondActivityTaskCanceled)
  KAIROS_HISTORY_CALL_NO_RESPONSE(RespondActivityTaskCanceledById)
  KAIROS_HISTORY_CALL_NO_RESPONSE(TerminateWorkflowExecution)
  KAIROS_HISTORY_CALL_NO_RESPONSE(ResetStickyTaskQueue)
  KAIROS_HISTORY_CALL_NO_RESPONSE(PauseActivity)
  KAIROS_HISTORY_CALL_NO_RESPONSE(UnpauseActivity)
  KAIROS_HISTORY_CALL_NO_RESPONSE(ResetActivity)
  KAIROS_HISTORY_CALL_NO_RESPONSE(DeleteWorkflowExecution)
  KAIROS_HISTORY_CALL(StartNexusOperationExecution)
  KAIROS_HISTORY_CALL_NO_RESPONSE(RequestCancelNexusOperationExecution)
  KAIROS_HISTORY_CALL_NO_RESPONSE(TerminateNexusOperationExecution)
  KAIROS_HISTORY_CALL_NO_RESPONSE(DeleteNexusOperationExecution)
#undef KAIROS_HISTORY_CALL
#undef KAIROS_HISTORY_CALL_NO_RESPONSE

  // ---------------------------------------------------------- schedules
#define KAIROS_SCHEDULER_CALL(Name)                                                                                 \
  grpc::ServerUnaryReactor* Name(grpc::CallbackServerContext* ctx, const wsv1::Name##Request* req,                 \
                                 wsv1::Name##Response* resp) override {                                             \
    return RunOnExecutor(ctx, d_.executor, [this, req, resp]() -> grpc::Status {                                    \
      NamespaceRef ns;                                                                                              \
      if (auto st = Admit(req, &ns); !st.ok()) return st;                                                           \
      return d_.scheduler->Name(ns, *req, resp);                                                                    \
    });                                                                                                             \
  }
  KAIROS_SCHEDULER_CALL(CreateSchedule)
  KAIROS_SCHEDULER_CALL(UpdateSchedule)
  KAIROS_SCHEDULER_CALL(PatchSchedule)
  KAIROS_SCHEDULER_CALL(DeleteSchedule)
  KAIROS_SCHEDULER_CALL(ListSchedules)
  KAIROS_SCHEDULER_CALL(CountSchedules)  // The Web UI's schedule count.
  KAIROS_SCHEDULER_CALL(ListScheduleMatchingTimes)
#undef KAIROS_SCHEDULER_CALL

  // ---------------------------------------------------- batch operations
#define KAIROS_BATCH_CALL(Name)                                                                                     \
  grpc::ServerUnaryReactor* Name(grpc::CallbackServerContext* ctx, const wsv1::Name##Request* req,                 \
                                 wsv1::Name##Response* resp) override {                                             \
    return RunOnExecutor(ctx, d_.executor, [this, req, resp]() -> grpc::Status {                                    \
      NamespaceRef ns;                                                                                              \
      if (auto st = Admit(req, &ns); !st.ok()) return st;                                                           \
      return d_.batcher->Name(ns, *req, resp);                                                                      \
    });                                                                                                             \
  }
  KAIROS_BATCH_CALL(StartBatchOperation)
  KAIROS_BATCH_CALL(DescribeBatchOperation)
  KAIROS_BATCH_CALL(ListBatchOperations)
  KAIROS_BATCH_CALL(StopBatchOperation)
#undef KAIROS_BATCH_CALL

  // -------------------------------------------------- worker deployments
#define KAIROS_DEPLOYMENT_CALL(Name)                                                                                \
  grpc::ServerUnaryReactor* Name(grpc::CallbackServerContext* ctx, const wsv1::Name##Request* req,                 \
                                 wsv1::Name##Response* resp) override {                                             \
    return RunOnExecutor(ctx, d_.executor, [this, req, resp]() -> grpc::Status {                                    \
      NamespaceRef ns;                                                                                              \
      if (auto st = Admit(req, &ns); !st.ok()) return st;                                                           \
      if (d_.deployments == nullptr) return errors::Unimplemented(#Name);                                           \
      return d_.deployments->Name(ns.id, *req, resp);                                                               \
    });                                                                                                             \
  }
  KAIROS_DEPLOYMENT_CALL(DescribeWorkerDeployment)
  KAIROS_DEPLOYMENT_CALL(ListWorkerDeployments)
  KAIROS_DEPLOYMENT_CALL(DescribeWorkerDeploymentVersion)
  KAIROS_DEPLOYMENT_CALL(SetWorkerDeploymentCurrentVersion)
  KAIROS_DEPLOYMENT_CALL(SetWorkerDeploymentRampingVersion)
  KAIROS_DEPLOYMENT_CALL(DeleteWorkerDeploymentVersion)
  KAIROS_DEPLOYMENT_CALL(DeleteWorkerDeployment)
  KAIROS_DEPLOYMENT_CALL(UpdateWorkerDeploymentVersionMetadata)
  KAIROS_DEPLOYMENT_CALL(SetWorkerDeploymentManager)
#undef KAIROS_DEPLOYMENT_CALL

  // The build-id versioning of before deployments. Temporal 1.32 serves the
  // version-set APIs when frontend.workerVersioningDataAPIs is on and the
  // rules' when frontend.workerVersioningRuleAPIs is (Kairos: d_.build_ids
  // is set and its apis() say so), and otherwise answers with these errors
  // (the reachability one names v0.2, as Temporal's does).
#define KAIROS_LEGACY_VERSIONING(Name, Generation, Served)                                                          \
  grpc::ServerUnaryReactor* Name(grpc::CallbackServerContext* ctx, const wsv1::Name##Request* req,                 \
                                 wsv1::Name##Response* resp) override {                                             \
    return RunOnExecutor(ctx, d_.executor, [this, req, resp]() -> grpc::Status {                                    \
      NamespaceRef ns;                                                                                              \
      if (auto st = Admit(req, &ns); !st.ok()) return st;                                                           \
      if (d_.build_ids != nullptr && d_.build_ids->apis().Served) return d_.build_ids->Name(ns.id, *req, resp);     \
      return errors::PermissionDenied("Worker versioning " Generation " is disabled on this namespace.");          \
    });                                                                                                             \
  }
  KAIROS_LEGACY_VERSIONING(UpdateWorkerVersioningRules, "v0.2 (Rules-based, deprecated)", rules)
  KAIROS_LEGACY_VERSIONING(GetWorkerVersioningRules, "v0.2 (Rules-based, deprecated)", rules)
  KAIROS_LEGACY_VERSIONING(GetWorkerTaskReachability, "v0.2 (Rules-based, deprecated)", data)
  KAIROS_LEGACY_VERSIONING(UpdateWorkerBuildIdCompatibility, "v0.1 (Version Set-based, deprecated)", data)
  KAIROS_LEGACY_VERSIONING(GetWorkerBuildIdCompatibility, "v0.1 (Version Set-based, deprecated)", data)
#undef KAIROS_LEGACY_VERSIONING

  grpc::ServerUnaryReactor* DescribeWorkflowExecution(grpc::CallbackServerContext* ctx,
                                                      const wsv1::DescribeWorkflowExecutionRequest* req,
                                                      wsv1::DescribeWorkflowExecutionResponse* resp) override {
    return RunOnExecutor(ctx, d_.executor, [this, req, resp]() -> grpc::Status {
      NamespaceRef ns;
      if (auto st = Admit(req, &ns); !st.ok()) return st;
      auto st = d_.history->DescribeWorkflowExecution(ns, *req, resp);
      auto* info = resp->mutable_workflow_execution_info();
      if (st.ok() && info->has_search_attributes())
        d_.search_attributes->AddTypeMetadata(ns.id, info->mutable_search_attributes());
      return st;
    });
  }

  grpc::ServerUnaryReactor* DescribeSchedule(grpc::CallbackServerContext* ctx, const wsv1::DescribeScheduleRequest* req,
                                             wsv1::DescribeScheduleResponse* resp) override {
    return RunOnExecutor(ctx, d_.executor, [this, req, resp]() -> grpc::Status {
      NamespaceRef ns;
      if (auto st = Admit(req, &ns); !st.ok()) return st;
      auto st = d_.scheduler->DescribeSchedule(ns, *req, resp);
      // The action's attributes carry their types, even those given untyped (as Temporal since 1.24).
      auto* action = resp->mutable_schedule()->mutable_action();
      if (st.ok() && action->has_start_workflow() && action->start_workflow().has_search_attributes())
        d_.search_attributes->AddTypeMetadata(ns.id, action->mutable_start_workflow()->mutable_search_attributes());
      return st;
    });
  }

  // ---------------------------------------------------------- visibility
#define KAIROS_VISIBILITY_CALL(Name, Method)                                                                        \
  grpc::ServerUnaryReactor* Name(grpc::CallbackServerContext* ctx, const wsv1::Name##Request* req,                 \
                                 wsv1::Name##Response* resp) override {                                             \
    return RunOnExecutor(ctx, d_.executor, [this, req, resp]() -> grpc::Status {                                    \
      NamespaceRef ns;                                                                                              \
      if (auto st = Admit(req, &ns); !st.ok()) return st;                                                           \
      return d_.visibility->Method(ns.id, *req, resp);                                                              \
    });                                                                                                             \
  }
  KAIROS_VISIBILITY_CALL(ListWorkflowExecutions, List)
  KAIROS_VISIBILITY_CALL(ScanWorkflowExecutions, Scan)
  KAIROS_VISIBILITY_CALL(CountWorkflowExecutions, Count)
  KAIROS_VISIBILITY_CALL(ListOpenWorkflowExecutions, ListOpen)
  KAIROS_VISIBILITY_CALL(ListClosedWorkflowExecutions, ListClosed)
#undef KAIROS_VISIBILITY_CALL

  // Standalone Nexus operations, listed from their carrier runs' rows.
  grpc::ServerUnaryReactor* ListNexusOperationExecutions(grpc::CallbackServerContext* ctx,
                                                         const wsv1::ListNexusOperationExecutionsRequest* req,
                                                         wsv1::ListNexusOperationExecutionsResponse* resp) override {
    return RunOnExecutor(ctx, d_.executor, [this, req, resp]() -> grpc::Status {
      NamespaceRef ns;
      if (auto st = Admit(req, &ns); !st.ok()) return st;
      wsv1::ListWorkflowExecutionsResponse runs;
      auto st = d_.visibility->ListNexusOperations(ns.id, history::StandaloneNexusNamespaceId(ns.id), req->query(),
                                                   req->page_size(), req->next_page_token(), &runs);
      if (!st.ok()) return st;
      for (const auto& run : runs.executions()) *resp->add_operations() = NexusOperationListInfo(run);
      resp->set_next_page_token(runs.next_page_token());
      return grpc::Status::OK;
    });
  }

  grpc::ServerUnaryReactor* CountNexusOperationExecutions(grpc::CallbackServerContext* ctx,
                                                          const wsv1::CountNexusOperationExecutionsRequest* req,
                                                          wsv1::CountNexusOperationExecutionsResponse* resp) override {
    return RunOnExecutor(ctx, d_.executor, [this, req, resp]() -> grpc::Status {
      NamespaceRef ns;
      if (auto st = Admit(req, &ns); !st.ok()) return st;
      wsv1::CountWorkflowExecutionsResponse runs;
      auto st = d_.visibility->CountNexusOperations(ns.id, history::StandaloneNexusNamespaceId(ns.id), req->query(),
                                                    &runs);
      if (!st.ok()) return st;
      resp->set_count(runs.count());
      for (const auto& g : runs.groups()) {
        auto* out = resp->add_groups();
        *out->mutable_group_values() = g.group_values();
        out->set_count(g.count());
      }
      return grpc::Status::OK;
    });
  }

  // Calls that may wait inside history (long polls on a workflow's state).
  // History waits answer empty a second before the caller's deadline; queries
  // then fail with DEADLINE_EXCEEDED. Update waits end after 20 s with the
  // stage reached; a caller who asked for less time is held to its own
  // deadline, so it sees DEADLINE_EXCEEDED as against Temporal, never an
  // early empty answer it would poll again at once.
#define KAIROS_HISTORY_WAIT(Name, Expiry)                                                                           \
  grpc::ServerUnaryReactor* Name(grpc::CallbackServerContext* ctx, const wsv1::Name##Request* req,                 \
                                 wsv1::Name##Response* resp) override {                                             \
    auto* reactor = ctx->DefaultReactor();                                                                          \
    auto expiry = Expiry(ctx);                                                                                      \
    d_.executor->Submit([this, reactor, req, resp, expiry] {                                                        \
      NamespaceRef ns;                                                                                              \
      if (auto st = Admit(req, &ns); !st.ok()) {                                                                    \
        reactor->Finish(st);                                                                                        \
        return;                                                                                                     \
      }                                                                                                             \
      d_.history->Name(ns, req, resp, expiry, [reactor](grpc::Status st) { reactor->Finish(st); });                 \
    });                                                                                                             \
    return reactor;                                                                                                 \
  }
  KAIROS_HISTORY_WAIT(GetWorkflowExecutionHistory, HistoryWaitExpiry)
  KAIROS_HISTORY_WAIT(QueryWorkflow, HistoryWaitExpiry)
  KAIROS_HISTORY_WAIT(UpdateWorkflowExecution, UpdateWaitExpiry)
  KAIROS_HISTORY_WAIT(PollWorkflowExecutionUpdate, UpdateWaitExpiry)
  KAIROS_HISTORY_WAIT(ExecuteMultiOperation, UpdateWaitExpiry)
  KAIROS_HISTORY_WAIT(PollNexusOperationExecution, NexusWaitExpiry)
  KAIROS_HISTORY_WAIT(DescribeNexusOperationExecution, NexusWaitExpiry)
#undef KAIROS_HISTORY_WAIT

  // ------------------------------------------------------------- polls
  grpc::ServerUnaryReactor* PollWorkflowTaskQueue(grpc::CallbackServerContext* ctx,
                                                  const wsv1::PollWorkflowTaskQueueRequest* req,
                                                  wsv1::PollWorkflowTaskQueueResponse* resp) override {
    return LongPoll(ctx, req,
                    [=, this](const std::string& ns_id, SteadyClock::time_point expiry, history::Done done) {
                      return d_.matching->PollWorkflowTasks(ns_id, req, resp, expiry, std::move(done));
                    });
  }

  grpc::ServerUnaryReactor* PollActivityTaskQueue(grpc::CallbackServerContext* ctx,
                                                  const wsv1::PollActivityTaskQueueRequest* req,
                                                  wsv1::PollActivityTaskQueueResponse* resp) override {
    return LongPoll(ctx, req,
                    [=, this](const std::string& ns_id, SteadyClock::time_point expiry, history::Done done) {
                      return d_.matching->PollActivityTasks(ns_id, req, resp, expiry, std::move(done));
                    });
  }

  // Nexus tasks: handler workers poll them as they poll activity tasks.
  grpc::ServerUnaryReactor* PollNexusTaskQueue(grpc::CallbackServerContext* ctx,
                                               const wsv1::PollNexusTaskQueueRequest* req,
                                               wsv1::PollNexusTaskQueueResponse* resp) override {
    return LongPoll(ctx, req,
                    [=, this](const std::string& ns_id, SteadyClock::time_point expiry, history::Done done) {
                      return d_.matching->PollNexusTasks(ns_id, req, resp, expiry, std::move(done));
                    });
  }

  grpc::ServerUnaryReactor* RespondNexusTaskCompleted(grpc::CallbackServerContext* ctx,
                                                      const wsv1::RespondNexusTaskCompletedRequest* req,
                                                      wsv1::RespondNexusTaskCompletedResponse*) override {
    NamespaceRef ns;
    auto st = Admit(req, &ns);
    if (st.ok()) {
      matching::NexusTaskResult result;
      result.response = req->response();
      st = d_.matching->RespondNexusTask(ns.id, req->task_token(), std::move(result));
    }
    auto* reactor = ctx->DefaultReactor();
    reactor->Finish(st);
    return reactor;
  }

  grpc::ServerUnaryReactor* RespondNexusTaskFailed(grpc::CallbackServerContext* ctx,
                                                   const wsv1::RespondNexusTaskFailedRequest* req,
                                                   wsv1::RespondNexusTaskFailedResponse*) override {
    NamespaceRef ns;
    auto st = Admit(req, &ns);
    if (st.ok()) {
      matching::NexusTaskResult result;
      result.handler_failed = true;
      result.handler_failure = NexusHandlerFailure(*req);
      st = d_.matching->RespondNexusTask(ns.id, req->task_token(), std::move(result));
    }
    auto* reactor = ctx->DefaultReactor();
    reactor->Finish(st);
    return reactor;
  }

  grpc::ServerUnaryReactor* ShutdownWorker(grpc::CallbackServerContext* ctx, const wsv1::ShutdownWorkerRequest* req,
                                           wsv1::ShutdownWorkerResponse*) override {
    NamespaceRef ns;
    auto st = ResolveNamespace(req->namespace_(), &ns);
    if (st.ok() && !req->sticky_task_queue().empty()) d_.matching->ShutdownQueue(ns.id, req->sticky_task_queue());
    auto* reactor = ctx->DefaultReactor();
    reactor->Finish(st);
    return reactor;
  }

  grpc::ServerUnaryReactor* DescribeTaskQueue(grpc::CallbackServerContext* ctx, const wsv1::DescribeTaskQueueRequest* req,
                                              wsv1::DescribeTaskQueueResponse* resp) override {
    NamespaceRef ns;
    auto st = Admit(req, &ns);
    if (st.ok()) frontend::DescribeTaskQueue(d_.matching, ns.id, *req, resp);
    auto* reactor = ctx->DefaultReactor();
    reactor->Finish(st);
    return reactor;
  }

  grpc::ServerUnaryReactor* ListTaskQueuePartitions(grpc::CallbackServerContext* ctx,
                                                    const wsv1::ListTaskQueuePartitionsRequest* req,
                                                    wsv1::ListTaskQueuePartitionsResponse* resp) override {
    NamespaceRef ns;
    auto st = Admit(req, &ns);
    if (st.ok()) frontend::ListTaskQueuePartitions("kairos", *req, resp);
    auto* reactor = ctx->DefaultReactor();
    reactor->Finish(st);
    return reactor;
  }

  // Temporal's answer names every attribute of the cluster; Kairos's custom
  // attributes are per namespace, so it lists those of all namespaces.
  grpc::ServerUnaryReactor* GetSearchAttributes(grpc::CallbackServerContext* ctx, const wsv1::GetSearchAttributesRequest*,
                                                wsv1::GetSearchAttributesResponse* resp) override {
    auto& keys = *resp->mutable_keys();
    for (const auto& [name, type] : visibility::SystemAttributes()) keys[name] = type;
    for (const auto& [name, type] : visibility::PredefinedAttributes()) keys[name] = type;
    for (const auto& [name, type] : d_.search_attributes->AllCustom()) keys[name] = type;
    auto* reactor = ctx->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

 private:
  // Temporal's order: the namespace first, then the request's own fields.
  // Normalizing fills in what Temporal's frontend fills in; gRPC hands the
  // handler a const view of a request this call owns, so changing it is safe.
  template <class Request>
  grpc::Status Admit(const Request* req, NamespaceRef* ns) {
    if (auto st = ValidateNamespaceField(req->namespace_()); !st.ok()) return st;
    if (auto st = ResolveNamespace(req->namespace_(), ns); !st.ok()) return st;
    Normalize(const_cast<Request*>(req));
    if (auto st = Validate(*req); !st.ok()) return st;
    if (auto st = CheckCallbacks(const_cast<Request*>(req)); !st.ok()) return st;
    return CheckSearchAttributes(*req, *ns);
  }

  // Completion callbacks a request attaches, checked as Temporal's frontend
  // checks them (addresses, sizes; header names lower-cased).
  template <class Request>
  grpc::Status CheckCallbacks(Request*) {
    return grpc::Status::OK;
  }
  grpc::Status CheckCallbacks(google::protobuf::RepeatedPtrField<temporal::api::common::v1::Callback>* callbacks) {
    if (callbacks->empty()) return grpc::Status::OK;
    return callback_rules_.Validate(callbacks);
  }
  grpc::Status CheckCallbacks(wsv1::StartWorkflowExecutionRequest* req) {
    return CheckCallbacks(req->mutable_completion_callbacks());
  }
  grpc::Status CheckCallbacks(wsv1::UpdateWorkflowExecutionRequest* req) {
    return CheckCallbacks(req->mutable_request()->mutable_completion_callbacks());
  }
  grpc::Status CheckCallbacks(wsv1::ExecuteMultiOperationRequest* req) {
    for (int i = 0; i < req->operations_size(); ++i) {
      auto* op = req->mutable_operations(i);
      auto st = op->has_start_workflow() ? CheckCallbacks(op->mutable_start_workflow())
                                         : CheckCallbacks(op->mutable_update_workflow());
      if (!st.ok()) return errors::MultiOperationFailed(st, i, req->operations_size());
    }
    return grpc::Status::OK;
  }

  // Search attributes a request sets are checked against the namespace's
  // registered attributes, as Temporal checks them before anything is written.
  template <class Request>
  grpc::Status CheckSearchAttributes(const Request&, const NamespaceRef&) {
    return grpc::Status::OK;
  }
  grpc::Status CheckSearchAttributes(const temporal::api::common::v1::SearchAttributes& sa, const NamespaceRef& ns) {
    return d_.search_attribute_validator->ValidateAll(ns.id, ns.name, sa);
  }
  grpc::Status CheckSearchAttributes(const wsv1::StartWorkflowExecutionRequest& req, const NamespaceRef& ns) {
    return CheckSearchAttributes(req.search_attributes(), ns);
  }
  grpc::Status CheckSearchAttributes(const wsv1::SignalWithStartWorkflowExecutionRequest& req, const NamespaceRef& ns) {
    return CheckSearchAttributes(req.search_attributes(), ns);
  }
  grpc::Status CheckSearchAttributes(const wsv1::StartNexusOperationExecutionRequest& req, const NamespaceRef& ns) {
    return CheckSearchAttributes(req.search_attributes(), ns);
  }
  grpc::Status CheckSearchAttributes(const wsv1::ExecuteMultiOperationRequest& req, const NamespaceRef& ns) {
    for (int i = 0; i < req.operations_size(); ++i) {
      if (!req.operations(i).has_start_workflow()) continue;
      if (auto st = CheckSearchAttributes(req.operations(i).start_workflow(), ns); !st.ok())
        return errors::MultiOperationFailed(st, i, req.operations_size());
    }
    return grpc::Status::OK;
  }
  grpc::Status CheckSearchAttributes(const temporal::api::schedule::v1::Schedule& schedule, const NamespaceRef& ns) {
    return CheckSearchAttributes(schedule.action().start_workflow().search_attributes(), ns);
  }
  grpc::Status CheckSearchAttributes(const wsv1::CreateScheduleRequest& req, const NamespaceRef& ns) {
    if (auto st = CheckSearchAttributes(req.search_attributes(), ns); !st.ok()) return st;
    return CheckSearchAttributes(req.schedule(), ns);
  }
  grpc::Status CheckSearchAttributes(const wsv1::UpdateScheduleRequest& req, const NamespaceRef& ns) {
    if (auto st = CheckSearchAttributes(req.search_attributes(), ns); !st.ok()) return st;
    return CheckSearchAttributes(req.schedule(), ns);
  }

  grpc::Status ResolveNamespace(const std::string& name, NamespaceRef* ns) {
    ns->name = name;
    return d_.namespaces->Resolve(name, &ns->id);
  }

  using StartPoll = std::function<matching::PollHandle(const std::string&, SteadyClock::time_point, history::Done)>;

  // Parks a long poll in matching; the reactor finishes when a task is
  // handed over, the poll expires, or the client cancels.
  template <class Request>
  grpc::ServerUnaryReactor* LongPoll(grpc::CallbackServerContext* ctx, const Request* req, const StartPoll& start) {
    auto* reactor = LongPollReactor::Create();
    NamespaceRef ns;
    grpc::Status st = ValidatePollDeadline(ctx);
    if (st.ok()) st = Admit(req, &ns);
    if (!st.ok()) {
      reactor->Finish(st);
      return reactor;
    }
    struct Slot {
      std::mutex mu;
      matching::PollHandle handle;
      bool cancelled = false;
    };
    auto slot = std::make_shared<Slot>();
    auto* matching = d_.matching;
    reactor->SetOnCancel([slot, matching] {
      matching::PollHandle h;
      {
        std::lock_guard lock(slot->mu);
        slot->cancelled = true;
        h = slot->handle;
      }
      if (h) matching->CancelPoll(h);
    });
    auto handle = start(ns.id, PollExpiry(ctx), [reactor](grpc::Status s) { reactor->Finish(s); });
    bool cancelled;
    {
      std::lock_guard lock(slot->mu);
      slot->handle = handle;
      cancelled = slot->cancelled;
    }
    if (cancelled) matching->CancelPoll(handle);
    return reactor;
  }

  Dependencies d_;
  FrontendOptions options_;
  const CallbackRules callback_rules_;
};

}  // namespace

std::unique_ptr<grpc::Service> NewWorkflowService(const Dependencies& deps, const FrontendOptions& options) {
  auto service = std::make_unique<WorkflowServiceImpl>(deps, options);
  if (!deps.authorizer) return service;
  return AuthorizeWorkflowService(std::move(service), deps.authorizer);
}

}  // namespace kairos::frontend
