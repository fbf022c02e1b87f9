// Cron schedules as Temporal reads them: robfig/cron's ParseStandard (five
// fields minute hour day-of-month month day-of-week, names, ranges, steps,
// lists, `?`; the descriptors @yearly @annually @monthly @weekly @daily
// @midnight @hourly and `@every <duration>`; an optional `CRON_TZ=` or `TZ=`
// prefix naming an IANA time zone, UTC otherwise) and the same search for the
// next activation, including its behaviour across daylight-saving changes.
// Time zones come from the system's tz database through Abseil's time library
// (Debian's libabsl-dev and tzdata): see docs/cron.md.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace kairos::cron {

class Schedule {
 public:
  // nullopt (with the reason in *error) when the spec is not valid.
  static std::optional<Schedule> Parse(std::string_view spec, std::string* error = nullptr);

  // The first activation strictly after `after_nanos` (Unix time), or 0 when
  // none lies within five years.
  int64_t Next(int64_t after_nanos) const;

 private:
  struct Spec {
    uint64_t minute = 0, hour = 0, dom = 0, month = 0, dow = 0;
  };
  Schedule() = default;
  int64_t NextSpec(int64_t after_nanos) const;

  Spec spec_;
  int64_t every_seconds_ = 0;  // An `@every` schedule when > 0.
  std::string zone_;           // Empty: UTC.
};

// Temporal's check of a workflow's cron schedule (empty is fine): the error
// message it answers with, or nullopt when valid.
std::optional<std::string> Validate(const std::string& spec, int64_t now_nanos);

// Temporal's GetBackoffForNextSchedule: the delay in milliseconds (whole
// seconds, rounded up) from `now` to the first activation at or after the
// run's scheduled time that is not before now; -1 when there is none.
int64_t BackoffForNextScheduleMs(const std::string& spec, int64_t scheduled_nanos, int64_t now_nanos);

}  // namespace kairos::cron
