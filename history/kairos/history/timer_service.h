// Durable timers, driven by a TimerWheel on a thread of its own. Rows are
// persisted by history in the transaction that creates them; this service
// only holds them in memory and calls `fire` when they are due.
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "kairos/history/timer_wheel.h"
#include "kairos/records.pb.h"

namespace kairos::history {

class TimerService {
 public:
  using FireFn = std::function<void(int64_t row_id, const records::TimerTask& timer)>;

  explicit TimerService(FireFn fire);
  ~TimerService();
  TimerService(const TimerService&) = delete;
  TimerService& operator=(const TimerService&) = delete;

  void Arm(int64_t row_id, records::TimerTask timer);
  void Disarm(int64_t row_id);
  void Stop();
  size_t size();

 private:
  void Loop();

  FireFn fire_;
  std::mutex mu_;
  std::condition_variable cv_;
  TimerWheel wheel_;
  std::unordered_map<int64_t, records::TimerTask> timers_;
  int64_t wake_at_ms_ = 0;  // When the loop wakes next; earlier timers wake it.
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace kairos::history
