// The history engine, private to kairos_history: one class implementing
// HistoryService and matching::TaskStarter, its methods defined across
// history_engine.cc, workflow_start.cc, workflow_tasks.cc, activities.cc,
// engine_timers.cc, history_reads.cc, queries.cc and updates.cc.
#pragma once

#include <array>
#include <condition_variable>
#include <limits>
#include <list>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>

#include "kairos/errors.h"
#include "kairos/history/bounded_cache.h"
#include "kairos/executor.h"
#include "kairos/history/commands.h"
#include "kairos/history/history_service.h"
#include "kairos/history/limits.h"
#include "kairos/history/mutable_state.h"
#include "kairos/history/nexus_operations.h"
#include "kairos/history/retry_policy.h"
#include "kairos/history/timer_service.h"
#include "kairos/history/workflow_close.h"
#include "history_metrics.h"
#include "kairos/ids.h"
#include "kairos/matching/matching_service.h"
#include "kairos/persistence/store.h"
#include "kairos/time_util.h"
#include "temporal/api/protocol/v1/message.pb.h"
#include "temporal/api/query/v1/message.pb.h"
#include "temporal/api/update/v1/message.pb.h"
#include "temporal/api/workflow/v1/message.pb.h"

namespace kairos::history {
namespace detail {

using persistence::ExecutionKey;
using State = records::ExecutionState;
using StatePtr = std::shared_ptr<const State>;
namespace common = temporal::api::common::v1;

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
// Deprecated in the API, still sent by older clients: means TERMINATE_EXISTING.
inline constexpr auto kReuseTerminateIfRunning = enums::WORKFLOW_ID_REUSE_POLICY_TERMINATE_IF_RUNNING;
#pragma GCC diagnostic pop

inline constexpr int kDefaultHistoryPageSize = 1000;
// Who terminates the current run when a workflow is reset (Temporal's name).
inline constexpr char kResetterIdentity[] = "history-resetter";
inline constexpr int kLockStripes = 1024;
// Long polls answer a little before the caller's deadline, and never later
// than this, so that an empty answer always arrives in time.
inline constexpr auto kMaxLongPoll = std::chrono::seconds(60);

// `control` is deprecated in the API but SDKs still correlate by it.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
template <class To>
inline void SetControl(const records::ExternalRequest& from, To* to) {
  to->set_control(from.control());
}
#pragma GCC diagnostic pop

inline std::string RunKey(const ExecutionKey& k) { return k.namespace_id + '\x1f' + k.workflow_id + '\x1f' + k.run_id; }
inline std::string WorkflowKey(const std::string& ns, const std::string& wf) { return ns + '\x1f' + wf; }

inline bool IsTerminalFailure(int status) {
  return status == enums::WORKFLOW_EXECUTION_STATUS_FAILED || status == enums::WORKFLOW_EXECUTION_STATUS_CANCELED ||
         status == enums::WORKFLOW_EXECUTION_STATUS_TERMINATED || status == enums::WORKFLOW_EXECUTION_STATUS_TIMED_OUT;
}

inline std::string TokenFor(const State& s, int64_t scheduled_event_id, int32_t attempt, const std::string& activity_id = "") {
  records::TaskToken t;
  t.set_namespace_id(s.namespace_id());
  t.set_workflow_id(s.workflow_id());
  t.set_run_id(s.run_id());
  t.set_scheduled_event_id(scheduled_event_id);
  t.set_attempt(attempt);
  t.set_activity_id(activity_id);
  return t.SerializeAsString();
}

inline grpc::Status ParseToken(const std::string& bytes, const NamespaceRef& ns, records::TaskToken* t) {
  if (bytes.empty() || !t->ParseFromString(bytes) || t->workflow_id().empty())
    return errors::InvalidArgument("Error deserializing task token.");
  if (t->namespace_id() != ns.id) return errors::InvalidArgument("Operation requested with a token from a different namespace.");
  return grpc::Status::OK;
}

inline grpc::Status WorkflowNotFound(const ExecutionKey& k) {
  return errors::NotFound("workflow execution not found for workflow ID \"" + k.workflow_id + "\" and run ID \"" +
                          k.run_id + "\"");
}

inline grpc::Status AlreadyCompleted() { return errors::NotFound("workflow execution already completed"); }

inline common::WorkflowExecution Execution(const State& s) {
  common::WorkflowExecution e;
  e.set_workflow_id(s.workflow_id());
  e.set_run_id(s.run_id());
  return e;
}

}  // namespace detail

// The engine's sources use these helpers unqualified (they were in an
// anonymous namespace before the engine was split into several files).
using namespace detail;

class HistoryEngine final : public HistoryService, public matching::TaskStarter {
 public:
  HistoryEngine(persistence::Store* store, matching::MatchingService* matching, Executor* executor,
                const Limits& limits, const visibility::SearchAttributeValidator* search_attributes,
                metrics::Registry* metrics, const ScaleOptions& scale);
  ~HistoryEngine() override;
  void Start() override;
  void Stop() override;

  // ---------------------------------------------------------------- start
  grpc::Status StartWorkflowExecution(const NamespaceRef& ns, const wsv1::StartWorkflowExecutionRequest& req,
                                      wsv1::StartWorkflowExecutionResponse* resp) override;
  grpc::Status SignalWithStartWorkflowExecution(const NamespaceRef& ns,
                                                const wsv1::SignalWithStartWorkflowExecutionRequest& req,
                                                wsv1::SignalWithStartWorkflowExecutionResponse* resp) override;
  grpc::Status SignalWorkflowExecution(const NamespaceRef& ns, const wsv1::SignalWorkflowExecutionRequest& req,
                                       wsv1::SignalWorkflowExecutionResponse* resp) override;
  grpc::Status RequestCancelWorkflowExecution(const NamespaceRef& ns,
                                              const wsv1::RequestCancelWorkflowExecutionRequest& req) override;

  struct SignalInput {
    std::string name;
    common::Payloads input;
    common::Header header;
    std::string identity;
    std::string request_id;
    const common::WorkflowExecution* external = nullptr;
    // The request's links, written on the signaled event (a Nexus handler's
    // link to the caller's operation).
    google::protobuf::RepeatedPtrField<common::Link> links;
  };

  void AddSignal(MutableState& ms, const SignalInput& signal);
  // A start that found the run already going and uses it: what its
  // on-conflict options attach to that run (request id, callbacks, links).
  void AttachToRunningWorkflow(MutableState& ms, const wsv1::StartWorkflowExecutionRequest& req);
  void AddCancelRequest(MutableState& ms, const std::string& reason, const std::string& identity,
                        const std::string& request_id, int64_t external_initiated_event_id,
                        const common::WorkflowExecution* external);
  // `parent`: a child's started event, whose parent and root the new run takes.
  grpc::Status StartLocked(const NamespaceRef& ns, const wsv1::StartWorkflowExecutionRequest& req,
                           const SignalInput* signal, wsv1::StartWorkflowExecutionResponse* resp,
                           const hv1::WorkflowExecutionStartedEventAttributes* parent = nullptr);

  // ------------------------------------------------------ workflow tasks
  grpc::Status StartWorkflowTask(int64_t task_id, const records::QueueTask& task,
                                 const wsv1::PollWorkflowTaskQueueRequest& poll,
                                 wsv1::PollWorkflowTaskQueueResponse* resp) override;
  grpc::Status RespondWorkflowTaskCompleted(const NamespaceRef& ns, const wsv1::RespondWorkflowTaskCompletedRequest& req,
                                            wsv1::RespondWorkflowTaskCompletedResponse* resp) override;

  // ------------------------------------------------------------- queries
  void QueryWorkflow(const NamespaceRef& ns, const wsv1::QueryWorkflowRequest* req, wsv1::QueryWorkflowResponse* resp,
                     Deadline deadline, Done done) override;
  grpc::Status RespondQueryTaskCompleted(const NamespaceRef& ns, const wsv1::RespondQueryTaskCompletedRequest& req) override;
  grpc::Status RespondWorkflowTaskFailed(const NamespaceRef& ns, const wsv1::RespondWorkflowTaskFailedRequest& req,
                                         wsv1::RespondWorkflowTaskFailedResponse*) override;

  // ---------------------------------------------------------- activities
  grpc::Status StartActivityTask(int64_t task_id, const records::QueueTask& task,
                                 const wsv1::PollActivityTaskQueueRequest& poll,
                                 wsv1::PollActivityTaskQueueResponse* resp) override;
  grpc::Status RecordActivityTaskHeartbeat(const NamespaceRef& ns, const wsv1::RecordActivityTaskHeartbeatRequest& req,
                                           wsv1::RecordActivityTaskHeartbeatResponse* resp) override;
  grpc::Status RecordActivityTaskHeartbeatById(const NamespaceRef& ns, const wsv1::RecordActivityTaskHeartbeatByIdRequest& req,
                                               wsv1::RecordActivityTaskHeartbeatByIdResponse* resp) override;
  grpc::Status RespondActivityTaskCompleted(const NamespaceRef& ns, const wsv1::RespondActivityTaskCompletedRequest& req) override;
  grpc::Status RespondActivityTaskCompletedById(const NamespaceRef& ns,
                                                const wsv1::RespondActivityTaskCompletedByIdRequest& req) override;
  grpc::Status RespondActivityTaskFailed(const NamespaceRef& ns, const wsv1::RespondActivityTaskFailedRequest& req) override;
  grpc::Status RespondActivityTaskFailedById(const NamespaceRef& ns, const wsv1::RespondActivityTaskFailedByIdRequest& req) override;
  grpc::Status RespondActivityTaskCanceled(const NamespaceRef& ns, const wsv1::RespondActivityTaskCanceledRequest& req) override;
  grpc::Status RespondActivityTaskCanceledById(const NamespaceRef& ns,
                                               const wsv1::RespondActivityTaskCanceledByIdRequest& req) override;

  // ------------------------------------------------------------- control
  grpc::Status TerminateWorkflowExecution(const NamespaceRef& ns, const wsv1::TerminateWorkflowExecutionRequest& req) override;
  grpc::Status ResetStickyTaskQueue(const NamespaceRef& ns, const wsv1::ResetStickyTaskQueueRequest& req) override;
  grpc::Status PauseActivity(const NamespaceRef& ns, const wsv1::PauseActivityRequest& req) override;
  grpc::Status UnpauseActivity(const NamespaceRef& ns, const wsv1::UnpauseActivityRequest& req) override;
  grpc::Status UpdateWorkflowExecutionOptions(const NamespaceRef& ns, const wsv1::UpdateWorkflowExecutionOptionsRequest& req,
                                              wsv1::UpdateWorkflowExecutionOptionsResponse* resp) override;
  grpc::Status ResetActivity(const NamespaceRef& ns, const wsv1::ResetActivityRequest& req) override;
  grpc::Status UpdateActivityOptions(const NamespaceRef& ns, const wsv1::UpdateActivityOptionsRequest& req,
                                     wsv1::UpdateActivityOptionsResponse* resp) override;

  // ------------------------------------------------------------ deletion (deletion.cc)
  grpc::Status DeleteWorkflowExecution(const NamespaceRef& ns, const wsv1::DeleteWorkflowExecutionRequest& req) override;
  int DeleteClosedRunsBefore(const std::string& namespace_id, int64_t closed_before_nanos, int limit) override;

  // --------------------------------------------------------------- reset (reset.cc)
  grpc::Status ResetWorkflowExecution(const NamespaceRef& ns, const wsv1::ResetWorkflowExecutionRequest& req,
                                      wsv1::ResetWorkflowExecutionResponse* resp) override;
  grpc::Status DescribeWorkflowExecution(const NamespaceRef& ns, const wsv1::DescribeWorkflowExecutionRequest& req,
                                         wsv1::DescribeWorkflowExecutionResponse* resp) override;

  // -------------------------------------------------------------- history
  void GetWorkflowExecutionHistory(const NamespaceRef& ns, const wsv1::GetWorkflowExecutionHistoryRequest* req,
                                   wsv1::GetWorkflowExecutionHistoryResponse* resp, Deadline deadline, Done done) override;
  grpc::Status GetWorkflowExecutionHistoryReverse(const NamespaceRef& ns,
                                                  const wsv1::GetWorkflowExecutionHistoryReverseRequest& req,
                                                  wsv1::GetWorkflowExecutionHistoryReverseResponse* resp) override;

 private:
  struct Waiter {
    Deadline deadline;
    std::function<void(bool expired)> fn;
  };

  // ------------------------------------------------------------- helpers
  std::mutex& LockFor(const std::string& ns, const std::string& wf);
  std::optional<persistence::CurrentRun> Current(const std::string& ns, const std::string& wf);
  StatePtr Load(const ExecutionKey& key);

  // Finds the run named by `exec` (the current run when run_id is empty).
  grpc::Status Resolve(const std::string& ns, const common::WorkflowExecution& exec, StatePtr* out);
  void DropTaskRow(int64_t task_id);
  void DropTimerRow(int64_t row_id);  // A stale timer: only its row goes.
  grpc::Status Commit(MutableState& ms);
  grpc::Status CommitAll(std::vector<std::unique_ptr<MutableState>>& changes, MutableState* new_current);

  // One transaction for all the given changes; then the cache, matching,
  // timers and waiters see them.
  grpc::Status CommitStates(const std::vector<MutableState*>& changes, MutableState* new_current);
  // new_run: the run's first commit, so it has no attribute rows yet.
  persistence::VisibilityRow VisibilityOf(const State& s, bool new_run,
                                         const std::set<std::string>& changed_search_attributes);
  static std::string SerializedExecutionInfo(const State& s);
  void FillExecutionInfo(const State& s, temporal::api::workflow::v1::WorkflowExecutionInfo* info);
  // Everything but the memo, the search attributes and the reset points.
  static void FillExecutionInfoScalars(const State& s, temporal::api::workflow::v1::WorkflowExecutionInfo* info);
  hv1::WorkflowExecutionStartedEventAttributes StartedAttributes(const wsv1::StartWorkflowExecutionRequest& req,
                                                                  int64_t now);

  // Writes the started event of a new run and arms what it needs: its
  // timeouts, and either its first workflow task or the backoff before it.
  // `links`: the start request's, on the started event.
  void InitRun(MutableState& ms, hv1::WorkflowExecutionStartedEventAttributes attrs, int64_t backoff_ms,
               const std::function<void(MutableState&)>& before_first_task = nullptr,
               const google::protobuf::RepeatedPtrField<common::Link>* links = nullptr);
  State FreshState(const std::string& ns_id, const std::string& ns_name, const std::string& workflow_id,
                   const std::string& run_id, const std::string& first_run_id, const std::string& request_id);

  // The run a closing run hands over to (retry, continue-as-new).
  std::unique_ptr<MutableState> BuildNextRun(MutableState& ms);
  grpc::Status CheckStartedWorkflowTask(const StatePtr& state, const records::TaskToken& token);
  void StartWorkflowTaskLocked(MutableState& ms, const std::string& identity, const common::WorkerVersionStamp& worker_version);
  grpc::Status FillWorkflowTaskResponse(const State& s, wsv1::PollWorkflowTaskQueueResponse* resp);
  static int64_t WorkflowTaskAttemptTimeoutMs(const records::WorkflowTaskInfo& w);

  // Updates handed to a workflow task that did not answer them wait for the next one.
  static void ReadmitUpdates(MutableState& ms);
  // Records a failed workflow task (first attempt only; later ones are
  // transient), naming the worker by identity and binary checksum (as
  // Temporal does: not by its build), and schedules the next attempt on the
  // workflow's own queue.
  void FailWorkflowTask(MutableState& ms, enums::WorkflowTaskFailedCause cause,
                        const temporal::api::failure::v1::Failure* failure, const std::string& identity,
                        const std::string& binary_checksum = {});
  void TerminateRun(MutableState& ms, const std::string& reason, const std::string& identity,
                    const common::Payloads* details);

  // Finds the activity named by a token or by id, checks it is the attempt
  // the caller holds, applies `fn`, commits.
  grpc::Status WithActivity(const NamespaceRef& ns, const std::string& token_bytes, const std::string& workflow_id,
                            const std::string& run_id, const std::string& activity_id,
                            const std::function<grpc::Status(MutableState&, records::ActivityInfo&)>& fn);
  void RemoveActivity(MutableState& ms, int64_t scheduled_event_id);
  grpc::Status CompleteActivity(MutableState& ms, records::ActivityInfo& a, const common::Payloads& result,
                                const std::string& identity);
  grpc::Status CancelActivity(MutableState& ms, records::ActivityInfo& a, const common::Payloads& details,
                              const std::string& identity);

  // A failed (or timed-out) attempt: retried per policy without any event,
  // or closed with the started and failed/timed-out events.
  grpc::Status FailActivity(MutableState& ms, records::ActivityInfo& a, const temporal::api::failure::v1::Failure& failure,
                            const std::string& identity, bool is_timeout);
  void ArmActivityStartTimers(MutableState& ms, records::ActivityInfo& a);
  void MarkActivityStarted(MutableState& ms, records::ActivityInfo& info, const std::string& identity);
  static void FillActivityTask(const State& s, const records::ActivityInfo& a, const std::string& ns_name,
                               wsv1::PollActivityTaskQueueResponse* resp);
  // Eager activities: the activities the completing task asked to run
  // itself are started at once and returned with the completion.
  std::vector<int64_t> StartEagerActivities(MutableState& ms, const wsv1::RespondWorkflowTaskCompletedRequest& req);

  // ------------------------------------------------------------- updates
  std::optional<CommandError> ApplyUpdateMessage(MutableState& ms, const temporal::api::protocol::v1::Message& m);

  // Updates end with their run, once every command and message of the
  // closing task is applied: an accepted one completes with Temporal's
  // AcceptedUpdateCompletedWorkflow failure, the others are aborted.
  static void AbortUpdates(MutableState& ms);

  // Admits an update (once per update id) onto a locked, running run.
  grpc::Status AdmitUpdate(const StatePtr& state, const temporal::api::update::v1::Request& request);
  // A later request for a known update: its completion callbacks join the
  // update's (once per request id) while the update has no outcome.
  grpc::Status AttachUpdateCallbacks(const StatePtr& state, const records::UpdateInfo& known,
                                     const temporal::api::update::v1::Request& request);

  using UpdateFill = std::function<void(const common::WorkflowExecution&, enums::UpdateWorkflowExecutionLifecycleStage,
                                        const temporal::api::update::v1::Outcome*)>;

  // Answers once the update reached `wanted` (or the deadline passed, with
  // the stage reached so far, so that the client polls again).
  void WaitUpdate(const ExecutionKey& key, const std::string& update_id, enums::UpdateWorkflowExecutionLifecycleStage wanted,
                  Deadline deadline, UpdateFill fill, Done done, bool expired);
  static enums::UpdateWorkflowExecutionLifecycleStage WantedStage(const temporal::api::update::v1::WaitPolicy& p);
  UpdateFill FillUpdateResponse(wsv1::UpdateWorkflowExecutionResponse* resp, const std::string& ns_name,
                                const temporal::api::update::v1::Request& request);
  void UpdateWorkflowExecution(const NamespaceRef& ns, const wsv1::UpdateWorkflowExecutionRequest* req,
                               wsv1::UpdateWorkflowExecutionResponse* resp, Deadline deadline, Done done) override;
  void PollWorkflowExecutionUpdate(const NamespaceRef& ns, const wsv1::PollWorkflowExecutionUpdateRequest* req,
                                   wsv1::PollWorkflowExecutionUpdateResponse* resp, Deadline deadline, Done done) override;
  void ExecuteMultiOperation(const NamespaceRef& ns, const wsv1::ExecuteMultiOperationRequest* req,
                             wsv1::ExecuteMultiOperationResponse* resp, Deadline deadline, Done done) override;

  // ------------------------------------------------------ query plumbing
  struct PendingQuery {
    enum State { kWaiting, kAttached, kDispatched };
    ExecutionKey key;
    temporal::api::query::v1::WorkflowQuery query;
    wsv1::QueryWorkflowResponse* resp;
    Done done;
    State state;
    int64_t attached_to;  // Started event id of the workflow task carrying it.
  };

  // Completes a pending query once; `result` is a worker's answer.
  bool FinishQuery(const std::string& id, grpc::Status status, const temporal::api::query::v1::WorkflowQueryResult* result);
  void AnswerQueries(const wsv1::RespondWorkflowTaskCompletedRequest& req);

  // Queries go to a worker as query tasks when no workflow task is pending;
  // otherwise they ride along with the next workflow task.
  void DispatchQueries(const ExecutionKey& key);
  // FAILED_PRECONDITION when a query could never be answered (a pinned
  // run's drained version, no worker on its queue).
  grpc::Status CheckQueryAnswerable(const State& s);
  grpc::Status StartQueryTask(const records::QueueTask& task, wsv1::PollWorkflowTaskQueueResponse* resp);

  // Hands waiting queries to a workflow task that is starting.
  void AttachQueries(const State& s, wsv1::PollWorkflowTaskQueueResponse* resp);

  // ---------------------------------------------------------------- timers
  void OnTimer(int64_t row_id, const records::TimerTask& t);

  // A workflow's signal or cancel request to another workflow: delivered to
  // the target first (idempotently, so a retry after a crash is harmless),
  // then recorded on the source. The two workflows are locked one after the
  // other, never together.
  void DeliverExternal(int64_t row_id, const records::TimerTask& t);

  // ------------------------------------------------ child workflows (engine_children.cc)
  // START_CHILD: starts the child (idempotently, by its create request id),
  // then records ChildWorkflowExecutionStarted or StartChildWorkflow-
  // ExecutionFailed on the parent. A child whose parent closed first is not
  // started; one started just before is handed to the parent close policy.
  void StartChild(int64_t row_id, const records::TimerTask& t);
  // REPORT_TO_PARENT: a closed child's close event reaches its parent once.
  void ReportToParent(int64_t row_id, const records::TimerTask& t);
  // A closed run and its close event (null while running, or when gone).
  StatePtr LoadClosedRun(const ExecutionKey& key, hv1::HistoryEvent* close);
  // PARENT_CLOSE_POLICY: terminates or cancels a closed parent's children.
  void ApplyParentClosePolicy(int64_t row_id, const records::TimerTask& t);
  // One child; false when it should be tried again (store unavailable).
  bool ApplyPolicyToChild(const common::WorkflowExecution& parent, const records::ChildInfo& child);
  // Re-arms a step that could not be done now.
  void RetryStepLater(int64_t row_id, const records::TimerTask& t);
  std::string NamespaceIdByName(const std::string& name);

  // The new run of a reset after the copied events: the failed workflow
  // task, pending activities, timers, child starts and requests to other
  // workflows armed again, then what `after` (the base run's events after
  // the point and its later runs') re-applies, then a workflow task.
  void BuildResetRun(MutableState& ms, const wsv1::ResetWorkflowExecutionRequest& req, const std::string& base_run_id,
                     const std::vector<hv1::HistoryEvent>& after);

  // DELETE_HISTORY: the delayed delete of a run terminated by a delete.
  void DeleteOnTimer(int64_t row_id, const records::TimerTask& t);
  // Removes a closed run (its stripe held) in one transaction, with the task
  // and timer rows it owns (and `timer_row_id`, the timer that asked).
  grpc::Status DeleteRunLocked(const State& s, int64_t timer_row_id);

  // Returns false when the timer is stale.
  bool ApplyTimer(MutableState& ms, int64_t row_id, const records::TimerTask& t);

  // --------------------------------------------- Nexus operations (engine_nexus.cc)
 public:
  grpc::Status StartNexusOperationExecution(const NamespaceRef& ns, const wsv1::StartNexusOperationExecutionRequest& req,
                                            wsv1::StartNexusOperationExecutionResponse* resp) override;
  void DescribeNexusOperationExecution(const NamespaceRef& ns, const wsv1::DescribeNexusOperationExecutionRequest* req,
                                       wsv1::DescribeNexusOperationExecutionResponse* resp, Deadline deadline,
                                       Done done) override;
  void PollNexusOperationExecution(const NamespaceRef& ns, const wsv1::PollNexusOperationExecutionRequest* req,
                                   wsv1::PollNexusOperationExecutionResponse* resp, Deadline deadline,
                                   Done done) override;
  grpc::Status RequestCancelNexusOperationExecution(const NamespaceRef& ns,
                                                    const wsv1::RequestCancelNexusOperationExecutionRequest& req) override;
  grpc::Status TerminateNexusOperationExecution(const NamespaceRef& ns,
                                                const wsv1::TerminateNexusOperationExecutionRequest& req) override;
  grpc::Status DeleteNexusOperationExecution(const NamespaceRef& ns,
                                             const wsv1::DeleteNexusOperationExecutionRequest& req) override;
  // The standalone operation `id` (run `run_id`, or the latest), with the
  // carrier's lock held by the caller.
  grpc::Status ResolveStandaloneNexus(const NamespaceRef& ns, const std::string& id, const std::string& run_id,
                                      StatePtr* out);
  void SetNexusEndpoints(NexusEndpointLookup lookup) override { nexus_endpoints_ = std::move(lookup); }
  void SetNexusCompletionSender(nexus::CompletionSender sender) override { completion_sender_ = std::move(sender); }
  void SetNexusExternalCaller(NexusExternalCaller caller) override { external_caller_ = std::move(caller); }
  void SetNexusCallbackUrls(nexus::CallbackUrlConfig callbacks) override {
    std::lock_guard lock(callback_urls_mu_);
    callback_urls_ = std::move(callbacks);
  }
  grpc::Status CompleteNexusOperation(const NexusCallbackCompletion& completion) override;
  void SetSystemNexusAdmission(SystemNexusAdmission admit) override { system_nexus_admission_ = std::move(admit); }
  void SetDeployments(DeploymentLookup lookup) override { env_.deployments = std::move(lookup); }

 private:
  // NEXUS_START: sends the start request to the endpoint's handler through
  // matching; the answer is recorded by OnNexusStartReply. The step's row
  // stays until then, so a crash sends the request again (same request id).
  void StartNexusOperation(int64_t row_id, const records::TimerTask& t);
  // The pending operation of a NEXUS_START/NEXUS_CANCEL step whose row it
  // still names (`row_of`) and the caller's namespace name; a stale step's
  // row is dropped.
  std::optional<std::pair<records::NexusOperationInfo, std::string>> NexusStepOperation(
      int64_t row_id, const records::TimerTask& t, int64_t (records::NexusOperationInfo::*row_of)() const);
  // Sends a request (its operation part filled) to the operation's endpoint
  // as a Nexus task; `reply` gets the answer, or a NOT_FOUND handler error
  // when the endpoint is gone.
  void SendNexusRequest(const records::NexusOperationInfo& op, temporal::api::nexus::v1::Request req,
                        int64_t timeout_ms, matching::NexusReply reply);
  // The __temporal_system endpoint's start: answered here, at once.
  void StartSystemNexusOperation(const records::TimerTask& t, const records::NexusOperationInfo& op,
                                 const std::string& ns_name, matching::NexusReply reply);
  void OnNexusStartReply(int64_t row_id, const records::TimerTask& t, const grpc::Status& status,
                         const matching::NexusTaskResult& result);
  void TimeOutNexusOperation(int64_t row_id, const records::TimerTask& t);
  // The start step, with too little time left to send its request.
  void TimeOutNexusStart(int64_t row_id, const records::TimerTask& t, temporal::api::enums::v1::TimeoutType type);
  // NEXUS_CANCEL: sends the cancel request of a started operation.
  void CancelNexusOperation(int64_t row_id, const records::TimerTask& t);
  void OnNexusCancelReply(int64_t row_id, const records::TimerTask& t, const grpc::Status& status,
                          const matching::NexusTaskResult& result);
  // NEXUS_CALLBACK: a closed handler run's outcome to each caller operation
  // that started it (its completion callbacks).
  void DeliverNexusCompletion(int64_t row_id, const records::TimerTask& t);
  // NEXUS_UPDATE_CALLBACK: a completed update's outcome to each caller
  // operation it backs.
  void DeliverNexusUpdateCompletion(int64_t row_id, const records::TimerTask& t);
  // Records a handler's outcome on each caller named by `callbacks`; false
  // when a caller could not be written (the step is retried). Callers
  // outside the server (a callback URL) get `outside` (null: none are told)
  // with the outcome through the completion sender.
  bool ReportToNexusCallers(const google::protobuf::RepeatedPtrField<temporal::api::common::v1::Callback>& callbacks,
                            const temporal::api::common::v1::Payload* result,
                            const std::optional<std::pair<NexusEnd, temporal::api::failure::v1::Failure>>& ended,
                            const nexus::Completion* outside = nullptr);
  // Records a handler's outcome on the caller operation its callback token
  // names (a reset caller's current run when the token's run no longer has
  // it), first its start when that is not recorded yet; NOT_FOUND when the
  // operation is not pending there.
  grpc::Status RecordNexusCallback(const records::NexusCallbackToken& token, const temporal::api::common::v1::Payload* result,
                                   const std::optional<std::pair<NexusEnd, temporal::api::failure::v1::Failure>>& ended,
                                   const std::string& operation_token,
                                   const google::protobuf::RepeatedPtrField<temporal::api::common::v1::Link>& links);
  // Posts the outcome to one outside caller; false when it is worth trying again.
  bool ReportToOutsideCaller(const temporal::api::common::v1::Callback& callback, nexus::Completion completion,
                             const temporal::api::common::v1::Payload* result,
                             const std::optional<std::pair<NexusEnd, temporal::api::failure::v1::Failure>>& ended);

  // ------------------------------------------------------- history reads
  void ReadHistory(const std::string& ns, const wsv1::GetWorkflowExecutionHistoryRequest* req,
                   wsv1::GetWorkflowExecutionHistoryResponse* resp, Deadline deadline, Done done, bool expired);
  void AddWaiter(const std::string& run_key, Deadline deadline, std::function<void(bool)> fn);
  void NotifyWaiters(const std::string& run_key);
  void WaiterLoop();

  HistoryMetrics metrics_;
  NexusEndpointLookup nexus_endpoints_;
  nexus::CompletionSender completion_sender_;
  NexusExternalCaller external_caller_;
  std::mutex callback_urls_mu_;
  nexus::CallbackUrlConfig callback_urls_;  // Guarded by callback_urls_mu_.
  SystemNexusAdmission system_nexus_admission_;
  persistence::Store* store_;
  matching::MatchingService* matching_;
  Executor* executor_;
  Environment env_;
  const Limits limits_;
  const visibility::SearchAttributeValidator* search_attributes_;  // May be null: no checks.
  TimerService timers_;
  std::array<std::mutex, kLockStripes> stripes_;
  // Committed states of running runs and current-run pointers, bounded
  // (--cache-max-workflows); a miss reads the store.
  BoundedCache<StatePtr> states_;
  BoundedCache<persistence::CurrentRun> current_runs_;
  std::mutex queries_mu_;
  std::unordered_map<std::string, PendingQuery> queries_;
  std::unordered_map<std::string, std::vector<std::string>> queries_by_run_;
  std::mutex waiters_mu_;
  std::condition_variable waiters_cv_;
  std::unordered_map<std::string, std::list<Waiter>> waiters_;
  bool stopping_ = false;
  std::thread waiter_thread_;
};

}  // namespace kairos::history
