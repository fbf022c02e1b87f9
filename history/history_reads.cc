// Reads: history pages (with long polls on new events), describe and list.
#include "history_engine.h"

namespace kairos::history {

grpc::Status HistoryEngine::DescribeWorkflowExecution(const NamespaceRef& ns, const wsv1::DescribeWorkflowExecutionRequest& req,
                                                      wsv1::DescribeWorkflowExecutionResponse* resp) {
  StatePtr state;
  {
    std::lock_guard wf_lock(LockFor(ns.id, req.execution().workflow_id()));
    if (auto st = Resolve(ns.id, req.execution(), &state); !st.ok()) return st;
  }
  const State& s = *state;
  auto* cfg = resp->mutable_execution_config();
  *cfg->mutable_task_queue() = s.start().task_queue();
  // The timeouts the started event has, as Temporal answers ("0s" when
  // the start gave a zero one, absent when it gave none).
  if (s.start().has_workflow_execution_timeout()) *cfg->mutable_workflow_execution_timeout() = s.start().workflow_execution_timeout();
  if (s.start().has_workflow_run_timeout()) *cfg->mutable_workflow_run_timeout() = s.start().workflow_run_timeout();
  *cfg->mutable_default_workflow_task_timeout() = s.start().workflow_task_timeout();
  if (s.has_user_metadata()) *cfg->mutable_user_metadata() = s.user_metadata();
  FillExecutionInfo(s, resp->mutable_workflow_execution_info());
  if (s.start().has_priority()) *resp->mutable_workflow_execution_info()->mutable_priority() = s.start().priority();
  resp->mutable_workflow_execution_info()->mutable_memo();  // Present even when empty, as Temporal's.
  for (const auto& [id, a] : s.activities()) {
    auto* p = resp->add_pending_activities();
    p->set_activity_id(a.activity_id());
    *p->mutable_activity_type() = a.activity_type();
    // A paused activity is PAUSED while no worker runs it, PAUSE_REQUESTED
    // while an attempt still runs (as Temporal reports it).
    p->set_state(a.cancel_requested() ? enums::PENDING_ACTIVITY_STATE_CANCEL_REQUESTED
                 : a.started()        ? (a.paused() ? enums::PENDING_ACTIVITY_STATE_PAUSE_REQUESTED
                                                    : enums::PENDING_ACTIVITY_STATE_STARTED)
                 : a.paused()         ? enums::PENDING_ACTIVITY_STATE_PAUSED
                                      : enums::PENDING_ACTIVITY_STATE_SCHEDULED);
    p->set_paused(a.paused());
    if (a.paused() && a.has_pause_info()) *p->mutable_pause_info() = a.pause_info();
    if (a.has_heartbeat_details()) *p->mutable_heartbeat_details() = a.heartbeat_details();
    if (a.last_heartbeat_time_nanos()) *p->mutable_last_heartbeat_time() = NanosToTimestamp(a.last_heartbeat_time_nanos());
    if (a.started_time_nanos()) *p->mutable_last_started_time() = NanosToTimestamp(a.started_time_nanos());
    p->set_attempt(a.attempt());
    p->set_maximum_attempts(a.retry_policy().maximum_attempts());
    *p->mutable_scheduled_time() = NanosToTimestamp(a.attempt_scheduled_time_nanos());
    if (a.has_last_failure()) *p->mutable_last_failure() = a.last_failure();
    p->set_last_worker_identity(a.started_identity());
    if (a.next_attempt_time_nanos()) *p->mutable_next_attempt_schedule_time() = NanosToTimestamp(a.next_attempt_time_nanos());
    auto* options = p->mutable_activity_options();
    options->mutable_task_queue()->set_name(a.task_queue());
    options->mutable_task_queue()->set_normal_name(a.task_queue());
    *options->mutable_schedule_to_close_timeout() = a.schedule_to_close_timeout();
    *options->mutable_schedule_to_start_timeout() = a.schedule_to_start_timeout();
    *options->mutable_start_to_close_timeout() = a.start_to_close_timeout();
    *options->mutable_heartbeat_timeout() = a.heartbeat_timeout();
    *options->mutable_retry_policy() = a.retry_policy();
    if (a.has_priority()) *options->mutable_priority() = a.priority();
  }
  for (const auto& [id, c] : s.children()) {
    auto* p = resp->add_pending_children();
    p->set_workflow_id(c.workflow_id());
    p->set_run_id(c.started_run_id());
    p->set_workflow_type_name(c.workflow_type().name());
    p->set_initiated_id(c.initiated_event_id());
    p->set_parent_close_policy(c.parent_close_policy());
  }
  const int64_t now = NowNanos();
  for (const auto& [id, op] : s.nexus_operations()) {
    auto* p = resp->add_pending_nexus_operations();
    p->set_endpoint(op.endpoint());
    p->set_service(op.service());
    p->set_operation(op.operation());
    p->set_operation_token(op.operation_token());
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    p->set_operation_id(op.operation_token());  // As Temporal still fills it.
#pragma GCC diagnostic pop
    *p->mutable_schedule_to_close_timeout() = MsToDuration(op.schedule_to_close_ms());
    // All three, zero when not set, as Temporal gives them.
    *p->mutable_schedule_to_start_timeout() = MsToDuration(op.schedule_to_start_ms());
    *p->mutable_start_to_close_timeout() = MsToDuration(op.start_to_close_ms());
    *p->mutable_scheduled_time() = NanosToTimestamp(op.scheduled_time_nanos());
    // As Temporal counts them: every answered attempt, the start's too; the
    // start clears the failures before it.
    const bool started = op.started_event_id() != 0;
    const bool backing_off = !started && op.next_attempt_time_nanos() > now;
    p->set_state(started       ? enums::PENDING_NEXUS_OPERATION_STATE_STARTED
                 : backing_off ? enums::PENDING_NEXUS_OPERATION_STATE_BACKING_OFF
                               : enums::PENDING_NEXUS_OPERATION_STATE_SCHEDULED);
    p->set_attempt(op.attempt() + (started ? 1 : 0));
    if (op.last_attempt_complete_time_nanos() != 0)
      *p->mutable_last_attempt_complete_time() = NanosToTimestamp(op.last_attempt_complete_time_nanos());
    if (!started && op.has_last_attempt_failure()) *p->mutable_last_attempt_failure() = op.last_attempt_failure();
    if (backing_off) *p->mutable_next_attempt_schedule_time() = NanosToTimestamp(op.next_attempt_time_nanos());
    p->set_scheduled_event_id(op.scheduled_event_id());
    if (op.has_cancellation()) {
      const auto& c = op.cancellation();
      auto* ci = p->mutable_cancellation_info();
      if (c.requested_time_nanos() != 0) *ci->mutable_requested_time() = NanosToTimestamp(c.requested_time_nanos());
      // A backoff that has run out is a request on its way again.
      ci->set_state(c.state() == enums::NEXUS_OPERATION_CANCELLATION_STATE_BACKING_OFF && c.next_attempt_time_nanos() <= now
                        ? enums::NEXUS_OPERATION_CANCELLATION_STATE_SCHEDULED
                        : c.state());
      ci->set_attempt(c.attempt());
      if (c.last_attempt_complete_time_nanos() != 0)
        *ci->mutable_last_attempt_complete_time() = NanosToTimestamp(c.last_attempt_complete_time_nanos());
      if (c.has_last_attempt_failure()) *ci->mutable_last_attempt_failure() = c.last_attempt_failure();
      if (ci->state() == enums::NEXUS_OPERATION_CANCELLATION_STATE_BACKING_OFF)
        *ci->mutable_next_attempt_schedule_time() = NanosToTimestamp(c.next_attempt_time_nanos());
    }
  }
  // The run's completion callbacks (a Nexus operation's, given at start or
  // attached later), waiting for its close, then reported (the report is a
  // durable step that is repeated until it lands, so it is shown as done).
  for (const auto& cb : s.start().completion_callbacks()) {
    auto* info = resp->add_callbacks();
    *info->mutable_callback() = cb;
    info->mutable_trigger()->mutable_workflow_closed();
    *info->mutable_registration_time() = NanosToTimestamp(s.start_time_nanos());
    bool waiting = s.status() == enums::WORKFLOW_EXECUTION_STATUS_RUNNING ||
                   s.status() == enums::WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW;
    info->set_state(waiting ? enums::CALLBACK_STATE_STANDBY : enums::CALLBACK_STATE_SUCCEEDED);
    if (!waiting) {
      info->set_attempt(1);
      *info->mutable_last_attempt_complete_time() = NanosToTimestamp(s.close_time_nanos());
    }
  }
  // An accepted update's callbacks (the Nexus operations it backs), until
  // its outcome is reported (a durable step: shown as done once it has one).
  for (const auto& [id, u] : s.updates()) {
    if (u.state() != records::UpdateInfo::ACCEPTED && u.state() != records::UpdateInfo::COMPLETED) continue;
    for (const auto& cb : u.completion_callbacks()) {
      auto* info = resp->add_callbacks();
      *info->mutable_callback() = cb;
      info->mutable_trigger()->mutable_update_workflow_execution_completed()->set_update_id(id);
      *info->mutable_registration_time() = NanosToTimestamp(u.admitted_time_nanos());
      bool done = u.state() == records::UpdateInfo::COMPLETED;
      info->set_state(done ? enums::CALLBACK_STATE_SUCCEEDED : enums::CALLBACK_STATE_STANDBY);
      if (done) info->set_attempt(1);
    }
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
  auto* ext = resp->mutable_workflow_extended_info();
  if (s.start().has_workflow_execution_expiration_time())
    *ext->mutable_execution_expiration_time() = s.start().workflow_execution_expiration_time();
  // Without a run timeout Temporal answers the zero time (year 1).
  constexpr int64_t kZeroTimeSeconds = -62135596800;
  if (int64_t run_timeout = DurationToMs(s.start().workflow_run_timeout()); run_timeout > 0)
    *ext->mutable_run_expiration_time() = NanosToTimestamp(s.execution_time_nanos() + run_timeout * 1'000'000);
  else
    ext->mutable_run_expiration_time()->set_seconds(kZeroTimeSeconds);
  if (!s.start_request_id().empty() && !s.last_reset_time_nanos()) {
    auto& info = (*ext->mutable_request_id_infos())[s.start_request_id()];
    info.set_event_type(enums::EVENT_TYPE_WORKFLOW_EXECUTION_STARTED);
    info.set_event_id(1);
  }
  ext->set_cancel_requested(s.cancel_requested());
  if (s.last_reset_time_nanos()) *ext->mutable_last_reset_time() = NanosToTimestamp(s.last_reset_time_nanos());
  *ext->mutable_original_start_time() =
      NanosToTimestamp(s.original_start_time_nanos() ? s.original_start_time_nanos() : s.start_time_nanos());
  ext->set_reset_run_id(s.reset_run_id());
  return grpc::Status::OK;
}

void HistoryEngine::GetWorkflowExecutionHistory(const NamespaceRef& ns, const wsv1::GetWorkflowExecutionHistoryRequest* req,
                                                wsv1::GetWorkflowExecutionHistoryResponse* resp, Deadline deadline, Done done) {
  auto limit = std::chrono::steady_clock::now() + kMaxLongPoll;
  if (deadline > limit) deadline = limit;
  ReadHistory(ns.id, req, resp, deadline, std::move(done), false);
}

grpc::Status HistoryEngine::GetWorkflowExecutionHistoryReverse(const NamespaceRef& ns,
                                                               const wsv1::GetWorkflowExecutionHistoryReverseRequest& req,
                                                               wsv1::GetWorkflowExecutionHistoryReverseResponse* resp) {
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

void HistoryEngine::ReadHistory(const std::string& ns, const wsv1::GetWorkflowExecutionHistoryRequest* req,
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
  // The rest of a workflow task's history ends where the task saw it end.
  bool bounded = token.last_event_id() > 0;
  int64_t end = bounded ? std::min(token.last_event_id() + 1, state->next_event_id()) : state->next_event_id();
  if (first >= end && running && wait && !bounded) {
    AddWaiter(RunKey(key), deadline, again);
    return;
  }
  int page = req->maximum_page_size() > 0 ? req->maximum_page_size() : kDefaultHistoryPageSize;
  auto rows = store_->ReadEvents(key, first, end, page);
  for (auto& bytes : rows) resp->mutable_history()->add_events()->ParseFromString(bytes);
  int64_t next = first + static_cast<int64_t>(rows.size());
  if (next < end || (running && req->wait_new_event() && !bounded)) {
    records::HistoryPageToken t = token;
    t.set_next_event_id(next);
    resp->set_next_page_token(t.SerializeAsString());
  } else {
    for (const auto& e : token.transient_events()) *resp->mutable_history()->add_events() = e;
  }
  wf_lock.unlock();
  done(grpc::Status::OK);
}

void HistoryEngine::AddWaiter(const std::string& run_key, Deadline deadline, std::function<void(bool)> fn) {
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

void HistoryEngine::NotifyWaiters(const std::string& run_key) {
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

void HistoryEngine::WaiterLoop() {
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

}  // namespace kairos::history
