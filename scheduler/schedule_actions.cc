// What a schedule does when it is due: spec times become buffered starts,
// buffered starts become workflows as the overlap policy allows, and the
// workflows it started are watched until they close.
#include <spdlog/spdlog.h>

#include <absl/time/time.h>

#include "kairos/errors.h"
#include "kairos/time_util.h"
#include "scheduler_engine.h"

namespace kairos::scheduler {
namespace {

namespace schedv1 = temporal::api::schedule::v1;

// Past this many spec times in one pass, the rest of a long outage is
// counted as missed without being enumerated one by one.
constexpr int kMaxTimesPerPass = 1000;

common::Payload SearchAttributePayload(const std::string& json, const char* type) {
  common::Payload p;
  (*p.mutable_metadata())["encoding"] = "json/plain";
  (*p.mutable_metadata())["type"] = type;
  p.set_data(json);
  return p;
}

std::string Rfc3339(int64_t nanos) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromUnixNanos(nanos), absl::UTCTimeZone());
}

// A request id that is the same every time this action is attempted.
std::string ActionRequestId(const records::ScheduleRecord& rec, int64_t nominal_nanos) {
  uint64_t h = 1469598103934665603ULL;
  for (char c : rec.namespace_id() + '\x1f' + rec.schedule_id() + '\x1f' + std::to_string(nominal_nanos)) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ULL;
  }
  return "kairos-schedule-" + std::to_string(h) + "-" + std::to_string(nominal_nanos);
}

enums::ScheduleOverlapPolicy EffectivePolicy(const records::ScheduleRecord& rec, int32_t requested) {
  auto p = static_cast<enums::ScheduleOverlapPolicy>(requested);
  if (p == enums::SCHEDULE_OVERLAP_POLICY_UNSPECIFIED) p = rec.schedule().policies().overlap_policy();
  return p == enums::SCHEDULE_OVERLAP_POLICY_UNSPECIFIED ? enums::SCHEDULE_OVERLAP_POLICY_SKIP : p;
}

bool ActionsLeft(const records::ScheduleRecord& rec) {
  const auto& state = rec.schedule().state();
  return !state.limited_actions() || state.remaining_actions() > 0;
}

}  // namespace

NamespaceRef SchedulerEngine::Namespace(const ScheduleEntry& e) const {
  return NamespaceRef{e.rec.namespace_id(), e.rec.namespace_name()};
}

void SchedulerEngine::Buffer(ScheduleEntry& e, int64_t nominal, int64_t actual, enums::ScheduleOverlapPolicy policy,
                             bool manual) {
  auto* b = e.rec.add_buffered();
  b->set_nominal_nanos(nominal);
  b->set_actual_nanos(actual);
  b->set_overlap_policy(policy);
  b->set_manual(manual);
}

void SchedulerEngine::Process(ScheduleEntry& e, int64_t now) {
  auto& rec = e.rec;
  const auto& sched = rec.schedule();
  if (sched.state().paused()) {
    // Times that pass while paused are not acted on later.
    rec.set_processed_until_nanos(now);
  } else {
    int64_t window = DurationToMs(sched.policies().catchup_window()) * 1'000'000;
    if (window <= 0) window = kDefaultCatchupWindowNanos;
    window = std::max<int64_t>(window, kMinCatchupWindowNanos);
    int64_t until = rec.processed_until_nanos();
    for (int n = 0; n < kMaxTimesPerPass; ++n) {
      auto next = e.spec.Next(until);
      if (!next || next->actual_nanos > now) break;
      until = next->nominal_nanos;
      if (now - next->actual_nanos > window) {
        rec.mutable_info()->set_missed_catchup_window(rec.info().missed_catchup_window() + 1);
        continue;
      }
      if (ActionsLeft(rec)) Buffer(e, next->nominal_nanos, next->actual_nanos, enums::SCHEDULE_OVERLAP_POLICY_UNSPECIFIED, false);
    }
    if (auto next = e.spec.Next(until); next && next->actual_nanos <= now) {
      // Still behind after a full pass: the rest is beyond the window anyway.
      rec.mutable_info()->set_missed_catchup_window(rec.info().missed_catchup_window() + 1);
      until = now;
    }
    rec.set_processed_until_nanos(until);
  }
  NoteClosedWorkflows(e);
  RunBuffered(e, now);
  ScheduleNextWake(e, now);
}

void SchedulerEngine::NoteClosedWorkflows(ScheduleEntry& e) {
  auto* info = e.rec.mutable_info();
  google::protobuf::RepeatedPtrField<common::WorkflowExecution> still;
  for (const auto& run : info->running_workflows()) {
    wsv1::DescribeWorkflowExecutionRequest req;
    req.set_namespace_(e.rec.namespace_name());
    *req.mutable_execution() = run;
    wsv1::DescribeWorkflowExecutionResponse resp;
    auto st = history_->DescribeWorkflowExecution(Namespace(e), req, &resp);
    auto status = resp.workflow_execution_info().status();
    if (st.ok() && status == enums::WORKFLOW_EXECUTION_STATUS_RUNNING) {
      *still.Add() = run;
      continue;
    }
    for (auto& a : *info->mutable_recent_actions())
      if (a.start_workflow_result().run_id() == run.run_id()) a.set_start_workflow_status(status);
    // The result (or failure) of the last run is handed to the next one.
    wsv1::GetWorkflowExecutionHistoryRequest hreq;
    hreq.set_namespace_(e.rec.namespace_name());
    *hreq.mutable_execution() = run;
    hreq.set_history_event_filter_type(enums::HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT);
    wsv1::GetWorkflowExecutionHistoryResponse hresp;
    std::promise<grpc::Status> read;
    history_->GetWorkflowExecutionHistory(Namespace(e), &hreq, &hresp, std::chrono::steady_clock::now(),
                                          [&read](grpc::Status s) { read.set_value(s); });
    if (read.get_future().get().ok() && hresp.history().events_size() > 0) {
      const auto& close = hresp.history().events(0);
      if (close.has_workflow_execution_completed_event_attributes()) {
        *e.rec.mutable_last_completion_result() = close.workflow_execution_completed_event_attributes().result();
        e.rec.clear_last_failure();
      } else if (close.has_workflow_execution_failed_event_attributes()) {
        *e.rec.mutable_last_failure() = close.workflow_execution_failed_event_attributes().failure();
      }
    }
    bool failed = status == enums::WORKFLOW_EXECUTION_STATUS_FAILED || status == enums::WORKFLOW_EXECUTION_STATUS_TIMED_OUT;
    if (failed && e.rec.schedule().policies().pause_on_failure() && !e.rec.schedule().state().paused()) {
      auto* state = e.rec.mutable_schedule()->mutable_state();
      state->set_paused(true);
      state->set_notes("paused due to workflow failure: " + run.workflow_id());
    }
    e.watched_runs.erase(run.run_id());
  }
  info->mutable_running_workflows()->Swap(&still);
}

void SchedulerEngine::RunBuffered(ScheduleEntry& e, int64_t now) {
  auto* buffered = e.rec.mutable_buffered();
  auto* info = e.rec.mutable_info();
  auto policy_at = [&](int i) { return EffectivePolicy(e.rec, buffered->Get(i).overlap_policy()); };
  while (!buffered->empty()) {
    const records::BufferedStart b = buffered->Get(0);
    // A pause stops what the spec asks for; triggers and backfills still run.
    if (e.rec.schedule().state().paused() && !b.manual()) break;
    auto policy = policy_at(0);
    // As on Temporal, only starts under a policy that cares about overlap
    // are tracked as running; ALLOW_ALL starts are not.
    if (info->running_workflows_size() > 0 && policy != enums::SCHEDULE_OVERLAP_POLICY_ALLOW_ALL) {
      if (policy == enums::SCHEDULE_OVERLAP_POLICY_SKIP) {
        info->set_overlap_skipped(info->overlap_skipped() + 1);
        buffered->DeleteSubrange(0, 1);
        continue;
      }
      if (policy == enums::SCHEDULE_OVERLAP_POLICY_BUFFER_ONE) {
        // One start waits for the running workflow; later ones are skipped.
        while (buffered->size() > 1 && policy_at(1) == enums::SCHEDULE_OVERLAP_POLICY_BUFFER_ONE) {
          buffered->DeleteSubrange(1, 1);
          info->set_overlap_skipped(info->overlap_skipped() + 1);
        }
        break;
      }
      if (policy == enums::SCHEDULE_OVERLAP_POLICY_BUFFER_ALL) break;
      // Cancel or terminate what runs, then start only the latest of the
      // starts that wanted the same.
      while (buffered->size() > 1 && policy_at(1) == policy) buffered->DeleteSubrange(0, 1);
      bool terminate = policy == enums::SCHEDULE_OVERLAP_POLICY_TERMINATE_OTHER;
      for (const auto& run : info->running_workflows()) {
        if (terminate) {
          wsv1::TerminateWorkflowExecutionRequest req;
          req.set_namespace_(e.rec.namespace_name());
          *req.mutable_workflow_execution() = run;
          req.set_reason("terminated by schedule overlap policy");
          req.set_identity("temporal-scheduler");
          history_->TerminateWorkflowExecution(Namespace(e), req);
        } else {
          wsv1::RequestCancelWorkflowExecutionRequest req;
          req.set_namespace_(e.rec.namespace_name());
          *req.mutable_workflow_execution() = run;
          req.set_reason("cancelled by schedule overlap policy");
          req.set_identity("temporal-scheduler");
          history_->RequestCancelWorkflowExecution(Namespace(e), req);
        }
      }
      NoteClosedWorkflows(e);
      // A cancelled workflow may take its time: the start waits for it.
      if (info->running_workflows_size() > 0) break;
    }
    if (!ActionsLeft(e.rec)) {
      buffered->Clear();
      break;
    }
    StartAction(e, buffered->Get(0), now, policy != enums::SCHEDULE_OVERLAP_POLICY_ALLOW_ALL);
    buffered->DeleteSubrange(0, 1);
  }
  info->set_buffer_size(buffered->size());
}

bool SchedulerEngine::StartAction(ScheduleEntry& e, const records::BufferedStart& b, int64_t now, bool track) {
  const auto& action = e.rec.schedule().action().start_workflow();
  wsv1::StartWorkflowExecutionRequest req;
  req.set_namespace_(e.rec.namespace_name());
  // Temporal always appends the nominal time (keep_original_workflow_id is
  // not honoured by its scheduler either).
  req.set_workflow_id(action.workflow_id() + "-" + Rfc3339(b.nominal_nanos()));
  *req.mutable_workflow_type() = action.workflow_type();
  *req.mutable_task_queue() = action.task_queue();
  *req.mutable_input() = action.input();
  *req.mutable_workflow_execution_timeout() = action.workflow_execution_timeout();
  *req.mutable_workflow_run_timeout() = action.workflow_run_timeout();
  *req.mutable_workflow_task_timeout() = action.workflow_task_timeout();
  req.set_identity("temporal-scheduler-" + e.rec.namespace_name() + "-" + e.rec.schedule_id());
  req.set_request_id(ActionRequestId(e.rec, b.nominal_nanos()));
  // A spec time runs once; a trigger or backfill may reuse an id.
  req.set_workflow_id_reuse_policy(b.manual() ? enums::WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE
                                              : enums::WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE);
  req.set_workflow_id_conflict_policy(enums::WORKFLOW_ID_CONFLICT_POLICY_FAIL);
  if (action.has_retry_policy()) *req.mutable_retry_policy() = action.retry_policy();
  if (action.has_memo()) *req.mutable_memo() = action.memo();
  if (action.has_header()) *req.mutable_header() = action.header();
  if (action.has_priority()) *req.mutable_priority() = action.priority();
  if (action.has_user_metadata()) *req.mutable_user_metadata() = action.user_metadata();
  *req.mutable_search_attributes() = action.search_attributes();
  auto& sa = *req.mutable_search_attributes()->mutable_indexed_fields();
  sa["TemporalScheduledById"] = SearchAttributePayload("\"" + e.rec.schedule_id() + "\"", "Keyword");
  sa["TemporalScheduledStartTime"] = SearchAttributePayload("\"" + Rfc3339(b.nominal_nanos()) + "\"", "Datetime");
  if (e.rec.has_last_completion_result()) *req.mutable_last_completion_result() = e.rec.last_completion_result();
  if (e.rec.has_last_failure()) *req.mutable_continued_failure() = e.rec.last_failure();
  wsv1::StartWorkflowExecutionResponse resp;
  auto st = history_->StartWorkflowExecution(Namespace(e), req, &resp);
  if (!st.ok()) {
    spdlog::warn("schedule {}: starting workflow {} failed: {}", e.rec.schedule_id(), req.workflow_id(), st.error_message());
    return false;
  }
  auto* info = e.rec.mutable_info();
  info->set_action_count(info->action_count() + 1);
  auto* result = info->add_recent_actions();
  *result->mutable_schedule_time() = NanosToTimestamp(b.nominal_nanos());
  *result->mutable_actual_time() = NanosToTimestamp(std::max(b.actual_nanos(), now));
  result->mutable_start_workflow_result()->set_workflow_id(req.workflow_id());
  result->mutable_start_workflow_result()->set_run_id(resp.run_id());
  result->set_start_workflow_status(enums::WORKFLOW_EXECUTION_STATUS_RUNNING);
  if (info->recent_actions_size() > kRecentActions)
    info->mutable_recent_actions()->DeleteSubrange(0, info->recent_actions_size() - kRecentActions);
  if (track) {
    auto* running = info->add_running_workflows();
    running->set_workflow_id(req.workflow_id());
    running->set_run_id(resp.run_id());
  }
  auto* state = e.rec.mutable_schedule()->mutable_state();
  if (state->limited_actions()) state->set_remaining_actions(std::max<int64_t>(0, state->remaining_actions() - 1));
  return true;
}

void SchedulerEngine::WatchRunning(const Key& key, ScheduleEntry& e) {
  for (const auto& run : e.rec.info().running_workflows()) {
    if (!e.watched_runs.insert(run.run_id()).second) continue;
    struct Watch {
      wsv1::GetWorkflowExecutionHistoryRequest req;
      wsv1::GetWorkflowExecutionHistoryResponse resp;
    };
    auto watch = std::make_shared<Watch>();
    watch->req.set_namespace_(e.rec.namespace_name());
    *watch->req.mutable_execution() = run;
    watch->req.set_wait_new_event(true);
    watch->req.set_history_event_filter_type(enums::HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT);
    std::string run_id = run.run_id();
    // The callback may run at once on this thread (which holds mu_): it only
    // hands the news to the executor.
    history_->GetWorkflowExecutionHistory(
        Namespace(e), &watch->req, &watch->resp, std::chrono::steady_clock::now() + std::chrono::seconds(60),
        [this, key, run_id, watch](grpc::Status) {
          executor_->Submit([this, key, run_id] {
            {
              std::lock_guard lock(mu_);
              auto it = entries_.find(key);
              if (it == entries_.end()) return;
              it->second.watched_runs.erase(run_id);
            }
            Wake(key);
          });
        });
  }
}

void SchedulerEngine::ScheduleNextWake(ScheduleEntry& e, int64_t now) {
  e.wake_nanos = 0;
  if (e.rec.schedule().state().paused() || !ActionsLeft(e.rec)) return;
  if (auto next = e.spec.Next(e.rec.processed_until_nanos())) e.wake_nanos = std::max(next->actual_nanos, now);
}

void SchedulerEngine::ApplyPatch(ScheduleEntry& e, const temporal::api::schedule::v1::SchedulePatch& patch, int64_t now) {
  auto* state = e.rec.mutable_schedule()->mutable_state();
  if (!patch.pause().empty()) {
    state->set_paused(true);
    state->set_notes(patch.pause());
  }
  if (!patch.unpause().empty()) {
    state->set_paused(false);
    state->set_notes(patch.unpause());
    e.rec.set_processed_until_nanos(now);
  }
  if (patch.has_trigger_immediately()) {
    int64_t at = patch.trigger_immediately().has_scheduled_time()
                     ? TimestampToNanos(patch.trigger_immediately().scheduled_time())
                     : now;
    Buffer(e, at, now, patch.trigger_immediately().overlap_policy(), true);
  }
  for (const auto& backfill : patch.backfill_request()) {
    // Spec times in [start, end], each under the backfill's overlap policy.
    int64_t from = TimestampToNanos(backfill.start_time()) - 1;
    int64_t end = TimestampToNanos(backfill.end_time());
    for (int n = 0; n < kMaxTimesPerPass; ++n) {
      auto next = e.spec.Next(from);
      if (!next || next->nominal_nanos > end) break;
      Buffer(e, next->nominal_nanos, now, backfill.overlap_policy(), true);
      from = next->nominal_nanos;
    }
  }
}

}  // namespace kairos::scheduler
