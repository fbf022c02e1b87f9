#include "kairos/history/timer_service.h"

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
  {
    std::lock_guard lock(mu_);
    // Round up so that a timer never fires before its time.
    wheel_.Add(row_id, (timer.fire_time_nanos() + 999'999) / 1'000'000);
    timers_[row_id] = std::move(timer);
  }
  cv_.notify_one();
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
      cv_.wait(lock);
      continue;
    }
    if (*next > now) {
      cv_.wait_for(lock, std::chrono::milliseconds(*next - now));
      continue;
    }
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
