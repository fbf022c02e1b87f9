#include "kairos/history/timer_service.h"

#include <limits>
#include <vector>

#include "kairos/time_util.h"

namespace kairos::history {

TimerService::TimerService(FireFn fire) : fire_(std::move(fire)), wheel_(NowMs()) {
  thread_ = std::thread([this] { Loop(); });
}

TimerService::~TimerService() { Stop(); }

void TimerService::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

size_t TimerService::size() {
  std::lock_guard lock(mu_);
  return timers_.size();
}

void TimerService::Arm(int64_t row_id, records::TimerTask timer) {
  bool wake;
  {
    std::lock_guard lock(mu_);
    // Round up so that a timer never fires before its time.
    int64_t fire_ms = (timer.fire_time_nanos() + 999'999) / 1'000'000;
    wheel_.Add(row_id, fire_ms);
    timers_[row_id] = std::move(timer);
    // Most timers (timeouts) fire later than the one the loop waits for.
    wake = fire_ms < wake_at_ms_;
  }
  if (wake) cv_.notify_one();
}

void TimerService::Disarm(int64_t row_id) {
  std::lock_guard lock(mu_);
  wheel_.Cancel(row_id);
  timers_.erase(row_id);
}

void TimerService::Loop() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    auto next = wheel_.NextFireMs();
    int64_t now = NowMs();
    if (!next) {
      wake_at_ms_ = std::numeric_limits<int64_t>::max();
      cv_.wait(lock);
      continue;
    }
    if (*next > now) {
      wake_at_ms_ = *next;
      cv_.wait_for(lock, std::chrono::milliseconds(*next - now));
      continue;
    }
    wake_at_ms_ = now;
    std::vector<std::pair<int64_t, records::TimerTask>> due;
    for (int64_t id : wheel_.Advance(now)) {
      auto it = timers_.find(id);
      if (it == timers_.end()) continue;
      due.emplace_back(id, std::move(it->second));
      timers_.erase(it);
    }
    lock.unlock();
    for (auto& [id, timer] : due) fire_(id, timer);
    lock.lock();
  }
}

}  // namespace kairos::history
