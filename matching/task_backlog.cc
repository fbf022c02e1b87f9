#include "kairos/matching/task_backlog.h"

#include <algorithm>

namespace kairos::matching {

bool TaskBacklog::Add(QueuedTask t, bool stored) {
  if (stored) {
    if (!read_ids_.empty() && read_ids_.contains(t.id)) return false;
    if (!spilled_ && memory_.size() >= max_) {
      // Full: newer stored tasks stay in the store from here on.
      spilled_ = true;
      for (const auto& m : memory_) cursor_ = std::max(cursor_, m.id);
    }
    if (spilled_) {
      if (reading_) {
        // The read in flight may or may not see its row: decided when it ends.
        arrived_.push_back(std::move(t));
        return false;
      }
      if (t.id > cursor_) {
        ++stored_only_;
        return false;
      }
      // An older id committed late: no read will reach it again.
    }
  }
  memory_.push_back(std::move(t));
  return true;
}

void TaskBacklog::AddStored(int64_t count) {
  if (count <= 0) return;
  // Whatever is in memory already may be among the rows the pages bring.
  for (const auto& m : memory_) read_ids_.insert(m.id);
  spilled_ = true;
  stored_only_ += count;
}

std::optional<TaskBacklog::PageRequest> TaskBacklog::NextRead() {
  if (!spilled_ || reading_ || memory_.size() >= max_ / 2) return std::nullopt;
  reading_ = true;
  return PageRequest{cursor_, static_cast<int>(max_ - memory_.size())};
}

void TaskBacklog::FinishRead(const PageRequest& request, std::vector<QueuedTask> rows) {
  reading_ = false;
  bool full = static_cast<int>(rows.size()) >= request.limit;
  stored_only_ = std::max<int64_t>(0, stored_only_ - static_cast<int64_t>(rows.size()));
  for (auto& r : rows) {
    cursor_ = std::max(cursor_, r.id);
    if (!read_ids_.insert(r.id).second) continue;
    memory_.push_back(std::move(r));
  }
  if (!full) {
    // The store held nothing newer when it was read; whatever committed
    // since has arrived (or will arrive) through Add.
    spilled_ = false;
    stored_only_ = 0;
  }
  for (auto& a : arrived_) {
    if (read_ids_.contains(a.id)) continue;  // The page had it.
    if (spilled_ && a.id > cursor_) {
      ++stored_only_;  // A later page reads it.
      continue;
    }
    memory_.push_back(std::move(a));
  }
  arrived_.clear();
}

QueuedTask TaskBacklog::Take(iterator it) {
  QueuedTask t = std::move(*it);
  memory_.erase(it);
  if (!read_ids_.empty()) read_ids_.erase(t.id);
  return t;
}

int64_t TaskBacklog::OldestCreatedNanos() const {
  int64_t oldest = 0;
  auto consider = [&](const QueuedTask& t) {
    int64_t created = t.task.created_time_nanos();
    if (created > 0 && (oldest == 0 || created < oldest)) oldest = created;
  };
  for (const auto& t : memory_) consider(t);
  for (const auto& t : arrived_) consider(t);
  return oldest;
}

}  // namespace kairos::matching
