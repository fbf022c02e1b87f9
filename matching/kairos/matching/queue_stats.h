// A queue's statistics as Temporal reports them (TaskQueueStats): filling
// the message, and the arithmetic Temporal's matching does on them when it
// attributes one queue's tasks to several versions.
#pragma once

#include <cstdint>
#include <utility>

#include "kairos/matching/matching_service.h"
#include "temporal/api/taskqueue/v1/message.pb.h"

namespace kairos::matching {

// Kairos has no task priorities: Temporal reports everything under this key.
constexpr int32_t kDefaultPriorityKey = 3;

// The backlog age is always present (zero when nothing waits), as Temporal's.
void FillTaskQueueStats(const QueueStats& q, temporal::api::taskqueue::v1::TaskQueueStats* out);

// Counts and rates add up; the backlog is as old as its oldest task.
QueueStats MergeStats(QueueStats into, const QueueStats& from);

// The (rest, ramp) shares of a ramp of `percentage`: each count rounded up
// (so that no version is told too few), rates split exactly, each share as
// old as the whole backlog unless it has none.
std::pair<QueueStats, QueueStats> SplitByRamp(const QueueStats& q, double percentage);

}  // namespace kairos::matching
