// Conversions between wall-clock time and protobuf Timestamp/Duration.
#pragma once

#include <chrono>
#include <cstdint>

#include <google/protobuf/duration.pb.h>
#include <google/protobuf/timestamp.pb.h>

namespace kairos {

using Clock = std::chrono::system_clock;
using TimePoint = Clock::time_point;

int64_t NowMs();
int64_t NowNanos();
google::protobuf::Timestamp NanosToTimestamp(int64_t nanos);
int64_t TimestampToNanos(const google::protobuf::Timestamp& ts);
int64_t TimestampToMs(const google::protobuf::Timestamp& ts);
int64_t DurationToMs(const google::protobuf::Duration& d);
google::protobuf::Duration MsToDuration(int64_t ms);

}  // namespace kairos
