// Tasks per second over the last 30 seconds, as Temporal's matching reports
// a queue's add and dispatch rates in DescribeTaskQueue: counts in 5-second
// buckets, divided by the time measured (since the tracker began, until a
// whole window has passed). Not thread-safe; the caller locks.
#pragma once

#include <array>
#include <cstdint>

namespace kairos::matching {

class TaskRate {
 public:
  explicit TaskRate(int64_t now_nanos) : start_(now_nanos), bucket_start_(now_nanos) {}

  void Add(int64_t now_nanos, int n = 1);
  double PerSecond(int64_t now_nanos);

 private:
  static constexpr int64_t kBucketNanos = 5'000'000'000;
  static constexpr int64_t kWindowNanos = 30'000'000'000;
  static constexpr int kBuckets = kWindowNanos / kBucketNanos + 1;

  void Advance(int64_t now_nanos);

  int64_t start_;
  int64_t bucket_start_;
  int current_ = 0;
  std::array<int64_t, kBuckets> counts_{};
};

}  // namespace kairos::matching
