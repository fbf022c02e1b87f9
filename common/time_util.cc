#include "kairos/time_util.h"

namespace kairos {

int64_t NowNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}

int64_t NowMs() { return NowNanos() / 1'000'000; }

google::protobuf::Timestamp NanosToTimestamp(int64_t nanos) {
  google::protobuf::Timestamp ts;
  ts.set_seconds(nanos / 1'000'000'000);
  ts.set_nanos(static_cast<int32_t>(nanos % 1'000'000'000));
  return ts;
}

int64_t TimestampToNanos(const google::protobuf::Timestamp& ts) {
  return ts.seconds() * 1'000'000'000 + ts.nanos();
}

int64_t TimestampToMs(const google::protobuf::Timestamp& ts) { return TimestampToNanos(ts) / 1'000'000; }

int64_t DurationToMs(const google::protobuf::Duration& d) { return d.seconds() * 1000 + d.nanos() / 1'000'000; }

google::protobuf::Duration MsToDuration(int64_t ms) {
  google::protobuf::Duration d;
  d.set_seconds(ms / 1000);
  d.set_nanos(static_cast<int32_t>((ms % 1000) * 1'000'000));
  return d;
}

}  // namespace kairos
