// A task queue's add/dispatch rate, as Temporal's matching measures it.
#include <catch2/catch.hpp>

#include "kairos/matching/task_rate.h"

using kairos::matching::TaskRate;

namespace {
constexpr int64_t kSecond = 1'000'000'000;
}

TEST_CASE("Task rate: counts over the time since the tracker began", "[matching]") {
  TaskRate r(0);
  CHECK(r.PerSecond(0) == 0);
  r.Add(kSecond / 2, 3);
  CHECK(r.PerSecond(2 * kSecond) == Approx(1.5));
}

TEST_CASE("Task rate: only the last 30 seconds count", "[matching]") {
  TaskRate r(0);
  r.Add(0, 60);
  CHECK(r.PerSecond(20 * kSecond) == Approx(3.0));
  // A minute on, the 60 tasks have left the window.
  r.Add(60 * kSecond, 30);
  CHECK(r.PerSecond(60 * kSecond) == Approx(1.0));
  CHECK(r.PerSecond(200 * kSecond) == 0);
}
