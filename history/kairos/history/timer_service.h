// Durable timers, driven by a TimerWheel on a thread of its own. Rows are
// persisted by history in the transaction that creates them; this service
// holds in memory only those due up to a horizon a little ahead of now, and
// pages the next ones in from the store (through `load`, in due-time order)
// as time moves on, so that memory does not grow with timers due in days.
//
// A committed timer is admitted to memory when it is due before the
// horizon; otherwise only its row holds it, and the page that reaches its
// due time brings it in. Timers committed or deleted while a page is being
// read are reconciled with that page, so that each timer fires once.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <limits>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "kairos/history/timer_wheel.h"
#include "kairos/persistence/store.h"
#include "kairos/records.pb.h"

namespace kairos::history {

struct TimerPaging {
  int64_t lookahead_ms = 60'000;  // Timers due this far ahead are kept in memory...
  int page_size = 2'000;          // ...read this many rows at a time...
  size_t max_in_memory = 200'000;  // ...and no more are paged in beyond this many.
};

class TimerService {
 public:
  using FireFn = std::function<void(int64_t row_id, const records::TimerTask& timer)>;
  using LoadFn = std::function<std::vector<persistence::TimerRow>(const persistence::TimerPageQuery&)>;

  explicit TimerService(FireFn fire, TimerPaging paging = {});
  ~TimerService();
  TimerService(const TimerService&) = delete;
  TimerService& operator=(const TimerService&) = delete;

  // Starts paging in persisted timers, the overdue ones first. Until then
  // every timer armed is kept in memory.
  void Start(LoadFn load);
  // A committed timer (kept in memory only when due before the horizon).
  void Arm(int64_t row_id, records::TimerTask timer);
  // A timer that fired and must fire again later (its row is unchanged).
  void Rearm(int64_t row_id, records::TimerTask timer);
  void Disarm(int64_t row_id);
  void Stop();
  size_t size();  // Timers in memory.

 private:
  struct Key {
    int64_t fire_nanos;
    int64_t id;
    auto operator<=>(const Key&) const = default;
  };

  void Loop();
  // Caller holds mu_ for these three.
  bool RoomForPage() const;
  int64_t NextPageMs() const;  // When the next page should be read.
  void LoadPage(std::unique_lock<std::mutex>& lock, int64_t now_ms);
  void ArmLocked(int64_t row_id, records::TimerTask timer);

  FireFn fire_;
  const TimerPaging paging_;
  LoadFn load_;
  std::mutex mu_;
  std::condition_variable cv_;
  TimerWheel wheel_;
  std::unordered_map<int64_t, records::TimerTask> timers_;
  // Every timer with (fire time, id) up to here is in memory (or fired).
  // Without a store (before Start) that is every timer armed.
  Key horizon_{std::numeric_limits<int64_t>::max(), std::numeric_limits<int64_t>::max()};
  bool loading_ = false;  // A page is being read (without mu_).
  std::unordered_map<int64_t, records::TimerTask> armed_while_loading_;
  std::unordered_set<int64_t> disarmed_while_loading_;
  int64_t wake_at_ms_ = 0;  // When the loop wakes next; earlier timers wake it.
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace kairos::history
