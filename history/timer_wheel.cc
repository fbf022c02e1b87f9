#include "kairos/history/timer_wheel.h"

#include <algorithm>

namespace kairos::history {

TimerWheel::TimerWheel(int64_t now_ms, int64_t tick_ms, int slots)
    : tick_ms_(tick_ms), slots_(slots), cursor_(now_ms / tick_ms), wheel_(slots) {}

void TimerWheel::Place(int64_t id, int64_t tick, uint64_t generation) {
  if (tick <= cursor_) {
    due_.insert(id);
  } else if (tick - cursor_ < slots_) {
    wheel_[tick % slots_].insert(id);
  } else {
    overflow_.push({tick, generation, id});
  }
}

void TimerWheel::Add(int64_t id, int64_t fire_ms) {
  Cancel(id);
  int64_t tick = TickOf(fire_ms);
  uint64_t generation = next_generation_++;
  pending_[id] = {tick, generation};
  Place(id, tick, generation);
}

bool TimerWheel::Cancel(int64_t id) {
  auto it = pending_.find(id);
  if (it == pending_.end()) return false;
  int64_t tick = it->second.tick;
  pending_.erase(it);
  if (!due_.erase(id) && tick > cursor_ && tick - cursor_ < slots_) wheel_[tick % slots_].erase(id);
  // Overflow entries are dropped lazily when they surface.
  return true;
}

std::vector<int64_t> TimerWheel::Advance(int64_t now_ms) {
  std::vector<std::pair<int64_t, int64_t>> fired;  // (tick, id)
  for (int64_t id : due_) fired.emplace_back(pending_[id].tick, id);
  due_.clear();
  int64_t target = now_ms / tick_ms_;
  if (target > cursor_) {
    // Each slot is visited at most once, however far the wheel moves.
    int64_t steps = std::min(target - cursor_, slots_);
    for (int64_t i = 1; i <= steps; ++i) {
      auto& slot = wheel_[(cursor_ + i) % slots_];
      for (auto it = slot.begin(); it != slot.end();) {
        int64_t tick = pending_[*it].tick;
        if (tick <= target) {
          fired.emplace_back(tick, *it);
          it = slot.erase(it);
        } else {
          ++it;
        }
      }
    }
    cursor_ = target;
    // Bring overflow timers that are now within one revolution onto the wheel.
    while (!overflow_.empty() && overflow_.top().tick - cursor_ < slots_) {
      Entry e = overflow_.top();
      overflow_.pop();
      auto it = pending_.find(e.id);
      if (it == pending_.end() || it->second.generation != e.generation) continue;  // Cancelled or moved.
      if (e.tick <= cursor_) {
        fired.emplace_back(e.tick, e.id);
      } else {
        wheel_[e.tick % slots_].insert(e.id);
      }
    }
  }
  std::sort(fired.begin(), fired.end());
  std::vector<int64_t> ids;
  ids.reserve(fired.size());
  for (auto& [tick, id] : fired) {
    pending_.erase(id);
    ids.push_back(id);
  }
  return ids;
}

std::optional<int64_t> TimerWheel::NextFireMs() {
  if (!due_.empty()) return cursor_ * tick_ms_;
  std::optional<int64_t> best;
  for (int64_t i = 1; i < slots_ && !best; ++i) {
    for (int64_t id : wheel_[(cursor_ + i) % slots_]) {
      int64_t tick = pending_.at(id).tick;
      if (!best || tick < *best) best = tick;
    }
  }
  if (!best) {
    // Drop stale overflow entries; the first live one bounds the wait.
    while (!overflow_.empty()) {
      const Entry& e = overflow_.top();
      auto it = pending_.find(e.id);
      if (it != pending_.end() && it->second.generation == e.generation) {
        best = e.tick;
        break;
      }
      overflow_.pop();
    }
  }
  if (!best) return std::nullopt;
  return *best * tick_ms_;
}

}  // namespace kairos::history
