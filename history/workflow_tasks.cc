// Workflow tasks: starting them, their completion or failure, and the
// sticky task queue.
#include <utility>
#include <spdlog/spdlog.h>

#include "history_engine.h"
#include "kairos/history/commands.h"
#include "kairos/history/limits.h"
#include "kairos/history/state_rebuild.h"
#include "kairos/history/versioning.h"
#include "wire_history.h"

#include <random>

namespace kairos::history {
namespace {

// The build a polling worker names on the task's started event, as Temporal
// files it: the build id of its version capabilities, none for a worker of a
// versioned deployment (its version is on the completed event instead).
common::WorkerVersionStamp StartedBuild(const wsv1::PollWorkflowTaskQueueRequest& poll) {
  common::WorkerVersionStamp stamp;
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  const auto& caps = poll.worker_version_capabilities();
  const auto& deployment = poll.deployment_options();
  if (deployment.worker_versioning_mode() == enums::WORKER_VERSIONING_MODE_VERSIONED &&
      !deployment.deployment_name().empty())
    return stamp;
  if (caps.use_versioning() && !caps.deployment_series_name().empty()) return stamp;
  stamp.set_build_id(caps.build_id());
  stamp.set_use_versioning(caps.use_versioning());
#pragma GCC diagnostic pop
  return stamp;
}

}  // namespace

grpc::Status HistoryEngine::StartWorkflowTask(int64_t task_id, const records::QueueTask& task,
                                              const wsv1::PollWorkflowTaskQueueRequest& poll,
                                              wsv1::PollWorkflowTaskQueueResponse* resp) {
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
  // Matching moved the task off the sticky queue (its worker is of another
  // version than the task's): the worker that took it has nothing cached.
  if (ms.s().workflow_task().sticky() && poll.task_queue().name() != ms.s().workflow_task().task_queue())
    ms.s().mutable_workflow_task()->set_sticky(false);
  StartWorkflowTaskLocked(ms, poll.identity(), StartedBuild(poll));
  const auto& started = ms.s().workflow_task();
  ms.RecordTaskStart({false, started.sticky(), ms.now() - started.scheduled_time_nanos()});
  ms.DeleteQueueTask(task_id);
  if (auto st = Commit(ms); !st.ok()) return st;
  // Read through const: the committed state is shared with the cache.
  return FillWorkflowTaskResponse(std::as_const(ms).s(), resp);
}

grpc::Status HistoryEngine::RespondWorkflowTaskCompleted(const NamespaceRef& ns, const wsv1::RespondWorkflowTaskCompletedRequest& req,
                                                         wsv1::RespondWorkflowTaskCompletedResponse* resp) {
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
  for (const auto& c : req.commands()) {
    auto t = c.command_type();
    completes |= t == enums::COMMAND_TYPE_COMPLETE_WORKFLOW_EXECUTION || t == enums::COMMAND_TYPE_FAIL_WORKFLOW_EXECUTION ||
                 t == enums::COMMAND_TYPE_CANCEL_WORKFLOW_EXECUTION ||
                 t == enums::COMMAND_TYPE_CONTINUE_AS_NEW_WORKFLOW_EXECUTION;
  }
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  // The completed event carries the stamp as the worker sent it, as on Temporal.
  const auto build = req.worker_version_stamp();
#pragma GCC diagnostic pop
  std::optional<CommandError> error = CheckCommandLimits(limits_, *state, req);
  if (!error && completes && !ms->s().buffered_events().empty()) {
    // The workflow has not seen everything that happened: it must not close.
    // Updates it has not seen do not hold it open; they end with the run
    // (see AbortUpdates).
    error = CommandError{enums::WORKFLOW_TASK_FAILED_CAUSE_UNHANDLED_COMMAND,
                         "Workflow has unhandled events: a new workflow task is scheduled."};
  }
  if (!error) {
    auto& e = ms->AddEvent(enums::EVENT_TYPE_WORKFLOW_TASK_COMPLETED);
    auto* a = e.mutable_workflow_task_completed_event_attributes();
    a->set_scheduled_event_id(wft.scheduled_event_id());
    a->set_started_event_id(wft.started_event_id());
    a->set_identity(req.identity());
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    if (!build.build_id().empty()) *a->mutable_worker_version() = build;
    a->set_binary_checksum(req.binary_checksum());
#pragma GCC diagnostic pop
    bool in_transition = ms->s().versioning_info().has_version_transition();
    if (RecordVersionedTask(&ms->s(), req, a)) MarkVersioningSearchAttributesChanged(*ms);
    if (in_transition && !ms->s().versioning_info().has_version_transition()) ResendHeldActivities(*ms);
    if (RecordWorkerBuild(&ms->s(), build, a->versioning_behavior())) ms->mark_search_attribute_changed("BuildIds");
    // The deployment the worker names, versioned or not (the old Deployment's series when it names none).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    a->set_worker_deployment_name(req.deployment_options().deployment_name().empty()
                                      ? req.deployment().series_name()
                                      : req.deployment_options().deployment_name());
#pragma GCC diagnostic pop
    if (req.has_sdk_metadata()) *a->mutable_sdk_metadata() = req.sdk_metadata();
    if (req.has_metering_metadata()) *a->mutable_metering_metadata() = req.metering_metadata();
    ms->set_completed_event_id(e.event_id());
    ms->ClearWorkflowTask();
    ms->s().set_last_completed_wft_started_event_id(wft.started_event_id());
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    // Temporal files a worker's binary checksum as its build id when it names no other.
    std::string build_id = req.deployment_options().build_id();
    if (build_id.empty()) build_id = req.worker_version_stamp().build_id();
    if (build_id.empty()) build_id = req.binary_checksum();
    RecordResetPoint(&ms->s(), "", build_id, e.event_id(), ms->now());
#pragma GCC diagnostic pop
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
    // Messages no command placed come after the commands, in order; once a
    // command closed the run they come too late, and their updates end with
    // it (as on Temporal).
    for (const auto& m : req.messages()) {
      if (error || applied.contains(m.id()) || !ms->IsRunning()) continue;
      error = ApplyUpdateMessage(*ms, m);
    }
    if (!error) ReadmitUpdates(*ms);
  }
  if (error) {
    // A retried task that fails the same way again changes nothing: it is
    // left to time out, and its timeout grows with each attempt (see
    // WorkflowTaskAttemptTimeoutMs), as Temporal does, instead of being
    // handed straight back to a worker that will refuse it again.
    // Temporal's message names the cause first ("BadSearchAttributes: ..."),
    // and a terminating cause is the termination's reason too.
    const std::string message = CauseName(error->cause) + ": " + error->message;
    if (wft.attempt() > 1 && error->cause != enums::WORKFLOW_TASK_FAILED_CAUSE_UNHANDLED_COMMAND)
      return errors::InvalidArgument(message);
    // Throw the change away; record the failed task instead, with the
    // non-retryable server failure Temporal records.
    auto failed = std::make_unique<MutableState>(*state, env_, NowNanos());
    temporal::api::failure::v1::Failure failure;
    failure.set_message(message);
    failure.mutable_server_failure_info()->set_non_retryable(true);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    FailWorkflowTask(*failed, error->cause, &failure, req.identity(), req.binary_checksum());
#pragma GCC diagnostic pop
    if (error->terminate) {
      spdlog::warn("terminating workflow_id={} run_id={}: {}", state->workflow_id(), state->run_id(), message);
      TerminateRun(*failed, message, "history-service", nullptr);
    }
    if (auto st = Commit(*failed); !st.ok()) return st;
    return errors::InvalidArgument(message);
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
  auto eager = StartEagerActivities(*ms, req);
  bool return_task = new_task && req.return_new_workflow_task() && ms->HasWorkflowTask();
  if (return_task) {
    // Hand the new task straight back instead of through the queue.
    int64_t task_id = ms->s().workflow_task().task_id();
    ms->DeleteQueueTask(task_id);
    StartWorkflowTaskLocked(*ms, req.identity(), build);
  }
  if (auto st = Commit(*ms); !st.ok()) return st;
  AnswerQueries(req);
  const auto& committed = std::as_const(*ms).s();  // Shared with the cache: read only.
  for (int64_t id : eager) FillActivityTask(committed, committed.activities().at(id), ns.name, resp->add_activity_tasks());
  if (return_task) return FillWorkflowTaskResponse(committed, resp->mutable_workflow_task());
  return grpc::Status::OK;
}

std::vector<int64_t> HistoryEngine::StartEagerActivities(MutableState& ms, const wsv1::RespondWorkflowTaskCompletedRequest& req) {
  std::vector<int64_t> started;
  if (!ms.IsRunning()) return started;
  for (const auto& c : req.commands()) {
    if (c.command_type() != enums::COMMAND_TYPE_SCHEDULE_ACTIVITY_TASK) continue;
    const auto& a = c.schedule_activity_task_command_attributes();
    if (!a.request_eager_execution()) continue;
    for (auto& [id, info] : *ms.s().mutable_activities()) {
      if (info.activity_id() != a.activity_id() || info.started() || info.attempt() != 1) continue;
      ms.DeleteQueueTask(info.task_id());
      MarkActivityStarted(ms, info, req.identity());
      started.push_back(id);
    }
  }
  return started;
}

grpc::Status HistoryEngine::RespondWorkflowTaskFailed(const NamespaceRef& ns, const wsv1::RespondWorkflowTaskFailedRequest& req,
                                                      wsv1::RespondWorkflowTaskFailedResponse*) {
  records::TaskToken token;
  if (auto st = ParseToken(req.task_token(), ns, &token); !st.ok()) return st;
  ExecutionKey key{token.namespace_id(), token.workflow_id(), token.run_id()};
  std::lock_guard wf_lock(LockFor(key.namespace_id, key.workflow_id));
  auto state = Load(key);
  if (auto st = CheckStartedWorkflowTask(state, token); !st.ok()) return st;
  MutableState ms(*state, env_, NowNanos());
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  FailWorkflowTask(ms, req.cause(), req.has_failure() ? &req.failure() : nullptr, req.identity(),
                   req.binary_checksum());
#pragma GCC diagnostic pop
  return Commit(ms);
}

grpc::Status HistoryEngine::ResetStickyTaskQueue(const NamespaceRef& ns, const wsv1::ResetStickyTaskQueueRequest& req) {
  std::lock_guard wf_lock(LockFor(ns.id, req.execution().workflow_id()));
  StatePtr state;
  if (auto st = Resolve(ns.id, req.execution(), &state); !st.ok()) return st;
  if (state->sticky_task_queue().empty()) return grpc::Status::OK;
  MutableState ms(*state, env_, NowNanos());
  ms.ClearSticky();
  return Commit(ms);
}

grpc::Status HistoryEngine::CheckStartedWorkflowTask(const StatePtr& state, const records::TaskToken& token) {
  if (!state) return errors::NotFound("Workflow task not found.");
  if (state->status() != enums::WORKFLOW_EXECUTION_STATUS_RUNNING) return AlreadyCompleted();
  const auto& w = state->workflow_task();
  if (w.attempt() == 0 || w.started_event_id() == 0 || w.scheduled_event_id() != token.scheduled_event_id() ||
      w.attempt() != token.attempt())
    return errors::NotFound("Workflow task not found.");
  return grpc::Status::OK;
}

void HistoryEngine::StartWorkflowTaskLocked(MutableState& ms, const std::string& identity,
                                            const common::WorkerVersionStamp& worker_version) {
  auto* w = ms.s().mutable_workflow_task();
  if (w->speculative() && ms.s().next_event_id() != w->speculative_base()) {
    // Events arrived since it was scheduled: it is an ordinary task now.
    ms.WriteWorkflowTaskScheduled();
    w->set_transient(false);
    w->set_speculative(false);
  }
  for (auto& [id, u] : *ms.s().mutable_updates())
    if (u.state() == records::UpdateInfo::ADMITTED) u.set_state(records::UpdateInfo::SENT);
  bool target_changed = false;
  if (env_.deployments.routing_target) {
    const auto& s = ms.s();
    target_changed = NoteWorkflowTaskTarget(
        &ms.s(), env_.deployments.routing_target(s.namespace_id(), s.start().task_queue().name(), s.workflow_id()));
    w = ms.s().mutable_workflow_task();
  }
  w->set_started_time_nanos(ms.now());
  w->set_identity(identity);
  if (worker_version.build_id().empty()) w->clear_worker_version(); else *w->mutable_worker_version() = worker_version;
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
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    if (w->has_worker_version()) *a->mutable_worker_version() = w->worker_version();
#pragma GCC diagnostic pop
    a->set_target_worker_deployment_version_changed(target_changed);
    if (ms.s().next_event_id() >= limits_.history_count_suggest) {
      a->set_suggest_continue_as_new(true);
      a->add_suggest_continue_as_new_reasons(enums::SUGGEST_CONTINUE_AS_NEW_REASON_TOO_MANY_HISTORY_EVENTS);
    }
    if (ms.s().history_size_bytes() >= limits_.history_size_suggest) {
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
  t.set_fire_time_nanos(ms.now() + WorkflowTaskAttemptTimeoutMs(*w) * 1'000'000);
  int64_t row = ms.AddTimer(std::move(t));
  ms.s().mutable_workflow_task()->set_timer_row_id(row);
}

int64_t HistoryEngine::WorkflowTaskAttemptTimeoutMs(const records::WorkflowTaskInfo& w) {
  // Temporal gives a task that keeps failing more time on each attempt past
  // the third (5 s doubling, at most 10 minutes, jittered down by up to
  // 20%), so that a workflow that cannot make progress is not retried at
  // the speed of its worker.
  int64_t timeout = DurationToMs(w.start_to_close_timeout());
  constexpr int kFreeAttempts = 3;
  constexpr int64_t kBackoffBaseMs = 5'000;
  constexpr int64_t kBackoffMaxMs = 10 * 60'000;
  if (w.attempt() <= kFreeAttempts) return timeout;
  int doublings = std::min(w.attempt() - kFreeAttempts - 1, 20);
  int64_t backoff = std::min(kBackoffBaseMs << doublings, kBackoffMaxMs);
  std::uniform_real_distribution<double> jitter(0.8, 1.0);
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return timeout + static_cast<int64_t>(static_cast<double>(backoff) * jitter(rng));
}

grpc::Status HistoryEngine::FillWorkflowTaskResponse(const State& s, wsv1::PollWorkflowTaskQueueResponse* resp) {
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
  WireHistory history(resp);
  // A long history comes in pages, as from Temporal: the first here, the
  // others from GetWorkflowExecutionHistory with the token, so that neither
  // the task nor the read of it grows with the history.
  auto rows = store_->ReadEvents(key, first, s.next_event_id(), kDefaultHistoryPageSize);
  for (const auto& bytes : rows) history.AddSerialized(bytes);
  auto transient = TransientWorkflowTaskEvents(s);
  int64_t next = first + static_cast<int64_t>(rows.size());
  if (next < s.next_event_id()) {
    records::HistoryPageToken token;
    token.set_next_event_id(next);
    token.set_last_event_id(s.next_event_id() - 1);
    for (auto& e : transient) *token.add_transient_events() = std::move(e);
    resp->set_next_page_token(token.SerializeAsString());
  } else {
    for (const auto& e : transient) history.Add(e);
  }
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

void HistoryEngine::FailWorkflowTask(MutableState& ms, enums::WorkflowTaskFailedCause cause,
                                     const temporal::api::failure::v1::Failure* failure, const std::string& identity,
                                     const std::string& binary_checksum) {
  ReadmitUpdates(ms);
  // A speculative task (one scheduled for an update) that fails is recorded
  // like any other first attempt: scheduled, started, failed.
  if (ms.s().workflow_task().speculative()) ms.MaterializeTransientWorkflowTask();
  auto w = ms.s().workflow_task();
  if (!w.transient()) {
    auto& e = ms.AddEvent(enums::EVENT_TYPE_WORKFLOW_TASK_FAILED);
    auto* a = e.mutable_workflow_task_failed_event_attributes();
    a->set_scheduled_event_id(w.scheduled_event_id());
    a->set_started_event_id(w.started_event_id());
    a->set_cause(cause);
    if (failure) *a->mutable_failure() = *failure;
    a->set_identity(identity);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    a->set_binary_checksum(binary_checksum);
#pragma GCC diagnostic pop
  }
  ms.ClearWorkflowTask();
  ms.ClearSticky();
  ms.FlushBufferedEvents();
  ms.ScheduleWorkflowTask(w.attempt() + 1);
}

}  // namespace kairos::history
