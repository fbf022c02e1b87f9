// Tests of TimerService paging timers in from a store by due time: timers
// due across page boundaries fire once, in order, also across a restart,
// while only a window of them is in memory. A fake store stands for SQLite
// (the same query: rows after a (fire time, id) key, due before a time);
// as the engine does, the firing callback deletes the row.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

#include "kairos/history/timer_service.h"
#include "kairos/time_util.h"

using kairos::history::TimerPaging;
using kairos::history::TimerService;
using kairos::persistence::TimerPageQuery;
using kairos::persistence::TimerRow;

namespace {

class FakeTimerStore {
 public:
  kairos::records::TimerTask Insert(int64_t id, int64_t fire_nanos) {
    kairos::records::TimerTask t;
    t.set_fire_time_nanos(fire_nanos);
    std::lock_guard lock(mu_);
    rows_[{fire_nanos, id}] = t.SerializeAsString();
    return t;
  }
  void Delete(int64_t id, int64_t fire_nanos) {
    std::lock_guard lock(mu_);
    rows_.erase({fire_nanos, id});
  }
  std::vector<TimerRow> Load(const TimerPageQuery& q) {
    std::lock_guard lock(mu_);
    ++pages_;
    std::vector<TimerRow> out;
    for (auto it = rows_.upper_bound({q.after_fire_time_nanos, q.after_id});
         it != rows_.end() && it->first.first < q.before_fire_time_nanos && static_cast<int>(out.size()) < q.limit; ++it)
      out.push_back({it->first.second, it->first.first, it->second});
    return out;
  }
  size_t size() {
    std::lock_guard lock(mu_);
    return rows_.size();
  }
  int pages() {
    std::lock_guard lock(mu_);
    return pages_;
  }

 private:
  std::mutex mu_;
  std::map<std::pair<int64_t, int64_t>, std::string> rows_;  // (fire time, id) -> timer
  int pages_ = 0;
};

// Records firings (id, fire time, when) and deletes their rows.
struct Firings {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::pair<int64_t, int64_t>> fired;  // (fire time, id), in firing order
  std::vector<int64_t> early_by_nanos;
  size_t max_in_memory = 0;

  TimerService::FireFn Fn(FakeTimerStore* store, std::atomic<TimerService*>* svc) {
    return [this, store, svc](int64_t id, const kairos::records::TimerTask& t) {
      int64_t now = kairos::NowNanos();
      store->Delete(id, t.fire_time_nanos());
      size_t in_memory = (*svc).load() != nullptr ? (*svc).load()->size() : 0;
      std::lock_guard lock(mu);
      fired.emplace_back(t.fire_time_nanos(), id);
      // The wheel rounds up to whole milliseconds: never early by more.
      if (now + 1'000'000 < t.fire_time_nanos()) early_by_nanos.push_back(t.fire_time_nanos() - now);
      max_in_memory = std::max(max_in_memory, in_memory);
      cv.notify_all();
    };
  }
  bool WaitFor(size_t n, std::chrono::milliseconds timeout = std::chrono::milliseconds(10'000)) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, timeout, [&] { return fired.size() >= n; });
  }
};

constexpr int64_t kMs = 1'000'000;

}  // namespace

TEST_CASE("TimerService paging: timers across pages fire once, in order, from a small window", "[timer_paging]") {
  FakeTimerStore store;
  Firings f;
  std::atomic<TimerService*> handle{nullptr};
  int64_t base = kairos::NowNanos() + 50 * kMs;
  const int n = 60;
  // Ties on the fire time across page boundaries (3 rows a page), 15 ms apart.
  for (int i = 0; i < n; ++i) store.Insert(1000 + i, base + (i / 2) * 15 * kMs);
  TimerPaging paging{/*lookahead_ms=*/100, /*page_size=*/3, /*max_in_memory=*/1000};
  TimerService svc(f.Fn(&store, &handle), paging);
  handle = &svc;
  svc.Start([&](const TimerPageQuery& q) { return store.Load(q); });
  // Committed while running, as the engine does (row first, then Arm): one
  // inside the window, one far beyond it that a later page brings in.
  auto near = store.Insert(5000, base + 20 * kMs);
  svc.Arm(5000, near);
  auto far = store.Insert(5001, base + 400 * kMs);
  svc.Arm(5001, far);
  REQUIRE(f.WaitFor(n + 2));
  std::lock_guard lock(f.mu);
  CHECK(f.fired.size() == static_cast<size_t>(n + 2));
  CHECK(std::is_sorted(f.fired.begin(), f.fired.end()));
  std::set<std::pair<int64_t, int64_t>> unique(f.fired.begin(), f.fired.end());
  CHECK(unique.size() == f.fired.size());
  CHECK(f.early_by_nanos.empty());
  // Spread over 450 ms with a 100 ms look-ahead: never all in memory.
  CHECK(f.max_in_memory < static_cast<size_t>(n / 2));
  CHECK(store.size() == 0);
  CHECK(store.pages() > 5);
}

TEST_CASE("TimerService paging: a restart fires the rest once, in order", "[timer_paging]") {
  FakeTimerStore store;
  Firings f;
  std::atomic<TimerService*> handle{nullptr};
  int64_t base = kairos::NowNanos() + 30 * kMs;
  const int n = 40;
  for (int i = 0; i < n; ++i) store.Insert(1 + i, base + i * 10 * kMs);
  TimerPaging paging{/*lookahead_ms=*/60, /*page_size=*/4, /*max_in_memory=*/1000};
  {
    TimerService first(f.Fn(&store, &handle), paging);
    handle = &first;
    first.Start([&](const TimerPageQuery& q) { return store.Load(q); });
    REQUIRE(f.WaitFor(n / 2));
    handle = nullptr;
    first.Stop();  // As a kill: what it had paged in and not fired is only in the store.
  }
  size_t fired_before = [&] {
    std::lock_guard lock(f.mu);
    return f.fired.size();
  }();
  CHECK(store.size() == n - fired_before);
  TimerService second(f.Fn(&store, &handle), paging);
  handle = &second;
  second.Start([&](const TimerPageQuery& q) { return store.Load(q); });
  REQUIRE(f.WaitFor(n));
  std::lock_guard lock(f.mu);
  CHECK(f.fired.size() == static_cast<size_t>(n));
  CHECK(std::is_sorted(f.fired.begin(), f.fired.end()));
  CHECK(f.early_by_nanos.empty());
  CHECK(store.size() == 0);
}

TEST_CASE("TimerService paging: overdue timers beyond the memory bound are read as the wheel drains",
          "[timer_paging]") {
  FakeTimerStore store;
  Firings f;
  std::atomic<TimerService*> handle{nullptr};
  int64_t past = kairos::NowNanos() - 1'000 * kMs;
  const int n = 200;
  for (int i = 0; i < n; ++i) store.Insert(1 + i, past + i * kMs);
  TimerPaging paging{/*lookahead_ms=*/1'000, /*page_size=*/5, /*max_in_memory=*/20};
  TimerService svc(f.Fn(&store, &handle), paging);
  handle = &svc;
  svc.Start([&](const TimerPageQuery& q) { return store.Load(q); });
  REQUIRE(f.WaitFor(n));
  std::lock_guard lock(f.mu);
  CHECK(std::is_sorted(f.fired.begin(), f.fired.end()));
  CHECK(f.max_in_memory <= 20);
  CHECK(store.size() == 0);
}

TEST_CASE("TimerService paging: a timer disarmed is not brought back by a page", "[timer_paging]") {
  FakeTimerStore store;
  Firings f;
  std::atomic<TimerService*> handle{nullptr};
  int64_t base = kairos::NowNanos() + 200 * kMs;
  auto a = store.Insert(1, base);
  auto b = store.Insert(2, base + 1 * kMs);
  TimerPaging paging{/*lookahead_ms=*/1'000, /*page_size=*/1, /*max_in_memory=*/1000};
  TimerService svc(f.Fn(&store, &handle), paging);
  handle = &svc;
  // Deleted by a commit before the pages are read: the row goes, then Disarm.
  store.Delete(1, a.fire_time_nanos());
  svc.Disarm(1);
  svc.Start([&](const TimerPageQuery& q) { return store.Load(q); });
  REQUIRE(f.WaitFor(1));
  CHECK_FALSE(f.WaitFor(2, std::chrono::milliseconds(100)));
  std::lock_guard lock(f.mu);
  REQUIRE(f.fired.size() == 1);
  CHECK(f.fired[0].second == 2);
  (void)b;
}
