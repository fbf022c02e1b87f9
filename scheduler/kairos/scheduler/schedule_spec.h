// When a schedule acts: a ScheduleSpec (calendars, cron strings, intervals,
// exclusions, start/end, jitter, time zone) compiled once into something that
// answers "the next action time after t". Calendar fields are matched against
// the local clock of the spec's IANA time zone (abseil's time-zone library,
// already linked through gRPC, reading the system's tzdata) literally, as
// Temporal does: a clock time that a DST change skips never matches, one it
// repeats matches twice.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <absl/time/civil_time.h>
#include <absl/time/time.h>

#include "temporal/api/schedule/v1/message.pb.h"

namespace kairos::scheduler {

namespace schedv1 = temporal::api::schedule::v1;

// A structured calendar with every field but the year expanded to a bit set.
struct Calendar {
  uint64_t second = 0, minute = 0, hour = 0, day_of_month = 0, month = 0, day_of_week = 0;
  std::vector<schedv1::Range> years;  // Empty: any year.

  static Calendar From(const schedv1::StructuredCalendarSpec& spec);
  bool MatchesDay(const absl::CivilDay& day) const;
  bool Matches(const absl::CivilSecond& t) const;
};

struct Interval {
  int64_t every_seconds = 0;
  int64_t phase_seconds = 0;
};

struct ActionTime {
  int64_t nominal_nanos = 0;  // The time the spec names.
  int64_t actual_nanos = 0;   // Nominal plus jitter.
};

class ScheduleSpec {
 public:
  // Compiles `spec` (normalizing calendar and cron strings into structured
  // calendars and intervals); on failure returns false and sets `error` to
  // the message Temporal gives.
  static bool Compile(const schedv1::ScheduleSpec& spec, ScheduleSpec* out, std::string* error);

  // The first action strictly after `after_nanos`, if any before the end.
  std::optional<ActionTime> Next(int64_t after_nanos) const;

  // What Describe shows: structured calendars and intervals only.
  const schedv1::ScheduleSpec& normalized() const { return normalized_; }

 private:
  std::optional<int64_t> NextNominal(int64_t after_seconds) const;
  std::optional<int64_t> NextCalendarTime(const Calendar& c, int64_t after_seconds) const;
  bool Excluded(int64_t seconds) const;

  std::vector<Calendar> calendars_;
  std::vector<Calendar> excludes_;
  std::vector<Interval> intervals_;
  absl::TimeZone zone_ = absl::UTCTimeZone();
  int64_t start_seconds_ = 0;
  int64_t end_seconds_ = 0;  // 0: no end.
  int64_t jitter_nanos_ = 0;
  schedv1::ScheduleSpec normalized_;
};

// Compiles a CalendarSpec's string fields ("*", "1-5", "mon-fri", "*/15",
// "1,3,5", with each field's default when empty) to a structured calendar.
bool ParseCalendarSpec(const schedv1::CalendarSpec& in, schedv1::StructuredCalendarSpec* out, std::string* error);

// Compiles a cron string (5-7 fields or an @-descriptor, with an optional
// CRON_TZ=/TZ= prefix and a # comment) into `into`: a structured calendar,
// or an interval for "@every <interval>[/<phase>]", and the time zone name.
bool ParseCronString(const std::string& cron, schedv1::ScheduleSpec* into, std::string* error);

}  // namespace kairos::scheduler
