// The newest history events of recently written runs, kept as the bytes the
// store wrote, so that a workflow task (which sends the events since the
// worker's last task) is answered without reading them back from SQLite.
// Events are never rewritten once committed, so a held range cannot go
// stale; a run's entry is one contiguous range ending at its newest event.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <list>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "kairos/persistence/store.h"

namespace kairos::persistence {

class RecentEvents {
 public:
  // At most `max_bytes` of event bytes in all (0: nothing is kept); the
  // runs written least recently are dropped first.
  explicit RecentEvents(size_t max_bytes);

  // Called once `batch` is committed: its events are appended to their
  // runs' ranges, and deleted runs are forgotten.
  void Remember(const WriteBatch& batch);

  // The events first_event_id <= id < next_event_id, at most max_count, in
  // order, when every one of them is held; false (out untouched) otherwise.
  bool Read(const ExecutionKey& key, int64_t first_event_id, int64_t next_event_id, int max_count,
            std::vector<std::string>* out);

  size_t bytes() const;

 private:
  struct Run {
    int64_t first_event_id = 0;  // Of events.front().
    std::deque<std::string> events;
    size_t bytes = 0;
    std::list<std::string>::iterator lru;  // Into lru_, newest written first.
  };

  static std::string KeyOf(const ExecutionKey& key);
  void Append(const std::string& key, int64_t event_id, const std::string& event);  // Caller holds mu_.
  void Forget(const std::string& key);                                               // Caller holds mu_.
  void Shrink();                                                                     // Caller holds mu_.

  const size_t max_bytes_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Run> runs_;
  std::list<std::string> lru_;
  size_t bytes_ = 0;
};

}  // namespace kairos::persistence
