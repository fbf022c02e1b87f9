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
  std::optional<int64_t> NextFireMs() const;

  size_t size() const { return tick_of_.size(); }

 private:
  int64_t TickOf(int64_t ms) const { return ms / tick_ms_; }
  void Place(int64_t id, int64_t tick);

  const int64_t tick_ms_;
  const int64_t slots_;
  int64_t cursor_;  // Last tick processed.
  std::vector<std::unordered_set<int64_t>> wheel_;
  std::unordered_set<int64_t> due_;  // At or before the cursor.
  using Entry = std::pair<int64_t, int64_t>;  // (tick, id)
  std::priority_queue<Entry, std::vector<Entry>, std::greater<>> overflow_;
  std::unordered_map<int64_t, int64_t> tick_of_;  // Every pending id.
};

}  // namespace kairos::history
