#include "kairos/history/mutable_state.h"

#include <algorithm>
#include <map>

#include "kairos/history/versioning.h"

#include "kairos/time_util.h"

namespace kairos::history {

MutableState::MutableState(records::ExecutionState state, const Environment& env, int64_t now_nanos)
    : state_(std::make_shared<records::ExecutionState>(std::move(state))), env_(env), now_(now_nanos) {}

void MutableState::Unshare() {
  state_ = std::make_shared<records::ExecutionState>(*state_);
  published_ = false;
}

hv1::HistoryEvent MutableState::MakeEvent(enums::EventType type, int64_t id) const {
  hv1::HistoryEvent e;
  e.set_event_id(id);
  *e.mutable_event_time() = NanosToTimestamp(now_);
  e.set_event_type(type);
  e.set_task_id(env_.next_id());
  return e;
}

hv1::HistoryEvent& MutableState::AddEvent(enums::EventType type) {
  int64_t id = s().next_event_id();
  s().set_next_event_id(id + 1);
  return events_.emplace_back(MakeEvent(type, id));
}

hv1::HistoryEvent& MutableState::AddOrBufferEvent(enums::EventType type) {
  if (!WorkflowTaskStarted()) return AddEvent(type);
  auto* e = s().add_buffered_events();
  *e = MakeEvent(type, kBufferedEventId);
  return *e;
}

bool MutableState::FlushBufferedEvents() {
  if (s().buffered_events().empty()) return false;
  // Completion events name their started event, whose id is known only now.
  std::map<int64_t, int64_t> started_id_by_scheduled;
  std::map<int64_t, int64_t> child_started_id_by_initiated;
  auto child_started = [&](int64_t initiated, int64_t started) {
    return started == kBufferedEventId ? child_started_id_by_initiated[initiated] : started;
  };
  for (auto& buffered : *s().mutable_buffered_events()) {
    hv1::HistoryEvent e = std::move(buffered);
    int64_t id = s().next_event_id();
    s().set_next_event_id(id + 1);
    e.set_event_id(id);
    switch (e.event_type()) {
      case enums::EVENT_TYPE_ACTIVITY_TASK_STARTED:
        started_id_by_scheduled[e.activity_task_started_event_attributes().scheduled_event_id()] = id;
        break;
      case enums::EVENT_TYPE_ACTIVITY_TASK_COMPLETED: {
        auto* a = e.mutable_activity_task_completed_event_attributes();
        if (a->started_event_id() == kBufferedEventId) a->set_started_event_id(started_id_by_scheduled[a->scheduled_event_id()]);
        break;
      }
      case enums::EVENT_TYPE_ACTIVITY_TASK_FAILED: {
        auto* a = e.mutable_activity_task_failed_event_attributes();
        if (a->started_event_id() == kBufferedEventId) a->set_started_event_id(started_id_by_scheduled[a->scheduled_event_id()]);
        break;
      }
      case enums::EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT: {
        auto* a = e.mutable_activity_task_timed_out_event_attributes();
        if (a->started_event_id() == kBufferedEventId) a->set_started_event_id(started_id_by_scheduled[a->scheduled_event_id()]);
        break;
      }
      case enums::EVENT_TYPE_ACTIVITY_TASK_CANCELED: {
        auto* a = e.mutable_activity_task_canceled_event_attributes();
        if (a->started_event_id() == kBufferedEventId) a->set_started_event_id(started_id_by_scheduled[a->scheduled_event_id()]);
        break;
      }
      // A child's close names its started event, which may wait here too.
      case enums::EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED: {
        int64_t initiated = e.child_workflow_execution_started_event_attributes().initiated_event_id();
        child_started_id_by_initiated[initiated] = id;
        auto it = s().mutable_children()->find(initiated);
        if (it != s().mutable_children()->end()) it->second.set_started_event_id(id);
        break;
      }
      case enums::EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED: {
        auto* a = e.mutable_child_workflow_execution_completed_event_attributes();
        a->set_started_event_id(child_started(a->initiated_event_id(), a->started_event_id()));
        break;
      }
      case enums::EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_FAILED: {
        auto* a = e.mutable_child_workflow_execution_failed_event_attributes();
        a->set_started_event_id(child_started(a->initiated_event_id(), a->started_event_id()));
        break;
      }
      case enums::EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_CANCELED: {
        auto* a = e.mutable_child_workflow_execution_canceled_event_attributes();
        a->set_started_event_id(child_started(a->initiated_event_id(), a->started_event_id()));
        break;
      }
      case enums::EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_TERMINATED: {
        auto* a = e.mutable_child_workflow_execution_terminated_event_attributes();
        a->set_started_event_id(child_started(a->initiated_event_id(), a->started_event_id()));
        break;
      }
      case enums::EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_TIMED_OUT: {
        auto* a = e.mutable_child_workflow_execution_timed_out_event_attributes();
        a->set_started_event_id(child_started(a->initiated_event_id(), a->started_event_id()));
        break;
      }
      default:
        break;
    }
    events_.push_back(std::move(e));
  }
  s().clear_buffered_events();
  return true;
}

int64_t MutableState::AddQueueTask(records::QueueTask task) {
  int64_t id = env_.next_id();
  task.set_created_time_nanos(now_);
  task.set_pinned_version(PinnedVersionOf(s()));
  if (task.pinned_version().empty() && task.kind() != records::QueueTask::NEXUS)
    task.set_pinned_version(BuildIdDirectiveOf(s(), task));
  if (task.kind() == records::QueueTask::WORKFLOW) task.set_use_ramping_version(UsesRampingVersion(s()));
  tasks_.emplace_back(id, std::move(task));
  return id;
}

void MutableState::DeleteQueueTask(int64_t id) {
  if (!id) return;
  for (auto it = tasks_.begin(); it != tasks_.end(); ++it) {
    if (it->first == id) {
      tasks_.erase(it);
      return;
    }
  }
  task_deletes_.push_back(id);
}

void MutableState::DeleteTimer(int64_t id) {
  if (!id) return;
  for (auto it = timers_.begin(); it != timers_.end(); ++it) {
    if (it->first == id) {
      timers_.erase(it);
      return;
    }
  }
  timer_deletes_.push_back(id);
}

int64_t MutableState::AddTimer(records::TimerTask timer) {
  // As Temporal's scheduled tasks: a timer set to fire later (a user timer
  // even when it is due now) fires no sooner than the minimum delay. Steps
  // due now (a child to start, a signal to send) are not delayed.
  if (timer.fire_time_nanos() > now_ || timer.kind() == records::TimerTask::USER_TIMER)
    timer.set_fire_time_nanos(std::max(timer.fire_time_nanos(), now_ + env_.timer_min_delay_nanos));
  int64_t id = env_.next_id();
  timer.set_namespace_id(s().namespace_id());
  timer.set_workflow_id(s().workflow_id());
  timer.set_run_id(s().run_id());
  timers_.emplace_back(id, std::move(timer));
  return id;
}

int64_t MutableState::WorkflowTaskTimeoutMs() const {
  int64_t ms = DurationToMs(s().start().workflow_task_timeout());
  if (ms <= 0) ms = kDefaultWorkflowTaskTimeoutMs;
  return std::min(ms, kMaxWorkflowTaskTimeoutMs);
}

void MutableState::ScheduleWorkflowTask(int32_t attempt, bool allow_sticky, bool speculative) {
  if (HasWorkflowTask() || !IsRunning()) return;
  auto* wft = s().mutable_workflow_task();
  wft->Clear();
  wft->set_attempt(attempt);
  wft->set_scheduled_time_nanos(now_);
  *wft->mutable_start_to_close_timeout() = MsToDuration(WorkflowTaskTimeoutMs());
  const std::string& sticky = s().sticky_task_queue();
  bool use_sticky = allow_sticky && !sticky.empty() && env_.sticky_alive(s().namespace_id(), sticky);
  wft->set_task_queue(use_sticky ? sticky : s().start().task_queue().name());
  wft->set_sticky(use_sticky);
  wft->set_transient(attempt > 1 || speculative);
  wft->set_speculative(speculative);
  wft->set_speculative_base(s().next_event_id());
  if (!wft->transient()) WriteWorkflowTaskScheduled();
  records::QueueTask task;
  task.set_kind(records::QueueTask::WORKFLOW);
  task.set_namespace_id(s().namespace_id());
  task.set_task_queue(wft->task_queue());
  task.set_workflow_id(s().workflow_id());
  task.set_run_id(s().run_id());
  task.set_scheduled_event_id(wft->scheduled_event_id());
  task.set_attempt(attempt);
  if (use_sticky) task.set_normal_task_queue(s().start().task_queue().name());
  wft->set_task_id(AddQueueTask(std::move(task)));
  if (use_sticky) {
    int64_t timeout_ms = DurationToMs(s().sticky_schedule_to_start_timeout());
    if (timeout_ms <= 0) timeout_ms = kDefaultStickyScheduleToStartMs;
    records::TimerTask timer;
    timer.set_kind(records::TimerTask::WORKFLOW_TASK_SCHEDULE_TO_START);
    timer.set_event_id(wft->task_id());
    timer.set_attempt(attempt);
    timer.set_fire_time_nanos(now_ + timeout_ms * 1'000'000);
    wft->set_timer_row_id(AddTimer(std::move(timer)));
  }
}

void MutableState::WriteWorkflowTaskScheduled() {
  auto& e = AddEvent(enums::EVENT_TYPE_WORKFLOW_TASK_SCHEDULED);
  auto* wft = s().mutable_workflow_task();
  auto* a = e.mutable_workflow_task_scheduled_event_attributes();
  a->mutable_task_queue()->set_name(wft->task_queue());
  a->mutable_task_queue()->set_kind(wft->sticky() ? enums::TASK_QUEUE_KIND_STICKY : enums::TASK_QUEUE_KIND_NORMAL);
  if (wft->sticky()) a->mutable_task_queue()->set_normal_name(s().start().task_queue().name());
  *a->mutable_start_to_close_timeout() = wft->start_to_close_timeout();
  a->set_attempt(wft->attempt());
  wft->set_scheduled_event_id(e.event_id());
}

std::vector<hv1::HistoryEvent> TransientWorkflowTaskEvents(const records::ExecutionState& state) {
  std::vector<hv1::HistoryEvent> out;
  const auto& wft = state.workflow_task();
  if (!wft.transient() || wft.started_event_id() == 0) return out;
  hv1::HistoryEvent scheduled;
  scheduled.set_event_id(wft.scheduled_event_id());
  *scheduled.mutable_event_time() = NanosToTimestamp(wft.scheduled_time_nanos());
  scheduled.set_event_type(enums::EVENT_TYPE_WORKFLOW_TASK_SCHEDULED);
  auto* sa = scheduled.mutable_workflow_task_scheduled_event_attributes();
  sa->mutable_task_queue()->set_name(wft.task_queue());
  sa->mutable_task_queue()->set_kind(wft.sticky() ? enums::TASK_QUEUE_KIND_STICKY : enums::TASK_QUEUE_KIND_NORMAL);
  if (wft.sticky()) sa->mutable_task_queue()->set_normal_name(state.start().task_queue().name());
  *sa->mutable_start_to_close_timeout() = wft.start_to_close_timeout();
  sa->set_attempt(wft.attempt());
  out.push_back(std::move(scheduled));
  hv1::HistoryEvent started;
  started.set_event_id(wft.started_event_id());
  *started.mutable_event_time() = NanosToTimestamp(wft.started_time_nanos());
  started.set_event_type(enums::EVENT_TYPE_WORKFLOW_TASK_STARTED);
  auto* st = started.mutable_workflow_task_started_event_attributes();
  st->set_scheduled_event_id(wft.scheduled_event_id());
  st->set_identity(wft.identity());
  st->set_request_id(wft.request_id());
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  if (wft.has_worker_version()) *st->mutable_worker_version() = wft.worker_version();
#pragma GCC diagnostic pop
  st->set_target_worker_deployment_version_changed(TargetVersionChanged(state));
  out.push_back(std::move(started));
  return out;
}

std::vector<hv1::HistoryEvent> MutableState::TransientWorkflowTaskEvents() const {
  return history::TransientWorkflowTaskEvents(s());
}

void MutableState::MaterializeTransientWorkflowTask() {
  auto* wft = s().mutable_workflow_task();
  if (!wft->transient()) return;
  // The ids were reserved when the task started; events were buffered since.
  for (auto& e : TransientWorkflowTaskEvents()) {
    e.set_task_id(env_.next_id());
    s().set_next_event_id(e.event_id() + 1);
    events_.push_back(std::move(e));
  }
  wft->set_transient(false);
  wft->set_speculative(false);
}

void MutableState::ClearWorkflowTask() {
  DeleteTimer(s().workflow_task().timer_row_id());
  s().clear_workflow_task();
}

void MutableState::ClearSticky() {
  s().clear_sticky_task_queue();
  s().clear_sticky_schedule_to_start_timeout();
}

void MutableState::AddRunTimer(records::TimerTask::Kind kind, int64_t fire_time_nanos) {
  records::TimerTask t;
  t.set_kind(kind);
  t.set_fire_time_nanos(fire_time_nanos);
  s().add_timer_row_ids(AddTimer(std::move(t)));
}

void MutableState::ArmRunTimeouts(int64_t run_start_nanos) {
  const auto& a = s().start();
  int64_t run_timeout = DurationToMs(a.workflow_run_timeout());
  if (run_timeout > 0) AddRunTimer(records::TimerTask::WORKFLOW_RUN_TIMEOUT, run_start_nanos + run_timeout * 1'000'000);
  if (a.has_workflow_execution_expiration_time())
    AddRunTimer(records::TimerTask::WORKFLOW_EXECUTION_TIMEOUT, TimestampToNanos(a.workflow_execution_expiration_time()));
}

void MutableState::Close(enums::WorkflowExecutionStatus status, int64_t completion_event_id) {
  s().set_status(status);
  s().set_close_time_nanos(now_);
  s().set_completion_event_id(completion_event_id);
  closed_now_ = true;
  for (const auto& [id, timer] : s().timers()) DeleteTimer(timer.timer_row_id());
  s().clear_timers();
  for (const auto& [id, activity] : s().activities()) {
    for (int64_t row : activity.timer_row_ids()) DeleteTimer(row);
  }
  s().clear_activities();
  for (int64_t row : s().timer_row_ids()) DeleteTimer(row);
  s().clear_timer_row_ids();
  if (HasWorkflowTask()) ClearWorkflowTask();
  ClearSticky();
  visibility_changed_ = true;
}

}  // namespace kairos::history
