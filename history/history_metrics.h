// What history reports: workflow outcomes under Temporal's names
// (workflow_success, workflow_failed, ...; labels namespace, taskqueue,
// workflowType), history size and length at close, activity outcomes and
// latencies (activity_success, activity_task_fail, ...), task
// schedule-to-start latency, and how late timers fire.
#pragma once

#include <chrono>

#include "kairos/history/mutable_state.h"
#include "kairos/metrics/registry.h"
#include "kairos/records.pb.h"

namespace kairos::history {

class HistoryMetrics {
 public:
  explicit HistoryMetrics(metrics::Registry* registry);  // Null: reports nothing.

  // A change was committed: its close, activity outcomes and task starts.
  void OnCommitted(const MutableState& ms);
  // A timer was handed to its handler `lag` after its fire time.
  void OnTimerFired(std::chrono::nanoseconds lag) {
    if (timer_lag_ != nullptr) timer_lag_->ObserveDuration(lag);
  }

 private:
  void OnClosed(const records::ExecutionState& s);
  void OnActivityOutcome(const records::ExecutionState& s, const ActivityOutcome& o, int64_t now_nanos);
  void OnTaskStart(const records::ExecutionState& s, const TaskStart& t);

  metrics::Family<metrics::Counter>* success_ = nullptr;
  metrics::Family<metrics::Counter>* failed_ = nullptr;
  metrics::Family<metrics::Counter>* timeout_ = nullptr;
  metrics::Family<metrics::Counter>* cancel_ = nullptr;
  metrics::Family<metrics::Counter>* terminate_ = nullptr;
  metrics::Family<metrics::Counter>* continued_ = nullptr;
  metrics::Family<metrics::Histogram>* history_size_ = nullptr;
  metrics::Family<metrics::Histogram>* history_count_ = nullptr;
  metrics::Histogram* timer_lag_ = nullptr;
  metrics::Family<metrics::Counter>* activity_success_ = nullptr;
  metrics::Family<metrics::Counter>* activity_task_fail_ = nullptr;
  metrics::Family<metrics::Counter>* activity_fail_ = nullptr;
  metrics::Family<metrics::Counter>* activity_cancel_ = nullptr;
  metrics::Family<metrics::Counter>* activity_task_timeout_ = nullptr;
  metrics::Family<metrics::Counter>* activity_timeout_ = nullptr;
  metrics::Family<metrics::Histogram>* activity_start_to_close_ = nullptr;
  metrics::Family<metrics::Histogram>* activity_schedule_to_close_ = nullptr;
  metrics::Family<metrics::Histogram>* schedule_to_start_ = nullptr;
};

}  // namespace kairos::history
