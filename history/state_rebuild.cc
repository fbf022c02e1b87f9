#include "kairos/history/state_rebuild.h"

#include "kairos/time_util.h"
#include "kairos/visibility/values.h"
#include "kairos/history/run_search_attributes.h"
#include "kairos/history/versioning.h"

#include <algorithm>

namespace kairos::history {
namespace {

namespace hv1 = temporal::api::history::v1;
namespace enums = temporal::api::enums::v1;
using google::protobuf::Map;


void ApplyStarted(const hv1::HistoryEvent& e, records::ExecutionState* s) {
  const auto& a = e.workflow_execution_started_event_attributes();
  int64_t at = TimestampToNanos(e.event_time());
  s->set_start_time_nanos(at);
  s->set_execution_time_nanos(at + DurationToMs(a.first_workflow_task_backoff()) * 1'000'000);
  KeepStartAttributes(a, s);
  ApplyStartedVersioning(s, a);
}

}  // namespace

void KeepStartAttributes(hv1::WorkflowExecutionStartedEventAttributes a, records::ExecutionState* s) {
  if (a.has_memo()) s->mutable_memo()->Swap(a.mutable_memo());
  if (a.has_search_attributes()) SetSearchAttributes(s, a.search_attributes());
  a.clear_memo();
  a.clear_search_attributes();
  *s->mutable_start() = std::move(a);
}

namespace {

void ApplyActivityScheduled(const hv1::HistoryEvent& e, records::ExecutionState* s) {
  const auto& a = e.activity_task_scheduled_event_attributes();
  records::ActivityInfo info;
  info.set_scheduled_event_id(e.event_id());
  info.set_activity_id(a.activity_id());
  *info.mutable_activity_type() = a.activity_type();
  info.set_task_queue(a.task_queue().name());
  info.set_attempt(1);
  int64_t at = TimestampToNanos(e.event_time());
  info.set_scheduled_time_nanos(at);
  info.set_attempt_scheduled_time_nanos(at);
  *info.mutable_schedule_to_start_timeout() = a.schedule_to_start_timeout();
  *info.mutable_schedule_to_close_timeout() = a.schedule_to_close_timeout();
  *info.mutable_start_to_close_timeout() = a.start_to_close_timeout();
  *info.mutable_heartbeat_timeout() = a.heartbeat_timeout();
  *info.mutable_retry_policy() = a.retry_policy();
  info.set_workflow_task_completed_event_id(a.workflow_task_completed_event_id());
  *info.mutable_input() = a.input();
  *info.mutable_header() = a.header();
  (*s->mutable_activities())[e.event_id()] = std::move(info);
}

void ApplyChildInitiated(const hv1::HistoryEvent& e, records::ExecutionState* s) {
  const auto& a = e.start_child_workflow_execution_initiated_event_attributes();
  records::ChildInfo c;
  c.set_initiated_event_id(e.event_id());
  c.set_workflow_id(a.workflow_id());
  c.set_namespace_(a.namespace_());
  c.set_namespace_id(a.namespace_id());
  *c.mutable_workflow_type() = a.workflow_type();
  c.set_parent_close_policy(a.parent_close_policy());
  // A child not started by the point is started by the rebuilt run, with
  // its own request id (Temporal gives the rebuilt child a fresh one too).
  c.set_create_request_id(s->run_id() + ":" + std::to_string(e.event_id()) + ":0");
  *c.mutable_initiated() = a;
  (*s->mutable_children())[e.event_id()] = std::move(c);
}

// A signal or cancellation request to another workflow, pending until its
// outcome event; the rebuilt run sends it again if none came by the point.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"  // `control`: deprecated, still correlated by SDKs.
void ApplyExternalInitiated(const hv1::HistoryEvent& e, records::ExternalRequest* r) {
  if (e.has_signal_external_workflow_execution_initiated_event_attributes()) {
    const auto& a = e.signal_external_workflow_execution_initiated_event_attributes();
    r->set_kind(records::ExternalRequest::SIGNAL);
    *r->mutable_execution() = a.workflow_execution();
    r->set_signal_name(a.signal_name());
    *r->mutable_input() = a.input();
    *r->mutable_header() = a.header();
    r->set_control(a.control());
    r->set_child_workflow_only(a.child_workflow_only());
  } else {
    const auto& a = e.request_cancel_external_workflow_execution_initiated_event_attributes();
    r->set_kind(records::ExternalRequest::CANCEL);
    *r->mutable_execution() = a.workflow_execution();
    r->set_reason(a.reason());
    r->set_control(a.control());
    r->set_child_workflow_only(a.child_workflow_only());
  }
}
#pragma GCC diagnostic pop

// Events of the workflow task and its results.
bool ApplyWorkflowTaskEvent(const hv1::HistoryEvent& e, records::ExecutionState* s) {
  auto* w = s->mutable_workflow_task();
  switch (e.event_type()) {
    case enums::EVENT_TYPE_WORKFLOW_TASK_SCHEDULED: {
      const auto& a = e.workflow_task_scheduled_event_attributes();
      w->Clear();
      w->set_scheduled_event_id(e.event_id());
      w->set_attempt(a.attempt() > 0 ? a.attempt() : 1);
      w->set_task_queue(a.task_queue().name());
      *w->mutable_start_to_close_timeout() = a.start_to_close_timeout();
      w->set_scheduled_time_nanos(TimestampToNanos(e.event_time()));
      return true;
    }
    case enums::EVENT_TYPE_WORKFLOW_TASK_STARTED: {
      const auto& a = e.workflow_task_started_event_attributes();
      w->set_started_event_id(e.event_id());
      w->set_started_time_nanos(TimestampToNanos(e.event_time()));
      w->set_request_id(a.request_id());
      w->set_identity(a.identity());
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
      if (a.has_worker_version()) *w->mutable_worker_version() = a.worker_version();
#pragma GCC diagnostic pop
      return true;
    }
    case enums::EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
      s->set_last_completed_wft_started_event_id(e.workflow_task_completed_event_attributes().started_event_id());
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
      RecordWorkerBuild(s, e.workflow_task_completed_event_attributes().worker_version(),
                        e.workflow_task_completed_event_attributes().versioning_behavior());
#pragma GCC diagnostic pop
      ApplyCompletedVersioning(s, e.workflow_task_completed_event_attributes());
      w->Clear();
      return true;
    case enums::EVENT_TYPE_WORKFLOW_TASK_FAILED:
    case enums::EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT:
      w->Clear();
      return true;
    default:
      return false;
  }
}

// Activities and timers.
bool ApplyActivityOrTimerEvent(const hv1::HistoryEvent& e, records::ExecutionState* s) {
  auto& acts = *s->mutable_activities();
  switch (e.event_type()) {
    case enums::EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
      ApplyActivityScheduled(e, s);
      return true;
    case enums::EVENT_TYPE_ACTIVITY_TASK_STARTED:
      // Kairos writes it only as the activity closes; the close follows.
      return true;
    case enums::EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
      acts.erase(e.activity_task_completed_event_attributes().scheduled_event_id());
      return true;
    case enums::EVENT_TYPE_ACTIVITY_TASK_FAILED:
      acts.erase(e.activity_task_failed_event_attributes().scheduled_event_id());
      return true;
    case enums::EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT:
      acts.erase(e.activity_task_timed_out_event_attributes().scheduled_event_id());
      return true;
    case enums::EVENT_TYPE_ACTIVITY_TASK_CANCELED:
      acts.erase(e.activity_task_canceled_event_attributes().scheduled_event_id());
      return true;
    case enums::EVENT_TYPE_ACTIVITY_TASK_CANCEL_REQUESTED: {
      auto it = acts.find(e.activity_task_cancel_requested_event_attributes().scheduled_event_id());
      if (it != acts.end()) {
        it->second.set_cancel_requested(true);
        it->second.set_cancel_request_event_id(e.event_id());
      }
      return true;
    }
    case enums::EVENT_TYPE_TIMER_STARTED: {
      const auto& a = e.timer_started_event_attributes();
      records::TimerInfo t;
      t.set_timer_id(a.timer_id());
      t.set_started_event_id(e.event_id());
      t.set_fire_time_nanos(TimestampToNanos(e.event_time()) + DurationToMs(a.start_to_fire_timeout()) * 1'000'000);
      (*s->mutable_timers())[a.timer_id()] = std::move(t);
      return true;
    }
    case enums::EVENT_TYPE_TIMER_FIRED:
      s->mutable_timers()->erase(e.timer_fired_event_attributes().timer_id());
      return true;
    case enums::EVENT_TYPE_TIMER_CANCELED:
      s->mutable_timers()->erase(e.timer_canceled_event_attributes().timer_id());
      return true;
    default:
      return false;
  }
}

// Children and requests to other workflows.
bool ApplyChildOrExternalEvent(const hv1::HistoryEvent& e, records::ExecutionState* s) {
  auto& children = *s->mutable_children();
  auto& external = *s->mutable_external_requests();
  switch (e.event_type()) {
    case enums::EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED:
      ApplyChildInitiated(e, s);
      return true;
    case enums::EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED: {
      const auto& a = e.child_workflow_execution_started_event_attributes();
      auto it = children.find(a.initiated_event_id());
      if (it != children.end()) {
        it->second.set_started_event_id(e.event_id());
        it->second.set_started_run_id(a.workflow_execution().run_id());
      }
      return true;
    }
    case enums::EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_FAILED:
      children.erase(e.start_child_workflow_execution_failed_event_attributes().initiated_event_id());
      return true;
    case enums::EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED:
      children.erase(e.child_workflow_execution_completed_event_attributes().initiated_event_id());
      return true;
    case enums::EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_FAILED:
      children.erase(e.child_workflow_execution_failed_event_attributes().initiated_event_id());
      return true;
    case enums::EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_CANCELED:
      children.erase(e.child_workflow_execution_canceled_event_attributes().initiated_event_id());
      return true;
    case enums::EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_TIMED_OUT:
      children.erase(e.child_workflow_execution_timed_out_event_attributes().initiated_event_id());
      return true;
    case enums::EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_TERMINATED:
      children.erase(e.child_workflow_execution_terminated_event_attributes().initiated_event_id());
      return true;
    case enums::EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED:
    case enums::EVENT_TYPE_REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED:
      ApplyExternalInitiated(e, &external[e.event_id()]);
      return true;
    case enums::EVENT_TYPE_EXTERNAL_WORKFLOW_EXECUTION_SIGNALED:
      external.erase(e.external_workflow_execution_signaled_event_attributes().initiated_event_id());
      return true;
    case enums::EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_FAILED:
      external.erase(e.signal_external_workflow_execution_failed_event_attributes().initiated_event_id());
      return true;
    case enums::EVENT_TYPE_EXTERNAL_WORKFLOW_EXECUTION_CANCEL_REQUESTED:
      external.erase(e.external_workflow_execution_cancel_requested_event_attributes().initiated_event_id());
      return true;
    case enums::EVENT_TYPE_REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_FAILED:
      external.erase(e.request_cancel_external_workflow_execution_failed_event_attributes().initiated_event_id());
      return true;
    default:
      return false;
  }
}

// Messages, properties and updates.
bool ApplyOtherEvent(const hv1::HistoryEvent& e, records::ExecutionState* s) {
  switch (e.event_type()) {
    case enums::EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED: {
      const auto& id = e.workflow_execution_signaled_event_attributes().request_id();
      if (!id.empty()) s->add_signal_request_ids(id);
      s->set_signal_count(s->signal_count() + 1);
      return true;
    }
    case enums::EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED:
      s->set_cancel_requested(true);
      return true;
    case enums::EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
      UpsertSearchAttributes(s, e.upsert_workflow_search_attributes_event_attributes().search_attributes());
      return true;
    case enums::EVENT_TYPE_WORKFLOW_PROPERTIES_MODIFIED:
      MergeUpserted(s->mutable_memo()->mutable_fields(), e.workflow_properties_modified_event_attributes().upserted_memo().fields());
      return true;
    case enums::EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED: {
      const auto& a = e.workflow_execution_update_accepted_event_attributes();
      auto& u = (*s->mutable_updates())[a.accepted_request().meta().update_id()];
      u.set_state(records::UpdateInfo::ACCEPTED);
      *u.mutable_request() = a.accepted_request();
      u.set_accepted_event_id(e.event_id());
      u.set_admitted_time_nanos(TimestampToNanos(e.event_time()));
      for (const auto& cb : a.accepted_request().completion_callbacks()) {
        *u.add_completion_callbacks() = cb;
        u.add_callback_request_ids(a.accepted_request().request_id());
      }
      return true;
    }
    case enums::EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED: {
      const auto& a = e.workflow_execution_update_completed_event_attributes();
      auto& u = (*s->mutable_updates())[a.meta().update_id()];
      u.set_state(records::UpdateInfo::COMPLETED);
      *u.mutable_outcome() = a.outcome();
      return true;
    }
    case enums::EVENT_TYPE_WORKFLOW_EXECUTION_OPTIONS_UPDATED: {
      const auto& a = e.workflow_execution_options_updated_event_attributes();
      if (a.has_versioning_override() || a.unset_versioning_override())
        SetVersioningOverride(s, a.versioning_override());
      if (a.has_priority()) *s->mutable_start()->mutable_priority() = a.priority();
      for (const auto& o : a.workflow_update_options()) {
        auto it = s->mutable_updates()->find(o.update_id());
        if (it == s->mutable_updates()->end()) continue;
        for (const auto& cb : o.attached_completion_callbacks()) {
          *it->second.add_completion_callbacks() = cb;
          it->second.add_callback_request_ids(o.attached_request_id());
        }
      }
      return true;
    }
    case enums::EVENT_TYPE_MARKER_RECORDED:
    case enums::EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ADMITTED:
      return true;
    default:
      return false;
  }
}

// Nexus operations: pending from their scheduled event until an outcome;
// the steps that drive them are armed by the caller (reset).
bool ApplyNexusEvent(const hv1::HistoryEvent& e, records::ExecutionState* s) {
  auto& ops = *s->mutable_nexus_operations();
  auto find = [&](int64_t scheduled_event_id) {
    auto it = ops.find(scheduled_event_id);
    return it == ops.end() ? nullptr : &it->second;
  };
  switch (e.event_type()) {
    case enums::EVENT_TYPE_NEXUS_OPERATION_SCHEDULED: {
      const auto& a = e.nexus_operation_scheduled_event_attributes();
      records::NexusOperationInfo op;
      op.set_scheduled_event_id(e.event_id());
      op.set_endpoint(a.endpoint());
      op.set_endpoint_id(a.endpoint_id());
      op.set_service(a.service());
      op.set_operation(a.operation());
      if (a.has_input()) *op.mutable_input() = a.input();
      *op.mutable_header() = a.nexus_header();
      op.set_request_id(a.request_id());
      op.set_schedule_to_close_ms(DurationToMs(a.schedule_to_close_timeout()));
      op.set_schedule_to_start_ms(DurationToMs(a.schedule_to_start_timeout()));
      op.set_start_to_close_ms(DurationToMs(a.start_to_close_timeout()));
      op.set_scheduled_time_nanos(TimestampToNanos(e.event_time()));
      ops[e.event_id()] = std::move(op);
      return true;
    }
    case enums::EVENT_TYPE_NEXUS_OPERATION_STARTED: {
      const auto& a = e.nexus_operation_started_event_attributes();
      if (auto* op = find(a.scheduled_event_id())) {
        op->set_operation_token(a.operation_token());
        op->set_started_event_id(e.event_id());
        op->set_last_attempt_complete_time_nanos(TimestampToNanos(e.event_time()));
        if (op->has_cancellation()) {
          op->mutable_cancellation()->set_requested_time_nanos(TimestampToNanos(e.event_time()));
          op->mutable_cancellation()->set_state(enums::NEXUS_OPERATION_CANCELLATION_STATE_SCHEDULED);
        }
      }
      return true;
    }
    case enums::EVENT_TYPE_NEXUS_OPERATION_CANCEL_REQUESTED: {
      const auto& a = e.nexus_operation_cancel_requested_event_attributes();
      if (auto* op = find(a.scheduled_event_id())) {
        op->set_cancel_requested_event_id(e.event_id());
        auto* c = op->mutable_cancellation();
        if (op->started_event_id() != 0) {
          c->set_requested_time_nanos(TimestampToNanos(e.event_time()));
          c->set_state(enums::NEXUS_OPERATION_CANCELLATION_STATE_SCHEDULED);
        }
      }
      return true;
    }
    case enums::EVENT_TYPE_NEXUS_OPERATION_CANCEL_REQUEST_COMPLETED:
    case enums::EVENT_TYPE_NEXUS_OPERATION_CANCEL_REQUEST_FAILED: {
      bool failed = e.event_type() == enums::EVENT_TYPE_NEXUS_OPERATION_CANCEL_REQUEST_FAILED;
      int64_t id = failed ? e.nexus_operation_cancel_request_failed_event_attributes().scheduled_event_id()
                          : e.nexus_operation_cancel_request_completed_event_attributes().scheduled_event_id();
      if (auto* op = find(id)) {
        auto* c = op->mutable_cancellation();
        c->set_attempt(c->attempt() + 1);
        c->set_last_attempt_complete_time_nanos(TimestampToNanos(e.event_time()));
        c->set_state(failed ? enums::NEXUS_OPERATION_CANCELLATION_STATE_FAILED
                            : enums::NEXUS_OPERATION_CANCELLATION_STATE_SUCCEEDED);
        if (failed) *c->mutable_last_attempt_failure() = e.nexus_operation_cancel_request_failed_event_attributes().failure();
      }
      return true;
    }
    case enums::EVENT_TYPE_NEXUS_OPERATION_COMPLETED:
      ops.erase(e.nexus_operation_completed_event_attributes().scheduled_event_id());
      return true;
    case enums::EVENT_TYPE_NEXUS_OPERATION_FAILED:
      ops.erase(e.nexus_operation_failed_event_attributes().scheduled_event_id());
      return true;
    case enums::EVENT_TYPE_NEXUS_OPERATION_CANCELED:
      ops.erase(e.nexus_operation_canceled_event_attributes().scheduled_event_id());
      return true;
    case enums::EVENT_TYPE_NEXUS_OPERATION_TIMED_OUT:
      ops.erase(e.nexus_operation_timed_out_event_attributes().scheduled_event_id());
      return true;
    default:
      return false;
  }
}

}  // namespace

void RecordResetPoint(records::ExecutionState* s, const std::string& binary_checksum, const std::string& build_id,
                      int64_t completed_event_id, int64_t now_nanos) {
  // Binary checksums are deprecated in the API; the Go SDK still sends them.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  constexpr int kMaxResetPoints = 20;
  auto* points = s->mutable_auto_reset_points()->mutable_points();
  for (const auto& p : *points)
    if (p.binary_checksum() == binary_checksum && p.build_id() == build_id) return;
  auto* p = points->Add();
  p->set_binary_checksum(binary_checksum);
  p->set_build_id(build_id);
  p->set_run_id(s->run_id());
  p->set_first_workflow_task_completed_id(completed_event_id);
  *p->mutable_create_time() = NanosToTimestamp(now_nanos);
  p->set_resettable(true);
  if (points->size() > kMaxResetPoints) points->DeleteSubrange(0, points->size() - kMaxResetPoints);
#pragma GCC diagnostic pop
}

bool RecordWorkerBuild(records::ExecutionState* s, const temporal::api::common::v1::WorkerVersionStamp& stamp,
                       enums::VersioningBehavior behavior) {
  if (stamp.build_id().empty()) return false;
  *s->mutable_most_recent_worker_version_stamp() = stamp;
  constexpr const char* kBuildIds = "BuildIds";
  // Most tasks come from a build the run already lists ("unversioned" and
  // "unversioned:<id>" are added together): seen in the bytes, no decoding
  // (the closing quote of the JSON string: "unversioned:<id>x" is another).
  if (!stamp.use_versioning() &&
      s->search_attributes().find("unversioned:" + stamp.build_id() + "\"") != std::string::npos)
    return false;
  auto ids = visibility::StringValues(SearchAttributesOf(*s, {kBuildIds}), kBuildIds);
  std::vector<std::string> wanted;
  if (stamp.use_versioning()) {
    wanted = {"versioned:" + stamp.build_id()};
  } else if (behavior != enums::VERSIONING_BEHAVIOR_UNSPECIFIED) {
    wanted = {"unversioned:" + stamp.build_id()};
  } else {
    wanted = {"unversioned", "unversioned:" + stamp.build_id()};
  }
  bool changed = false;
  for (auto& id : wanted) {
    if (std::find(ids.begin(), ids.end(), id) != ids.end()) continue;
    ids.push_back(std::move(id));
    changed = true;
  }
  if (changed) {
    temporal::api::common::v1::SearchAttributes upsert;
    (*upsert.mutable_indexed_fields())[kBuildIds] = visibility::KeywordListPayload(ids);
    UpsertSearchAttributes(s, upsert);
  }
  return changed;
}

std::string RebuildState(const std::vector<hv1::HistoryEvent>& events, records::ExecutionState* s) {
  for (const auto& e : events) {
    if (e.event_id() != s->next_event_id()) return "history has a gap before event " + std::to_string(e.event_id());
    if (e.event_type() == enums::EVENT_TYPE_WORKFLOW_EXECUTION_STARTED) {
      ApplyStarted(e, s);
    } else if (!ApplyWorkflowTaskEvent(e, s) && !ApplyActivityOrTimerEvent(e, s) && !ApplyChildOrExternalEvent(e, s) &&
               !ApplyNexusEvent(e, s) && !ApplyOtherEvent(e, s)) {
      return "event " + std::to_string(e.event_id()) + " (" + enums::EventType_Name(e.event_type()) +
             ") cannot precede a reset point";
    }
    s->set_next_event_id(e.event_id() + 1);
  }
  return "";
}

}  // namespace kairos::history
