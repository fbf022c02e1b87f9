#include "kairos/matching/task_rate.h"

#include <algorithm>

namespace kairos::matching {

void TaskRate::Advance(int64_t now_nanos) {
  int64_t passed = (now_nanos - bucket_start_) / kBucketNanos;
  if (passed <= 0) return;
  for (int64_t i = 0; i < std::min<int64_t>(passed, kBuckets); ++i) {
    current_ = (current_ + 1) % kBuckets;
    counts_[current_] = 0;
  }
  bucket_start_ += passed * kBucketNanos;
}

void TaskRate::Add(int64_t now_nanos, int n) {
  Advance(now_nanos);
  counts_[current_] += n;
}

double TaskRate::PerSecond(int64_t now_nanos) {
  Advance(now_nanos);
  int64_t total = 0;
  for (int64_t c : counts_) total += c;
  int64_t measured = std::min(now_nanos - bucket_start_ + kWindowNanos, now_nanos - start_);
  return measured <= 0 ? 0 : static_cast<double>(total) / (static_cast<double>(measured) / 1e9);
}

}  // namespace kairos::matching
