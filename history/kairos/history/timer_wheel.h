// A hashed timer wheel: O(1) insert and cancel, firing in tick order.
// Timers further out than one revolution wait in an overflow heap and move
// onto the wheel as their time approaches. Not thread-safe; the owner
// (TimerService) serializes access. Time is passed in, so tests drive it.
#pragma once

#include <cstdint>
#include <optional>
#include <queue>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace kairos::history {

class TimerWheel {
 public:
  TimerWheel(int64_t now_ms, int64_t tick_ms = 1, int slots = 4096);

  // Schedules `id` at `fire_ms`; a time already past fires on the next Advance.
  // Re-adding an id moves it.
  void Add(int64_t id, int64_t fire_ms);
  bool Cancel(int64_t id);

  // Moves the wheel to `now_ms` and returns the ids due, earliest first.
  std::vector<int64_t> Advance(int64_t now_ms);

  // When the earliest pending timer is due (nullopt: none pending).
  std::optional<int64_t> NextFireMs();

  size_t size() const { return pending_.size(); }

 private:
  // Rounded up, so that a timer never fires before its time.
  int64_t TickOf(int64_t ms) const { return (ms + tick_ms_ - 1) / tick_ms_; }
  void Place(int64_t id, int64_t tick, uint64_t generation);

  struct Pending {
    int64_t tick;
    uint64_t generation;  // Tells a re-added timer from its stale overflow entry.
  };

  const int64_t tick_ms_;
  const int64_t slots_;
  int64_t cursor_;  // Last tick processed.
  std::vector<std::unordered_set<int64_t>> wheel_;
  std::unordered_set<int64_t> due_;  // At or before the cursor.
  struct Entry {
    int64_t tick;
    uint64_t generation;
    int64_t id;
    bool operator>(const Entry& o) const { return tick > o.tick; }
  };
  std::priority_queue<Entry, std::vector<Entry>, std::greater<>> overflow_;
  std::unordered_map<int64_t, Pending> pending_;  // Every pending id.
  uint64_t next_generation_ = 0;
};

}  // namespace kairos::history
