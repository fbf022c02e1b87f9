#include "kairos/history/commands.h"

#include <algorithm>
#include <cctype>

#include "kairos/history/children.h"
#include "kairos/history/nexus_operations.h"
#include "kairos/history/retry_policy.h"
#include "kairos/history/workflow_close.h"
#include "kairos/time_util.h"
#include "kairos/history/run_search_attributes.h"
#include "temporal/api/command/v1/message.pb.h"

namespace kairos::history {
namespace {

namespace cv1 = temporal::api::command::v1;

std::optional<CommandError> Fail(enums::WorkflowTaskFailedCause cause, std::string message) {
  return CommandError{cause, std::move(message)};
}

int64_t Ms(const google::protobuf::Duration& d) { return DurationToMs(d); }

std::optional<CommandError> ScheduleActivity(MutableState& ms, const cv1::ScheduleActivityTaskCommandAttributes& a) {
  auto& s = ms.s();
  constexpr auto kBad = enums::WORKFLOW_TASK_FAILED_CAUSE_BAD_SCHEDULE_ACTIVITY_ATTRIBUTES;
  if (a.activity_id().empty()) return Fail(kBad, "ActivityId is not set on command.");
  if (a.activity_type().name().empty()) return Fail(kBad, "ActivityType is not set on command.");
  for (const auto& [id, existing] : s.activities()) {
    if (existing.activity_id() == a.activity_id())
      return Fail(kBad, "Activity with id " + a.activity_id() + " is already pending.");
  }
  ActivityTimeoutsMs t{Ms(a.schedule_to_close_timeout()), Ms(a.schedule_to_start_timeout()),
                       Ms(a.start_to_close_timeout()), Ms(a.heartbeat_timeout())};
  switch (NormalizeActivityTimeouts(Ms(s.start().workflow_run_timeout()), t)) {
    case ActivityTimeoutProblem::kNone:
      break;
    case ActivityTimeoutProblem::kNegative:
      return Fail(kBad, "A valid timeout may not be negative.");
    case ActivityTimeoutProblem::kNoCloseTimeout:
      return Fail(kBad, "A valid StartToClose or ScheduleToCloseTimeout is not set on ScheduleActivityTaskCommand.");
  }
  auto [s2c, s2s, st2c, hb] = t;

  auto& e = ms.AddEvent(enums::EVENT_TYPE_ACTIVITY_TASK_SCHEDULED);
  auto* ev = e.mutable_activity_task_scheduled_event_attributes();
  ev->set_activity_id(a.activity_id());
  *ev->mutable_activity_type() = a.activity_type();
  *ev->mutable_task_queue() = a.task_queue();
  if (ev->task_queue().name().empty()) *ev->mutable_task_queue() = s.start().task_queue();
  if (ev->task_queue().kind() == enums::TASK_QUEUE_KIND_UNSPECIFIED)
    ev->mutable_task_queue()->set_kind(enums::TASK_QUEUE_KIND_NORMAL);
  *ev->mutable_header() = a.header();
  if (a.has_input()) *ev->mutable_input() = a.input();
  if (s2c > 0) *ev->mutable_schedule_to_close_timeout() = MsToDuration(s2c);
  if (s2s > 0) *ev->mutable_schedule_to_start_timeout() = MsToDuration(s2s);
  *ev->mutable_start_to_close_timeout() = MsToDuration(st2c);
  // Written even when zero: Temporal's events carry an explicit 0s.
  *ev->mutable_heartbeat_timeout() = MsToDuration(std::max<int64_t>(hb, 0));
  ev->set_workflow_task_completed_event_id(ms.completed_event_id());
  *ev->mutable_retry_policy() = a.retry_policy();
  ApplyRetryDefaults(ev->mutable_retry_policy());
  if (a.has_priority()) *ev->mutable_priority() = a.priority();

  records::ActivityInfo info;
  info.set_scheduled_event_id(e.event_id());
  info.set_activity_id(a.activity_id());
  *info.mutable_activity_type() = a.activity_type();
  info.set_task_queue(ev->task_queue().name());
  info.set_attempt(1);
  info.set_scheduled_time_nanos(ms.now());
  info.set_attempt_scheduled_time_nanos(ms.now());
  *info.mutable_schedule_to_start_timeout() = ev->schedule_to_start_timeout();
  *info.mutable_schedule_to_close_timeout() = ev->schedule_to_close_timeout();
  *info.mutable_start_to_close_timeout() = ev->start_to_close_timeout();
  *info.mutable_heartbeat_timeout() = ev->heartbeat_timeout();
  *info.mutable_retry_policy() = ev->retry_policy();
  if (a.has_priority()) *info.mutable_priority() = a.priority();
  info.set_workflow_task_completed_event_id(ms.completed_event_id());
  *info.mutable_input() = a.input();
  *info.mutable_header() = a.header();
  ArmActivityScheduleTimers(ms, info);
  EnqueueActivityTask(ms, info);
  (*s.mutable_activities())[info.scheduled_event_id()] = std::move(info);
  return std::nullopt;
}

std::optional<CommandError> RequestCancelActivity(MutableState& ms,
                                                  const cv1::RequestCancelActivityTaskCommandAttributes& a) {
  auto& acts = *ms.s().mutable_activities();
  auto it = acts.find(a.scheduled_event_id());
  if (it == acts.end())
    return Fail(enums::WORKFLOW_TASK_FAILED_CAUSE_BAD_REQUEST_CANCEL_ACTIVITY_ATTRIBUTES,
                "Unable to find activity with scheduled event id " + std::to_string(a.scheduled_event_id()) + ".");
  auto& e = ms.AddEvent(enums::EVENT_TYPE_ACTIVITY_TASK_CANCEL_REQUESTED);
  e.mutable_activity_task_cancel_requested_event_attributes()->set_scheduled_event_id(a.scheduled_event_id());
  e.mutable_activity_task_cancel_requested_event_attributes()->set_workflow_task_completed_event_id(
      ms.completed_event_id());
  records::ActivityInfo& info = it->second;
  info.set_cancel_requested(true);
  info.set_cancel_request_event_id(e.event_id());
  if (!info.started()) {
    // Never reached a worker: canceled at once.
    auto& c = ms.AddEvent(enums::EVENT_TYPE_ACTIVITY_TASK_CANCELED);
    auto* ca = c.mutable_activity_task_canceled_event_attributes();
    ca->set_latest_cancel_requested_event_id(info.cancel_request_event_id());
    ca->set_scheduled_event_id(info.scheduled_event_id());
    DropActivityTimers(ms, info);
    acts.erase(it);
    ms.ScheduleWorkflowTask();
  }
  return std::nullopt;
}

std::optional<CommandError> StartTimer(MutableState& ms, const cv1::StartTimerCommandAttributes& a) {
  constexpr auto kBad = enums::WORKFLOW_TASK_FAILED_CAUSE_BAD_START_TIMER_ATTRIBUTES;
  if (a.timer_id().empty()) return Fail(kBad, "TimerId is not set.");
  if (ms.s().timers().contains(a.timer_id())) return Fail(kBad, "Timer with id " + a.timer_id() + " is already started.");
  int64_t ms_to_fire = Ms(a.start_to_fire_timeout());
  // Zero fires at once (workflow.sleep(0)), as on Temporal.
  if (ms_to_fire < 0) return Fail(kBad, "A valid StartToFireTimeout is not set on StartTimerCommand.");
  auto& e = ms.AddEvent(enums::EVENT_TYPE_TIMER_STARTED);
  auto* ev = e.mutable_timer_started_event_attributes();
  ev->set_timer_id(a.timer_id());
  *ev->mutable_start_to_fire_timeout() = a.start_to_fire_timeout();
  ev->set_workflow_task_completed_event_id(ms.completed_event_id());
  records::TimerInfo info;
  info.set_timer_id(a.timer_id());
  info.set_started_event_id(e.event_id());
  info.set_fire_time_nanos(ms.now() + ms_to_fire * 1'000'000);
  records::TimerTask timer;
  timer.set_kind(records::TimerTask::USER_TIMER);
  timer.set_event_id(e.event_id());
  timer.set_timer_id(a.timer_id());
  timer.set_fire_time_nanos(info.fire_time_nanos());
  info.set_timer_row_id(ms.AddTimer(std::move(timer)));
  (*ms.s().mutable_timers())[a.timer_id()] = std::move(info);
  return std::nullopt;
}

std::optional<CommandError> CancelTimer(MutableState& ms, const cv1::CancelTimerCommandAttributes& a, const std::string& identity) {
  auto& timers = *ms.s().mutable_timers();
  auto it = timers.find(a.timer_id());
  if (it == timers.end())
    return Fail(enums::WORKFLOW_TASK_FAILED_CAUSE_BAD_CANCEL_TIMER_ATTRIBUTES,
                "Timer with id " + a.timer_id() + " is not pending.");
  auto& e = ms.AddEvent(enums::EVENT_TYPE_TIMER_CANCELED);
  auto* ev = e.mutable_timer_canceled_event_attributes();
  ev->set_timer_id(a.timer_id());
  ev->set_started_event_id(it->second.started_event_id());
  ev->set_workflow_task_completed_event_id(ms.completed_event_id());
  ev->set_identity(identity);
  ms.DeleteTimer(it->second.timer_row_id());
  timers.erase(it);
  return std::nullopt;
}

// Records the request and a timer that fires at once to deliver it.
void AddExternalRequest(MutableState& ms, int64_t initiated_event_id, records::ExternalRequest request,
                        records::TimerTask::Kind kind) {
  records::TimerTask t;
  t.set_kind(kind);
  t.set_event_id(initiated_event_id);
  t.set_fire_time_nanos(ms.now());
  request.set_timer_row_id(ms.AddTimer(std::move(t)));
  (*ms.s().mutable_external_requests())[initiated_event_id] = std::move(request);
}

// `control` is deprecated in the API but SDKs still correlate by it.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
template <class From, class To>
void CopyControl(const From& from, To* to) {
  to->set_control(from.control());
}
#pragma GCC diagnostic pop

std::optional<CommandError> SignalExternal(MutableState& ms, const cv1::SignalExternalWorkflowExecutionCommandAttributes& a) {
  constexpr auto kBad = enums::WORKFLOW_TASK_FAILED_CAUSE_BAD_SIGNAL_WORKFLOW_EXECUTION_ATTRIBUTES;
  if (a.execution().workflow_id().empty()) return Fail(kBad, "WorkflowId is not set on command.");
  if (a.signal_name().empty()) return Fail(kBad, "SignalName is not set on command.");
  auto& e = ms.AddEvent(enums::EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED);
  auto* ev = e.mutable_signal_external_workflow_execution_initiated_event_attributes();
  ev->set_workflow_task_completed_event_id(ms.completed_event_id());
  ev->set_namespace_(ms.s().namespace_name());
  ev->set_namespace_id(ms.s().namespace_id());
  *ev->mutable_workflow_execution() = a.execution();
  ev->set_signal_name(a.signal_name());
  if (a.has_input()) *ev->mutable_input() = a.input();
  ev->set_child_workflow_only(a.child_workflow_only());
  *ev->mutable_header() = a.header();
  CopyControl(a, ev);
  records::ExternalRequest r;
  CopyControl(a, &r);
  r.set_kind(records::ExternalRequest::SIGNAL);
  r.set_child_workflow_only(a.child_workflow_only());
  *r.mutable_execution() = a.execution();
  r.set_signal_name(a.signal_name());
  *r.mutable_input() = a.input();
  *r.mutable_header() = a.header();
  AddExternalRequest(ms, e.event_id(), std::move(r), records::TimerTask::SIGNAL_EXTERNAL);
  return std::nullopt;
}

std::optional<CommandError> CancelExternal(MutableState& ms,
                                           const cv1::RequestCancelExternalWorkflowExecutionCommandAttributes& a) {
  if (a.workflow_id().empty())
    return Fail(enums::WORKFLOW_TASK_FAILED_CAUSE_BAD_REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_ATTRIBUTES,
                "WorkflowId is not set on command.");
  auto& e = ms.AddEvent(enums::EVENT_TYPE_REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED);
  auto* ev = e.mutable_request_cancel_external_workflow_execution_initiated_event_attributes();
  ev->set_workflow_task_completed_event_id(ms.completed_event_id());
  ev->set_namespace_(ms.s().namespace_name());
  ev->set_namespace_id(ms.s().namespace_id());
  ev->mutable_workflow_execution()->set_workflow_id(a.workflow_id());
  ev->mutable_workflow_execution()->set_run_id(a.run_id());
  ev->set_child_workflow_only(a.child_workflow_only());
  ev->set_reason(a.reason());
  CopyControl(a, ev);
  records::ExternalRequest r;
  CopyControl(a, &r);
  r.set_kind(records::ExternalRequest::CANCEL);
  r.set_child_workflow_only(a.child_workflow_only());
  r.mutable_execution()->set_workflow_id(a.workflow_id());
  r.mutable_execution()->set_run_id(a.run_id());
  r.set_reason(a.reason());
  AddExternalRequest(ms, e.event_id(), std::move(r), records::TimerTask::CANCEL_EXTERNAL);
  return std::nullopt;
}

}  // namespace

ActivityTimeoutProblem NormalizeActivityTimeouts(int64_t run_timeout_ms, ActivityTimeoutsMs& t) {
  if (t.schedule_to_close < 0 || t.schedule_to_start < 0 || t.start_to_close < 0 || t.heartbeat < 0)
    return ActivityTimeoutProblem::kNegative;
  // Temporal's normalisation: one of start-to-close / schedule-to-close is
  // required; each bounds the other; everything is clamped to the run timeout.
  if (t.schedule_to_close <= 0 && t.start_to_close <= 0) return ActivityTimeoutProblem::kNoCloseTimeout;
  if (run_timeout_ms > 0 && (t.schedule_to_close <= 0 || t.schedule_to_close > run_timeout_ms))
    t.schedule_to_close = run_timeout_ms;
  if (t.schedule_to_close > 0) {
    if (t.schedule_to_start <= 0 || t.schedule_to_start > t.schedule_to_close) t.schedule_to_start = t.schedule_to_close;
    if (t.start_to_close <= 0 || t.start_to_close > t.schedule_to_close)
      t.start_to_close = t.start_to_close <= 0 ? t.schedule_to_close : std::min(t.start_to_close, t.schedule_to_close);
  }
  if (t.heartbeat > t.start_to_close && t.start_to_close > 0) t.heartbeat = t.start_to_close;
  return ActivityTimeoutProblem::kNone;
}

void ArmActivityScheduleTimers(MutableState& ms, records::ActivityInfo& info) {
  auto arm = [&](int64_t timeout_ms, enums::TimeoutType type, int64_t from) {
    if (timeout_ms <= 0) return;
    records::TimerTask t;
    t.set_kind(records::TimerTask::ACTIVITY_TIMEOUT);
    t.set_event_id(info.scheduled_event_id());
    t.set_attempt(info.attempt());
    t.set_timeout_type(type);
    t.set_fire_time_nanos(from + timeout_ms * 1'000'000);
    info.add_timer_row_ids(ms.AddTimer(std::move(t)));
  };
  // Schedule-to-close spans all attempts; it is armed once, with attempt 0.
  if (info.attempt() == 1) {
    records::TimerTask t;
    int64_t s2c = Ms(info.schedule_to_close_timeout());
    if (s2c > 0) {
      t.set_kind(records::TimerTask::ACTIVITY_TIMEOUT);
      t.set_event_id(info.scheduled_event_id());
      t.set_attempt(0);
      t.set_timeout_type(enums::TIMEOUT_TYPE_SCHEDULE_TO_CLOSE);
      t.set_fire_time_nanos(info.scheduled_time_nanos() + s2c * 1'000'000);
      info.add_timer_row_ids(ms.AddTimer(std::move(t)));
    }
  }
  // A task nobody picks up times out as SCHEDULE_TO_START, which the timer
  // handler prefers when both are due (as Temporal orders timers due at the
  // same time). When the first attempt's schedule-to-start would fire exactly
  // with schedule-to-close, that one row already reports it: one timer row
  // fewer per activity in the common case of a lone schedule-to-close.
  int64_t s2s = Ms(info.schedule_to_start_timeout());
  bool same_as_close = info.attempt() == 1 && s2s == Ms(info.schedule_to_close_timeout()) &&
                       info.scheduled_time_nanos() == ms.now();
  if (!same_as_close) arm(s2s, enums::TIMEOUT_TYPE_SCHEDULE_TO_START, ms.now());
}

void EnqueueActivityTask(MutableState& ms, records::ActivityInfo& info) {
  records::QueueTask task;
  task.set_kind(records::QueueTask::ACTIVITY);
  task.set_namespace_id(ms.s().namespace_id());
  task.set_task_queue(info.task_queue());
  task.set_workflow_id(ms.s().workflow_id());
  task.set_run_id(ms.s().run_id());
  task.set_scheduled_event_id(info.scheduled_event_id());
  task.set_attempt(info.attempt());
  info.set_task_id(ms.AddQueueTask(std::move(task)));
}

void ResendHeldActivities(MutableState& ms) {
  for (auto& [id, a] : *ms.s().mutable_activities())
    if (!a.started() && a.task_id() == 0 && a.next_attempt_time_nanos() == 0 && !a.paused()) EnqueueActivityTask(ms, a);
}

void ArmActivityRetry(MutableState& ms, records::ActivityInfo& info, int64_t fire_nanos) {
  info.set_next_attempt_time_nanos(fire_nanos);
  records::TimerTask t;
  t.set_kind(records::TimerTask::ACTIVITY_RETRY);
  t.set_event_id(info.scheduled_event_id());
  t.set_attempt(info.attempt());
  t.set_fire_time_nanos(fire_nanos);
  info.add_timer_row_ids(ms.AddTimer(std::move(t)));
}

int64_t WriteActivityStarted(MutableState& ms, const records::ActivityInfo& info) {
  auto& e = ms.AddOrBufferEvent(enums::EVENT_TYPE_ACTIVITY_TASK_STARTED);
  // Written when the attempt closes, dated when it started (as Temporal dates it).
  if (info.started_time_nanos()) *e.mutable_event_time() = NanosToTimestamp(info.started_time_nanos());
  auto* a = e.mutable_activity_task_started_event_attributes();
  a->set_scheduled_event_id(info.scheduled_event_id());
  a->set_identity(info.started_identity());
  a->set_request_id(info.request_id());
  a->set_attempt(info.attempt());
  if (info.has_last_failure()) *a->mutable_last_failure() = info.last_failure();
  return e.event_id();
}

void DropActivityTimers(MutableState& ms, const records::ActivityInfo& info) {
  for (int64_t row : info.timer_row_ids()) ms.DeleteTimer(row);
}

std::optional<CommandError> ApplyCommands(MutableState& ms,
                                          const temporal::api::workflowservice::v1::RespondWorkflowTaskCompletedRequest& req,
                                          const ProtocolMessageFn& protocol_message) {
  bool closed = false;
  for (const auto& c : req.commands()) {
    if (closed)
      return Fail(enums::WORKFLOW_TASK_FAILED_CAUSE_UNHANDLED_COMMAND,
                  "A command follows the command that closed the workflow.");
    std::optional<CommandError> err;
    size_t events_before = ms.new_events().size();
    switch (c.command_type()) {
      case enums::COMMAND_TYPE_SCHEDULE_ACTIVITY_TASK:
        err = ScheduleActivity(ms, c.schedule_activity_task_command_attributes());
        break;
      case enums::COMMAND_TYPE_REQUEST_CANCEL_ACTIVITY_TASK:
        err = RequestCancelActivity(ms, c.request_cancel_activity_task_command_attributes());
        break;
      case enums::COMMAND_TYPE_START_TIMER:
        err = StartTimer(ms, c.start_timer_command_attributes());
        break;
      case enums::COMMAND_TYPE_CANCEL_TIMER:
        err = CancelTimer(ms, c.cancel_timer_command_attributes(), req.identity());
        break;
      case enums::COMMAND_TYPE_RECORD_MARKER: {
        const auto& a = c.record_marker_command_attributes();
        if (a.marker_name().empty())
          return Fail(enums::WORKFLOW_TASK_FAILED_CAUSE_BAD_RECORD_MARKER_ATTRIBUTES, "MarkerName is not set on command.");
        auto& e = ms.AddEvent(enums::EVENT_TYPE_MARKER_RECORDED);
        auto* ev = e.mutable_marker_recorded_event_attributes();
        ev->set_marker_name(a.marker_name());
        *ev->mutable_details() = a.details();
        *ev->mutable_header() = a.header();
        if (a.has_failure()) *ev->mutable_failure() = a.failure();
        ev->set_workflow_task_completed_event_id(ms.completed_event_id());
        break;
      }
      case enums::COMMAND_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES: {
        const auto& a = c.upsert_workflow_search_attributes_command_attributes();
        if (auto why = ms.SearchAttributeError(ms.s().namespace_id(), ms.s().namespace_name(), a.search_attributes());
            !why.empty())
          return Fail(enums::WORKFLOW_TASK_FAILED_CAUSE_BAD_SEARCH_ATTRIBUTES, why);
        // The run's attributes as the upsert leaves them must fit Temporal's
        // size limits; over them the run is terminated, as on Temporal.
        auto merged = SearchAttributesOf(ms.s());
        MergeUpserted(merged.mutable_indexed_fields(), a.search_attributes().indexed_fields());
        if (ms.env().search_attribute_size_error) {
          if (auto why = ms.env().search_attribute_size_error(merged); !why.empty())
            return CommandError{enums::WORKFLOW_TASK_FAILED_CAUSE_BAD_SEARCH_ATTRIBUTES, why, /*terminate=*/true};
        }
        auto& e = ms.AddEvent(enums::EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES);
        auto* ev = e.mutable_upsert_workflow_search_attributes_event_attributes();
        *ev->mutable_search_attributes() = a.search_attributes();
        ev->set_workflow_task_completed_event_id(ms.completed_event_id());
        SetSearchAttributes(&ms.s(), merged);
        for (const auto& [name, value] : a.search_attributes().indexed_fields()) ms.mark_search_attribute_changed(name);
        break;
      }
      case enums::COMMAND_TYPE_MODIFY_WORKFLOW_PROPERTIES: {
        const auto& a = c.modify_workflow_properties_command_attributes();
        auto& e = ms.AddEvent(enums::EVENT_TYPE_WORKFLOW_PROPERTIES_MODIFIED);
        auto* ev = e.mutable_workflow_properties_modified_event_attributes();
        *ev->mutable_upserted_memo() = a.upserted_memo();
        ev->set_workflow_task_completed_event_id(ms.completed_event_id());
        auto& fields = *ms.s().mutable_memo()->mutable_fields();
        for (const auto& [k, v] : a.upserted_memo().fields()) {
          if (v.data().empty() || v.data() == "null") fields.erase(k); else fields[k] = v;
        }
        ms.mark_visibility_changed();
        break;
      }
      case enums::COMMAND_TYPE_COMPLETE_WORKFLOW_EXECUTION:
        CompleteWorkflow(ms, c.complete_workflow_execution_command_attributes().result());
        closed = true;
        break;
      case enums::COMMAND_TYPE_FAIL_WORKFLOW_EXECUTION:
        FailWorkflow(ms, c.fail_workflow_execution_command_attributes().failure());
        closed = true;
        break;
      case enums::COMMAND_TYPE_CANCEL_WORKFLOW_EXECUTION:
        CancelWorkflow(ms, c.cancel_workflow_execution_command_attributes().details());
        closed = true;
        break;
      case enums::COMMAND_TYPE_CONTINUE_AS_NEW_WORKFLOW_EXECUTION: {
        const auto& a = c.continue_as_new_workflow_execution_command_attributes();
        if (a.workflow_type().name().empty() && ms.s().start().workflow_type().name().empty())
          return Fail(enums::WORKFLOW_TASK_FAILED_CAUSE_BAD_CONTINUE_AS_NEW_ATTRIBUTES, "WorkflowType is not set on command.");
        if (auto why = ms.SearchAttributeError(ms.s().namespace_id(), ms.s().namespace_name(), a.search_attributes());
            !why.empty()) {
          // Named with the type and task queue the new run would have (the
          // queue in protobuf text form, as Temporal prints it).
          const auto& type = a.workflow_type().name().empty() ? ms.s().start().workflow_type().name()
                                                              : a.workflow_type().name();
          const auto& queue = a.task_queue().name().empty() ? ms.s().start().task_queue().name() : a.task_queue().name();
          return Fail(enums::WORKFLOW_TASK_FAILED_CAUSE_BAD_SEARCH_ATTRIBUTES,
                      "invalid SearchAttributes on ContinueAsNewWorkflowExecutionCommand: " + why + ". WorkflowType=" +
                          type + " TaskQueue=name:\"" + queue + "\" kind:TASK_QUEUE_KIND_NORMAL");
        }
        ContinueAsNew(ms, a);
        closed = true;
        break;
      }
      case enums::COMMAND_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION:
        err = SignalExternal(ms, c.signal_external_workflow_execution_command_attributes());
        break;
      case enums::COMMAND_TYPE_REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION:
        err = CancelExternal(ms, c.request_cancel_external_workflow_execution_command_attributes());
        break;
      case enums::COMMAND_TYPE_START_CHILD_WORKFLOW_EXECUTION:
        err = StartChildWorkflow(ms, c.start_child_workflow_execution_command_attributes());
        break;
      case enums::COMMAND_TYPE_SCHEDULE_NEXUS_OPERATION:
        err = ScheduleNexusOperation(ms, c.schedule_nexus_operation_command_attributes());
        break;
      case enums::COMMAND_TYPE_REQUEST_CANCEL_NEXUS_OPERATION:
        err = RequestCancelNexusOperation(ms, c.request_cancel_nexus_operation_command_attributes());
        break;
      case enums::COMMAND_TYPE_PROTOCOL_MESSAGE:
        // Messages are applied by the engine in command order.
        if (protocol_message) {
          err = protocol_message(c.protocol_message_command_attributes().message_id());
          break;
        }
        return Fail(enums::WORKFLOW_TASK_FAILED_CAUSE_BAD_UPDATE_WORKFLOW_EXECUTION_MESSAGE,
                    "Protocol messages are not expected here.");
      default:
        return Fail(enums::WORKFLOW_TASK_FAILED_CAUSE_UNHANDLED_COMMAND,
                    "Command " + enums::CommandType_Name(c.command_type()) + " is not supported by Kairos yet.");
    }
    if (err) return err;
    // The summary and details a command carries go on the event it wrote.
    if (c.has_user_metadata() && ms.new_events().size() > events_before)
      *ms.new_event(events_before).mutable_user_metadata() = c.user_metadata();
  }
  return std::nullopt;
}

}  // namespace kairos::history
