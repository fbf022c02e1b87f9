// Tests of the hashed timer wheel (time driven by the test) and of the
// TimerService thread that runs it against the wall clock.
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <future>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <vector>

#include <catch2/catch.hpp>

#include "kairos/history/timer_service.h"
#include "kairos/history/timer_wheel.h"
#include "kairos/time_util.h"

using kairos::history::TimerService;
using kairos::history::TimerWheel;
using Ids = std::vector<int64_t>;

TEST_CASE("TimerWheel: fires at its time, not before, earliest first", "[timer_wheel]") {
  TimerWheel w(0, 1, 16);
  w.Add(1, 10);
  w.Add(2, 5);
  w.Add(3, 7);
  CHECK(w.size() == 3);
  CHECK(w.Advance(4).empty());
  CHECK(w.Advance(5) == Ids{2});
  CHECK(w.Advance(6).empty());
  CHECK(w.Advance(9) == Ids{3});
  CHECK(w.size() == 1);
  CHECK(w.Advance(10) == Ids{1});
  CHECK(w.size() == 0);
  CHECK(w.Advance(100).empty());
}

TEST_CASE("TimerWheel: one Advance returns several due timers in time order", "[timer_wheel]") {
  TimerWheel w(1000, 1, 64);
  w.Add(10, 1030);
  w.Add(11, 1010);
  w.Add(12, 1020);
  w.Add(13, 1031);  // Not due yet.
  CHECK(w.Advance(1030) == Ids{11, 12, 10});
  CHECK(w.Advance(1031) == Ids{13});
}

TEST_CASE("TimerWheel: cancel", "[timer_wheel]") {
  TimerWheel w(0, 1, 16);
  w.Add(1, 5);
  w.Add(2, 6);
  CHECK(w.Cancel(1));
  CHECK_FALSE(w.Cancel(1));
  CHECK_FALSE(w.Cancel(99));
  CHECK(w.size() == 1);
  CHECK(w.Advance(10) == Ids{2});

  SECTION("a due timer can be cancelled before the Advance that would fire it") {
    w.Add(3, 3);  // Already past.
    CHECK(w.Cancel(3));
    CHECK(w.Advance(11).empty());
  }
  SECTION("an overflow timer can be cancelled") {
    w.Add(4, 1000);
    CHECK(w.Cancel(4));
    CHECK(w.size() == 0);
    size_t fired = 0;
    for (int64_t t = 11; t <= 1100; t += 7) fired += w.Advance(t).size();
    CHECK(fired == 0);
    CHECK_FALSE(w.NextFireMs().has_value());
  }
}

TEST_CASE("TimerWheel: re-adding an id moves it", "[timer_wheel]") {
  TimerWheel w(0, 1, 16);
  SECTION("later") {
    w.Add(1, 5);
    w.Add(1, 12);
    CHECK(w.size() == 1);
    CHECK(w.NextFireMs() == 12);
    CHECK(w.Advance(11).empty());
    CHECK(w.Advance(12) == Ids{1});
  }
  SECTION("earlier") {
    w.Add(1, 12);
    w.Add(1, 5);
    CHECK(w.Advance(5) == Ids{1});
    CHECK(w.Advance(20).empty());
  }
  SECTION("from the overflow onto the wheel and back") {
    w.Add(1, 500);
    w.Add(1, 8);
    CHECK(w.NextFireMs() == 8);
    CHECK(w.Advance(8) == Ids{1});
    w.Add(2, 9);
    w.Add(2, 700);
    CHECK(w.NextFireMs() == 700);
    CHECK(w.Advance(699).empty());
    CHECK(w.Advance(700) == Ids{2});
    CHECK(w.Advance(1000).empty());
  }
}

TEST_CASE("TimerWheel: timers beyond one revolution fire exactly at their time", "[timer_wheel]") {
  constexpr int kSlots = 8;
  TimerWheel w(0, 1, kSlots);
  w.Add(1, 100);               // 12+ revolutions away.
  w.Add(2, kSlots);            // Exactly one revolution away.
  w.Add(3, 3 * kSlots + 3);
  CHECK(w.NextFireMs() == kSlots);
  std::map<int64_t, int64_t> fired_at;
  for (int64_t t = 1; t <= 120; ++t) {
    for (int64_t id : w.Advance(t)) {
      if (fired_at.count(id)) FAIL("timer " << id << " fired twice");
      fired_at[id] = t;
    }
  }
  CHECK(fired_at == std::map<int64_t, int64_t>{{1, 100}, {2, kSlots}, {3, 3 * kSlots + 3}});
}

TEST_CASE("TimerWheel: overflow timers with irregular steps", "[timer_wheel]") {
  TimerWheel w(0, 1, 8);
  w.Add(1, 100);
  CHECK(w.Advance(50).empty());
  CHECK(w.Advance(93).empty());
  CHECK(w.Advance(99).empty());
  CHECK(w.NextFireMs() == 100);
  CHECK(w.Advance(100) == Ids{1});

  // Stepping over a timer's slot in one move still fires it.
  w.Add(2, 130);
  w.Add(3, 135);
  CHECK(w.Advance(131) == Ids{2});
  CHECK(w.Advance(140) == Ids{3});
}

TEST_CASE("TimerWheel: a big jump in time fires everything due, once", "[timer_wheel]") {
  TimerWheel w(0, 1, 8);
  std::vector<std::pair<int64_t, int64_t>> timers = {
      {1, 3}, {2, 7}, {3, 8}, {4, 9}, {5, 15}, {6, 64}, {7, 65}, {8, 1000}, {9, 5000}, {10, 4999}};
  for (auto [id, t] : timers) w.Add(id, t);
  w.Add(20, 6000);  // Not due at the jump.
  CHECK(w.Advance(5000) == Ids{1, 2, 3, 4, 5, 6, 7, 8, 10, 9});
  CHECK(w.size() == 1);
  CHECK(w.NextFireMs() == 6000);
  CHECK(w.Advance(5999).empty());
  CHECK(w.Advance(100000) == Ids{20});
  CHECK(w.Advance(200000).empty());
}

// Regression: Add() of an id that already has an overflow entry at the same tick
// (re-arming the same timer, or Add/Cancel/Add) leaves two live entries in
// the overflow heap; a jump past that tick fires the id twice.
TEST_CASE("TimerWheel: re-adding an overflow timer at the same time fires it once", "[timer_wheel]") {
  TimerWheel w(0, 1, 8);
  SECTION("Add twice") {
    w.Add(1, 100);
    w.Add(1, 100);
  }
  SECTION("Add, Cancel, Add") {
    w.Add(1, 100);
    CHECK(w.Cancel(1));
    w.Add(1, 100);
  }
  CHECK(w.size() == 1);
  CHECK(w.Advance(1000) == Ids{1});
  CHECK(w.Advance(2000).empty());
}

TEST_CASE("TimerWheel: re-adding an overflow timer at the same time, stepping slowly", "[timer_wheel]") {
  TimerWheel w(0, 1, 8);
  w.Add(1, 100);
  w.Add(1, 100);
  Ids fired;
  for (int64_t t = 1; t <= 200; ++t)
    for (int64_t id : w.Advance(t)) fired.push_back(id);
  CHECK(fired == Ids{1});
}

TEST_CASE("TimerWheel: NextFireMs", "[timer_wheel]") {
  TimerWheel w(0, 1, 16);
  CHECK_FALSE(w.NextFireMs().has_value());
  w.Add(1, 10);
  CHECK(w.NextFireMs() == 10);
  w.Add(2, 5);
  CHECK(w.NextFireMs() == 5);
  w.Add(3, 1000);  // Overflow.
  CHECK(w.NextFireMs() == 5);
  CHECK(w.Cancel(2));
  CHECK(w.NextFireMs() == 10);
  CHECK(w.Cancel(1));
  CHECK(w.NextFireMs() == 1000);  // Only the overflow is left.
  w.Add(3, 2000);                 // Moved: the stale overflow entry must be ignored.
  CHECK(w.NextFireMs() == 2000);
  w.Add(4, 1500);
  CHECK(w.Cancel(4));
  CHECK(w.NextFireMs() == 2000);
  CHECK(w.Cancel(3));
  CHECK_FALSE(w.NextFireMs().has_value());

  // After advancing, relative to the new position.
  CHECK(w.Advance(3000).empty());
  w.Add(5, 3010);
  CHECK(w.NextFireMs() == 3010);
  CHECK(w.Advance(3010) == Ids{5});
  CHECK_FALSE(w.NextFireMs().has_value());
}

TEST_CASE("TimerWheel: a timer added in the past fires on the next Advance", "[timer_wheel]") {
  TimerWheel w(1000, 1, 16);
  w.Add(1, 400);
  w.Add(2, 1000);  // Exactly now.
  w.Add(3, 1001);
  auto next = w.NextFireMs();
  REQUIRE(next.has_value());
  CHECK(*next <= 1000);
  CHECK(w.Advance(1000) == Ids{1, 2});  // No time has passed.
  CHECK(w.Advance(1001) == Ids{3});

  w.Add(4, 0);
  CHECK(w.Advance(1001) == Ids{4});
}

// Regression: with tick_ms > 1 a timer is placed on the tick that *contains* its
// time (fire_ms / tick_ms, rounded down), so it fires up to tick_ms - 1 ms
// early, and NextFireMs reports the rounded-down time.
TEST_CASE("TimerWheel: with coarse ticks a timer never fires before its time", "[timer_wheel]") {
  TimerWheel w(0, 10, 16);
  w.Add(1, 15);
  auto next = w.NextFireMs();
  REQUIRE(next.has_value());
  CHECK(*next >= 15);
  CHECK(w.Advance(12).empty());
  CHECK(w.Advance(20) == Ids{1});
}

namespace {

// Random operations against a plain map as the model. With `reuse_ids`, ids
// are re-added while pending (moves, including to the same time).
void RandomAgainstModel(uint32_t seed, bool reuse_ids) {
  std::mt19937 rng(seed);
  const int slots = 1 + static_cast<int>(rng() % 32);
  int64_t now = static_cast<int64_t>(rng() % 1000);
  TimerWheel w(now, 1, slots);
  std::map<int64_t, int64_t> model;  // id -> fire ms.
  int64_t next_id = 1;
  for (int step = 0; step < 3000; ++step) {
    unsigned op = rng() % 10;
    if (op < 5) {
      int64_t id = reuse_ids && !model.empty() && rng() % 2 ? std::next(model.begin(), rng() % model.size())->first
                                                             : next_id++;
      int64_t when;
      switch (rng() % 4) {
        case 0: when = std::max<int64_t>(0, now - static_cast<int64_t>(rng() % 50)); break;  // Past.
        case 1: when = now + static_cast<int64_t>(rng() % slots); break;        // On the wheel.
        case 2: when = now + static_cast<int64_t>(rng() % (slots * 20)); break;  // Overflow.
        default: when = model.count(id) ? model[id] : now + 1; break;          // Same time again.
      }
      w.Add(id, when);
      model[id] = when;
    } else if (op < 6) {
      int64_t id = model.empty() || rng() % 4 == 0 ? next_id + 7 : std::next(model.begin(), rng() % model.size())->first;
      bool expected = model.erase(id) > 0;
      if (w.Cancel(id) != expected) FAIL("Cancel(" << id << ") disagrees with the model");
    } else {
      int64_t jump = rng() % 5 == 0 ? static_cast<int64_t>(rng() % (slots * 30)) : static_cast<int64_t>(rng() % 4);
      now += jump;
      const std::map<int64_t, int64_t> before = model;
      std::vector<std::pair<int64_t, int64_t>> due;  // (time, id)
      for (auto it = model.begin(); it != model.end();) {
        if (it->second <= now) {
          due.emplace_back(it->second, it->first);
          it = model.erase(it);
        } else {
          ++it;
        }
      }
      std::sort(due.begin(), due.end());
      Ids fired = w.Advance(now);
      INFO("seed " << seed << " step " << step << " now " << now << " slots " << slots);
      // Exactly the due ids, each once, earliest first (ties in any order).
      std::vector<std::pair<int64_t, int64_t>> got;
      for (int64_t id : fired) {
        auto it = before.find(id);
        got.emplace_back(it == before.end() ? -1 : it->second, id);
      }
      for (size_t i = 1; i < got.size(); ++i)
        if (got[i - 1].first > got[i].first) FAIL("fired out of time order");
      std::sort(got.begin(), got.end());
      if (got != due) FAIL("fired " << got.size() << " timers, " << due.size() << " were due");
    }
    INFO("seed " << seed << " step " << step);
    if (w.size() != model.size()) FAIL("size " << w.size() << " != model " << model.size());
    auto next = w.NextFireMs();
    if (model.empty()) {
      if (next.has_value()) FAIL("NextFireMs " << *next << " with nothing pending");
    } else {
      int64_t earliest = INT64_MAX;
      for (auto& [id, t] : model) earliest = std::min(earliest, t);
      if (!next.has_value()) FAIL("NextFireMs empty with timers pending");
      if (earliest <= now ? *next > now : *next != earliest)
        FAIL("NextFireMs " << *next << ", earliest pending " << earliest << ", now " << now);
    }
  }
}

}  // namespace

TEST_CASE("TimerWheel: random operations agree with a simple model", "[timer_wheel]") {
  for (uint32_t seed = 1; seed <= 40; ++seed) RandomAgainstModel(seed, /*reuse_ids=*/false);
  SUCCEED("40 random runs of 3000 operations");
}

// Regression: see "re-adding an overflow timer at the same time fires it once".
TEST_CASE("TimerWheel: random operations with re-added ids agree with a simple model", "[timer_wheel]") {
  for (uint32_t seed = 1; seed <= 40; ++seed) RandomAgainstModel(seed, /*reuse_ids=*/true);
}

// --- TimerService ---

namespace {

kairos::records::TimerTask TimerAt(int64_t fire_nanos, const std::string& timer_id) {
  kairos::records::TimerTask t;
  t.set_kind(kairos::records::TimerTask::USER_TIMER);
  t.set_fire_time_nanos(fire_nanos);
  t.set_timer_id(timer_id);
  return t;
}

// Collects fired timers; waiters block on a condition variable.
struct Fired {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::pair<int64_t, std::string>> fired;
  std::map<int64_t, std::chrono::steady_clock::time_point> at;

  void Record(int64_t row, const kairos::records::TimerTask& t) {
    {
      std::lock_guard lock(mu);
      fired.emplace_back(row, t.timer_id());
      at[row] = std::chrono::steady_clock::now();
    }
    cv.notify_all();
  }
  bool WaitFor(size_t n, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, timeout, [&] { return fired.size() >= n; });
  }
};

}  // namespace

TEST_CASE("TimerService: a timer fires on time", "[timer_service]") {
  Fired f;
  TimerService service([&](int64_t row, const kairos::records::TimerTask& t) { f.Record(row, t); });
  auto start = std::chrono::steady_clock::now();
  service.Arm(7, TimerAt(kairos::NowNanos() + 50'000'000, "t7"));
  REQUIRE(f.WaitFor(1, std::chrono::seconds(5)));
  auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(f.at[7] - start).count();
  CHECK(elapsed >= 50);
  CHECK(elapsed <= 80);
  CHECK(f.fired[0] == std::make_pair(int64_t{7}, std::string("t7")));
  CHECK(service.size() == 0);
}

TEST_CASE("TimerService: Disarm prevents firing", "[timer_service]") {
  Fired f;
  TimerService service([&](int64_t row, const kairos::records::TimerTask& t) { f.Record(row, t); });
  const int64_t now = kairos::NowNanos();
  service.Arm(1, TimerAt(now + 50'000'000, "disarmed"));
  service.Arm(2, TimerAt(now + 100'000'000, "sentinel"));  // Fires after the disarmed one would have.
  CHECK(service.size() == 2);
  service.Disarm(1);
  CHECK(service.size() == 1);
  REQUIRE(f.WaitFor(1, std::chrono::seconds(5)));
  std::lock_guard lock(f.mu);
  REQUIRE(f.fired.size() == 1);
  CHECK(f.fired[0].second == "sentinel");
}

TEST_CASE("TimerService: timers fire in time order; past timers fire at once", "[timer_service]") {
  Fired f;
  TimerService service([&](int64_t row, const kairos::records::TimerTask& t) { f.Record(row, t); });
  const int64_t now = kairos::NowNanos();
  service.Arm(3, TimerAt(now + 60'000'000, "c"));
  service.Arm(2, TimerAt(now + 30'000'000, "b"));
  service.Arm(1, TimerAt(now - 1'000'000'000, "a"));  // A second ago.
  REQUIRE(f.WaitFor(3, std::chrono::seconds(5)));
  std::lock_guard lock(f.mu);
  REQUIRE(f.fired.size() == 3);
  CHECK(f.fired[0].second == "a");
  CHECK(f.fired[1].second == "b");
  CHECK(f.fired[2].second == "c");
}

TEST_CASE("TimerService: re-arming a row moves it; Stop is idempotent", "[timer_service]") {
  Fired f;
  TimerService service([&](int64_t row, const kairos::records::TimerTask& t) { f.Record(row, t); });
  const int64_t now = kairos::NowNanos();
  service.Arm(1, TimerAt(now + 3'600'000'000'000, "late"));  // An hour away...
  service.Arm(1, TimerAt(now + 20'000'000, "soon"));        // ...moved to 20 ms.
  CHECK(service.size() == 1);
  REQUIRE(f.WaitFor(1, std::chrono::seconds(5)));
  {
    std::lock_guard lock(f.mu);
    CHECK(f.fired[0].second == "soon");
  }
  service.Stop();
  service.Stop();
}
