#include "kairos/history/children.h"

#include <algorithm>

#include "kairos/cron.h"
#include "kairos/history/retry_policy.h"
#include "kairos/time_util.h"

namespace kairos::history {
namespace {

namespace common = temporal::api::common::v1;

// `control` is deprecated in the API but SDKs still correlate by it.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
template <class From, class To>
void CopyControl(const From& from, To* to) {
  to->set_control(from.control());
}
// Deprecated in the API (cross-namespace children), still honoured here.
std::string CommandNamespace(const temporal::api::command::v1::StartChildWorkflowExecutionCommandAttributes& a) {
  return a.namespace_();
}
#pragma GCC diagnostic pop

std::optional<CommandError> Bad(std::string message) {
  return CommandError{enums::WORKFLOW_TASK_FAILED_CAUSE_BAD_START_CHILD_EXECUTION_ATTRIBUTES, std::move(message)};
}

records::ChildInfo* FindChild(MutableState& ms, int64_t initiated_event_id) {
  auto& children = *ms.s().mutable_children();
  auto it = children.find(initiated_event_id);
  return it == children.end() ? nullptr : &it->second;
}

}  // namespace

std::optional<CommandError> StartChildWorkflow(MutableState& ms,
                                               temporal::api::command::v1::StartChildWorkflowExecutionCommandAttributes a) {
  const auto& s = ms.s();
  const std::string& wf = a.workflow_id();
  const std::string& type = a.workflow_type().name();
  std::string ns = CommandNamespace(a);
  std::string where = ". WorkflowId=" + wf + " WorkflowType=" + type + " Namespace=" + ns;
  if (wf.empty())
    return Bad("Required field WorkflowId is not set on StartChildWorkflowExecutionCommand. WorkflowType=" + type +
               " Namespace=" + ns);
  if (type.empty())
    return Bad("Required field WorkflowType is not set on StartChildWorkflowExecutionCommand. WorkflowId=" + wf +
               " Namespace=" + ns);
  std::string namespace_id = s.namespace_id();
  if (ns.empty() || ns == s.namespace_name()) {
    ns = s.namespace_name();
  } else {
    namespace_id = ms.env().namespace_id ? ms.env().namespace_id(ns) : "";
    if (namespace_id.empty()) return Bad("Namespace " + ns + " is not found" + where);
  }
  auto negative = [](const google::protobuf::Duration& d) { return d.seconds() < 0 || d.nanos() < 0; };
  if (negative(a.workflow_execution_timeout()))
    return Bad("Invalid WorkflowExecutionTimeout on StartChildWorkflowExecutionCommand: negative duration" + where);
  if (negative(a.workflow_run_timeout()))
    return Bad("Invalid WorkflowRunTimeout on StartChildWorkflowExecutionCommand: negative duration" + where);
  if (negative(a.workflow_task_timeout()))
    return Bad("Invalid WorkflowTaskTimeout on StartChildWorkflowExecutionCommand: negative duration" + where);
  if (auto err = cron::Validate(a.cron_schedule(), ms.now()))
    return Bad("invalid CronSchedule on StartChildWorkflowExecutionCommand: " + *err + where);
  if (auto err = ms.SearchAttributeError(namespace_id, ns, a.search_attributes()); !err.empty())
    return CommandError{enums::WORKFLOW_TASK_FAILED_CAUSE_BAD_SEARCH_ATTRIBUTES,
                        "invalid SearchAttributes on StartChildWorkflowCommand: " + err + where};
  if (a.has_retry_policy()) ApplyRetryDefaults(a.mutable_retry_policy());
  // The parent's task queue unless another is named.
  if (a.task_queue().name().empty()) *a.mutable_task_queue() = s.start().task_queue();
  a.mutable_task_queue()->set_kind(enums::TASK_QUEUE_KIND_NORMAL);
  // Temporal's normalisation: the run timeout is bounded by the execution
  // timeout, the task timeout defaults to 10 s (at most 120 s) and is
  // bounded by the run timeout.
  int64_t exec = DurationToMs(a.workflow_execution_timeout());
  int64_t run = DurationToMs(a.workflow_run_timeout());
  if (run <= 0 || (exec > 0 && run > exec)) run = exec;
  *a.mutable_workflow_run_timeout() = MsToDuration(run);
  int64_t task = DurationToMs(a.workflow_task_timeout());
  if (task <= 0) task = kDefaultWorkflowTaskTimeoutMs;
  task = std::min(task, kMaxWorkflowTaskTimeoutMs);
  if (run > 0) task = std::min(task, run);
  *a.mutable_workflow_task_timeout() = MsToDuration(task);
  if (a.parent_close_policy() == enums::PARENT_CLOSE_POLICY_UNSPECIFIED)
    a.set_parent_close_policy(enums::PARENT_CLOSE_POLICY_TERMINATE);
  if (a.workflow_id_reuse_policy() == enums::WORKFLOW_ID_REUSE_POLICY_UNSPECIFIED)
    a.set_workflow_id_reuse_policy(enums::WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE);

  auto& e = ms.AddEvent(enums::EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED);
  auto* ev = e.mutable_start_child_workflow_execution_initiated_event_attributes();
  ev->set_namespace_(ns);
  ev->set_namespace_id(namespace_id);
  ev->set_workflow_id(wf);
  *ev->mutable_workflow_type() = a.workflow_type();
  *ev->mutable_task_queue() = a.task_queue();
  if (a.has_input()) *ev->mutable_input() = a.input();
  *ev->mutable_workflow_execution_timeout() = a.workflow_execution_timeout();
  *ev->mutable_workflow_run_timeout() = a.workflow_run_timeout();
  *ev->mutable_workflow_task_timeout() = a.workflow_task_timeout();
  ev->set_parent_close_policy(a.parent_close_policy());
  CopyControl(a, ev);
  ev->set_workflow_task_completed_event_id(ms.completed_event_id());
  ev->set_workflow_id_reuse_policy(a.workflow_id_reuse_policy());
  if (a.has_retry_policy()) *ev->mutable_retry_policy() = a.retry_policy();
  ev->set_cron_schedule(a.cron_schedule());
  if (a.has_header()) *ev->mutable_header() = a.header();
  if (a.has_memo()) *ev->mutable_memo() = a.memo();
  if (a.has_search_attributes()) *ev->mutable_search_attributes() = a.search_attributes();
  if (a.has_priority()) *ev->mutable_priority() = a.priority();

  records::ChildInfo child;
  child.set_initiated_event_id(e.event_id());
  child.set_workflow_id(wf);
  child.set_namespace_(ns);
  child.set_namespace_id(namespace_id);
  *child.mutable_workflow_type() = a.workflow_type();
  child.set_parent_close_policy(a.parent_close_policy());
  // Temporal's form: the parent run and the initiated event.
  child.set_create_request_id(s.run_id() + ":" + std::to_string(e.event_id()) + ":0");
  *child.mutable_initiated() = *ev;
  records::TimerTask step;
  step.set_kind(records::TimerTask::START_CHILD);
  step.set_event_id(e.event_id());
  step.set_fire_time_nanos(ms.now());
  child.set_timer_row_id(ms.AddTimer(std::move(step)));
  (*ms.s().mutable_children())[e.event_id()] = std::move(child);
  return std::nullopt;
}

void RecordChildStarted(MutableState& ms, records::ChildInfo& child, const std::string& run_id) {
  auto& e = ms.AddOrBufferEvent(enums::EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED);
  auto* a = e.mutable_child_workflow_execution_started_event_attributes();
  a->set_namespace_(child.namespace_());
  a->set_namespace_id(child.namespace_id());
  a->set_initiated_event_id(child.initiated_event_id());
  a->mutable_workflow_execution()->set_workflow_id(child.workflow_id());
  a->mutable_workflow_execution()->set_run_id(run_id);
  *a->mutable_workflow_type() = child.workflow_type();
  if (child.initiated().has_header()) *a->mutable_header() = child.initiated().header();
  child.set_started_event_id(e.event_id());  // kBufferedEventId until flushed.
  child.set_started_run_id(run_id);
  ms.DeleteTimer(child.timer_row_id());
  child.set_timer_row_id(0);
  child.clear_initiated();
  ms.ScheduleWorkflowTask();
}

void RecordChildStartFailed(MutableState& ms, int64_t initiated_event_id, enums::StartChildWorkflowExecutionFailedCause cause) {
  records::ChildInfo* child = FindChild(ms, initiated_event_id);
  if (!child) return;
  auto& e = ms.AddOrBufferEvent(enums::EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_FAILED);
  auto* a = e.mutable_start_child_workflow_execution_failed_event_attributes();
  a->set_namespace_(child->namespace_());
  a->set_namespace_id(child->namespace_id());
  a->set_workflow_id(child->workflow_id());
  *a->mutable_workflow_type() = child->workflow_type();
  a->set_cause(cause);
  CopyControl(child->initiated(), a);
  a->set_initiated_event_id(initiated_event_id);
  a->set_workflow_task_completed_event_id(0);  // Temporal leaves it empty.
  ms.DeleteTimer(child->timer_row_id());
  ms.s().mutable_children()->erase(initiated_event_id);
  ms.ScheduleWorkflowTask();
}

bool RecordChildClosed(MutableState& ms, int64_t initiated_event_id, const common::WorkflowExecution& execution,
                       const hv1::HistoryEvent& close) {
  records::ChildInfo* child = FindChild(ms, initiated_event_id);
  if (!child) return false;
  auto fill = [&](auto* a) {
    a->set_namespace_(child->namespace_());
    a->set_namespace_id(child->namespace_id());
    *a->mutable_workflow_execution() = execution;
    *a->mutable_workflow_type() = child->workflow_type();
    a->set_initiated_event_id(initiated_event_id);
    a->set_started_event_id(child->started_event_id());
  };
  switch (close.event_type()) {
    case enums::EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED: {
      auto* a = ms.AddOrBufferEvent(enums::EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED)
                    .mutable_child_workflow_execution_completed_event_attributes();
      fill(a);
      if (close.workflow_execution_completed_event_attributes().has_result())
        *a->mutable_result() = close.workflow_execution_completed_event_attributes().result();
      break;
    }
    case enums::EVENT_TYPE_WORKFLOW_EXECUTION_FAILED: {
      auto* a = ms.AddOrBufferEvent(enums::EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_FAILED)
                    .mutable_child_workflow_execution_failed_event_attributes();
      fill(a);
      *a->mutable_failure() = close.workflow_execution_failed_event_attributes().failure();
      a->set_retry_state(close.workflow_execution_failed_event_attributes().retry_state());
      break;
    }
    case enums::EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED: {
      auto* a = ms.AddOrBufferEvent(enums::EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_CANCELED)
                    .mutable_child_workflow_execution_canceled_event_attributes();
      fill(a);
      if (close.workflow_execution_canceled_event_attributes().has_details())
        *a->mutable_details() = close.workflow_execution_canceled_event_attributes().details();
      break;
    }
    case enums::EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED:
      fill(ms.AddOrBufferEvent(enums::EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_TERMINATED)
               .mutable_child_workflow_execution_terminated_event_attributes());
      break;
    case enums::EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT: {
      auto* a = ms.AddOrBufferEvent(enums::EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_TIMED_OUT)
                    .mutable_child_workflow_execution_timed_out_event_attributes();
      fill(a);
      a->set_retry_state(close.workflow_execution_timed_out_event_attributes().retry_state());
      break;
    }
    default:
      return false;
  }
  ms.s().mutable_children()->erase(initiated_event_id);
  ms.ScheduleWorkflowTask();
  return true;
}

namespace {

// The child's own close event that a parent's ChildWorkflowExecution*
// event reports, for RecordChildClosed.
std::optional<hv1::HistoryEvent> ChildCloseEvent(const hv1::HistoryEvent& e, int64_t* initiated,
                                                 common::WorkflowExecution* execution) {
  hv1::HistoryEvent close;
  auto take = [&](const auto& a, enums::EventType type) {
    *initiated = a.initiated_event_id();
    *execution = a.workflow_execution();
    close.set_event_type(type);
  };
  switch (e.event_type()) {
    case enums::EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED: {
      const auto& a = e.child_workflow_execution_completed_event_attributes();
      take(a, enums::EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED);
      if (a.has_result()) *close.mutable_workflow_execution_completed_event_attributes()->mutable_result() = a.result();
      return close;
    }
    case enums::EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_FAILED: {
      const auto& a = e.child_workflow_execution_failed_event_attributes();
      take(a, enums::EVENT_TYPE_WORKFLOW_EXECUTION_FAILED);
      *close.mutable_workflow_execution_failed_event_attributes()->mutable_failure() = a.failure();
      close.mutable_workflow_execution_failed_event_attributes()->set_retry_state(a.retry_state());
      return close;
    }
    case enums::EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_CANCELED: {
      const auto& a = e.child_workflow_execution_canceled_event_attributes();
      take(a, enums::EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED);
      if (a.has_details()) *close.mutable_workflow_execution_canceled_event_attributes()->mutable_details() = a.details();
      return close;
    }
    case enums::EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_TERMINATED:
      take(e.child_workflow_execution_terminated_event_attributes(), enums::EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED);
      return close;
    case enums::EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_TIMED_OUT: {
      const auto& a = e.child_workflow_execution_timed_out_event_attributes();
      take(a, enums::EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT);
      close.mutable_workflow_execution_timed_out_event_attributes()->set_retry_state(a.retry_state());
      return close;
    }
    default:
      return std::nullopt;
  }
}

}  // namespace

bool ReapplyChildEvent(MutableState& ms, const hv1::HistoryEvent& e) {
  if (e.event_type() == enums::EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED) {
    const auto& a = e.child_workflow_execution_started_event_attributes();
    records::ChildInfo* child = FindChild(ms, a.initiated_event_id());
    if (!child || child->workflow_id() != a.workflow_execution().workflow_id() || child->started_event_id() != 0)
      return false;
    RecordChildStarted(ms, *child, a.workflow_execution().run_id());
    return true;
  }
  if (e.event_type() == enums::EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_FAILED) {
    const auto& a = e.start_child_workflow_execution_failed_event_attributes();
    records::ChildInfo* child = FindChild(ms, a.initiated_event_id());
    if (!child || child->workflow_id() != a.workflow_id()) return false;
    RecordChildStartFailed(ms, a.initiated_event_id(), a.cause());
    return true;
  }
  int64_t initiated = 0;
  common::WorkflowExecution execution;
  auto close = ChildCloseEvent(e, &initiated, &execution);
  if (!close) return false;
  records::ChildInfo* child = FindChild(ms, initiated);
  if (!child || child->workflow_id() != execution.workflow_id()) return false;
  // A close recorded without its start (Temporal records the start first
  // when it was missing).
  if (child->started_event_id() == 0) RecordChildStarted(ms, *child, execution.run_id());
  return RecordChildClosed(ms, initiated, execution, *close);
}

void ArmCloseSteps(MutableState& ms) {
  const auto& s = ms.s();
  auto arm = [&](records::TimerTask::Kind kind) {
    records::TimerTask t;
    t.set_kind(kind);
    t.set_event_id(s.completion_event_id());
    t.set_fire_time_nanos(ms.now());
    ms.AddTimer(std::move(t));
  };
  if (s.start().has_parent_workflow_execution() && !ms.next_run()) arm(records::TimerTask::REPORT_TO_PARENT);
  // A run started by a Nexus operation reports its outcome to the caller,
  // as on Temporal when it closes for good or hands over to a cron run (a
  // run that continues as new or is retried passes its callbacks on).
  bool cron_next = ms.next_run() && ms.next_run()->start.initiator() == enums::CONTINUE_AS_NEW_INITIATOR_CRON_SCHEDULE;
  if (s.start().completion_callbacks_size() > 0 && (!ms.next_run() || cron_next))
    arm(records::TimerTask::NEXUS_CALLBACK);
  bool policy = false;
  for (const auto& [id, child] : s.children()) policy |= child.parent_close_policy() != enums::PARENT_CLOSE_POLICY_ABANDON;
  if (policy) arm(records::TimerTask::PARENT_CLOSE_POLICY);
}

}  // namespace kairos::history
