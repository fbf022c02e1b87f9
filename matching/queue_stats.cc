#include "kairos/matching/queue_stats.h"

#include <algorithm>
#include <cmath>

#include "kairos/time_util.h"

namespace kairos::matching {

void FillTaskQueueStats(const QueueStats& q, temporal::api::taskqueue::v1::TaskQueueStats* out) {
  out->set_approximate_backlog_count(q.backlog_count);
  int64_t age = q.oldest_task_created_nanos ? std::max<int64_t>(0, NowNanos() - q.oldest_task_created_nanos) : 0;
  out->mutable_approximate_backlog_age()->set_seconds(age / 1'000'000'000);
  out->mutable_approximate_backlog_age()->set_nanos(static_cast<int32_t>(age % 1'000'000'000));
  out->set_tasks_add_rate(static_cast<float>(q.add_rate));
  out->set_tasks_dispatch_rate(static_cast<float>(q.dispatch_rate));
}

QueueStats MergeStats(QueueStats into, const QueueStats& from) {
  into.backlog_count += from.backlog_count;
  if (from.oldest_task_created_nanos != 0 &&
      (into.oldest_task_created_nanos == 0 || from.oldest_task_created_nanos < into.oldest_task_created_nanos))
    into.oldest_task_created_nanos = from.oldest_task_created_nanos;
  into.add_rate += from.add_rate;
  into.dispatch_rate += from.dispatch_rate;
  return into;
}

std::pair<QueueStats, QueueStats> SplitByRamp(const QueueStats& q, double percentage) {
  QueueStats rest, ramp;
  auto total = static_cast<double>(q.backlog_count);
  ramp.backlog_count = static_cast<int64_t>(std::ceil(total * percentage / 100.0));
  rest.backlog_count = static_cast<int64_t>(std::ceil(total * (100.0 - percentage) / 100.0));
  ramp.add_rate = q.add_rate * percentage / 100.0;
  ramp.dispatch_rate = q.dispatch_rate * percentage / 100.0;
  rest.add_rate = q.add_rate - ramp.add_rate;
  rest.dispatch_rate = q.dispatch_rate - ramp.dispatch_rate;
  if (rest.backlog_count > 0) rest.oldest_task_created_nanos = q.oldest_task_created_nanos;
  if (ramp.backlog_count > 0) ramp.oldest_task_created_nanos = q.oldest_task_created_nanos;
  return {rest, ramp};
}

}  // namespace kairos::matching
