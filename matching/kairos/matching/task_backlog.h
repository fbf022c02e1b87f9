// One task queue's waiting tasks: a bounded part in memory, oldest first,
// and the rest left in the store, read back a page at a time as the
// in-memory part drains (as Temporal's matching reads its task table).
//
// Every task that history hands to matching is already committed. A task
// whose row is stored under this queue's key ("stored") may stay there:
// once the in-memory part is full, newer tasks are not copied into memory
// and are only counted; the queue then "spills" and its rows after
// `cursor` are read in id order. Tasks that are not stored under the key
// (queries, Nexus requests, tasks moved off a sticky queue, rows from an
// older database) always stay in memory. Not thread-safe: the matching
// service holds its lock around every call.
#pragma once

#include <cstdint>
#include <deque>
#include <limits>
#include <optional>
#include <unordered_set>
#include <vector>

#include "kairos/records.pb.h"

namespace kairos::matching {

struct QueuedTask {
  int64_t id = 0;
  records::QueueTask task;
};

class TaskBacklog {
 public:
  // Rows after `after_id`, at most `limit`: the read the queue needs next.
  struct PageRequest {
    int64_t after_id = 0;
    int limit = 0;
  };

  // `max_in_memory` (at least 2): tasks kept in memory before newer stored
  // ones are left in the store; a page is read when fewer than half remain.
  explicit TaskBacklog(int max_in_memory) : max_(max_in_memory < 2 ? 2 : max_in_memory) {}

  // Whether a task arriving now may go straight to a waiting poller: not a
  // stored one while older stored ones wait in the store (oldest first),
  // nor one already read from the store (its commit raced the read).
  bool MaySyncMatch(int64_t id, bool stored) const {
    return !stored || (!spilled_ && (read_ids_.empty() || !read_ids_.contains(id)));
  }

  // A committed task. True when it went to memory; false when it stays
  // in the store only, or is in memory already.
  bool Add(QueuedTask t, bool stored);

  // At start-up: `count` stored rows wait under the queue's key.
  void AddStored(int64_t count);

  // The next page to read, when one is due (none is being read, rows wait
  // in the store and the in-memory part is below half); marks it in flight.
  std::optional<PageRequest> NextRead();
  // The rows the read of `request` returned, in id order. A short page
  // means the store held no more rows of the queue when it was read.
  void FinishRead(const PageRequest& request, std::vector<QueuedTask> rows);

  using iterator = std::deque<QueuedTask>::iterator;
  iterator begin() { return memory_.begin(); }
  iterator end() { return memory_.end(); }
  bool empty_in_memory() const { return memory_.empty(); }
  QueuedTask Take(iterator it);
  // A task whose dispatch failed goes back to the head of the line.
  void PutBack(QueuedTask t) { memory_.push_front(std::move(t)); }

  // Tasks waiting, in memory and in the store (DescribeTaskQueue's count).
  int64_t Count() const { return static_cast<int64_t>(memory_.size() + arrived_.size()) + stored_only_; }
  size_t InMemory() const { return memory_.size() + arrived_.size(); }
  // The creation time of the oldest task in memory (0: none); the stored
  // ones are newer.
  int64_t OldestCreatedNanos() const;
  bool spilled() const { return spilled_; }

 private:
  const size_t max_;
  std::deque<QueuedTask> memory_;
  bool spilled_ = false;   // Stored rows after cursor_ wait in the store only.
  int64_t cursor_ = std::numeric_limits<int64_t>::min();
  int64_t stored_only_ = 0;  // How many (an estimate; exact once drained).
  bool reading_ = false;
  std::vector<QueuedTask> arrived_;  // Stored tasks added while a page was read.
  // Ids in memory that came from a page: a late Add of the same task (its
  // commit raced the read) is not queued twice.
  std::unordered_set<int64_t> read_ids_;
};

}  // namespace kairos::matching
