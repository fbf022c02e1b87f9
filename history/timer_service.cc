#include "kairos/history/timer_service.h"

#include <algorithm>
#include <vector>

#include <spdlog/spdlog.h>

#include "kairos/time_util.h"

namespace kairos::history {

namespace {
constexpr int64_t kMaxKey = std::numeric_limits<int64_t>::max();
}

TimerService::TimerService(FireFn fire, TimerPaging paging)
    : fire_(std::move(fire)), paging_(paging), wheel_(NowMs()) {
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

void TimerService::Start(LoadFn load) {
  {
    std::lock_guard lock(mu_);
    load_ = std::move(load);
    horizon_ = {std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::min()};
  }
  cv_.notify_one();
}

void TimerService::ArmLocked(int64_t row_id, records::TimerTask timer) {
  // Round up so that a timer never fires before its time.
  int64_t fire_ms = (timer.fire_time_nanos() + 999'999) / 1'000'000;
  wheel_.Add(row_id, fire_ms);
  timers_[row_id] = std::move(timer);
}

void TimerService::Arm(int64_t row_id, records::TimerTask timer) {
  bool wake;
  {
    std::lock_guard lock(mu_);
    Key key{timer.fire_time_nanos(), row_id};
    if (key > horizon_) {
      // The store holds it; the page that reaches its time brings it in,
      // unless that page is being read now and may have missed the row.
      if (loading_) armed_while_loading_[row_id] = std::move(timer);
      return;
    }
    int64_t fire_ms = (timer.fire_time_nanos() + 999'999) / 1'000'000;
    ArmLocked(row_id, std::move(timer));
    // Most timers (timeouts) fire later than the one the loop waits for.
    wake = fire_ms < wake_at_ms_;
  }
  if (wake) cv_.notify_one();
}

void TimerService::Rearm(int64_t row_id, records::TimerTask timer) {
  {
    std::lock_guard lock(mu_);
    ArmLocked(row_id, std::move(timer));
  }
  cv_.notify_one();
}

void TimerService::Disarm(int64_t row_id) {
  std::lock_guard lock(mu_);
  wheel_.Cancel(row_id);
  timers_.erase(row_id);
  if (loading_) {
    armed_while_loading_.erase(row_id);
    disarmed_while_loading_.insert(row_id);
  }
}

bool TimerService::RoomForPage() const {
  return load_ && timers_.size() + static_cast<size_t>(paging_.page_size) <= paging_.max_in_memory;
}

int64_t TimerService::NextPageMs() const {
  // Read ahead once half of the look-ahead is used up.
  return horizon_.fire_nanos / 1'000'000 - paging_.lookahead_ms / 2;
}

void TimerService::LoadPage(std::unique_lock<std::mutex>& lock, int64_t now_ms) {
  persistence::TimerPageQuery q;
  q.after_fire_time_nanos = horizon_.fire_nanos;
  q.after_id = horizon_.id;
  q.before_fire_time_nanos = (now_ms + paging_.lookahead_ms) * 1'000'000;
  q.limit = paging_.page_size;
  loading_ = true;
  lock.unlock();
  std::vector<persistence::TimerRow> rows = load_(q);
  lock.lock();
  loading_ = false;
  // A short page read everything due before the window's end.
  Key reached = static_cast<int>(rows.size()) < q.limit ? Key{q.before_fire_time_nanos - 1, kMaxKey}
                                                         : Key{rows.back().fire_time_nanos, rows.back().id};
  for (auto& row : rows) {
    if (disarmed_while_loading_.contains(row.id)) continue;
    records::TimerTask t;
    if (t.ParseFromString(row.timer)) {
      ArmLocked(row.id, std::move(t));
    } else {
      spdlog::error("timer row {} does not parse; left in the store", row.id);
    }
  }
  for (auto& [id, t] : armed_while_loading_)
    if (Key{t.fire_time_nanos(), id} <= reached) ArmLocked(id, std::move(t));
  armed_while_loading_.clear();
  disarmed_while_loading_.clear();
  horizon_ = std::max(horizon_, reached);
}

void TimerService::Loop() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    int64_t now = NowMs();
    // A crowded window stays within the memory bound: it is read further
    // as the wheel drains.
    bool room = RoomForPage();
    if (room && NextPageMs() <= now) {
      LoadPage(lock, now);
      continue;
    }
    auto next = wheel_.NextFireMs();
    // Wake for the next timer or for the next page, whichever comes first.
    if (!next || *next > now) {
      int64_t wake = std::min(next ? *next : kMaxKey, room ? NextPageMs() : kMaxKey);
      wake_at_ms_ = next ? *next : kMaxKey;
      if (wake == kMaxKey) {
        cv_.wait(lock);
      } else {
        cv_.wait_for(lock, std::chrono::milliseconds(wake - now));
      }
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
