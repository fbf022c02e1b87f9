// The history engine: per-workflow serialization, a cache of mutable state,
// one store transaction per change, and the effects applied after commit.
#include <array>
#include <condition_variable>
#include <limits>
#include <list>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>

#include <spdlog/spdlog.h>

#include "kairos/errors.h"
#include "kairos/executor.h"
#include "kairos/history/commands.h"
#include "kairos/history/history_service.h"
#include "kairos/history/mutable_state.h"
#include "kairos/history/retry_policy.h"
#include "kairos/history/timer_service.h"
#include "kairos/history/workflow_close.h"
#include "kairos/ids.h"
#include "kairos/matching/matching_service.h"
#include "kairos/persistence/store.h"
#include "kairos/time_util.h"
#include "temporal/api/protocol/v1/message.pb.h"
#include "temporal/api/query/v1/message.pb.h"
#include "temporal/api/update/v1/message.pb.h"
#include "temporal/api/workflow/v1/message.pb.h"

namespace kairos::history {
namespace {

using persistence::ExecutionKey;
using State = records::ExecutionState;
using StatePtr = std::shared_ptr<const State>;
namespace common = temporal::api::common::v1;

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
// Deprecated in the API, still sent by older clients: means TERMINATE_EXISTING.
constexpr auto kReuseTerminateIfRunning = enums::WORKFLOW_ID_REUSE_POLICY_TERMINATE_IF_RUNNING;
#pragma GCC diagnostic pop

constexpr int kDefaultHistoryPageSize = 1000;
constexpr int kLockStripes = 1024;
// Long polls answer a little before the caller's deadline, and never later
// than this, so that an empty answer always arrives in time.
constexpr auto kMaxLongPoll = std::chrono::seconds(60);

// `control` is deprecated in the API but SDKs still correlate by it.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
template <class To>
void SetControl(const records::ExternalRequest& from, To* to) {
  to->set_control(from.control());
}
#pragma GCC diagnostic pop

std::string RunKey(const ExecutionKey& k) { return k.namespace_id + '\x1f' + k.workflow_id + '\x1f' + k.run_id; }
std::string WorkflowKey(const std::string& ns, const std::string& wf) { return ns + '\x1f' + wf; }

bool IsTerminalFailure(int status) {
  return status == enums::WORKFLOW_EXECUTION_STATUS_FAILED || status == enums::WORKFLOW_EXECUTION_STATUS_CANCELED ||
         status == enums::WORKFLOW_EXECUTION_STATUS_TERMINATED || status == enums::WORKFLOW_EXECUTION_STATUS_TIMED_OUT;
}

std::string TokenFor(const State& s, int64_t scheduled_event_id, int32_t attempt, const std::string& activity_id = "") {
  records::TaskToken t;
  t.set_namespace_id(s.namespace_id());
  t.set_workflow_id(s.workflow_id());
  t.set_run_id(s.run_id());
  t.set_scheduled_event_id(scheduled_event_id);
  t.set_attempt(attempt);
  t.set_activity_id(activity_id);
  return t.SerializeAsString();
}

grpc::Status ParseToken(const std::string& bytes, const NamespaceRef& ns, records::TaskToken* t) {
  if (bytes.empty() || !t->ParseFromString(bytes) || t->workflow_id().empty())
    return errors::InvalidArgument("Error deserializing task token.");
  if (t->namespace_id() != ns.id) return errors::InvalidArgument("Operation requested with a token from a different namespace.");
  return grpc::Status::OK;
}

grpc::Status WorkflowNotFound(const ExecutionKey& k) {
  return errors::NotFound("workflow execution not found for workflow ID \"" + k.workflow_id + "\" and run ID \"" +
                          k.run_id + "\"");
}

grpc::Status AlreadyCompleted() { return errors::NotFound("workflow execution already completed"); }

common::WorkflowExecution Execution(const State& s) {
  common::WorkflowExecution e;
  e.set_workflow_id(s.workflow_id());
  e.set_run_id(s.run_id());
  return e;
}

}  // namespace

class HistoryEngine final : public HistoryService, public matching::TaskStarter {
 public:
  HistoryEngine(persistence::Store* store, matching::MatchingService* matching, Executor* executor)
      : store_(store),
        matching_(matching),
        executor_(executor),
        timers_([this](int64_t id, const records::TimerTask& t) {
          executor_->Submit([this, id, t] { OnTimer(id, t); });
        }) {
    env_.next_id = [this] { return store_->NextId(); };
    env_.sticky_alive = [this](const std::string& ns, const std::string& queue) {
      return matching_->HasRecentPoller(ns, queue);
    };
    matching_->SetTaskStarter(this);
    waiter_thread_ = std::thread([this] { WaiterLoop(); });
  }

  ~HistoryEngine() override { Stop(); }

  void Start() override {
    for (auto& row : store_->LoadTimers()) {
      records::TimerTask t;
      if (t.ParseFromString(row.timer)) timers_.Arm(row.id, std::move(t));
    }
    for (auto& row : store_->LoadTasks()) {
      records::QueueTask t;
      if (t.ParseFromString(row.task)) matching_->AddTask(row.id, std::move(t));
    }
    spdlog::debug("history started: {} timers armed", timers_.size());
  }

  void Stop() override {
    timers_.Stop();
    {
      std::lock_guard lock(waiters_mu_);
      if (stopping_) return;
      stopping_ = true;
    }
    waiters_cv_.notify_all();
    if (waiter_thread_.joinable()) waiter_thread_.join();
    // Answer whatever still waits.
    std::vector<std::function<void(bool)>> left;
    {
      std::lock_guard lock(waiters_mu_);
      for (auto& [key, list] : waiters_)
        for (auto& w : list) left.push_back(std::move(w.fn));
      waiters_.clear();
    }
    for (auto& fn : left) fn(true);
  }

  // ---------------------------------------------------------------- start
  grpc::Status StartWorkflowExecution(const NamespaceRef& ns, const wsv1::StartWorkflowExecutionRequest& req,
                                      wsv1::StartWorkflowExecutionResponse* resp) override {
    if (auto st = ValidateStart(req); !st.ok()) return st;
    std::lock_guard wf_lock(LockFor(ns.id, req.workflow_id()));
    return StartLocked(ns, req, nullptr, resp);
  }

  grpc::Status SignalWithStartWorkflowExecution(const NamespaceRef& ns,
                                                const wsv1::SignalWithStartWorkflowExecutionRequest& req,
                                                wsv1::SignalWithStartWorkflowExecutionResponse* resp) override {
    wsv1::StartWorkflowExecutionRequest start;
    start.set_namespace_(req.namespace_());
    start.set_workflow_id(req.workflow_id());
    *start.mutable_workflow_type() = req.workflow_type();
    *start.mutable_task_queue() = req.task_queue();
    *start.mutable_input() = req.input();
    *start.mutable_workflow_execution_timeout() = req.workflow_execution_timeout();
    *start.mutable_workflow_run_timeout() = req.workflow_run_timeout();
    *start.mutable_workflow_task_timeout() = req.workflow_task_timeout();
    start.set_identity(req.identity());
    start.set_request_id(req.request_id());
    start.set_workflow_id_reuse_policy(req.workflow_id_reuse_policy());
    start.set_workflow_id_conflict_policy(req.workflow_id_conflict_policy());
    if (req.has_retry_policy()) *start.mutable_retry_policy() = req.retry_policy();
    start.set_cron_schedule(req.cron_schedule());
    if (req.has_memo()) *start.mutable_memo() = req.memo();
    if (req.has_search_attributes()) *start.mutable_search_attributes() = req.search_attributes();
    if (req.has_header()) *start.mutable_header() = req.header();
    *start.mutable_workflow_start_delay() = req.workflow_start_delay();
    if (req.has_priority()) *start.mutable_priority() = req.priority();
    if (auto st = ValidateStart(start); !st.ok()) return st;
    if (req.signal_name().empty()) return errors::InvalidArgument("SignalName is not set on request.");
    SignalInput signal{req.signal_name(), req.signal_input(), req.header(), req.identity(), req.request_id()};
    std::lock_guard wf_lock(LockFor(ns.id, req.workflow_id()));
    auto current = Current(ns.id, req.workflow_id());
    if (current && current->status == enums::WORKFLOW_EXECUTION_STATUS_RUNNING &&
        req.workflow_id_conflict_policy() != enums::WORKFLOW_ID_CONFLICT_POLICY_TERMINATE_EXISTING &&
        req.workflow_id_conflict_policy() != enums::WORKFLOW_ID_CONFLICT_POLICY_FAIL) {
      auto state = Load({ns.id, req.workflow_id(), current->run_id});
      if (!state) return errors::Internal("current run is missing");
      MutableState ms(*state, env_, NowNanos());
      AddSignal(ms, signal);
      if (auto st = Commit(ms); !st.ok()) return st;
      resp->set_run_id(current->run_id);
      resp->set_started(false);
      return grpc::Status::OK;
    }
    // Signal-with-start signals a running workflow unless told otherwise.
    if (start.workflow_id_conflict_policy() == enums::WORKFLOW_ID_CONFLICT_POLICY_UNSPECIFIED)
      start.set_workflow_id_conflict_policy(enums::WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING);
    wsv1::StartWorkflowExecutionResponse started;
    if (auto st = StartLocked(ns, start, &signal, &started); !st.ok()) return st;
    resp->set_run_id(started.run_id());
    resp->set_started(started.started());
    return grpc::Status::OK;
  }

  grpc::Status SignalWorkflowExecution(const NamespaceRef& ns, const wsv1::SignalWorkflowExecutionRequest& req) override {
    if (req.signal_name().empty()) return errors::InvalidArgument("SignalName is not set on request.");
    std::lock_guard wf_lock(LockFor(ns.id, req.workflow_execution().workflow_id()));
    StatePtr state;
    if (auto st = Resolve(ns.id, req.workflow_execution(), &state); !st.ok()) return st;
    if (state->status() != enums::WORKFLOW_EXECUTION_STATUS_RUNNING) return AlreadyCompleted();
    if (!req.request_id().empty()) {
      for (const auto& id : state->signal_request_ids())
        if (id == req.request_id()) return grpc::Status::OK;  // Already delivered.
    }
    MutableState ms(*state, env_, NowNanos());
    AddSignal(ms, SignalInput{req.signal_name(), req.input(), req.header(), req.identity(), req.request_id()});
    return Commit(ms);
  }

  grpc::Status RequestCancelWorkflowExecution(const NamespaceRef& ns,
                                              const wsv1::RequestCancelWorkflowExecutionRequest& req) override {
    std::lock_guard wf_lock(LockFor(ns.id, req.workflow_execution().workflow_id()));
    StatePtr state;
    if (auto st = Resolve(ns.id, req.workflow_execution(), &state); !st.ok()) return st;
    if (!req.first_execution_run_id().empty() && state->first_execution_run_id() != req.first_execution_run_id())
      return errors::NotFound("workflow execution not found for the given first execution run ID");
    if (state->status() != enums::WORKFLOW_EXECUTION_STATUS_RUNNING) return AlreadyCompleted();
    // A repeated request (same id or not) changes nothing, as in Temporal.
    if (state->cancel_requested()) return grpc::Status::OK;
    MutableState ms(*state, env_, NowNanos());
    AddCancelRequest(ms, req.reason(), req.identity(), req.request_id(), 0, nullptr);
    return Commit(ms);
  }

  struct SignalInput {
    std::string name;
    common::Payloads input;
    common::Header header;
    std::string identity;
    std::string request_id;
    const common::WorkflowExecution* external = nullptr;
  };

  void AddSignal(MutableState& ms, const SignalInput& signal) {
    auto& e = ms.AddOrBufferEvent(enums::EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED);
    auto* a = e.mutable_workflow_execution_signaled_event_attributes();
    a->set_signal_name(signal.name);
    *a->mutable_input() = signal.input;
    a->set_identity(signal.identity);
    if (signal.header.fields_size() > 0) *a->mutable_header() = signal.header;
    a->set_request_id(signal.request_id);
    if (signal.external) *a->mutable_external_workflow_execution() = *signal.external;
    if (!signal.request_id.empty()) {
      auto* ids = ms.s().mutable_signal_request_ids();
      ids->Add(std::string(signal.request_id));
      // Deduplication looks back over the most recent signals only.
      constexpr int kRememberedSignalIds = 1000;
      if (ids->size() > kRememberedSignalIds) ids->DeleteSubrange(0, ids->size() - kRememberedSignalIds);
    }
    ms.ScheduleWorkflowTask();
  }

  void AddCancelRequest(MutableState& ms, const std::string& reason, const std::string& identity,
                        const std::string& request_id, int64_t external_initiated_event_id,
                        const common::WorkflowExecution* external) {
    auto& e = ms.AddOrBufferEvent(enums::EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED);
    auto* a = e.mutable_workflow_execution_cancel_requested_event_attributes();
    a->set_cause(reason);
    a->set_identity(identity);
    a->set_external_initiated_event_id(external_initiated_event_id);
    if (external) *a->mutable_external_workflow_execution() = *external;
    ms.s().set_cancel_requested(true);
    ms.s().set_cancel_request_id(request_id);
    ms.ScheduleWorkflowTask();
  }

  grpc::Status StartLocked(const NamespaceRef& ns, const wsv1::StartWorkflowExecutionRequest& req,
                           const SignalInput* signal, wsv1::StartWorkflowExecutionResponse* resp) {
    auto current = Current(ns.id, req.workflow_id());
    StatePtr running;
    if (current) {
      if (!req.request_id().empty() && current->start_request_id == req.request_id()) {
        resp->set_run_id(current->run_id);
        resp->set_started(true);
        resp->set_status(static_cast<enums::WorkflowExecutionStatus>(current->status));
        return grpc::Status::OK;
      }
      if (current->status == enums::WORKFLOW_EXECUTION_STATUS_RUNNING) {
        auto policy = req.workflow_id_conflict_policy();
        if (req.workflow_id_reuse_policy() == kReuseTerminateIfRunning)
          policy = enums::WORKFLOW_ID_CONFLICT_POLICY_TERMINATE_EXISTING;
        if (policy == enums::WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING) {
          if (signal) {
            auto state = Load({ns.id, req.workflow_id(), current->run_id});
            if (!state) return errors::Internal("current run is missing");
            MutableState ms(*state, env_, NowNanos());
            AddSignal(ms, *signal);
            if (auto st = Commit(ms); !st.ok()) return st;
          }
          resp->set_run_id(current->run_id);
          resp->set_started(false);
          resp->set_status(enums::WORKFLOW_EXECUTION_STATUS_RUNNING);
          return grpc::Status::OK;
        }
        if (policy != enums::WORKFLOW_ID_CONFLICT_POLICY_TERMINATE_EXISTING) {
          return errors::WorkflowAlreadyStarted(
              "Workflow execution is already running. WorkflowId: " + req.workflow_id() + ", RunId: " + current->run_id + ".",
              current->start_request_id, current->run_id);
        }
        running = Load({ns.id, req.workflow_id(), current->run_id});
      } else {
        auto reuse = req.workflow_id_reuse_policy();
        bool allowed = reuse == enums::WORKFLOW_ID_REUSE_POLICY_UNSPECIFIED ||
                       reuse == enums::WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE ||
                       reuse == kReuseTerminateIfRunning ||
                       (reuse == enums::WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE_FAILED_ONLY &&
                        IsTerminalFailure(current->status));
        if (!allowed) {
          return errors::WorkflowAlreadyStarted("Workflow execution already finished and its workflow ID reuse policy "
                                                "does not allow a new run. WorkflowId: " + req.workflow_id() +
                                                    ", RunId: " + current->run_id + ".",
                                                current->start_request_id, current->run_id);
        }
      }
    }
    std::vector<std::unique_ptr<MutableState>> changes;
    if (running) {
      auto ms = std::make_unique<MutableState>(*running, env_, NowNanos());
      TerminateRun(*ms, "TerminateExisting", req.identity(), nullptr);
      changes.push_back(std::move(ms));
    }
    std::string run_id = NewUuid();
    auto ms = std::make_unique<MutableState>(FreshState(ns.id, ns.name, req.workflow_id(), run_id, "", req.request_id()),
                                             env_, NowNanos());
    InitRun(*ms, StartedAttributes(req, ms->now()), DurationToMs(req.workflow_start_delay()),
            [&](MutableState& m) {
              if (signal) AddSignal(m, *signal);
            });
    changes.push_back(std::move(ms));
    if (auto st = CommitAll(changes, /*new_current=*/changes.back().get()); !st.ok()) return st;
    resp->set_run_id(changes.back()->s().run_id());
    resp->set_started(true);
    resp->set_status(enums::WORKFLOW_EXECUTION_STATUS_RUNNING);
    return grpc::Status::OK;
  }

  // ------------------------------------------------------ workflow tasks
  grpc::Status StartWorkflowTask(int64_t task_id, const records::QueueTask& task,
                                 const wsv1::PollWorkflowTaskQueueRequest& poll,
                                 wsv1::PollWorkflowTaskQueueResponse* resp) override {
    if (!task.query_id().empty()) return StartQueryTask(task, resp);
    ExecutionKey key{task.namespace_id(), task.workflow_id(), task.run_id()};
    std::lock_guard wf_lock(LockFor(key.namespace_id, key.workflow_id));
    auto state = Load(key);
    if (!state || state->status() != enums::WORKFLOW_EXECUTION_STATUS_RUNNING ||
        state->workflow_task().task_id() != task_id || state->workflow_task().started_event_id() != 0) {
      DropTaskRow(task_id);
      return errors::NotFound("workflow task is no longer pending");
    }
    MutableState ms(*state, env_, NowNanos());
    StartWorkflowTaskLocked(ms, poll.identity(), poll.has_task_queue() ? poll.task_queue().name() : "");
    ms.DeleteQueueTask(task_id);
    if (auto st = Commit(ms); !st.ok()) return st;
    return FillWorkflowTaskResponse(ms.s(), resp);
  }

  grpc::Status RespondWorkflowTaskCompleted(const NamespaceRef& ns, const wsv1::RespondWorkflowTaskCompletedRequest& req,
                                            wsv1::RespondWorkflowTaskCompletedResponse* resp) override {
    records::TaskToken token;
    if (auto st = ParseToken(req.task_token(), ns, &token); !st.ok()) return st;
    ExecutionKey key{token.namespace_id(), token.workflow_id(), token.run_id()};
    std::lock_guard wf_lock(LockFor(key.namespace_id, key.workflow_id));
    auto state = Load(key);
    if (auto st = CheckStartedWorkflowTask(state, token); !st.ok()) return st;

    auto ms = std::make_unique<MutableState>(*state, env_, NowNanos());
    std::map<std::string, const temporal::api::protocol::v1::Message*> messages;
    bool only_rejections = true;
    for (const auto& m : req.messages()) {
      messages[m.id()] = &m;
      only_rejections &= m.body().Is<temporal::api::update::v1::Rejection>();
    }
    if (state->workflow_task().speculative() && req.commands().empty() && only_rejections &&
        state->buffered_events().empty() && !req.force_create_new_workflow_task()) {
      // Nothing happened but rejections: the task leaves no trace.
      ms->ClearWorkflowTask();
      for (const auto& m : req.messages()) ApplyUpdateMessage(*ms, m);
      ReadmitUpdates(*ms);
      if (auto st = Commit(*ms); !st.ok()) return st;
      resp->set_reset_history_event_id(state->last_completed_wft_started_event_id());
      AnswerQueries(req);
      return grpc::Status::OK;
    }
    ms->MaterializeTransientWorkflowTask();
    const auto wft = ms->s().workflow_task();
    bool completes = false;
    bool undelivered_updates = false;
    for (const auto& [id, u] : state->updates()) undelivered_updates |= u.state() == records::UpdateInfo::ADMITTED;
    for (const auto& c : req.commands()) {
      auto t = c.command_type();
      completes |= t == enums::COMMAND_TYPE_COMPLETE_WORKFLOW_EXECUTION || t == enums::COMMAND_TYPE_FAIL_WORKFLOW_EXECUTION ||
                   t == enums::COMMAND_TYPE_CANCEL_WORKFLOW_EXECUTION ||
                   t == enums::COMMAND_TYPE_CONTINUE_AS_NEW_WORKFLOW_EXECUTION;
    }
    std::optional<CommandError> error;
    if (completes && (!ms->s().buffered_events().empty() || undelivered_updates)) {
      // The workflow has not seen everything that happened: it must not close.
      error = CommandError{enums::WORKFLOW_TASK_FAILED_CAUSE_UNHANDLED_COMMAND,
                           "Workflow has unhandled events: a new workflow task is scheduled."};
    }
    if (!error) {
      auto& e = ms->AddEvent(enums::EVENT_TYPE_WORKFLOW_TASK_COMPLETED);
      auto* a = e.mutable_workflow_task_completed_event_attributes();
      a->set_scheduled_event_id(wft.scheduled_event_id());
      a->set_started_event_id(wft.started_event_id());
      a->set_identity(req.identity());
      if (req.has_sdk_metadata()) *a->mutable_sdk_metadata() = req.sdk_metadata();
      if (req.has_metering_metadata()) *a->mutable_metering_metadata() = req.metering_metadata();
      ms->set_completed_event_id(e.event_id());
      ms->ClearWorkflowTask();
      ms->s().set_last_completed_wft_started_event_id(wft.started_event_id());
      const auto& sticky = req.sticky_attributes();
      if (!sticky.worker_task_queue().name().empty()) {
        ms->s().set_sticky_task_queue(sticky.worker_task_queue().name());
        *ms->s().mutable_sticky_schedule_to_start_timeout() = sticky.schedule_to_start_timeout();
      } else {
        ms->ClearSticky();
      }
      std::set<std::string> applied;
      error = ApplyCommands(*ms, req, [&](const std::string& message_id) -> std::optional<CommandError> {
        auto it = messages.find(message_id);
        if (it == messages.end())
          return CommandError{enums::WORKFLOW_TASK_FAILED_CAUSE_BAD_UPDATE_WORKFLOW_EXECUTION_MESSAGE,
                              "ProtocolMessageCommand refers to unknown message " + message_id + "."};
        applied.insert(message_id);
        return ApplyUpdateMessage(*ms, *it->second);
      });
      // Messages no command placed come after the commands, in order.
      for (const auto& m : req.messages()) {
        if (error || applied.contains(m.id())) continue;
        error = ApplyUpdateMessage(*ms, m);
      }
      if (!error) ReadmitUpdates(*ms);
    }
    if (error) {
      // Throw the change away; record the failed task instead.
      auto failed = std::make_unique<MutableState>(*state, env_, NowNanos());
      temporal::api::failure::v1::Failure failure;
      failure.set_message(error->message);
      failure.set_source("Kairos");
      FailWorkflowTask(*failed, error->cause, &failure, req.identity());
      if (auto st = Commit(*failed); !st.ok()) return st;
      return errors::InvalidArgument(error->message);
    }
    bool had_buffered = ms->FlushBufferedEvents();
    bool waiting_updates = false;
    for (const auto& [id, u] : ms->s().updates()) waiting_updates |= u.state() == records::UpdateInfo::ADMITTED;
    bool new_task = false;
    if (ms->IsRunning() && (had_buffered || req.force_create_new_workflow_task() || waiting_updates)) {
      // Updates that arrived during this task need one of their own.
      bool speculative = !had_buffered && !req.force_create_new_workflow_task();
      ms->ScheduleWorkflowTask(1, true, speculative);
      new_task = true;
    }
    if (new_task && req.return_new_workflow_task() && ms->HasWorkflowTask()) {
      // Hand the new task straight back instead of through the queue.
      int64_t task_id = ms->s().workflow_task().task_id();
      ms->DeleteQueueTask(task_id);
      StartWorkflowTaskLocked(*ms, req.identity(), "");
      if (auto st = Commit(*ms); !st.ok()) return st;
      AnswerQueries(req);
      return FillWorkflowTaskResponse(ms->s(), resp->mutable_workflow_task());
    }
    auto st = Commit(*ms);
    if (st.ok()) AnswerQueries(req);
    return st;
  }

  // ------------------------------------------------------------- queries
  void QueryWorkflow(const NamespaceRef& ns, const wsv1::QueryWorkflowRequest* req, wsv1::QueryWorkflowResponse* resp,
                     Deadline deadline, Done done) override {
    if (req->query().query_type().empty()) return done(errors::InvalidArgument("QueryType is not set on request."));
    StatePtr state;
    {
      std::lock_guard wf_lock(LockFor(ns.id, req->execution().workflow_id()));
      if (auto st = Resolve(ns.id, req->execution(), &state); !st.ok()) return done(st);
    }
    auto status = state->status();
    bool closed = status != enums::WORKFLOW_EXECUTION_STATUS_RUNNING;
    auto reject = req->query_reject_condition();
    if ((reject == enums::QUERY_REJECT_CONDITION_NOT_OPEN && closed) ||
        (reject == enums::QUERY_REJECT_CONDITION_NOT_COMPLETED_CLEANLY && closed &&
         status != enums::WORKFLOW_EXECUTION_STATUS_COMPLETED)) {
      resp->mutable_query_rejected()->set_status(status);
      return done(grpc::Status::OK);
    }
    ExecutionKey key{state->namespace_id(), state->workflow_id(), state->run_id()};
    std::string id = NewUuid();
    {
      std::lock_guard lock(queries_mu_);
      queries_[id] = PendingQuery{key, req->query(), resp, std::move(done), PendingQuery::kWaiting, 0};
      queries_by_run_[RunKey(key)].push_back(id);
    }
    AddWaiter("q:" + id, deadline, [this, id](bool expired) {
      if (expired)
        FinishQuery(id, errors::DeadlineExceeded("query timed out: no worker answered before the deadline"), nullptr);
    });
    DispatchQueries(key);
  }

  grpc::Status RespondQueryTaskCompleted(const NamespaceRef& ns, const wsv1::RespondQueryTaskCompletedRequest& req) override {
    records::TaskToken token;
    if (auto st = ParseToken(req.task_token(), ns, &token); !st.ok()) return st;
    if (token.query_id().empty()) return errors::InvalidArgument("Task token is not a query task token.");
    temporal::api::query::v1::WorkflowQueryResult result;
    result.set_result_type(req.completed_type());
    *result.mutable_answer() = req.query_result();
    result.set_error_message(req.error_message());
    if (req.has_failure()) *result.mutable_failure() = req.failure();
    if (!FinishQuery(token.query_id(), grpc::Status::OK, &result))
      return errors::NotFound("query " + token.query_id() + " is no longer pending");
    return grpc::Status::OK;
  }

  grpc::Status RespondWorkflowTaskFailed(const NamespaceRef& ns, const wsv1::RespondWorkflowTaskFailedRequest& req,
                                         wsv1::RespondWorkflowTaskFailedResponse*) override {
    records::TaskToken token;
    if (auto st = ParseToken(req.task_token(), ns, &token); !st.ok()) return st;
    ExecutionKey key{token.namespace_id(), token.workflow_id(), token.run_id()};
    std::lock_guard wf_lock(LockFor(key.namespace_id, key.workflow_id));
    auto state = Load(key);
    if (auto st = CheckStartedWorkflowTask(state, token); !st.ok()) return st;
    MutableState ms(*state, env_, NowNanos());
    FailWorkflowTask(ms, req.cause(), req.has_failure() ? &req.failure() : nullptr, req.identity());
    return Commit(ms);
  }

  // ---------------------------------------------------------- activities
  grpc::Status StartActivityTask(int64_t task_id, const records::QueueTask& task,
                                 const wsv1::PollActivityTaskQueueRequest& poll,
                                 wsv1::PollActivityTaskQueueResponse* resp) override {
    ExecutionKey key{task.namespace_id(), task.workflow_id(), task.run_id()};
    std::lock_guard wf_lock(LockFor(key.namespace_id, key.workflow_id));
    auto state = Load(key);
    const records::ActivityInfo* found = nullptr;
    if (state && state->status() == enums::WORKFLOW_EXECUTION_STATUS_RUNNING) {
      auto it = state->activities().find(task.scheduled_event_id());
      if (it != state->activities().end() && !it->second.started() && it->second.task_id() == task_id) found = &it->second;
    }
    if (!found) {
      DropTaskRow(task_id);
      return errors::NotFound("activity task is no longer pending");
    }
    MutableState ms(*state, env_, NowNanos());
    ms.DeleteQueueTask(task_id);
    auto& info = (*ms.s().mutable_activities())[task.scheduled_event_id()];
    info.set_started(true);
    info.set_started_time_nanos(ms.now());
    info.set_started_identity(poll.identity());
    info.set_request_id(NewUuid());
    info.set_task_id(0);
    ArmActivityStartTimers(ms, info);
    if (auto st = Commit(ms); !st.ok()) return st;

    const auto& s = ms.s();
    const auto& a = s.activities().at(task.scheduled_event_id());
    resp->set_task_token(TokenFor(s, a.scheduled_event_id(), a.attempt(), a.activity_id()));
    resp->set_workflow_namespace(poll.namespace_());
    *resp->mutable_workflow_type() = s.start().workflow_type();
    *resp->mutable_workflow_execution() = Execution(s);
    *resp->mutable_activity_type() = a.activity_type();
    resp->set_activity_id(a.activity_id());
    *resp->mutable_header() = a.header();
    *resp->mutable_input() = a.input();
    if (a.has_heartbeat_details()) *resp->mutable_heartbeat_details() = a.heartbeat_details();
    *resp->mutable_scheduled_time() = NanosToTimestamp(a.scheduled_time_nanos());
    *resp->mutable_current_attempt_scheduled_time() = NanosToTimestamp(a.attempt_scheduled_time_nanos());
    *resp->mutable_started_time() = NanosToTimestamp(a.started_time_nanos());
    resp->set_attempt(a.attempt());
    *resp->mutable_schedule_to_close_timeout() = a.schedule_to_close_timeout();
    *resp->mutable_start_to_close_timeout() = a.start_to_close_timeout();
    *resp->mutable_heartbeat_timeout() = a.heartbeat_timeout();
    *resp->mutable_retry_policy() = a.retry_policy();
    return grpc::Status::OK;
  }

  grpc::Status RecordActivityTaskHeartbeat(const NamespaceRef& ns, const wsv1::RecordActivityTaskHeartbeatRequest& req,
                                           wsv1::RecordActivityTaskHeartbeatResponse* resp) override {
    bool cancel = false;
    auto st = WithActivity(ns, req.task_token(), "", "", "", [&](MutableState& ms, records::ActivityInfo& a) {
      if (req.has_details()) *a.mutable_heartbeat_details() = req.details();
      a.set_last_heartbeat_time_nanos(ms.now());
      cancel = a.cancel_requested();
      return grpc::Status::OK;
    });
    resp->set_cancel_requested(cancel);
    return st;
  }

  grpc::Status RecordActivityTaskHeartbeatById(const NamespaceRef& ns, const wsv1::RecordActivityTaskHeartbeatByIdRequest& req,
                                               wsv1::RecordActivityTaskHeartbeatByIdResponse* resp) override {
    bool cancel = false;
    auto st = WithActivity(ns, "", req.workflow_id(), req.run_id(), req.activity_id(),
                           [&](MutableState& ms, records::ActivityInfo& a) {
                             if (req.has_details()) *a.mutable_heartbeat_details() = req.details();
                             a.set_last_heartbeat_time_nanos(ms.now());
                             cancel = a.cancel_requested();
                             return grpc::Status::OK;
                           });
    resp->set_cancel_requested(cancel);
    return st;
  }

  grpc::Status RespondActivityTaskCompleted(const NamespaceRef& ns, const wsv1::RespondActivityTaskCompletedRequest& req) override {
    return WithActivity(ns, req.task_token(), "", "", "", [&](MutableState& ms, records::ActivityInfo& a) {
      return CompleteActivity(ms, a, req.result(), req.identity());
    });
  }
  grpc::Status RespondActivityTaskCompletedById(const NamespaceRef& ns,
                                                const wsv1::RespondActivityTaskCompletedByIdRequest& req) override {
    return WithActivity(ns, "", req.workflow_id(), req.run_id(), req.activity_id(),
                        [&](MutableState& ms, records::ActivityInfo& a) {
                          return CompleteActivity(ms, a, req.result(), req.identity());
                        });
  }
  grpc::Status RespondActivityTaskFailed(const NamespaceRef& ns, const wsv1::RespondActivityTaskFailedRequest& req) override {
    return WithActivity(ns, req.task_token(), "", "", "", [&](MutableState& ms, records::ActivityInfo& a) {
      if (req.has_last_heartbeat_details()) *a.mutable_heartbeat_details() = req.last_heartbeat_details();
      return FailActivity(ms, a, req.failure(), req.identity(), false);
    });
  }
  grpc::Status RespondActivityTaskFailedById(const NamespaceRef& ns, const wsv1::RespondActivityTaskFailedByIdRequest& req) override {
    return WithActivity(ns, "", req.workflow_id(), req.run_id(), req.activity_id(),
                        [&](MutableState& ms, records::ActivityInfo& a) {
                          if (req.has_last_heartbeat_details()) *a.mutable_heartbeat_details() = req.last_heartbeat_details();
                          return FailActivity(ms, a, req.failure(), req.identity(), false);
                        });
  }
  grpc::Status RespondActivityTaskCanceled(const NamespaceRef& ns, const wsv1::RespondActivityTaskCanceledRequest& req) override {
    return WithActivity(ns, req.task_token(), "", "", "", [&](MutableState& ms, records::ActivityInfo& a) {
      return CancelActivity(ms, a, req.details(), req.identity());
    });
  }
  grpc::Status RespondActivityTaskCanceledById(const NamespaceRef& ns,
                                               const wsv1::RespondActivityTaskCanceledByIdRequest& req) override {
    return WithActivity(ns, "", req.workflow_id(), req.run_id(), req.activity_id(),
                        [&](MutableState& ms, records::ActivityInfo& a) {
                          return CancelActivity(ms, a, req.details(), req.identity());
                        });
  }

  // ------------------------------------------------------------- control
  grpc::Status TerminateWorkflowExecution(const NamespaceRef& ns, const wsv1::TerminateWorkflowExecutionRequest& req) override {
    std::lock_guard wf_lock(LockFor(ns.id, req.workflow_execution().workflow_id()));
    StatePtr state;
    if (auto st = Resolve(ns.id, req.workflow_execution(), &state); !st.ok()) return st;
    if (state->status() != enums::WORKFLOW_EXECUTION_STATUS_RUNNING) return AlreadyCompleted();
    MutableState ms(*state, env_, NowNanos());
    TerminateRun(ms, req.reason(), req.identity(), req.has_details() ? &req.details() : nullptr);
    return Commit(ms);
  }

  grpc::Status ResetStickyTaskQueue(const NamespaceRef& ns, const wsv1::ResetStickyTaskQueueRequest& req) override {
    std::lock_guard wf_lock(LockFor(ns.id, req.execution().workflow_id()));
    StatePtr state;
    if (auto st = Resolve(ns.id, req.execution(), &state); !st.ok()) return st;
    if (state->sticky_task_queue().empty()) return grpc::Status::OK;
    MutableState ms(*state, env_, NowNanos());
    ms.ClearSticky();
    return Commit(ms);
  }

  grpc::Status DescribeWorkflowExecution(const NamespaceRef& ns, const wsv1::DescribeWorkflowExecutionRequest& req,
                                         wsv1::DescribeWorkflowExecutionResponse* resp) override {
    StatePtr state;
    {
      std::lock_guard wf_lock(LockFor(ns.id, req.execution().workflow_id()));
      if (auto st = Resolve(ns.id, req.execution(), &state); !st.ok()) return st;
    }
    const State& s = *state;
    auto* cfg = resp->mutable_execution_config();
    *cfg->mutable_task_queue() = s.start().task_queue();
    *cfg->mutable_workflow_execution_timeout() = s.start().workflow_execution_timeout();
    *cfg->mutable_workflow_run_timeout() = s.start().workflow_run_timeout();
    *cfg->mutable_default_workflow_task_timeout() = s.start().workflow_task_timeout();
    FillExecutionInfo(s, resp->mutable_workflow_execution_info());
    for (const auto& [id, a] : s.activities()) {
      auto* p = resp->add_pending_activities();
      p->set_activity_id(a.activity_id());
      *p->mutable_activity_type() = a.activity_type();
      p->set_state(a.cancel_requested() ? enums::PENDING_ACTIVITY_STATE_CANCEL_REQUESTED
                   : a.started()        ? enums::PENDING_ACTIVITY_STATE_STARTED
                                        : enums::PENDING_ACTIVITY_STATE_SCHEDULED);
      if (a.has_heartbeat_details()) *p->mutable_heartbeat_details() = a.heartbeat_details();
      if (a.last_heartbeat_time_nanos()) *p->mutable_last_heartbeat_time() = NanosToTimestamp(a.last_heartbeat_time_nanos());
      if (a.started_time_nanos()) *p->mutable_last_started_time() = NanosToTimestamp(a.started_time_nanos());
      p->set_attempt(a.attempt());
      p->set_maximum_attempts(a.retry_policy().maximum_attempts());
      *p->mutable_scheduled_time() = NanosToTimestamp(a.attempt_scheduled_time_nanos());
      if (a.has_last_failure()) *p->mutable_last_failure() = a.last_failure();
      p->set_last_worker_identity(a.started_identity());
      if (a.next_attempt_time_nanos()) *p->mutable_next_attempt_schedule_time() = NanosToTimestamp(a.next_attempt_time_nanos());
    }
    if (s.workflow_task().attempt() > 0) {
      auto* p = resp->mutable_pending_workflow_task();
      const auto& w = s.workflow_task();
      p->set_state(w.started_event_id() ? enums::PENDING_WORKFLOW_TASK_STATE_STARTED : enums::PENDING_WORKFLOW_TASK_STATE_SCHEDULED);
      *p->mutable_scheduled_time() = NanosToTimestamp(w.scheduled_time_nanos());
      *p->mutable_original_scheduled_time() = NanosToTimestamp(w.scheduled_time_nanos());
      if (w.started_time_nanos()) *p->mutable_started_time() = NanosToTimestamp(w.started_time_nanos());
      p->set_attempt(w.attempt());
    }
    return grpc::Status::OK;
  }

  // -------------------------------------------------------------- history
  void GetWorkflowExecutionHistory(const NamespaceRef& ns, const wsv1::GetWorkflowExecutionHistoryRequest* req,
                                   wsv1::GetWorkflowExecutionHistoryResponse* resp, Deadline deadline, Done done) override {
    auto limit = std::chrono::steady_clock::now() + kMaxLongPoll;
    if (deadline > limit) deadline = limit;
    ReadHistory(ns.id, req, resp, deadline, std::move(done), false);
  }

  grpc::Status GetWorkflowExecutionHistoryReverse(const NamespaceRef& ns,
                                                  const wsv1::GetWorkflowExecutionHistoryReverseRequest& req,
                                                  wsv1::GetWorkflowExecutionHistoryReverseResponse* resp) override {
    StatePtr state;
    {
      std::lock_guard wf_lock(LockFor(ns.id, req.execution().workflow_id()));
      if (auto st = Resolve(ns.id, req.execution(), &state); !st.ok()) return st;
    }
    records::HistoryPageToken token;
    int64_t last = state->next_event_id() - 1;
    if (!req.next_page_token().empty()) {
      if (!token.ParseFromString(req.next_page_token())) return errors::InvalidArgument("Invalid NextPageToken.");
      last = token.next_event_id();
    }
    int page = req.maximum_page_size() > 0 ? req.maximum_page_size() : kDefaultHistoryPageSize;
    ExecutionKey key{state->namespace_id(), state->workflow_id(), state->run_id()};
    for (auto& bytes : store_->ReadEventsReverse(key, last, page)) resp->mutable_history()->add_events()->ParseFromString(bytes);
    int n = resp->history().events_size();
    if (n > 0 && resp->history().events(n - 1).event_id() > 1) {
      records::HistoryPageToken next;
      next.set_next_event_id(resp->history().events(n - 1).event_id() - 1);
      resp->set_next_page_token(next.SerializeAsString());
    }
    return grpc::Status::OK;
  }

  grpc::Status ListWorkflowExecutions(const NamespaceRef& ns, const wsv1::ListWorkflowExecutionsRequest& req,
                                      wsv1::ListWorkflowExecutionsResponse* resp) override {
    int64_t offset = 0;
    if (!req.next_page_token().empty()) offset = std::strtoll(req.next_page_token().c_str(), nullptr, 10);
    int page = req.page_size() > 0 ? req.page_size() : 100;
    auto rows = store_->ListVisibility(ns.id, offset, page + 1);
    for (int i = 0; i < static_cast<int>(rows.size()) && i < page; ++i)
      resp->add_executions()->ParseFromString(rows[i].info);
    if (static_cast<int>(rows.size()) > page) resp->set_next_page_token(std::to_string(offset + page));
    return grpc::Status::OK;
  }

 private:
  struct Waiter {
    Deadline deadline;
    std::function<void(bool expired)> fn;
  };

  // ------------------------------------------------------------- helpers
  std::mutex& LockFor(const std::string& ns, const std::string& wf) {
    return stripes_[std::hash<std::string>{}(WorkflowKey(ns, wf)) % kLockStripes];
  }

  std::optional<persistence::CurrentRun> Current(const std::string& ns, const std::string& wf) {
    {
      std::lock_guard lock(cache_mu_);
      auto it = current_.find(WorkflowKey(ns, wf));
      if (it != current_.end()) return it->second;
    }
    auto row = store_->GetCurrentRun(ns, wf);
    if (row) {
      std::lock_guard lock(cache_mu_);
      current_[WorkflowKey(ns, wf)] = *row;
    }
    return row;
  }

  StatePtr Load(const ExecutionKey& key) {
    {
      std::lock_guard lock(cache_mu_);
      auto it = cache_.find(RunKey(key));
      if (it != cache_.end()) return it->second;
    }
    auto bytes = store_->LoadExecution(key);
    if (!bytes) return nullptr;
    auto state = std::make_shared<State>();
    if (!state->ParseFromString(*bytes)) return nullptr;
    if (state->status() == enums::WORKFLOW_EXECUTION_STATUS_RUNNING) {
      std::lock_guard lock(cache_mu_);
      cache_[RunKey(key)] = state;
    }
    return state;
  }

  // Finds the run named by `exec` (the current run when run_id is empty).
  grpc::Status Resolve(const std::string& ns, const common::WorkflowExecution& exec, StatePtr* out) {
    if (exec.workflow_id().empty()) return errors::InvalidArgument("WorkflowId is not set on request.");
    std::string run = exec.run_id();
    if (run.empty()) {
      auto current = Current(ns, exec.workflow_id());
      if (!current) return errors::NotFound("workflow not found for ID: " + exec.workflow_id());
      run = current->run_id;
    }
    ExecutionKey key{ns, exec.workflow_id(), run};
    *out = Load(key);
    if (!*out) return WorkflowNotFound(key);
    return grpc::Status::OK;
  }

  void DropTaskRow(int64_t task_id) {
    persistence::WriteBatch b;
    b.task_deletes.push_back(task_id);
    if (auto st = store_->Commit(std::move(b)); !st.ok()) spdlog::warn("dropping task {}: {}", task_id, st.error_message());
  }

  grpc::Status Commit(MutableState& ms) {
    auto next = BuildNextRun(ms);
    std::vector<MutableState*> all{&ms};
    if (next) all.push_back(next.get());
    return CommitStates(all, next.get());
  }

  grpc::Status CommitAll(std::vector<std::unique_ptr<MutableState>>& changes, MutableState* new_current) {
    std::vector<MutableState*> raw;
    for (auto& c : changes) raw.push_back(c.get());
    return CommitStates(raw, new_current);
  }

  // One transaction for all the given changes; then the cache, matching,
  // timers and waiters see them.
  grpc::Status CommitStates(const std::vector<MutableState*>& changes, MutableState* new_current) {
    persistence::WriteBatch batch;
    for (MutableState* ms : changes) {
      int64_t added = 0;
      for (const auto& e : ms->new_events()) added += static_cast<int64_t>(e.ByteSizeLong());
      ms->s().set_history_size_bytes(ms->s().history_size_bytes() + added);
      const State& s = ms->s();
      ExecutionKey key{s.namespace_id(), s.workflow_id(), s.run_id()};
      auto current = new_current == ms ? std::nullopt : Current(key.namespace_id, key.workflow_id);
      bool is_current = new_current == ms || (current && current->run_id == key.run_id);
      batch.executions.push_back({key, s.SerializeAsString(), is_current, s.status(), s.start_request_id()});
      for (const auto& e : ms->new_events()) batch.events.push_back({key, e.event_id(), e.SerializeAsString()});
      for (const auto& [id, t] : ms->tasks()) batch.task_inserts.push_back({id, t.SerializeAsString()});
      for (int64_t id : ms->task_deletes()) batch.task_deletes.push_back(id);
      for (const auto& [id, t] : ms->timers()) batch.timer_inserts.push_back({id, t.fire_time_nanos(), t.SerializeAsString()});
      for (int64_t id : ms->timer_deletes()) batch.timer_deletes.push_back(id);
      if (ms->visibility_changed() || !ms->new_events().empty()) batch.visibility.push_back(VisibilityOf(s));
    }
    if (auto st = store_->Commit(std::move(batch)); !st.ok()) {
      spdlog::error("commit failed: {}", st.error_message());
      std::lock_guard lock(cache_mu_);
      for (MutableState* ms : changes) {
        cache_.erase(RunKey({ms->s().namespace_id(), ms->s().workflow_id(), ms->s().run_id()}));
        current_.erase(WorkflowKey(ms->s().namespace_id(), ms->s().workflow_id()));
      }
      return errors::Unavailable("persistence failure: " + st.error_message());
    }
    std::vector<std::string> touched;
    {
      std::lock_guard lock(cache_mu_);
      for (MutableState* ms : changes) {
        const State& s = ms->s();
        ExecutionKey key{s.namespace_id(), s.workflow_id(), s.run_id()};
        // Closed runs are read back from the store when asked for, so that
        // the cache holds what is running rather than everything that ran.
        if (s.status() == enums::WORKFLOW_EXECUTION_STATUS_RUNNING) {
          cache_[RunKey(key)] = std::make_shared<State>(s);
        } else {
          cache_.erase(RunKey(key));
        }
        auto& cur = current_[WorkflowKey(key.namespace_id, key.workflow_id)];
        if (new_current == ms || cur.run_id == key.run_id) cur = {key.run_id, s.status(), s.start_request_id()};
        touched.push_back(RunKey(key));
      }
    }
    for (MutableState* ms : changes) {
      for (int64_t id : ms->timer_deletes()) timers_.Disarm(id);
      for (const auto& [id, t] : ms->timers()) timers_.Arm(id, t);
      for (const auto& [id, t] : ms->tasks()) matching_->AddTask(id, t);
    }
    for (const auto& k : touched) NotifyWaiters(k);
    for (MutableState* ms : changes) {
      bool has_queries;
      {
        std::lock_guard lock(queries_mu_);
        has_queries = queries_by_run_.contains(RunKey({ms->s().namespace_id(), ms->s().workflow_id(), ms->s().run_id()}));
      }
      if (has_queries) DispatchQueries({ms->s().namespace_id(), ms->s().workflow_id(), ms->s().run_id()});
    }
    return grpc::Status::OK;
  }

  persistence::VisibilityRow VisibilityOf(const State& s) {
    persistence::VisibilityRow v;
    v.key = {s.namespace_id(), s.workflow_id(), s.run_id()};
    v.workflow_type = s.start().workflow_type().name();
    v.task_queue = s.start().task_queue().name();
    v.status = s.status();
    v.start_time_nanos = s.start_time_nanos();
    v.execution_time_nanos = s.execution_time_nanos();
    v.close_time_nanos = s.close_time_nanos();
    v.history_length = s.next_event_id() - 1;
    temporal::api::workflow::v1::WorkflowExecutionInfo info;
    FillExecutionInfo(s, &info);
    v.info = info.SerializeAsString();
    return v;
  }

  void FillExecutionInfo(const State& s, temporal::api::workflow::v1::WorkflowExecutionInfo* info) {
    *info->mutable_execution() = Execution(s);
    *info->mutable_type() = s.start().workflow_type();
    *info->mutable_start_time() = NanosToTimestamp(s.start_time_nanos());
    if (s.close_time_nanos()) {
      *info->mutable_close_time() = NanosToTimestamp(s.close_time_nanos());
      *info->mutable_execution_duration() = MsToDuration((s.close_time_nanos() - s.start_time_nanos()) / 1'000'000);
    }
    info->set_status(s.status());
    info->set_history_length(s.next_event_id() - 1);
    *info->mutable_execution_time() = NanosToTimestamp(s.execution_time_nanos());
    if (s.has_memo()) *info->mutable_memo() = s.memo();
    if (s.has_search_attributes()) *info->mutable_search_attributes() = s.search_attributes();
    info->set_task_queue(s.start().task_queue().name());
    info->set_first_run_id(s.first_execution_run_id());
    info->set_state_transition_count(s.db_version());
    info->set_history_size_bytes(s.history_size_bytes());
  }

  grpc::Status ValidateStart(const wsv1::StartWorkflowExecutionRequest& req) {
    if (req.workflow_id().empty()) return errors::InvalidArgument("WorkflowId is not set on request.");
    if (req.workflow_id().size() > 1000) return errors::InvalidArgument("WorkflowId exceeds length limit.");
    if (req.workflow_type().name().empty()) return errors::InvalidArgument("WorkflowType is not set on request.");
    if (req.task_queue().name().empty()) return errors::InvalidArgument("TaskQueue is not set on request.");
    if (DurationToMs(req.workflow_execution_timeout()) < 0) return errors::InvalidArgument("Invalid WorkflowExecutionTimeout.");
    if (DurationToMs(req.workflow_run_timeout()) < 0) return errors::InvalidArgument("Invalid WorkflowRunTimeout.");
    if (DurationToMs(req.workflow_task_timeout()) < 0) return errors::InvalidArgument("Invalid WorkflowTaskTimeout.");
    if (DurationToMs(req.workflow_start_delay()) < 0) return errors::InvalidArgument("Invalid WorkflowStartDelay.");
    if (req.request_id().size() > 255) return errors::InvalidArgument("RequestId exceeds length limit.");
    if (req.has_retry_policy()) {
      const auto& p = req.retry_policy();
      if (p.backoff_coefficient() != 0 && p.backoff_coefficient() < 1)
        return errors::InvalidArgument("BackoffCoefficient cannot be less than 1.");
      if (p.maximum_attempts() < 0) return errors::InvalidArgument("MaximumAttempts cannot be negative.");
    }
    return grpc::Status::OK;
  }

  hv1::WorkflowExecutionStartedEventAttributes StartedAttributes(const wsv1::StartWorkflowExecutionRequest& req,
                                                                  int64_t now) {
    hv1::WorkflowExecutionStartedEventAttributes a;
    *a.mutable_workflow_type() = req.workflow_type();
    *a.mutable_task_queue() = req.task_queue();
    a.mutable_task_queue()->set_kind(enums::TASK_QUEUE_KIND_NORMAL);
    *a.mutable_input() = req.input();
    int64_t exec_timeout = DurationToMs(req.workflow_execution_timeout());
    int64_t run_timeout = DurationToMs(req.workflow_run_timeout());
    if (exec_timeout > 0 && (run_timeout <= 0 || run_timeout > exec_timeout)) run_timeout = exec_timeout;
    if (exec_timeout > 0) *a.mutable_workflow_execution_timeout() = MsToDuration(exec_timeout);
    if (run_timeout > 0) *a.mutable_workflow_run_timeout() = MsToDuration(run_timeout);
    int64_t task_timeout = DurationToMs(req.workflow_task_timeout());
    if (task_timeout <= 0) task_timeout = kDefaultWorkflowTaskTimeoutMs;
    task_timeout = std::min(task_timeout, kMaxWorkflowTaskTimeoutMs);
    if (run_timeout > 0) task_timeout = std::min(task_timeout, run_timeout);
    *a.mutable_workflow_task_timeout() = MsToDuration(task_timeout);
    a.set_identity(req.identity());
    if (req.has_retry_policy()) {
      *a.mutable_retry_policy() = req.retry_policy();
      ApplyRetryDefaults(a.mutable_retry_policy());
    }
    a.set_attempt(1);
    if (exec_timeout > 0) *a.mutable_workflow_execution_expiration_time() = NanosToTimestamp(now + exec_timeout * 1'000'000);
    a.set_cron_schedule(req.cron_schedule());
    if (req.has_memo()) *a.mutable_memo() = req.memo();
    if (req.has_search_attributes()) *a.mutable_search_attributes() = req.search_attributes();
    if (req.has_header()) *a.mutable_header() = req.header();
    a.set_workflow_id(req.workflow_id());
    if (req.has_priority()) *a.mutable_priority() = req.priority();
    *a.mutable_completion_callbacks() = req.completion_callbacks();
    if (req.has_continued_failure()) *a.mutable_continued_failure() = req.continued_failure();
    if (req.has_last_completion_result()) *a.mutable_last_completion_result() = req.last_completion_result();
    int64_t delay = DurationToMs(req.workflow_start_delay());
    if (delay > 0) *a.mutable_first_workflow_task_backoff() = MsToDuration(delay);
    return a;
  }

  // Writes the started event of a new run and arms what it needs: its
  // timeouts, and either its first workflow task or the backoff before it.
  void InitRun(MutableState& ms, hv1::WorkflowExecutionStartedEventAttributes attrs, int64_t backoff_ms,
               const std::function<void(MutableState&)>& before_first_task = nullptr) {
    auto& s = ms.s();
    if (attrs.original_execution_run_id().empty()) attrs.set_original_execution_run_id(s.run_id());
    attrs.set_first_execution_run_id(s.first_execution_run_id());
    auto& e = ms.AddEvent(enums::EVENT_TYPE_WORKFLOW_EXECUTION_STARTED);
    *e.mutable_workflow_execution_started_event_attributes() = attrs;
    *s.mutable_start() = std::move(attrs);
    const auto& a = s.start();
    s.set_start_time_nanos(ms.now());
    s.set_execution_time_nanos(ms.now() + backoff_ms * 1'000'000);
    if (a.has_memo()) *s.mutable_memo() = a.memo();
    if (a.has_search_attributes()) *s.mutable_search_attributes() = a.search_attributes();
    ms.mark_visibility_changed();
    auto arm = [&](records::TimerTask::Kind kind, int64_t at) {
      records::TimerTask t;
      t.set_kind(kind);
      t.set_fire_time_nanos(at);
      s.add_timer_row_ids(ms.AddTimer(std::move(t)));
    };
    int64_t run_timeout = DurationToMs(a.workflow_run_timeout());
    if (run_timeout > 0) arm(records::TimerTask::WORKFLOW_RUN_TIMEOUT, ms.now() + (backoff_ms + run_timeout) * 1'000'000);
    if (a.has_workflow_execution_expiration_time())
      arm(records::TimerTask::WORKFLOW_EXECUTION_TIMEOUT, TimestampToNanos(a.workflow_execution_expiration_time()));
    if (before_first_task) before_first_task(ms);
    if (backoff_ms > 0) {
      arm(records::TimerTask::WORKFLOW_BACKOFF, ms.now() + backoff_ms * 1'000'000);
    } else {
      ms.ScheduleWorkflowTask();
    }
  }

  State FreshState(const std::string& ns_id, const std::string& ns_name, const std::string& workflow_id,
                   const std::string& run_id, const std::string& first_run_id, const std::string& request_id) {
    State fresh;
    fresh.set_namespace_id(ns_id);
    fresh.set_namespace_name(ns_name);
    fresh.set_workflow_id(workflow_id);
    fresh.set_run_id(run_id);
    fresh.set_first_execution_run_id(first_run_id.empty() ? run_id : first_run_id);
    fresh.set_status(enums::WORKFLOW_EXECUTION_STATUS_RUNNING);
    fresh.set_next_event_id(1);
    fresh.set_start_request_id(request_id.empty() ? NewUuid() : request_id);
    return fresh;
  }

  // The run a closing run hands over to (retry, continue-as-new).
  std::unique_ptr<MutableState> BuildNextRun(MutableState& ms) {
    if (!ms.next_run()) return nullptr;
    auto& next = *ms.next_run();
    const auto& s = ms.s();
    auto nm = std::make_unique<MutableState>(
        FreshState(s.namespace_id(), s.namespace_name(), s.workflow_id(), next.run_id, s.first_execution_run_id(), ""),
        env_, ms.now());
    InitRun(*nm, next.start, next.backoff_ms);
    return nm;
  }

  grpc::Status CheckStartedWorkflowTask(const StatePtr& state, const records::TaskToken& token) {
    if (!state) return errors::NotFound("Workflow task not found.");
    if (state->status() != enums::WORKFLOW_EXECUTION_STATUS_RUNNING) return AlreadyCompleted();
    const auto& w = state->workflow_task();
    if (w.attempt() == 0 || w.started_event_id() == 0 || w.scheduled_event_id() != token.scheduled_event_id() ||
        w.attempt() != token.attempt())
      return errors::NotFound("Workflow task not found.");
    return grpc::Status::OK;
  }

  void StartWorkflowTaskLocked(MutableState& ms, const std::string& identity, const std::string&) {
    auto* w = ms.s().mutable_workflow_task();
    if (w->speculative() && ms.s().next_event_id() != w->speculative_base()) {
      // Events arrived since it was scheduled: it is an ordinary task now.
      auto& e = ms.AddEvent(enums::EVENT_TYPE_WORKFLOW_TASK_SCHEDULED);
      auto* a = e.mutable_workflow_task_scheduled_event_attributes();
      a->mutable_task_queue()->set_name(w->task_queue());
      a->mutable_task_queue()->set_kind(w->sticky() ? enums::TASK_QUEUE_KIND_STICKY : enums::TASK_QUEUE_KIND_NORMAL);
      if (w->sticky()) a->mutable_task_queue()->set_normal_name(ms.s().start().task_queue().name());
      *a->mutable_start_to_close_timeout() = w->start_to_close_timeout();
      a->set_attempt(w->attempt());
      w = ms.s().mutable_workflow_task();
      w->set_scheduled_event_id(e.event_id());
      w->set_transient(false);
      w->set_speculative(false);
    }
    for (auto& [id, u] : *ms.s().mutable_updates())
      if (u.state() == records::UpdateInfo::ADMITTED) u.set_state(records::UpdateInfo::SENT);
    w->set_started_time_nanos(ms.now());
    w->set_identity(identity);
    w->set_request_id(NewUuid());
    w->set_task_id(0);
    // A sticky schedule-to-start timer has nothing left to guard.
    ms.DeleteTimer(w->timer_row_id());
    w->set_timer_row_id(0);
    if (w->transient()) {
      // Reserve ids for the events written when this attempt completes.
      w->set_scheduled_event_id(ms.s().next_event_id());
      w->set_started_event_id(ms.s().next_event_id() + 1);
    } else {
      auto& e = ms.AddEvent(enums::EVENT_TYPE_WORKFLOW_TASK_STARTED);
      auto* a = e.mutable_workflow_task_started_event_attributes();
      a->set_scheduled_event_id(w->scheduled_event_id());
      a->set_identity(identity);
      a->set_request_id(w->request_id());
      a->set_history_size_bytes(ms.s().history_size_bytes());
      // Temporal's default thresholds for suggesting continue-as-new.
      constexpr int64_t kSuggestEvents = 4 * 1024;
      constexpr int64_t kSuggestBytes = 4 * 1024 * 1024;
      if (ms.s().next_event_id() >= kSuggestEvents) {
        a->set_suggest_continue_as_new(true);
        a->add_suggest_continue_as_new_reasons(enums::SUGGEST_CONTINUE_AS_NEW_REASON_TOO_MANY_HISTORY_EVENTS);
      }
      if (ms.s().history_size_bytes() >= kSuggestBytes) {
        a->set_suggest_continue_as_new(true);
        a->add_suggest_continue_as_new_reasons(enums::SUGGEST_CONTINUE_AS_NEW_REASON_HISTORY_SIZE_TOO_LARGE);
      }
      w = ms.s().mutable_workflow_task();
      w->set_started_event_id(e.event_id());
    }
    records::TimerTask t;
    t.set_kind(records::TimerTask::WORKFLOW_TASK_START_TO_CLOSE);
    t.set_event_id(w->scheduled_event_id());
    t.set_attempt(w->attempt());
    t.set_timeout_type(enums::TIMEOUT_TYPE_START_TO_CLOSE);
    t.set_fire_time_nanos(ms.now() + DurationToMs(w->start_to_close_timeout()) * 1'000'000);
    int64_t row = ms.AddTimer(std::move(t));
    ms.s().mutable_workflow_task()->set_timer_row_id(row);
  }

  grpc::Status FillWorkflowTaskResponse(const State& s, wsv1::PollWorkflowTaskQueueResponse* resp) {
    const auto& w = s.workflow_task();
    resp->set_task_token(TokenFor(s, w.scheduled_event_id(), w.attempt()));
    *resp->mutable_workflow_execution() = Execution(s);
    *resp->mutable_workflow_type() = s.start().workflow_type();
    resp->set_previous_started_event_id(s.last_completed_wft_started_event_id());
    resp->set_started_event_id(w.started_event_id());
    resp->set_attempt(w.attempt());
    *resp->mutable_scheduled_time() = NanosToTimestamp(w.scheduled_time_nanos());
    *resp->mutable_started_time() = NanosToTimestamp(w.started_time_nanos());
    *resp->mutable_workflow_execution_task_queue() = s.start().task_queue();
    // A sticky worker has everything up to its last completed task cached.
    int64_t first = 1;
    if (w.sticky() && s.last_completed_wft_started_event_id() > 0) first = s.last_completed_wft_started_event_id() + 1;
    ExecutionKey key{s.namespace_id(), s.workflow_id(), s.run_id()};
    auto* events = resp->mutable_history()->mutable_events();
    for (auto& bytes : store_->ReadEvents(key, first, s.next_event_id(), std::numeric_limits<int>::max()))
      events->Add()->ParseFromString(bytes);
    MutableState view(s, env_, 0);
    for (auto& e : view.TransientWorkflowTaskEvents()) *events->Add() = std::move(e);
    AttachQueries(s, resp);
    for (const auto& [id, u] : s.updates()) {
      if (u.state() != records::UpdateInfo::SENT) continue;
      auto* m = resp->add_messages();
      m->set_id(u.message_id());
      m->set_protocol_instance_id(id);
      m->set_event_id(w.started_event_id() - 1);
      m->mutable_body()->PackFrom(u.request());
    }
    return grpc::Status::OK;
  }

  // Records a failed workflow task (first attempt only; later ones are
  // transient) and schedules the next attempt on the workflow's own queue.
  static void ReadmitUpdates(MutableState& ms) {
    for (auto& [id, u] : *ms.s().mutable_updates())
      if (u.state() == records::UpdateInfo::SENT) u.set_state(records::UpdateInfo::ADMITTED);
  }

  void FailWorkflowTask(MutableState& ms, enums::WorkflowTaskFailedCause cause,
                        const temporal::api::failure::v1::Failure* failure, const std::string& identity) {
    ReadmitUpdates(ms);
    auto w = ms.s().workflow_task();
    if (!w.transient()) {
      auto& e = ms.AddEvent(enums::EVENT_TYPE_WORKFLOW_TASK_FAILED);
      auto* a = e.mutable_workflow_task_failed_event_attributes();
      a->set_scheduled_event_id(w.scheduled_event_id());
      a->set_started_event_id(w.started_event_id());
      a->set_cause(cause);
      if (failure) *a->mutable_failure() = *failure;
      a->set_identity(identity);
    }
    ms.ClearWorkflowTask();
    ms.ClearSticky();
    ms.FlushBufferedEvents();
    ms.ScheduleWorkflowTask(w.attempt() + 1);
  }

  void TerminateRun(MutableState& ms, const std::string& reason, const std::string& identity,
                    const common::Payloads* details) {
    if (ms.WorkflowTaskStarted()) {
      auto w = ms.s().workflow_task();
      if (w.transient()) {
        ms.MaterializeTransientWorkflowTask();
        w = ms.s().workflow_task();
      }
      auto& e = ms.AddEvent(enums::EVENT_TYPE_WORKFLOW_TASK_FAILED);
      auto* a = e.mutable_workflow_task_failed_event_attributes();
      a->set_scheduled_event_id(w.scheduled_event_id());
      a->set_started_event_id(w.started_event_id());
      a->set_cause(enums::WORKFLOW_TASK_FAILED_CAUSE_FORCE_CLOSE_COMMAND);
      a->set_identity(identity);
      ms.ClearWorkflowTask();
    }
    ms.FlushBufferedEvents();
    auto& e = ms.AddEvent(enums::EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED);
    auto* a = e.mutable_workflow_execution_terminated_event_attributes();
    a->set_reason(reason);
    a->set_identity(identity);
    if (details) *a->mutable_details() = *details;
    ms.Close(enums::WORKFLOW_EXECUTION_STATUS_TERMINATED, e.event_id());
  }

  // Finds the activity named by a token or by id, checks it is the attempt
  // the caller holds, applies `fn`, commits.
  grpc::Status WithActivity(const NamespaceRef& ns, const std::string& token_bytes, const std::string& workflow_id,
                            const std::string& run_id, const std::string& activity_id,
                            const std::function<grpc::Status(MutableState&, records::ActivityInfo&)>& fn) {
    records::TaskToken token;
    if (!token_bytes.empty()) {
      if (auto st = ParseToken(token_bytes, ns, &token); !st.ok()) return st;
    } else {
      if (workflow_id.empty()) return errors::InvalidArgument("WorkflowId is not set on request.");
      if (activity_id.empty()) return errors::InvalidArgument("ActivityId is not set on request.");
      token.set_namespace_id(ns.id);
      token.set_workflow_id(workflow_id);
      token.set_run_id(run_id);
      token.set_activity_id(activity_id);
    }
    std::lock_guard wf_lock(LockFor(ns.id, token.workflow_id()));
    common::WorkflowExecution exec;
    exec.set_workflow_id(token.workflow_id());
    exec.set_run_id(token.run_id());
    StatePtr state;
    if (auto st = Resolve(ns.id, exec, &state); !st.ok()) return st;
    if (state->status() != enums::WORKFLOW_EXECUTION_STATUS_RUNNING) return AlreadyCompleted();
    int64_t scheduled = token.scheduled_event_id();
    if (token_bytes.empty()) {
      scheduled = 0;
      for (const auto& [id, a] : state->activities())
        if (a.activity_id() == activity_id) scheduled = id;
    }
    auto it = state->activities().find(scheduled);
    if (it == state->activities().end() || !it->second.started() ||
        (!token_bytes.empty() && token.attempt() != it->second.attempt()))
      return errors::NotFound("activity task not found");
    MutableState ms(*state, env_, NowNanos());
    auto& info = (*ms.s().mutable_activities())[scheduled];
    if (auto st = fn(ms, info); !st.ok()) return st;
    return Commit(ms);
  }

  void RemoveActivity(MutableState& ms, int64_t scheduled_event_id) {
    auto& acts = *ms.s().mutable_activities();
    auto it = acts.find(scheduled_event_id);
    if (it == acts.end()) return;
    DropActivityTimers(ms, it->second);
    acts.erase(it);
  }

  grpc::Status CompleteActivity(MutableState& ms, records::ActivityInfo& a, const common::Payloads& result,
                                const std::string& identity) {
    int64_t started = WriteActivityStarted(ms, a);
    auto& e = ms.AddOrBufferEvent(enums::EVENT_TYPE_ACTIVITY_TASK_COMPLETED);
    auto* attrs = e.mutable_activity_task_completed_event_attributes();
    *attrs->mutable_result() = result;
    attrs->set_scheduled_event_id(a.scheduled_event_id());
    attrs->set_started_event_id(started);
    attrs->set_identity(identity);
    RemoveActivity(ms, a.scheduled_event_id());
    ms.ScheduleWorkflowTask();
    return grpc::Status::OK;
  }

  grpc::Status CancelActivity(MutableState& ms, records::ActivityInfo& a, const common::Payloads& details,
                              const std::string& identity) {
    int64_t started = WriteActivityStarted(ms, a);
    auto& e = ms.AddOrBufferEvent(enums::EVENT_TYPE_ACTIVITY_TASK_CANCELED);
    auto* attrs = e.mutable_activity_task_canceled_event_attributes();
    *attrs->mutable_details() = details;
    attrs->set_latest_cancel_requested_event_id(a.cancel_request_event_id());
    attrs->set_scheduled_event_id(a.scheduled_event_id());
    attrs->set_started_event_id(started);
    attrs->set_identity(identity);
    RemoveActivity(ms, a.scheduled_event_id());
    ms.ScheduleWorkflowTask();
    return grpc::Status::OK;
  }

  // A failed (or timed-out) attempt: retried per policy without any event,
  // or closed with the started and failed/timed-out events.
  grpc::Status FailActivity(MutableState& ms, records::ActivityInfo& a, const temporal::api::failure::v1::Failure& failure,
                            const std::string& identity, bool is_timeout) {
    int64_t expiration = 0;
    if (DurationToMs(a.schedule_to_close_timeout()) > 0)
      expiration = a.scheduled_time_nanos() + DurationToMs(a.schedule_to_close_timeout()) * 1'000'000;
    auto decision = DecideRetry(a.retry_policy(), a.attempt(), &failure, is_timeout, ms.now(), expiration);
    if (is_timeout && failure.has_timeout_failure_info()) {
      auto type = failure.timeout_failure_info().timeout_type();
      if (type == enums::TIMEOUT_TYPE_SCHEDULE_TO_CLOSE || type == enums::TIMEOUT_TYPE_SCHEDULE_TO_START)
        decision.state = enums::RETRY_STATE_TIMEOUT;
    }
    if (decision.state == enums::RETRY_STATE_IN_PROGRESS && !a.cancel_requested()) {
      // Keep the schedule-to-close timer; drop the per-attempt ones.
      std::vector<int64_t> keep;
      for (int64_t row : a.timer_row_ids()) {
        if (row == a.timer_row_ids(0) && DurationToMs(a.schedule_to_close_timeout()) > 0) keep.push_back(row);
        else ms.DeleteTimer(row);
      }
      a.clear_timer_row_ids();
      for (int64_t row : keep) a.add_timer_row_ids(row);
      *a.mutable_last_failure() = failure;
      a.set_last_worker_identity(identity);
      a.set_attempt(a.attempt() + 1);
      a.set_started(false);
      a.set_started_time_nanos(0);
      a.set_started_identity("");
      a.set_next_attempt_time_nanos(ms.now() + decision.delay_ms * 1'000'000);
      records::TimerTask t;
      t.set_kind(records::TimerTask::ACTIVITY_RETRY);
      t.set_event_id(a.scheduled_event_id());
      t.set_attempt(a.attempt());
      t.set_fire_time_nanos(a.next_attempt_time_nanos());
      a.add_timer_row_ids(ms.AddTimer(std::move(t)));
      return grpc::Status::OK;
    }
    bool schedule_timeout = is_timeout && failure.has_timeout_failure_info() &&
                            (failure.timeout_failure_info().timeout_type() == enums::TIMEOUT_TYPE_SCHEDULE_TO_CLOSE ||
                             failure.timeout_failure_info().timeout_type() == enums::TIMEOUT_TYPE_SCHEDULE_TO_START);
    if (decision.state == enums::RETRY_STATE_TIMEOUT && expiration > 0 && !schedule_timeout) {
      // The next attempt would not fit in schedule-to-close: Temporal reports
      // that timeout, caused by the last attempt's failure, with no started event.
      auto& e = ms.AddOrBufferEvent(enums::EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT);
      auto* attrs = e.mutable_activity_task_timed_out_event_attributes();
      auto* f = attrs->mutable_failure();
      f->set_message("activity ScheduleToClose timeout");
      f->set_source("Server");
      f->mutable_timeout_failure_info()->set_timeout_type(enums::TIMEOUT_TYPE_SCHEDULE_TO_CLOSE);
      if (a.has_heartbeat_details()) *f->mutable_timeout_failure_info()->mutable_last_heartbeat_details() = a.heartbeat_details();
      *f->mutable_cause() = failure;
      attrs->set_scheduled_event_id(a.scheduled_event_id());
      attrs->set_retry_state(enums::RETRY_STATE_TIMEOUT);
      RemoveActivity(ms, a.scheduled_event_id());
      ms.ScheduleWorkflowTask();
      return grpc::Status::OK;
    }
    int64_t started = a.started() ? WriteActivityStarted(ms, a) : 0;
    if (is_timeout) {
      auto& e = ms.AddOrBufferEvent(enums::EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT);
      auto* attrs = e.mutable_activity_task_timed_out_event_attributes();
      *attrs->mutable_failure() = failure;
      attrs->set_scheduled_event_id(a.scheduled_event_id());
      attrs->set_started_event_id(started);
      attrs->set_retry_state(decision.state);
    } else {
      auto& e = ms.AddOrBufferEvent(enums::EVENT_TYPE_ACTIVITY_TASK_FAILED);
      auto* attrs = e.mutable_activity_task_failed_event_attributes();
      *attrs->mutable_failure() = failure;
      attrs->set_scheduled_event_id(a.scheduled_event_id());
      attrs->set_started_event_id(started);
      attrs->set_identity(identity);
      attrs->set_retry_state(decision.state);
    }
    RemoveActivity(ms, a.scheduled_event_id());
    ms.ScheduleWorkflowTask();
    return grpc::Status::OK;
  }

  void ArmActivityStartTimers(MutableState& ms, records::ActivityInfo& a) {
    auto arm = [&](int64_t timeout_ms, enums::TimeoutType type) {
      if (timeout_ms <= 0) return;
      records::TimerTask t;
      t.set_kind(records::TimerTask::ACTIVITY_TIMEOUT);
      t.set_event_id(a.scheduled_event_id());
      t.set_attempt(a.attempt());
      t.set_timeout_type(type);
      t.set_fire_time_nanos(ms.now() + timeout_ms * 1'000'000);
      a.add_timer_row_ids(ms.AddTimer(std::move(t)));
    };
    arm(DurationToMs(a.start_to_close_timeout()), enums::TIMEOUT_TYPE_START_TO_CLOSE);
    arm(DurationToMs(a.heartbeat_timeout()), enums::TIMEOUT_TYPE_HEARTBEAT);
  }

  // ------------------------------------------------------------- updates
  std::optional<CommandError> ApplyUpdateMessage(MutableState& ms, const temporal::api::protocol::v1::Message& m) {
    namespace uv1 = temporal::api::update::v1;
    constexpr auto kBad = enums::WORKFLOW_TASK_FAILED_CAUSE_BAD_UPDATE_WORKFLOW_EXECUTION_MESSAGE;
    auto& updates = *ms.s().mutable_updates();
    auto it = updates.find(m.protocol_instance_id());
    if (it == updates.end()) return CommandError{kBad, "Update " + m.protocol_instance_id() + " is not pending."};
    auto& u = it->second;
    if (m.body().Is<uv1::Acceptance>()) {
      uv1::Acceptance acceptance;
      m.body().UnpackTo(&acceptance);
      if (u.state() != records::UpdateInfo::SENT && u.state() != records::UpdateInfo::ADMITTED)
        return CommandError{kBad, "Update " + it->first + " cannot be accepted in its state."};
      auto& e = ms.AddEvent(enums::EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED);
      auto* a = e.mutable_workflow_execution_update_accepted_event_attributes();
      a->set_protocol_instance_id(it->first);
      a->set_accepted_request_message_id(acceptance.accepted_request_message_id());
      a->set_accepted_request_sequencing_event_id(acceptance.accepted_request_sequencing_event_id());
      *a->mutable_accepted_request() = acceptance.has_accepted_request() ? acceptance.accepted_request() : u.request();
      u.set_state(records::UpdateInfo::ACCEPTED);
      u.set_accepted_event_id(e.event_id());
    } else if (m.body().Is<uv1::Rejection>()) {
      uv1::Rejection rejection;
      m.body().UnpackTo(&rejection);
      if (u.state() != records::UpdateInfo::SENT && u.state() != records::UpdateInfo::ADMITTED)
        return CommandError{kBad, "Update " + it->first + " cannot be rejected in its state."};
      u.set_state(records::UpdateInfo::REJECTED);
      *u.mutable_outcome()->mutable_failure() = rejection.failure();
    } else if (m.body().Is<uv1::Response>()) {
      uv1::Response response;
      m.body().UnpackTo(&response);
      if (u.state() != records::UpdateInfo::ACCEPTED)
        return CommandError{kBad, "Update " + it->first + " must be accepted before it completes."};
      auto& e = ms.AddEvent(enums::EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED);
      auto* a = e.mutable_workflow_execution_update_completed_event_attributes();
      *a->mutable_meta() = response.meta();
      a->set_accepted_event_id(u.accepted_event_id());
      *a->mutable_outcome() = response.outcome();
      u.set_state(records::UpdateInfo::COMPLETED);
      *u.mutable_outcome() = response.outcome();
    } else {
      return CommandError{kBad, "Unknown protocol message body " + m.body().type_url() + "."};
    }
    return std::nullopt;
  }

  // Admits an update (once per update id) onto a locked, running run.
  grpc::Status AdmitUpdate(const StatePtr& state, const temporal::api::update::v1::Request& request) {
    if (state->updates().contains(request.meta().update_id())) return grpc::Status::OK;  // Deduplicated.
    MutableState ms(*state, env_, NowNanos());
    records::UpdateInfo u;
    u.set_state(records::UpdateInfo::ADMITTED);
    *u.mutable_request() = request;
    u.set_message_id(request.meta().update_id() + "/request");
    u.set_admitted_time_nanos(ms.now());
    (*ms.s().mutable_updates())[request.meta().update_id()] = std::move(u);
    if (!ms.HasWorkflowTask()) ms.ScheduleWorkflowTask(1, true, /*speculative=*/true);
    return Commit(ms);
  }

  using UpdateFill = std::function<void(const common::WorkflowExecution&, enums::UpdateWorkflowExecutionLifecycleStage,
                                        const temporal::api::update::v1::Outcome*)>;

  // Answers once the update reached `wanted` (or the deadline passed, with
  // the stage reached so far, so that the client polls again).
  void WaitUpdate(const ExecutionKey& key, const std::string& update_id, enums::UpdateWorkflowExecutionLifecycleStage wanted,
                  Deadline deadline, UpdateFill fill, Done done, bool expired) {
    std::unique_lock wf_lock(LockFor(key.namespace_id, key.workflow_id));
    auto state = Load(key);
    if (!state) return done(WorkflowNotFound(key));
    common::WorkflowExecution exec = Execution(*state);
    auto it = state->updates().find(update_id);
    if (it == state->updates().end()) return done(errors::NotFound("update " + update_id + " not found"));
    const auto& u = it->second;
    using Stage = enums::UpdateWorkflowExecutionLifecycleStage;
    Stage reached = u.state() == records::UpdateInfo::COMPLETED || u.state() == records::UpdateInfo::REJECTED
                        ? enums::UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_COMPLETED
                    : u.state() == records::UpdateInfo::ACCEPTED ? enums::UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_ACCEPTED
                                                                 : enums::UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_ADMITTED;
    if (reached == enums::UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_COMPLETED) {
      auto outcome = u.outcome();
      wf_lock.unlock();
      fill(exec, reached, &outcome);
      return done(grpc::Status::OK);
    }
    if (state->status() != enums::WORKFLOW_EXECUTION_STATUS_RUNNING) {
      wf_lock.unlock();
      return done(errors::NotFound("workflow execution already completed"));
    }
    if (reached >= wanted || expired || std::chrono::steady_clock::now() >= deadline) {
      wf_lock.unlock();
      fill(exec, reached, nullptr);
      return done(grpc::Status::OK);
    }
    AddWaiter(RunKey(key), deadline, [=, this](bool exp) { WaitUpdate(key, update_id, wanted, deadline, fill, done, exp); });
  }

  static enums::UpdateWorkflowExecutionLifecycleStage WantedStage(const temporal::api::update::v1::WaitPolicy& p) {
    auto stage = p.lifecycle_stage();
    return stage == enums::UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_UNSPECIFIED
               ? enums::UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_ADMITTED
               : stage;
  }

  grpc::Status ValidateUpdate(const wsv1::UpdateWorkflowExecutionRequest& req) {
    if (req.workflow_execution().workflow_id().empty()) return errors::InvalidArgument("WorkflowId is not set on request.");
    if (req.request().meta().update_id().empty()) return errors::InvalidArgument("Update ID is not set on request.");
    if (req.request().input().name().empty()) return errors::InvalidArgument("Update name is not set on request.");
    return grpc::Status::OK;
  }

  UpdateFill FillUpdateResponse(wsv1::UpdateWorkflowExecutionResponse* resp, const std::string& update_id) {
    return [resp, update_id](const common::WorkflowExecution& exec, enums::UpdateWorkflowExecutionLifecycleStage stage,
                             const temporal::api::update::v1::Outcome* outcome) {
      *resp->mutable_update_ref()->mutable_workflow_execution() = exec;
      resp->mutable_update_ref()->set_update_id(update_id);
      resp->set_stage(stage);
      if (outcome) *resp->mutable_outcome() = *outcome;
    };
  }

  void UpdateWorkflowExecution(const NamespaceRef& ns, const wsv1::UpdateWorkflowExecutionRequest* req,
                               wsv1::UpdateWorkflowExecutionResponse* resp, Deadline deadline, Done done) override {
    if (auto st = ValidateUpdate(*req); !st.ok()) return done(st);
    ExecutionKey key;
    {
      std::lock_guard wf_lock(LockFor(ns.id, req->workflow_execution().workflow_id()));
      StatePtr state;
      if (auto st = Resolve(ns.id, req->workflow_execution(), &state); !st.ok()) return done(st);
      if (!req->first_execution_run_id().empty() && state->first_execution_run_id() != req->first_execution_run_id())
        return done(errors::NotFound("workflow execution not found for the given first execution run ID"));
      if (state->status() != enums::WORKFLOW_EXECUTION_STATUS_RUNNING) return done(AlreadyCompleted());
      if (auto st = AdmitUpdate(state, req->request()); !st.ok()) return done(st);
      key = {state->namespace_id(), state->workflow_id(), state->run_id()};
    }
    const std::string& id = req->request().meta().update_id();
    WaitUpdate(key, id, WantedStage(req->wait_policy()), deadline, FillUpdateResponse(resp, id), std::move(done), false);
  }

  void PollWorkflowExecutionUpdate(const NamespaceRef& ns, const wsv1::PollWorkflowExecutionUpdateRequest* req,
                                   wsv1::PollWorkflowExecutionUpdateResponse* resp, Deadline deadline, Done done) override {
    const auto& ref = req->update_ref();
    if (ref.update_id().empty()) return done(errors::InvalidArgument("Update ID is not set on request."));
    StatePtr state;
    {
      std::lock_guard wf_lock(LockFor(ns.id, ref.workflow_execution().workflow_id()));
      if (auto st = Resolve(ns.id, ref.workflow_execution(), &state); !st.ok()) return done(st);
    }
    ExecutionKey key{state->namespace_id(), state->workflow_id(), state->run_id()};
    std::string id = ref.update_id();
    WaitUpdate(key, id, WantedStage(req->wait_policy()), deadline,
               [resp, id](const common::WorkflowExecution& exec, enums::UpdateWorkflowExecutionLifecycleStage stage,
                          const temporal::api::update::v1::Outcome* outcome) {
                 *resp->mutable_update_ref()->mutable_workflow_execution() = exec;
                 resp->mutable_update_ref()->set_update_id(id);
                 resp->set_stage(stage);
                 if (outcome) *resp->mutable_outcome() = *outcome;
               },
               std::move(done), false);
  }

  void ExecuteMultiOperation(const NamespaceRef& ns, const wsv1::ExecuteMultiOperationRequest* req,
                             wsv1::ExecuteMultiOperationResponse* resp, Deadline deadline, Done done) override {
    if (req->operations_size() != 2 || !req->operations(0).has_start_workflow() || !req->operations(1).has_update_workflow())
      return done(errors::InvalidArgument("Operations must be a start-workflow followed by an update-workflow."));
    const auto& start = req->operations(0).start_workflow();
    const auto& update = req->operations(1).update_workflow();
    auto fail = [&](int index, const grpc::Status& st) {
      done(errors::MultiOperationFailed(st, index));
    };
    if (auto st = ValidateStart(start); !st.ok()) return fail(0, st);
    if (auto st = ValidateUpdate(update); !st.ok()) return fail(1, st);
    if (update.workflow_execution().workflow_id() != start.workflow_id())
      return fail(1, errors::InvalidArgument("WorkflowId of the update must match the started workflow."));
    if (start.workflow_id_conflict_policy() == enums::WORKFLOW_ID_CONFLICT_POLICY_UNSPECIFIED)
      return fail(0, errors::InvalidArgument("WorkflowIdConflictPolicy must be set for update-with-start."));
    auto* start_resp = resp->add_responses()->mutable_start_workflow();
    auto* update_resp = resp->add_responses()->mutable_update_workflow();
    ExecutionKey key;
    {
      std::lock_guard wf_lock(LockFor(ns.id, start.workflow_id()));
      if (auto st = StartLocked(ns, start, nullptr, start_resp); !st.ok()) return fail(0, st);
      key = {ns.id, start.workflow_id(), start_resp->run_id()};
      auto state = Load(key);
      if (!state) return fail(1, errors::Internal("started run is missing"));
      if (auto st = AdmitUpdate(state, update.request()); !st.ok()) return fail(1, st);
    }
    const std::string& id = update.request().meta().update_id();
    WaitUpdate(key, id, WantedStage(update.wait_policy()), deadline, FillUpdateResponse(update_resp, id), std::move(done),
               false);
  }

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
  bool FinishQuery(const std::string& id, grpc::Status status, const temporal::api::query::v1::WorkflowQueryResult* result) {
    PendingQuery q;
    {
      std::lock_guard lock(queries_mu_);
      auto it = queries_.find(id);
      if (it == queries_.end()) return false;
      q = std::move(it->second);
      queries_.erase(it);
      auto& ids = queries_by_run_[RunKey(q.key)];
      std::erase(ids, id);
      if (ids.empty()) queries_by_run_.erase(RunKey(q.key));
    }
    if (result) {
      if (result->result_type() == enums::QUERY_RESULT_TYPE_ANSWERED) {
        *q.resp->mutable_query_result() = result->answer();
      } else {
        status = errors::QueryFailed(result->error_message());
      }
    }
    NotifyWaiters("q:" + id);
    q.done(status);
    return true;
  }

  void AnswerQueries(const wsv1::RespondWorkflowTaskCompletedRequest& req) {
    for (const auto& [id, result] : req.query_results()) FinishQuery(id, grpc::Status::OK, &result);
  }

  // Queries go to a worker as query tasks when no workflow task is pending;
  // otherwise they ride along with the next workflow task.
  void DispatchQueries(const ExecutionKey& key) {
    StatePtr state;
    {
      std::lock_guard lock(cache_mu_);
      auto it = cache_.find(RunKey(key));
      if (it != cache_.end()) state = it->second;
    }
    if (!state) state = Load(key);
    if (!state) return;
    const auto& w = state->workflow_task();
    std::vector<std::string> dispatch;
    {
      std::lock_guard lock(queries_mu_);
      auto it = queries_by_run_.find(RunKey(key));
      if (it == queries_by_run_.end()) return;
      for (const auto& id : it->second) {
        auto& q = queries_[id];
        if (q.state == PendingQuery::kAttached && (w.attempt() == 0 || w.started_event_id() != q.attached_to))
          q.state = PendingQuery::kWaiting;  // Its workflow task ended without an answer.
        if (q.state == PendingQuery::kWaiting && w.attempt() == 0) {
          q.state = PendingQuery::kDispatched;
          dispatch.push_back(id);
        }
      }
    }
    for (const auto& id : dispatch) {
      records::QueueTask task;
      task.set_kind(records::QueueTask::WORKFLOW);
      task.set_namespace_id(key.namespace_id);
      const std::string& sticky = state->sticky_task_queue();
      bool use_sticky = !sticky.empty() && matching_->HasRecentPoller(key.namespace_id, sticky);
      task.set_task_queue(use_sticky ? sticky : state->start().task_queue().name());
      task.set_workflow_id(key.workflow_id);
      task.set_run_id(key.run_id);
      task.set_query_id(id);
      matching_->AddTask(store_->NextId(), std::move(task));
    }
  }

  grpc::Status StartQueryTask(const records::QueueTask& task, wsv1::PollWorkflowTaskQueueResponse* resp) {
    ExecutionKey key{task.namespace_id(), task.workflow_id(), task.run_id()};
    auto state = Load(key);
    temporal::api::query::v1::WorkflowQuery query;
    {
      std::lock_guard lock(queries_mu_);
      auto it = queries_.find(task.query_id());
      if (it == queries_.end() || it->second.state != PendingQuery::kDispatched || !state)
        return errors::NotFound("query is no longer pending");
      if (state->workflow_task().attempt() != 0) {
        // A workflow task appeared meanwhile: the query goes with it.
        it->second.state = PendingQuery::kWaiting;
        return errors::NotFound("query moved to the pending workflow task");
      }
      query = it->second.query;
    }
    const State& s = *state;
    records::TaskToken token;
    token.set_namespace_id(s.namespace_id());
    token.set_workflow_id(s.workflow_id());
    token.set_run_id(s.run_id());
    token.set_query_id(task.query_id());
    resp->set_task_token(token.SerializeAsString());
    *resp->mutable_workflow_execution() = Execution(s);
    *resp->mutable_workflow_type() = s.start().workflow_type();
    resp->set_previous_started_event_id(s.last_completed_wft_started_event_id());
    // The worker replays the whole history it is sent to answer the query.
    resp->set_started_event_id(s.next_event_id() - 1);
    resp->set_attempt(1);
    *resp->mutable_workflow_execution_task_queue() = s.start().task_queue();
    *resp->mutable_query() = std::move(query);
    for (auto& bytes : store_->ReadEvents(key, 1, s.next_event_id(), std::numeric_limits<int>::max()))
      resp->mutable_history()->add_events()->ParseFromString(bytes);
    return grpc::Status::OK;
  }

  // Hands waiting queries to a workflow task that is starting.
  void AttachQueries(const State& s, wsv1::PollWorkflowTaskQueueResponse* resp) {
    std::lock_guard lock(queries_mu_);
    auto it = queries_by_run_.find(RunKey({s.namespace_id(), s.workflow_id(), s.run_id()}));
    if (it == queries_by_run_.end()) return;
    for (const auto& id : it->second) {
      auto& q = queries_[id];
      if (q.state != PendingQuery::kWaiting) continue;
      q.state = PendingQuery::kAttached;
      q.attached_to = s.workflow_task().started_event_id();
      (*resp->mutable_queries())[id] = q.query;
    }
  }

  // ---------------------------------------------------------------- timers
  void OnTimer(int64_t row_id, const records::TimerTask& t) {
    if (t.kind() == records::TimerTask::SIGNAL_EXTERNAL || t.kind() == records::TimerTask::CANCEL_EXTERNAL) {
      DeliverExternal(row_id, t);
      return;
    }
    ExecutionKey key{t.namespace_id(), t.workflow_id(), t.run_id()};
    std::lock_guard wf_lock(LockFor(key.namespace_id, key.workflow_id));
    auto state = Load(key);
    std::optional<MutableState> ms;
    if (state && state->status() == enums::WORKFLOW_EXECUTION_STATUS_RUNNING) {
      ms.emplace(*state, env_, NowNanos());
      if (!ApplyTimer(*ms, row_id, t)) ms.reset();
    }
    if (!ms) {
      persistence::WriteBatch b;
      b.timer_deletes.push_back(row_id);
      if (auto st = store_->Commit(std::move(b)); !st.ok()) spdlog::warn("timer {} cleanup: {}", row_id, st.error_message());
      return;
    }
    ms->DeleteTimer(row_id);
    if (auto st = Commit(*ms); !st.ok()) {
      // Try again shortly; the row is still there.
      spdlog::warn("timer {} failed to apply: {}", row_id, st.error_message());
      auto again = t;
      again.set_fire_time_nanos(NowNanos() + 1'000'000'000);
      timers_.Arm(row_id, again);
    }
  }

  // A workflow's signal or cancel request to another workflow: delivered to
  // the target first (idempotently, so a retry after a crash is harmless),
  // then recorded on the source. The two workflows are locked one after the
  // other, never together.
  void DeliverExternal(int64_t row_id, const records::TimerTask& t) {
    ExecutionKey source{t.namespace_id(), t.workflow_id(), t.run_id()};
    records::ExternalRequest request;
    std::string ns_name;
    {
      std::lock_guard lock(LockFor(source.namespace_id, source.workflow_id));
      auto state = Load(source);
      auto it = state ? state->external_requests().find(t.event_id()) : decltype(state->external_requests().end()){};
      if (!state || it == state->external_requests().end() || it->second.timer_row_id() != row_id) {
        persistence::WriteBatch b;
        b.timer_deletes.push_back(row_id);
        store_->Commit(std::move(b));
        return;
      }
      request = it->second;
      ns_name = state->namespace_name();
    }
    common::WorkflowExecution source_exec;
    source_exec.set_workflow_id(source.workflow_id);
    source_exec.set_run_id(source.run_id);
    bool signal = request.kind() == records::ExternalRequest::SIGNAL;
    grpc::Status delivered;
    {
      std::lock_guard lock(LockFor(source.namespace_id, request.execution().workflow_id()));
      StatePtr target;
      delivered = Resolve(source.namespace_id, request.execution(), &target);
      if (delivered.ok() && target->status() != enums::WORKFLOW_EXECUTION_STATUS_RUNNING) delivered = AlreadyCompleted();
      if (delivered.ok()) {
        std::string dedupe = "external:" + source.run_id + ":" + std::to_string(t.event_id());
        bool seen = false;
        for (const auto& id : target->signal_request_ids()) seen |= id == dedupe;
        if (!signal) seen = target->cancel_requested();
        if (!seen) {
          MutableState tm(*target, env_, NowNanos());
          if (signal) {
            AddSignal(tm, SignalInput{request.signal_name(), request.input(), request.header(), "", dedupe, &source_exec});
          } else {
            AddCancelRequest(tm, request.reason(), "", dedupe, t.event_id(), &source_exec);
          }
          delivered = Commit(tm);
          if (delivered.error_code() == grpc::StatusCode::UNAVAILABLE) {
            auto again = t;
            again.set_fire_time_nanos(NowNanos() + 1'000'000'000);
            timers_.Arm(row_id, again);
            return;
          }
        }
      }
    }
    std::lock_guard lock(LockFor(source.namespace_id, source.workflow_id));
    auto state = Load(source);
    if (!state || !state->external_requests().contains(t.event_id())) return;
    MutableState ms(*state, env_, NowNanos());
    ms.s().mutable_external_requests()->erase(t.event_id());
    ms.DeleteTimer(row_id);
    if (ms.IsRunning()) {
      if (delivered.ok()) {
        auto& e = ms.AddOrBufferEvent(signal ? enums::EVENT_TYPE_EXTERNAL_WORKFLOW_EXECUTION_SIGNALED
                                             : enums::EVENT_TYPE_EXTERNAL_WORKFLOW_EXECUTION_CANCEL_REQUESTED);
        if (signal) {
          auto* a = e.mutable_external_workflow_execution_signaled_event_attributes();
          SetControl(request, a);
          a->set_initiated_event_id(t.event_id());
          a->set_namespace_(ns_name);
          a->set_namespace_id(source.namespace_id);
          *a->mutable_workflow_execution() = request.execution();
        } else {
          auto* a = e.mutable_external_workflow_execution_cancel_requested_event_attributes();
          a->set_initiated_event_id(t.event_id());
          a->set_namespace_(ns_name);
          a->set_namespace_id(source.namespace_id);
          *a->mutable_workflow_execution() = request.execution();
        }
      } else if (signal) {
        auto& e = ms.AddOrBufferEvent(enums::EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_FAILED);
        auto* a = e.mutable_signal_external_workflow_execution_failed_event_attributes();
        SetControl(request, a);
        a->set_cause(enums::SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_FAILED_CAUSE_EXTERNAL_WORKFLOW_EXECUTION_NOT_FOUND);
        a->set_namespace_(ns_name);
        a->set_namespace_id(source.namespace_id);
        *a->mutable_workflow_execution() = request.execution();
        a->set_initiated_event_id(t.event_id());
      } else {
        auto& e = ms.AddOrBufferEvent(enums::EVENT_TYPE_REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_FAILED);
        auto* a = e.mutable_request_cancel_external_workflow_execution_failed_event_attributes();
        SetControl(request, a);
        a->set_cause(enums::CANCEL_EXTERNAL_WORKFLOW_EXECUTION_FAILED_CAUSE_EXTERNAL_WORKFLOW_EXECUTION_NOT_FOUND);
        a->set_namespace_(ns_name);
        a->set_namespace_id(source.namespace_id);
        *a->mutable_workflow_execution() = request.execution();
        a->set_initiated_event_id(t.event_id());
      }
      ms.ScheduleWorkflowTask();
    }
    if (auto st = Commit(ms); !st.ok()) spdlog::warn("recording external request result: {}", st.error_message());
  }

  // Returns false when the timer is stale.
  bool ApplyTimer(MutableState& ms, int64_t row_id, const records::TimerTask& t) {
    auto& s = ms.s();
    switch (t.kind()) {
      case records::TimerTask::USER_TIMER: {
        auto it = s.timers().find(t.timer_id());
        if (it == s.timers().end() || it->second.started_event_id() != t.event_id()) return false;
        auto& e = ms.AddOrBufferEvent(enums::EVENT_TYPE_TIMER_FIRED);
        e.mutable_timer_fired_event_attributes()->set_timer_id(t.timer_id());
        e.mutable_timer_fired_event_attributes()->set_started_event_id(t.event_id());
        s.mutable_timers()->erase(t.timer_id());
        ms.ScheduleWorkflowTask();
        return true;
      }
      case records::TimerTask::WORKFLOW_TASK_START_TO_CLOSE: {
        const auto& w = s.workflow_task();
        if (w.attempt() != t.attempt() || w.started_event_id() == 0 || w.scheduled_event_id() != t.event_id() ||
            w.timer_row_id() != row_id)
          return false;
        auto wft = w;
        ReadmitUpdates(ms);
        s.mutable_workflow_task()->set_timer_row_id(0);  // This row is being deleted.
        if (!wft.transient()) {
          auto& e = ms.AddEvent(enums::EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT);
          auto* a = e.mutable_workflow_task_timed_out_event_attributes();
          a->set_scheduled_event_id(wft.scheduled_event_id());
          a->set_started_event_id(wft.started_event_id());
          a->set_timeout_type(enums::TIMEOUT_TYPE_START_TO_CLOSE);
        }
        ms.ClearWorkflowTask();
        ms.ClearSticky();
        ms.FlushBufferedEvents();
        ms.ScheduleWorkflowTask(wft.attempt() + 1);
        return true;
      }
      case records::TimerTask::WORKFLOW_TASK_SCHEDULE_TO_START: {
        const auto& w = s.workflow_task();
        if (w.attempt() == 0 || w.started_event_id() != 0 || w.task_id() != t.event_id()) return false;
        auto wft = w;
        s.mutable_workflow_task()->set_timer_row_id(0);
        ms.DeleteQueueTask(wft.task_id());
        if (!wft.transient()) {
          auto& e = ms.AddEvent(enums::EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT);
          auto* a = e.mutable_workflow_task_timed_out_event_attributes();
          a->set_scheduled_event_id(wft.scheduled_event_id());
          a->set_timeout_type(enums::TIMEOUT_TYPE_SCHEDULE_TO_START);
        }
        ms.ClearWorkflowTask();
        ms.ClearSticky();
        ms.ScheduleWorkflowTask(wft.attempt(), /*allow_sticky=*/false);
        return true;
      }
      case records::TimerTask::WORKFLOW_BACKOFF: {
        bool found = false;
        auto* rows = s.mutable_timer_row_ids();
        for (int i = 0; i < rows->size(); ++i) {
          if (rows->Get(i) == row_id) {
            rows->erase(rows->begin() + i);
            found = true;
            break;
          }
        }
        if (!found) return false;
        ms.ScheduleWorkflowTask();
        return true;
      }
      case records::TimerTask::WORKFLOW_RUN_TIMEOUT:
      case records::TimerTask::WORKFLOW_EXECUTION_TIMEOUT: {
        bool found = false;
        auto* rows = s.mutable_timer_row_ids();
        for (int i = 0; i < rows->size(); ++i) {
          if (rows->Get(i) == row_id) {
            rows->erase(rows->begin() + i);
            found = true;
            break;
          }
        }
        if (!found) return false;
        TimeOutWorkflow(ms, t.kind() == records::TimerTask::WORKFLOW_RUN_TIMEOUT);
        return true;
      }
      case records::TimerTask::ACTIVITY_RETRY: {
        auto it = s.mutable_activities()->find(t.event_id());
        if (it == s.mutable_activities()->end() || it->second.attempt() != t.attempt() || it->second.started()) return false;
        auto& a = it->second;
        // This row is being deleted by the caller.
        auto* rows = a.mutable_timer_row_ids();
        for (int i = 0; i < rows->size(); ++i)
          if (rows->Get(i) == row_id) {
            rows->erase(rows->begin() + i);
            break;
          }
        a.set_attempt_scheduled_time_nanos(ms.now());
        a.set_next_attempt_time_nanos(0);
        ArmActivityScheduleTimers(ms, a);
        EnqueueActivityTask(ms, a);
        return true;
      }
      case records::TimerTask::ACTIVITY_TIMEOUT: {
        auto it = s.mutable_activities()->find(t.event_id());
        if (it == s.mutable_activities()->end()) return false;
        auto& a = it->second;
        auto type = static_cast<enums::TimeoutType>(t.timeout_type());
        bool per_attempt = type != enums::TIMEOUT_TYPE_SCHEDULE_TO_CLOSE;
        if (per_attempt && a.attempt() != t.attempt()) return false;
        if ((type == enums::TIMEOUT_TYPE_START_TO_CLOSE || type == enums::TIMEOUT_TYPE_HEARTBEAT) && !a.started()) return false;
        if (type == enums::TIMEOUT_TYPE_SCHEDULE_TO_START && a.started()) return false;
        auto* rows = a.mutable_timer_row_ids();
        for (int i = 0; i < rows->size(); ++i)
          if (rows->Get(i) == row_id) {
            rows->erase(rows->begin() + i);
            break;
          }
        if (type == enums::TIMEOUT_TYPE_HEARTBEAT) {
          int64_t hb = DurationToMs(a.heartbeat_timeout()) * 1'000'000;
          int64_t last = std::max(a.last_heartbeat_time_nanos(), a.started_time_nanos());
          if (last + hb > ms.now()) {
            // A heartbeat arrived since: wait for the next deadline.
            records::TimerTask again = t;
            again.set_fire_time_nanos(last + hb);
            a.add_timer_row_ids(ms.AddTimer(std::move(again)));
            return true;
          }
        }
        temporal::api::failure::v1::Failure failure;
        failure.set_message("activity " + std::string(type == enums::TIMEOUT_TYPE_START_TO_CLOSE ? "StartToClose"
                                                      : type == enums::TIMEOUT_TYPE_HEARTBEAT    ? "Heartbeat"
                                                      : type == enums::TIMEOUT_TYPE_SCHEDULE_TO_START ? "ScheduleToStart"
                                                                                                      : "ScheduleToClose") +
                            " timeout");
        failure.set_source("Server");
        auto* info = failure.mutable_timeout_failure_info();
        info->set_timeout_type(type);
        if (a.has_heartbeat_details()) *info->mutable_last_heartbeat_details() = a.heartbeat_details();
        if (!a.started() && a.task_id()) ms.DeleteQueueTask(a.task_id());
        FailActivity(ms, a, failure, "", /*is_timeout=*/true);
        return true;
      }
      default:
        return false;
    }
  }

  // ------------------------------------------------------- history reads
  void ReadHistory(const std::string& ns, const wsv1::GetWorkflowExecutionHistoryRequest* req,
                   wsv1::GetWorkflowExecutionHistoryResponse* resp, Deadline deadline, Done done, bool expired) {
    // An empty page still carries an (empty) history: SDKs read it unchecked.
    resp->mutable_history();
    std::unique_lock wf_lock(LockFor(ns, req->execution().workflow_id()));
    StatePtr state;
    if (auto st = Resolve(ns, req->execution(), &state); !st.ok()) {
      wf_lock.unlock();
      done(st);
      return;
    }
    ExecutionKey key{state->namespace_id(), state->workflow_id(), state->run_id()};
    bool running = state->status() == enums::WORKFLOW_EXECUTION_STATUS_RUNNING;
    bool wait = req->wait_new_event() && !expired && std::chrono::steady_clock::now() < deadline;
    records::HistoryPageToken token;
    if (!req->next_page_token().empty() && !token.ParseFromString(req->next_page_token())) {
      wf_lock.unlock();
      done(errors::InvalidArgument("Invalid NextPageToken."));
      return;
    }
    auto again = [this, ns, req, resp, deadline, done](bool exp) { ReadHistory(ns, req, resp, deadline, done, exp); };
    if (req->history_event_filter_type() == enums::HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT) {
      if (!running) {
        for (auto& bytes : store_->ReadEvents(key, state->completion_event_id(), state->completion_event_id() + 1, 1))
          resp->mutable_history()->add_events()->ParseFromString(bytes);
      } else if (wait) {
        AddWaiter(RunKey(key), deadline, again);
        return;
      } else {
        token.set_next_event_id(state->next_event_id());
        resp->set_next_page_token(token.SerializeAsString());
      }
      wf_lock.unlock();
      done(grpc::Status::OK);
      return;
    }
    int64_t first = token.next_event_id() > 0 ? token.next_event_id() : 1;
    if (first >= state->next_event_id() && running && wait) {
      AddWaiter(RunKey(key), deadline, again);
      return;
    }
    int page = req->maximum_page_size() > 0 ? req->maximum_page_size() : kDefaultHistoryPageSize;
    auto rows = store_->ReadEvents(key, first, state->next_event_id(), page);
    for (auto& bytes : rows) resp->mutable_history()->add_events()->ParseFromString(bytes);
    int64_t next = first + static_cast<int64_t>(rows.size());
    if (next < state->next_event_id() || (running && req->wait_new_event())) {
      records::HistoryPageToken t;
      t.set_next_event_id(next);
      resp->set_next_page_token(t.SerializeAsString());
    }
    wf_lock.unlock();
    done(grpc::Status::OK);
  }

  void AddWaiter(const std::string& run_key, Deadline deadline, std::function<void(bool)> fn) {
    {
      std::lock_guard lock(waiters_mu_);
      if (!stopping_) {
        waiters_[run_key].push_back({deadline, std::move(fn)});
        return;
      }
    }
    // Shutting down: answer with what there is, off this (locked) thread.
    executor_->Submit([fn = std::move(fn)] { fn(true); });
  }

  void NotifyWaiters(const std::string& run_key) {
    std::list<Waiter> ready;
    {
      std::lock_guard lock(waiters_mu_);
      auto it = waiters_.find(run_key);
      if (it == waiters_.end()) return;
      ready = std::move(it->second);
      waiters_.erase(it);
    }
    for (auto& w : ready) executor_->Submit([fn = std::move(w.fn)] { fn(false); });
  }

  void WaiterLoop() {
    std::unique_lock lock(waiters_mu_);
    while (!stopping_) {
      waiters_cv_.wait_for(lock, std::chrono::milliseconds(200));
      auto now = std::chrono::steady_clock::now();
      for (auto it = waiters_.begin(); it != waiters_.end();) {
        auto& list = it->second;
        for (auto w = list.begin(); w != list.end();) {
          if (w->deadline <= now) {
            executor_->Submit([fn = std::move(w->fn)] { fn(true); });
            w = list.erase(w);
          } else {
            ++w;
          }
        }
        it = list.empty() ? waiters_.erase(it) : std::next(it);
      }
    }
  }

  persistence::Store* store_;
  matching::MatchingService* matching_;
  Executor* executor_;
  Environment env_;
  TimerService timers_;
  std::array<std::mutex, kLockStripes> stripes_;
  std::mutex cache_mu_;
  std::unordered_map<std::string, StatePtr> cache_;
  std::unordered_map<std::string, persistence::CurrentRun> current_;
  std::mutex queries_mu_;
  std::unordered_map<std::string, PendingQuery> queries_;
  std::unordered_map<std::string, std::vector<std::string>> queries_by_run_;
  std::mutex waiters_mu_;
  std::condition_variable waiters_cv_;
  std::unordered_map<std::string, std::list<Waiter>> waiters_;
  bool stopping_ = false;
  std::thread waiter_thread_;
};

std::unique_ptr<HistoryService> NewHistoryService(persistence::Store* store, matching::MatchingService* matching,
                                                  Executor* executor) {
  return std::make_unique<HistoryEngine>(store, matching, executor);
}

}  // namespace kairos::history
