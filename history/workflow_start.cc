// Starting runs (start, signal-with-start) and the requests that change a
// run from outside: signal, cancel request, terminate.
#include "history_engine.h"
#include "kairos/history/versioning.h"
#include "kairos/history/state_rebuild.h"
#include "kairos/history/limits.h"
#include "kairos/cron.h"
#include "kairos/history/nexus_operations.h"
#include "kairos/history/run_search_attributes.h"

namespace kairos::history {

grpc::Status HistoryEngine::StartWorkflowExecution(const NamespaceRef& ns, const wsv1::StartWorkflowExecutionRequest& req,
                                                   wsv1::StartWorkflowExecutionResponse* resp) {
  if (auto st = CheckStartLimits(limits_, req); !st.ok()) return st;
  std::lock_guard wf_lock(LockFor(ns.id, req.workflow_id()));
  return StartLocked(ns, req, nullptr, resp);
}

grpc::Status HistoryEngine::SignalWithStartWorkflowExecution(const NamespaceRef& ns,
                                                             const wsv1::SignalWithStartWorkflowExecutionRequest& req,
                                                             wsv1::SignalWithStartWorkflowExecutionResponse* resp) {
  wsv1::StartWorkflowExecutionRequest start;
  start.set_namespace_(req.namespace_());
  start.set_workflow_id(req.workflow_id());
  *start.mutable_workflow_type() = req.workflow_type();
  *start.mutable_task_queue() = req.task_queue();
  if (req.has_input()) *start.mutable_input() = req.input();
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
  if (req.has_user_metadata()) *start.mutable_user_metadata() = req.user_metadata();
  if (req.has_versioning_override()) *start.mutable_versioning_override() = req.versioning_override();
  *start.mutable_links() = req.links();
  SignalInput signal{req.signal_name(), req.signal_input(), req.header(), req.identity(), req.request_id(), nullptr,
                     req.links()};
  if (auto st = CheckStartLimits(limits_, start); !st.ok()) return st;
  if (auto st = CheckSignalLimits(limits_, req.signal_input(), req.workflow_id(), ""); !st.ok()) return st;
  std::lock_guard wf_lock(LockFor(ns.id, req.workflow_id()));
  auto current = Current(ns.id, req.workflow_id());
  if (current && current->status == enums::WORKFLOW_EXECUTION_STATUS_RUNNING &&
      req.workflow_id_conflict_policy() != enums::WORKFLOW_ID_CONFLICT_POLICY_TERMINATE_EXISTING &&
      req.workflow_id_conflict_policy() != enums::WORKFLOW_ID_CONFLICT_POLICY_FAIL) {
    auto state = Load({ns.id, req.workflow_id(), current->run_id});
    if (!state) return errors::Internal("current run is missing");
    if (AtSignalLimit(limits_, *state)) return SignalLimitExceeded();
    MutableState ms(*state, env_, NowNanos());
    AddSignal(ms, signal);
    if (auto st = Commit(ms); !st.ok()) return st;
    resp->set_run_id(current->run_id);
    resp->set_started(false);
    *resp->mutable_signal_link() = RequestIdLink(ns.name, req.workflow_id(), current->run_id, req.request_id(),
                                                 enums::EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED);
    return grpc::Status::OK;
  }
  // Signal-with-start signals a running workflow unless told otherwise.
  if (start.workflow_id_conflict_policy() == enums::WORKFLOW_ID_CONFLICT_POLICY_UNSPECIFIED)
    start.set_workflow_id_conflict_policy(enums::WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING);
  wsv1::StartWorkflowExecutionResponse started;
  if (auto st = StartLocked(ns, start, &signal, &started); !st.ok()) return st;
  resp->set_run_id(started.run_id());
  resp->set_started(started.started());
  *resp->mutable_signal_link() = RequestIdLink(ns.name, req.workflow_id(), started.run_id(), req.request_id(),
                                               enums::EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED);
  return grpc::Status::OK;
}

grpc::Status HistoryEngine::SignalWorkflowExecution(const NamespaceRef& ns, const wsv1::SignalWorkflowExecutionRequest& req,
                                                    wsv1::SignalWorkflowExecutionResponse* resp) {
  if (auto st = CheckSignalLimits(limits_, req.input(), req.workflow_execution().workflow_id(), req.workflow_execution().run_id());
      !st.ok())
    return st;
  std::lock_guard wf_lock(LockFor(ns.id, req.workflow_execution().workflow_id()));
  StatePtr state;
  if (auto st = Resolve(ns.id, req.workflow_execution(), &state); !st.ok()) return st;
  if (state->status() != enums::WORKFLOW_EXECUTION_STATUS_RUNNING) return AlreadyCompleted();
  *resp->mutable_link() = RequestIdLink(ns.name, state->workflow_id(), state->run_id(), req.request_id(),
                                        enums::EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED);
  if (!req.request_id().empty()) {
    for (const auto& id : state->signal_request_ids())
      if (id == req.request_id()) return grpc::Status::OK;  // Already delivered.
  }
  if (AtSignalLimit(limits_, *state)) return SignalLimitExceeded();
  MutableState ms(*state, env_, NowNanos());
  SignalInput signal{req.signal_name(), req.input(), req.header(), req.identity(), req.request_id(), nullptr,
                     req.links()};
  AddSignal(ms, signal);
  return Commit(ms);
}

grpc::Status HistoryEngine::RequestCancelWorkflowExecution(const NamespaceRef& ns,
                                                           const wsv1::RequestCancelWorkflowExecutionRequest& req) {
  std::lock_guard wf_lock(LockFor(ns.id, req.workflow_execution().workflow_id()));
  StatePtr state;
  if (auto st = Resolve(ns.id, req.workflow_execution(), &state); !st.ok()) return st;
  if (!req.first_execution_run_id().empty() && state->first_execution_run_id() != req.first_execution_run_id())
    return errors::NotFound("workflow execution not found for the given first execution run ID");
  // A closed run has nothing left to cancel: Temporal answers success.
  if (state->status() != enums::WORKFLOW_EXECUTION_STATUS_RUNNING) return grpc::Status::OK;
  // A repeated request (same id or not) changes nothing, as in Temporal.
  if (state->cancel_requested()) return grpc::Status::OK;
  MutableState ms(*state, env_, NowNanos());
  AddCancelRequest(ms, req.reason(), req.identity(), req.request_id(), 0, nullptr);
  return Commit(ms);
}

void HistoryEngine::AddSignal(MutableState& ms, const SignalInput& signal) {
  auto& e = ms.AddOrBufferEvent(enums::EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED);
  auto* a = e.mutable_workflow_execution_signaled_event_attributes();
  a->set_signal_name(signal.name);
  if (signal.input.payloads_size() > 0) *a->mutable_input() = signal.input;
  a->set_identity(signal.identity);
  if (signal.header.fields_size() > 0) *a->mutable_header() = signal.header;
  a->set_request_id(signal.request_id);
  if (signal.external) *a->mutable_external_workflow_execution() = *signal.external;
  *e.mutable_links() = signal.links;
  ms.s().set_signal_count(ms.s().signal_count() + 1);
  if (!signal.request_id.empty()) {
    auto* ids = ms.s().mutable_signal_request_ids();
    ids->Add(std::string(signal.request_id));
    // Deduplication looks back over the most recent signals only.
    constexpr int kRememberedSignalIds = 1000;
    if (ids->size() > kRememberedSignalIds) ids->DeleteSubrange(0, ids->size() - kRememberedSignalIds);
  }
  ms.ScheduleWorkflowTask();
}

void HistoryEngine::AttachToRunningWorkflow(MutableState& ms, const wsv1::StartWorkflowExecutionRequest& req) {
  const auto& attach = req.on_conflict_options();
  // As Temporal: one options-updated event, even when nothing is attached.
  auto& e = ms.AddOrBufferEvent(enums::EVENT_TYPE_WORKFLOW_EXECUTION_OPTIONS_UPDATED);
  e.set_worker_may_ignore(true);
  auto* a = e.mutable_workflow_execution_options_updated_event_attributes();
  if (attach.attach_request_id()) a->set_attached_request_id(req.request_id());
  if (attach.attach_completion_callbacks()) {
    *a->mutable_attached_completion_callbacks() = req.completion_callbacks();
    // The run's callbacks (kept with its start, so that they follow it to a
    // next run) now include these: its close reports to them too.
    for (const auto& cb : req.completion_callbacks()) *ms.s().mutable_start()->add_completion_callbacks() = cb;
  }
  if (attach.attach_links()) *e.mutable_links() = req.links();
}

void HistoryEngine::AddCancelRequest(MutableState& ms, const std::string& reason, const std::string& identity,
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

grpc::Status HistoryEngine::StartLocked(const NamespaceRef& ns, const wsv1::StartWorkflowExecutionRequest& req,
                                        const SignalInput* signal, wsv1::StartWorkflowExecutionResponse* resp,
                                        const hv1::WorkflowExecutionStartedEventAttributes* parent) {
  auto current = Current(ns.id, req.workflow_id());
  StatePtr running;
  if (current) {
    if (!req.request_id().empty() && current->start_request_id == req.request_id()) {
      resp->set_run_id(current->run_id);
      resp->set_started(true);
      resp->set_status(static_cast<enums::WorkflowExecutionStatus>(current->status));
      *resp->mutable_link() = StartedEventLink(ns.name, req.workflow_id(), current->run_id);
      return grpc::Status::OK;
    }
    if (current->status == enums::WORKFLOW_EXECUTION_STATUS_RUNNING) {
      auto policy = req.workflow_id_conflict_policy();
      if (req.workflow_id_reuse_policy() == kReuseTerminateIfRunning)
        policy = enums::WORKFLOW_ID_CONFLICT_POLICY_TERMINATE_EXISTING;
      if (policy == enums::WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING) {
        const auto& attach = req.on_conflict_options();
        if (signal || req.has_on_conflict_options()) {
          auto state = Load({ns.id, req.workflow_id(), current->run_id});
          if (!state) return errors::Internal("current run is missing");
          if (signal && AtSignalLimit(limits_, *state)) return SignalLimitExceeded();
          MutableState ms(*state, env_, NowNanos());
          if (signal) AddSignal(ms, *signal);
          if (req.has_on_conflict_options()) AttachToRunningWorkflow(ms, req);
          if (auto st = Commit(ms); !st.ok()) return st;
        }
        resp->set_run_id(current->run_id);
        resp->set_started(false);
        resp->set_status(enums::WORKFLOW_EXECUTION_STATUS_RUNNING);
        *resp->mutable_link() = attach.attach_request_id()
                                    ? RequestIdLink(ns.name, req.workflow_id(), current->run_id, req.request_id(),
                                                    enums::EVENT_TYPE_WORKFLOW_EXECUTION_OPTIONS_UPDATED)
                                    : StartedEventLink(ns.name, req.workflow_id(), current->run_id);
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
  std::string run_id = NewUuidV7();
  auto ms = std::make_unique<MutableState>(FreshState(ns.id, ns.name, req.workflow_id(), run_id, "", req.request_id()),
                                           env_, NowNanos());
  if (req.has_user_metadata()) *ms->s().mutable_user_metadata() = req.user_metadata();
  auto attrs = StartedAttributes(req, ms->now());
  if (parent) {
    attrs.set_parent_workflow_namespace(parent->parent_workflow_namespace());
    attrs.set_parent_workflow_namespace_id(parent->parent_workflow_namespace_id());
    *attrs.mutable_parent_workflow_execution() = parent->parent_workflow_execution();
    attrs.set_parent_initiated_event_id(parent->parent_initiated_event_id());
    *attrs.mutable_root_workflow_execution() = parent->root_workflow_execution();
    if (parent->has_inherited_pinned_version()) *attrs.mutable_inherited_pinned_version() = parent->inherited_pinned_version();
    if (parent->has_inherited_auto_upgrade_info())
      *attrs.mutable_inherited_auto_upgrade_info() = parent->inherited_auto_upgrade_info();
    if (parent->has_versioning_override() && !attrs.has_versioning_override())
      *attrs.mutable_versioning_override() = parent->versioning_override();
  }
  // The start delay, or the wait for a cron schedule's first activation.
  int64_t backoff_ms = DurationToMs(attrs.first_workflow_task_backoff());
  InitRun(*ms, std::move(attrs), backoff_ms,
          [&](MutableState& m) {
            if (signal) AddSignal(m, *signal);
          },
          &req.links());
  // Eager start: the first workflow task goes back in the response, already
  // started, instead of through the task queue (only for a run that starts
  // now; a delayed one waits for its backoff).
  bool eager = req.request_eager_execution() && ms->HasWorkflowTask();
  if (eager) {
    ms->DeleteQueueTask(ms->s().workflow_task().task_id());
    StartWorkflowTaskLocked(*ms, req.identity(), {});
  }
  changes.push_back(std::move(ms));
  if (auto st = CommitAll(changes, /*new_current=*/changes.back().get()); !st.ok()) return st;
  const State& started = changes.back()->s();
  resp->set_run_id(started.run_id());
  resp->set_started(true);
  resp->set_status(enums::WORKFLOW_EXECUTION_STATUS_RUNNING);
  *resp->mutable_link() = StartedEventLink(ns.name, req.workflow_id(), started.run_id());
  if (eager) return FillWorkflowTaskResponse(started, resp->mutable_eager_workflow_task());
  return grpc::Status::OK;
}

grpc::Status HistoryEngine::TerminateWorkflowExecution(const NamespaceRef& ns, const wsv1::TerminateWorkflowExecutionRequest& req) {
  std::lock_guard wf_lock(LockFor(ns.id, req.workflow_execution().workflow_id()));
  StatePtr state;
  if (auto st = Resolve(ns.id, req.workflow_execution(), &state); !st.ok()) return st;
  if (state->status() != enums::WORKFLOW_EXECUTION_STATUS_RUNNING) return AlreadyCompleted();
  MutableState ms(*state, env_, NowNanos());
  TerminateRun(ms, req.reason(), req.identity(), req.has_details() ? &req.details() : nullptr);
  return Commit(ms);
}

hv1::WorkflowExecutionStartedEventAttributes HistoryEngine::StartedAttributes(const wsv1::StartWorkflowExecutionRequest& req,
                                                                               int64_t now) {
  hv1::WorkflowExecutionStartedEventAttributes a;
  *a.mutable_workflow_type() = req.workflow_type();
  *a.mutable_task_queue() = req.task_queue();
  a.mutable_task_queue()->set_kind(enums::TASK_QUEUE_KIND_NORMAL);
  if (req.has_input()) *a.mutable_input() = req.input();
  int64_t exec_timeout = DurationToMs(req.workflow_execution_timeout());
  int64_t run_timeout = DurationToMs(req.workflow_run_timeout());
  if (exec_timeout > 0 && (run_timeout <= 0 || run_timeout > exec_timeout)) run_timeout = exec_timeout;
  // As Temporal writes them: given by the request (even "0s") or set.
  if (exec_timeout > 0 || req.has_workflow_execution_timeout())
    *a.mutable_workflow_execution_timeout() = MsToDuration(std::max<int64_t>(exec_timeout, 0));
  if (run_timeout > 0 || req.has_workflow_run_timeout())
    *a.mutable_workflow_run_timeout() = MsToDuration(std::max<int64_t>(run_timeout, 0));
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
  if (req.has_versioning_override()) *a.mutable_versioning_override() = req.versioning_override();
  if (req.has_continued_failure()) *a.mutable_continued_failure() = req.continued_failure();
  if (req.has_last_completion_result()) *a.mutable_last_completion_result() = req.last_completion_result();
  int64_t delay = DurationToMs(req.workflow_start_delay());
  if (delay > 0) *a.mutable_first_workflow_task_backoff() = MsToDuration(delay);
  if (!req.cron_schedule().empty()) {
    // A cron workflow's first run waits for the first scheduled time.
    a.set_initiator(enums::CONTINUE_AS_NEW_INITIATOR_CRON_SCHEDULE);
    if (delay <= 0)
      *a.mutable_first_workflow_task_backoff() =
          MsToDuration(std::max<int64_t>(0, cron::BackoffForNextScheduleMs(req.cron_schedule(), now, now)));
  }
  return a;
}

void HistoryEngine::InitRun(MutableState& ms, hv1::WorkflowExecutionStartedEventAttributes attrs, int64_t backoff_ms,
                            const std::function<void(MutableState&)>& before_first_task,
                            const google::protobuf::RepeatedPtrField<common::Link>* links) {
  auto& s = ms.s();
  if (attrs.original_execution_run_id().empty()) attrs.set_original_execution_run_id(s.run_id());
  // Temporal writes the backoff on every started event, 0s when there is none.
  if (!attrs.has_first_workflow_task_backoff()) *attrs.mutable_first_workflow_task_backoff() = MsToDuration(backoff_ms);
  attrs.set_first_execution_run_id(s.first_execution_run_id());
  // The search attributes go to the event without a copy; the state keeps
  // them serialized (KeepStartAttributes would serialize the same map).
  std::optional<common::SearchAttributes> search_attributes;
  if (attrs.has_search_attributes()) {
    search_attributes.emplace();
    search_attributes->Swap(attrs.mutable_search_attributes());
    attrs.clear_search_attributes();
  }
  auto& e = ms.AddEvent(enums::EVENT_TYPE_WORKFLOW_EXECUTION_STARTED);
  auto* started = e.mutable_workflow_execution_started_event_attributes();
  *started = attrs;
  if (s.has_user_metadata()) *e.mutable_user_metadata() = s.user_metadata();
  if (links) *e.mutable_links() = *links;
  if (ApplyStartedVersioning(&s, attrs)) MarkVersioningSearchAttributesChanged(ms);
  KeepStartAttributes(std::move(attrs), &s);
  if (search_attributes) {
    SetSearchAttributes(&s, *search_attributes);
    started->mutable_search_attributes()->Swap(&*search_attributes);
  }
  s.set_start_time_nanos(ms.now());
  s.set_execution_time_nanos(ms.now() + backoff_ms * 1'000'000);
  ms.mark_visibility_changed();
  ms.ArmRunTimeouts(ms.now() + backoff_ms * 1'000'000);
  if (before_first_task) before_first_task(ms);
  if (backoff_ms > 0) {
    ms.AddRunTimer(records::TimerTask::WORKFLOW_BACKOFF, ms.now() + backoff_ms * 1'000'000);
  } else {
    ms.ScheduleWorkflowTask();
  }
}

State HistoryEngine::FreshState(const std::string& ns_id, const std::string& ns_name, const std::string& workflow_id,
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

void HistoryEngine::TerminateRun(MutableState& ms, const std::string& reason, const std::string& identity,
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

}  // namespace kairos::history
