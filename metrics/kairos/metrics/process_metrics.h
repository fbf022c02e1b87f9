// The process's own figures (RSS, CPU time, threads, open files), read from
// /proc at each scrape under the names of Prometheus's process collector.
#pragma once

#include "kairos/metrics/registry.h"

namespace kairos::metrics {

class ProcessMetrics {
 public:
  explicit ProcessMetrics(Registry* registry);

 private:
  void Update();

  Gauge* cpu_seconds_;
  Gauge* rss_bytes_;
  Gauge* virtual_bytes_;
  Gauge* threads_;
  Gauge* open_fds_;
  Gauge* start_time_;
  Registry::HookHandle hook_;  // Last: removed before the gauges' owner could go.
};

}  // namespace kairos::metrics
