// What history reports: workflow outcomes under Temporal's names
// (workflow_success, workflow_failed, ...; labels namespace, taskqueue,
// workflowType), history size and length at close, and how late timers fire.
#pragma once

#include <chrono>

#include "kairos/metrics/registry.h"
#include "kairos/records.pb.h"

namespace kairos::history {

class HistoryMetrics {
 public:
  explicit HistoryMetrics(metrics::Registry* registry);  // Null: reports nothing.

  // A run's close was committed.
  void OnClosed(const records::ExecutionState& s);
  // A timer was handed to its handler `lag` after its fire time.
  void OnTimerFired(std::chrono::nanoseconds lag) {
    if (timer_lag_ != nullptr) timer_lag_->ObserveDuration(lag);
  }

 private:
  metrics::Family<metrics::Counter>* success_ = nullptr;
  metrics::Family<metrics::Counter>* failed_ = nullptr;
  metrics::Family<metrics::Counter>* timeout_ = nullptr;
  metrics::Family<metrics::Counter>* cancel_ = nullptr;
  metrics::Family<metrics::Counter>* terminate_ = nullptr;
  metrics::Family<metrics::Counter>* continued_ = nullptr;
  metrics::Family<metrics::Histogram>* history_size_ = nullptr;
  metrics::Family<metrics::Histogram>* history_count_ = nullptr;
  metrics::Histogram* timer_lag_ = nullptr;
};

}  // namespace kairos::history
