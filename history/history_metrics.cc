#include "history_metrics.h"

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
  timer_lag_ = r->AddHistogram("kairos_timer_lag", "How late durable timers fire (fire time to handling), in seconds",
                               {}, metrics::LatencyBuckets())
                   ->Get({});
}

void HistoryMetrics::OnClosed(const records::ExecutionState& s) {
  if (success_ == nullptr) return;
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
