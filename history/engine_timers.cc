// Timers fired by the timer service, and the delivery of one workflow's
// signal or cancel request to another.
#include <spdlog/spdlog.h>

#include "history_engine.h"

namespace kairos::history {
namespace {

// Forgets a timer row the state tracks; false when it was not tracked (stale).
bool EraseRow(google::protobuf::RepeatedField<int64_t>* rows, int64_t row_id) {
  for (int i = 0; i < rows->size(); ++i) {
    if (rows->Get(i) == row_id) {
      rows->erase(rows->begin() + i);
      return true;
    }
  }
  return false;
}

}  // namespace


void HistoryEngine::OnTimer(int64_t row_id, const records::TimerTask& t) {
  metrics_.OnTimerFired(std::chrono::nanoseconds(NowNanos() - t.fire_time_nanos()));
  if (t.kind() == records::TimerTask::SIGNAL_EXTERNAL || t.kind() == records::TimerTask::CANCEL_EXTERNAL) {
    DeliverExternal(row_id, t);
    return;
  }
  switch (t.kind()) {
    case records::TimerTask::START_CHILD:
      return StartChild(row_id, t);
    case records::TimerTask::REPORT_TO_PARENT:
      return ReportToParent(row_id, t);
    case records::TimerTask::PARENT_CLOSE_POLICY:
      return ApplyParentClosePolicy(row_id, t);
    case records::TimerTask::DELETE_HISTORY:
      return DeleteOnTimer(row_id, t);
    case records::TimerTask::NEXUS_START:
      return StartNexusOperation(row_id, t);
    case records::TimerTask::NEXUS_TIMEOUT:
      return TimeOutNexusOperation(row_id, t);
    case records::TimerTask::NEXUS_CANCEL:
      return CancelNexusOperation(row_id, t);
    case records::TimerTask::NEXUS_CALLBACK:
      return DeliverNexusCompletion(row_id, t);
    case records::TimerTask::NEXUS_UPDATE_CALLBACK:
      return DeliverNexusUpdateCompletion(row_id, t);
    default:
      break;
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
    DropTimerRow(row_id);
    return;
  }
  ms->DeleteTimer(row_id);
  if (auto st = Commit(*ms); !st.ok()) {
    // Try again shortly; the row is still there.
    spdlog::warn("timer {} failed to apply: {}", row_id, st.error_message());
    auto again = t;
    again.set_fire_time_nanos(NowNanos() + 1'000'000'000);
    timers_.Rearm(row_id, again);
  }
}

void HistoryEngine::DeliverExternal(int64_t row_id, const records::TimerTask& t) {
  ExecutionKey source{t.namespace_id(), t.workflow_id(), t.run_id()};
  records::ExternalRequest request;
  std::string ns_name;
  {
    std::lock_guard lock(LockFor(source.namespace_id, source.workflow_id));
    auto state = Load(source);
    auto it = state ? state->external_requests().find(t.event_id()) : decltype(state->external_requests().end()){};
    if (!state || it == state->external_requests().end() || it->second.timer_row_id() != row_id) {
      DropTimerRow(row_id);
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
  bool over_signal_limit = false;
  {
    std::lock_guard lock(LockFor(source.namespace_id, request.execution().workflow_id()));
    StatePtr target;
    delivered = Resolve(source.namespace_id, request.execution(), &target);
    if (delivered.ok() && target->status() != enums::WORKFLOW_EXECUTION_STATUS_RUNNING) delivered = AlreadyCompleted();
    if (delivered.ok() && request.child_workflow_only()) {
      // Only a child of the requesting run qualifies.
      const auto& parent = target->start().parent_workflow_execution();
      if (parent.workflow_id() != source.workflow_id || parent.run_id() != source.run_id)
        delivered = WorkflowNotFound({source.namespace_id, request.execution().workflow_id(), request.execution().run_id()});
    }
    if (delivered.ok()) {
      std::string dedupe = "external:" + source.run_id + ":" + std::to_string(t.event_id());
      bool seen = false;
      for (const auto& id : target->signal_request_ids()) seen |= id == dedupe;
      if (!signal) seen = target->cancel_requested();
      over_signal_limit = !seen && signal && AtSignalLimit(limits_, *target);
      if (over_signal_limit) delivered = SignalLimitExceeded();
      if (!seen && !over_signal_limit) {
        MutableState tm(*target, env_, NowNanos());
        if (signal) {
          AddSignal(tm, SignalInput{request.signal_name(), request.input(), request.header(), "", dedupe, &source_exec, {}});
        } else {
          AddCancelRequest(tm, request.reason(), "", dedupe, t.event_id(), &source_exec);
        }
        delivered = Commit(tm);
        if (delivered.error_code() == grpc::StatusCode::UNAVAILABLE) {
          auto again = t;
          again.set_fire_time_nanos(NowNanos() + 1'000'000'000);
          timers_.Rearm(row_id, again);
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
      a->set_cause(over_signal_limit ? enums::SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_FAILED_CAUSE_SIGNAL_COUNT_LIMIT_EXCEEDED
                                     : enums::SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_FAILED_CAUSE_EXTERNAL_WORKFLOW_EXECUTION_NOT_FOUND);
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

bool HistoryEngine::ApplyTimer(MutableState& ms, int64_t row_id, const records::TimerTask& t) {
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
      if (!EraseRow(s.mutable_timer_row_ids(), row_id)) return false;
      ms.ScheduleWorkflowTask();
      return true;
    }
    case records::TimerTask::WORKFLOW_RUN_TIMEOUT:
    case records::TimerTask::WORKFLOW_EXECUTION_TIMEOUT: {
      if (!EraseRow(s.mutable_timer_row_ids(), row_id)) return false;
      TimeOutWorkflow(ms, t.kind() == records::TimerTask::WORKFLOW_RUN_TIMEOUT);
      return true;
    }
    case records::TimerTask::ACTIVITY_RETRY: {
      auto it = s.mutable_activities()->find(t.event_id());
      if (it == s.mutable_activities()->end() || it->second.attempt() != t.attempt() || it->second.started() ||
          it->second.task_id() != 0)
        return false;
      auto& a = it->second;
      EraseRow(a.mutable_timer_row_ids(), row_id);  // The caller deletes the row.
      if (a.paused()) {
        a.set_next_attempt_time_nanos(0);  // Dispatched when unpaused.
        return true;
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
      int64_t s2s_ms = DurationToMs(a.schedule_to_start_timeout());
      if (type == enums::TIMEOUT_TYPE_SCHEDULE_TO_CLOSE && !a.started() && a.next_attempt_time_nanos() == 0 && s2s_ms > 0 &&
          a.attempt_scheduled_time_nanos() + s2s_ms * 1'000'000 <= ms.now()) {
        // Both are due; Temporal processes schedule-to-start first.
        type = enums::TIMEOUT_TYPE_SCHEDULE_TO_START;
      }
      if (per_attempt && a.attempt() != t.attempt()) return false;
      if ((type == enums::TIMEOUT_TYPE_START_TO_CLOSE || type == enums::TIMEOUT_TYPE_HEARTBEAT) && !a.started()) return false;
      if (type == enums::TIMEOUT_TYPE_SCHEDULE_TO_START && a.started()) return false;
      EraseRow(a.mutable_timer_row_ids(), row_id);
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

}  // namespace kairos::history
