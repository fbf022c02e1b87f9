#include "history_metrics.h"

#include "kairos/history/retry_policy.h"

namespace kairos::history {

namespace enums = temporal::api::enums::v1;

HistoryMetrics::HistoryMetrics(metrics::Registry* r) {
  if (r == nullptr) return;
  std::vector<std::string> labels = {"namespace", "namespace_state", "operation", "service_name", "taskqueue",
                                     "workflowType"};
  success_ = r->AddCounter("workflow_success", "Workflow runs that completed", labels);
  failed_ = r->AddCounter("workflow_failed", "Workflow runs that failed", labels);
  timeout_ = r->AddCounter("workflow_timeout", "Workflow runs that timed out", labels);
  cancel_ = r->AddCounter("workflow_cancel", "Workflow runs that were canceled", labels);
  terminate_ = r->AddCounter("workflow_terminate", "Workflow runs that were terminated", labels);
  continued_ = r->AddCounter("workflow_continued_as_new", "Workflow runs that continued as new", labels);
  std::vector<std::string> size_labels = {"namespace", "operation", "service_name"};
  history_size_ = r->AddHistogram("history_size", "Size of a run's history at its close, in bytes", size_labels,
                                  metrics::ByteBuckets());
  auto events = metrics::CountBuckets();
  for (uint64_t b = 2048; b <= 51200; b *= 2) events.bounds.push_back(b);  // Up to Temporal's event limit.
  history_count_ = r->AddHistogram("history_count", "Events in a run's history at its close", size_labels, events);
  // Labels of Temporal's per-task-queue activity metrics (versioning_behavior
  // is always "Unspecified": Kairos has no worker versioning).
  std::vector<std::string> activity_labels = {"activityType", "namespace", "operation", "service_name",
                                              "taskqueue", "versioning_behavior", "workflowType"};
  auto timeout_labels = activity_labels;
  timeout_labels.insert(timeout_labels.begin() + 5, "timeout_type");
  activity_success_ = r->AddCounter("activity_success", "Activities that succeeded", activity_labels);
  activity_task_fail_ = r->AddCounter("activity_task_fail", "Activity attempts that failed (retries included)",
                                      activity_labels);
  activity_fail_ = r->AddCounter("activity_fail", "Activities that failed and are not retried", activity_labels);
  activity_cancel_ = r->AddCounter("activity_cancel", "Activities that were canceled", activity_labels);
  activity_task_timeout_ = r->AddCounter("activity_task_timeout", "Activity attempts that timed out (retries included)",
                                         timeout_labels);
  activity_timeout_ = r->AddCounter("activity_timeout", "Activities that timed out and are not retried",
                                    timeout_labels);
  activity_start_to_close_ = r->AddHistogram("activity_start_to_close_latency",
                                             "An activity attempt's start to its close, in seconds", activity_labels,
                                             metrics::LatencyBuckets());
  activity_schedule_to_close_ = r->AddHistogram("activity_schedule_to_close_latency",
                                                "An activity's first schedule to its close (retries included), in seconds",
                                                activity_labels, metrics::LatencyBuckets());
  schedule_to_start_ = r->AddHistogram("task_schedule_to_start_latency",
                                       "A task's schedule to its start by a poller, in seconds",
                                       {"namespace", "operation", "partition", "service_name", "task_type", "taskqueue"},
                                       metrics::LatencyBuckets());
  timer_lag_ = r->AddHistogram("kairos_timer_lag", "How late durable timers fire (fire time to handling), in seconds",
                               {}, metrics::LatencyBuckets())
                   ->Get({});
}

void HistoryMetrics::OnCommitted(const MutableState& ms) {
  if (success_ == nullptr) return;
  if (ms.closed_now()) OnClosed(ms.s());
  for (const auto& o : ms.activity_outcomes()) OnActivityOutcome(ms.s(), o, ms.now());
  for (const auto& t : ms.task_starts()) OnTaskStart(ms.s(), t);
}

void HistoryMetrics::OnActivityOutcome(const records::ExecutionState& s, const ActivityOutcome& o, int64_t now) {
  const std::string& ns = s.namespace_name();
  const std::string& wf_type = s.start().workflow_type().name();
  std::vector<std::string_view> labels = {o.activity_type, ns, o.operation, "history", o.task_queue, "Unspecified",
                                          wf_type};
  auto series = [&labels](auto* family) { return family->Get(labels.data(), labels.size()); };
  if (o.kind != ActivityOutcome::kTimedOut && o.attempt_started_nanos > 0 && o.attempt_started_nanos <= now)
    series(activity_start_to_close_)->ObserveDuration(std::chrono::nanoseconds(now - o.attempt_started_nanos));
  if (o.closed && o.first_scheduled_nanos > 0)
    series(activity_schedule_to_close_)->ObserveDuration(std::chrono::nanoseconds(now - o.first_scheduled_nanos));
  switch (o.kind) {
    case ActivityOutcome::kSucceeded: series(activity_success_)->Inc(); break;
    case ActivityOutcome::kCanceled: series(activity_cancel_)->Inc(); break;
    case ActivityOutcome::kFailed:
      series(activity_task_fail_)->Inc();
      if (o.closed) series(activity_fail_)->Inc();
      break;
    case ActivityOutcome::kTimedOut: {
      labels.insert(labels.begin() + 5, TimeoutTypeName(o.timeout_type));
      series(activity_task_timeout_)->Inc();
      if (o.closed) series(activity_timeout_)->Inc();
      break;
    }
  }
}

void HistoryMetrics::OnTaskStart(const records::ExecutionState& s, const TaskStart& t) {
  schedule_to_start_
      ->Get({s.namespace_name(), t.activity ? "RecordActivityTaskStarted" : "RecordWorkflowTaskStarted",
             t.sticky ? "__sticky__" : "__normal__", "history", t.activity ? "Activity" : "Workflow",
             s.start().task_queue().name()})
      ->ObserveDuration(std::chrono::nanoseconds(std::max<int64_t>(0, t.schedule_to_start_nanos)));
}

void HistoryMetrics::OnClosed(const records::ExecutionState& s) {
  metrics::Family<metrics::Counter>* family = nullptr;
  switch (s.status()) {
    case enums::WORKFLOW_EXECUTION_STATUS_COMPLETED: family = success_; break;
    case enums::WORKFLOW_EXECUTION_STATUS_FAILED: family = failed_; break;
    case enums::WORKFLOW_EXECUTION_STATUS_TIMED_OUT: family = timeout_; break;
    case enums::WORKFLOW_EXECUTION_STATUS_CANCELED: family = cancel_; break;
    case enums::WORKFLOW_EXECUTION_STATUS_TERMINATED: family = terminate_; break;
    case enums::WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW: family = continued_; break;
    default: return;
  }
  const std::string& ns = s.namespace_name();
  family->Get({ns, "active", "CompletionStats", "history", s.start().task_queue().name(),
               s.start().workflow_type().name()})
      ->Inc();
  history_size_->Get({ns, "CompletionStats", "history"})->Observe(static_cast<uint64_t>(s.history_size_bytes()));
  history_count_->Get({ns, "CompletionStats", "history"})->Observe(static_cast<uint64_t>(s.next_event_id() - 1));
}

}  // namespace kairos::history
