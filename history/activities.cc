// Activity tasks: starting them, heartbeats, and their completion, failure
// or cancellation (with retries per policy).
#include <utility>

#include "history_engine.h"
#include "kairos/history/commands.h"
#include "kairos/history/limits.h"
#include "kairos/history/versioning.h"
#include "kairos/matching/matching_service.h"

namespace kairos::history {

grpc::Status HistoryEngine::StartActivityTask(int64_t task_id, const records::QueueTask& task,
                                              const wsv1::PollActivityTaskQueueRequest& poll,
                                              wsv1::PollActivityTaskQueueResponse* resp) {
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
  if (env_.deployments.routing_target) {
    // Worker versioning: an activity may move its run to a new version, or
    // wait for the run's transition (Temporal 1.32's history).
    const auto& s = ms.s();
    auto target = env_.deployments.routing_target(s.namespace_id(), s.start().task_queue().name(), s.workflow_id());
    auto dispatch = CheckActivityDispatch(s, matching::PollerVersion(poll.deployment_options()), target);
    if (dispatch != ActivityDispatch::kStart) {
      if (dispatch == ActivityDispatch::kStartTransition) {
        StartVersionTransition(&ms.s(), target);
        // The next workflow task goes to the new version, not to the old
        // worker's sticky queue; one is scheduled if none is pending.
        ms.ClearSticky();
        ms.ScheduleWorkflowTask(1, /*allow_sticky=*/false);
      }
      (*ms.s().mutable_activities())[task.scheduled_event_id()].set_task_id(0);  // Sent again after the transition.
      if (auto st = Commit(ms); !st.ok()) return st;
      return errors::NotFound("activity task waits for the workflow's version transition");
    }
  }
  auto& started = (*ms.s().mutable_activities())[task.scheduled_event_id()];
  MarkActivityStarted(ms, started, poll.identity());
  ms.RecordTaskStart({true, false, ms.now() - started.attempt_scheduled_time_nanos()});
  if (auto st = Commit(ms); !st.ok()) return st;
  const auto& committed = std::as_const(ms).s();  // Shared with the cache: read only.
  FillActivityTask(committed, committed.activities().at(task.scheduled_event_id()), poll.namespace_(), resp);
  return grpc::Status::OK;
}

void HistoryEngine::MarkActivityStarted(MutableState& ms, records::ActivityInfo& info, const std::string& identity) {
  info.set_started(true);
  info.set_started_time_nanos(ms.now());
  info.set_started_identity(identity);
  info.set_request_id(NewUuid());
  info.set_task_id(0);
  ArmActivityStartTimers(ms, info);
}

void HistoryEngine::FillActivityTask(const State& s, const records::ActivityInfo& a, const std::string& ns_name,
                                     wsv1::PollActivityTaskQueueResponse* resp) {
  resp->set_task_token(TokenFor(s, a.scheduled_event_id(), a.attempt(), a.activity_id()));
  resp->set_workflow_namespace(ns_name);
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
  if (a.has_priority()) *resp->mutable_priority() = a.priority();
}

grpc::Status HistoryEngine::RecordActivityTaskHeartbeat(const NamespaceRef& ns, const wsv1::RecordActivityTaskHeartbeatRequest& req,
                                                        wsv1::RecordActivityTaskHeartbeatResponse* resp) {
  bool cancel = false;
  bool paused = false;
  bool reset = false;
  auto st = WithActivity(ns, req.task_token(), "", "", "", [&](MutableState& ms, records::ActivityInfo& a) {
    if (req.has_details()) *a.mutable_heartbeat_details() = req.details();
    a.set_last_heartbeat_time_nanos(ms.now());
    cancel = a.cancel_requested();
    paused = a.paused();
    reset = a.reset_requested();
    return grpc::Status::OK;
  });
  resp->set_cancel_requested(cancel);
  resp->set_activity_paused(paused);
  resp->set_activity_reset(reset);
  return st;
}

grpc::Status HistoryEngine::RecordActivityTaskHeartbeatById(const NamespaceRef& ns,
                                                            const wsv1::RecordActivityTaskHeartbeatByIdRequest& req,
                                                            wsv1::RecordActivityTaskHeartbeatByIdResponse* resp) {
  bool cancel = false;
  bool paused = false;
  bool reset = false;
  auto st = WithActivity(ns, "", req.workflow_id(), req.run_id(), req.activity_id(),
                         [&](MutableState& ms, records::ActivityInfo& a) {
                           if (req.has_details()) *a.mutable_heartbeat_details() = req.details();
                           a.set_last_heartbeat_time_nanos(ms.now());
                           cancel = a.cancel_requested();
                           paused = a.paused();
                           reset = a.reset_requested();
                           return grpc::Status::OK;
                         });
  resp->set_cancel_requested(cancel);
  resp->set_activity_paused(paused);
  resp->set_activity_reset(reset);
  return st;
}

grpc::Status HistoryEngine::RespondActivityTaskCompleted(const NamespaceRef& ns,
                                                         const wsv1::RespondActivityTaskCompletedRequest& req) {
  return WithActivity(ns, req.task_token(), "", "", "", [&](MutableState& ms, records::ActivityInfo& a) {
    return CompleteActivity(ms, a, req.result(), req.identity());
  });
}

grpc::Status HistoryEngine::RespondActivityTaskCompletedById(const NamespaceRef& ns,
                                                             const wsv1::RespondActivityTaskCompletedByIdRequest& req) {
  return WithActivity(ns, "", req.workflow_id(), req.run_id(), req.activity_id(),
                      [&](MutableState& ms, records::ActivityInfo& a) {
                        return CompleteActivity(ms, a, req.result(), req.identity());
                      });
}

grpc::Status HistoryEngine::RespondActivityTaskFailed(const NamespaceRef& ns, const wsv1::RespondActivityTaskFailedRequest& req) {
  return WithActivity(ns, req.task_token(), "", "", "", [&](MutableState& ms, records::ActivityInfo& a) {
    if (req.has_last_heartbeat_details()) *a.mutable_heartbeat_details() = req.last_heartbeat_details();
    return FailActivity(ms, a, req.failure(), req.identity(), false);
  });
}

grpc::Status HistoryEngine::RespondActivityTaskFailedById(const NamespaceRef& ns,
                                                          const wsv1::RespondActivityTaskFailedByIdRequest& req) {
  return WithActivity(ns, "", req.workflow_id(), req.run_id(), req.activity_id(),
                      [&](MutableState& ms, records::ActivityInfo& a) {
                        if (req.has_last_heartbeat_details()) *a.mutable_heartbeat_details() = req.last_heartbeat_details();
                        return FailActivity(ms, a, req.failure(), req.identity(), false);
                      });
}

grpc::Status HistoryEngine::RespondActivityTaskCanceled(const NamespaceRef& ns, const wsv1::RespondActivityTaskCanceledRequest& req) {
  return WithActivity(ns, req.task_token(), "", "", "", [&](MutableState& ms, records::ActivityInfo& a) {
    return CancelActivity(ms, a, req.details(), req.identity());
  });
}

grpc::Status HistoryEngine::RespondActivityTaskCanceledById(const NamespaceRef& ns,
                                                            const wsv1::RespondActivityTaskCanceledByIdRequest& req) {
  return WithActivity(ns, "", req.workflow_id(), req.run_id(), req.activity_id(),
                      [&](MutableState& ms, records::ActivityInfo& a) {
                        return CancelActivity(ms, a, req.details(), req.identity());
                      });
}

grpc::Status HistoryEngine::WithActivity(const NamespaceRef& ns, const std::string& token_bytes, const std::string& workflow_id,
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
    return errors::NotFound("invalid activityID or activity already timed out or invoking workflow is completed");
  MutableState ms(*state, env_, NowNanos());
  auto& info = (*ms.s().mutable_activities())[scheduled];
  if (auto st = fn(ms, info); !st.ok()) return st;
  return Commit(ms);
}

namespace {

ActivityOutcome OutcomeOf(const records::ActivityInfo& a, ActivityOutcome::Kind kind, bool closed,
                          const char* operation) {
  return {kind, closed, operation, a.task_queue(), a.activity_type().name(), enums::TIMEOUT_TYPE_UNSPECIFIED,
          a.started() ? a.started_time_nanos() : 0, a.scheduled_time_nanos()};
}

}  // namespace

void HistoryEngine::RemoveActivity(MutableState& ms, int64_t scheduled_event_id) {
  auto& acts = *ms.s().mutable_activities();
  auto it = acts.find(scheduled_event_id);
  if (it == acts.end()) return;
  DropActivityTimers(ms, it->second);
  acts.erase(it);
}

grpc::Status HistoryEngine::CompleteActivity(MutableState& ms, records::ActivityInfo& a, const common::Payloads& result,
                                             const std::string& identity) {
  if (OverSizeLimit(static_cast<int64_t>(result.ByteSizeLong()), limits_.blob_size_warn, limits_.blob_size_error,
                    ms.s().workflow_id(), ms.s().run_id(), "RespondActivityTaskCompleted")) {
    // As on Temporal: recorded as a failure that is not retried.
    temporal::api::failure::v1::Failure f;
    f.set_message("Complete result exceeds size limit.");
    f.mutable_server_failure_info()->set_non_retryable(true);
    return FailActivity(ms, a, f, identity, false);
  }
  ms.RecordActivityOutcome(OutcomeOf(a, ActivityOutcome::kSucceeded, true, "RespondActivityTaskCompleted"));
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

grpc::Status HistoryEngine::CancelActivity(MutableState& ms, records::ActivityInfo& a, const common::Payloads& details,
                                           const std::string& identity) {
  ms.RecordActivityOutcome(OutcomeOf(a, ActivityOutcome::kCanceled, true, "RespondActivityTaskCanceled"));
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

grpc::Status HistoryEngine::FailActivity(MutableState& ms, records::ActivityInfo& a,
                                         const temporal::api::failure::v1::Failure& failure,
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
  bool retried = decision.state == enums::RETRY_STATE_IN_PROGRESS && !a.cancel_requested();
  ActivityOutcome outcome = OutcomeOf(a, is_timeout ? ActivityOutcome::kTimedOut : ActivityOutcome::kFailed, !retried,
                                      is_timeout ? "TimerActiveTaskActivityTimeout" : "RespondActivityTaskFailed");
  if (is_timeout && failure.has_timeout_failure_info()) outcome.timeout_type = failure.timeout_failure_info().timeout_type();
  ms.RecordActivityOutcome(std::move(outcome));
  if (retried) {
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
    a.set_last_attempt_complete_time_nanos(ms.now());
    if (a.reset_heartbeat()) {
      // Reset with its heartbeat: the attempt that ran kept reporting it, the next starts without.
      a.clear_heartbeat_details();
      a.set_last_heartbeat_time_nanos(0);
    }
    a.set_reset_requested(false);
    a.set_reset_heartbeat(false);
    a.set_started(false);
    a.set_started_time_nanos(0);
    a.set_started_identity("");
    if (a.paused()) {
      // A paused activity's retry waits for UnpauseActivity.
      a.set_next_attempt_time_nanos(0);
      return grpc::Status::OK;
    }
    ArmActivityRetry(ms, a, ms.now() + decision.delay_ms * 1'000'000);
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
    // As Temporal: a timeout is caused by the failure of the attempt before
    // it, when there was one (a retry in backoff, or a later attempt timing out).
    if (a.has_last_failure()) *attrs->mutable_failure()->mutable_cause() = a.last_failure();
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

void HistoryEngine::ArmActivityStartTimers(MutableState& ms, records::ActivityInfo& a) {
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

}  // namespace kairos::history
