// Tests of cron schedules as Temporal reads them (robfig/cron ParseStandard):
// parsing, the next activation (also across daylight-saving changes and in
// other time zones) and the backoff before the next run.
#include <absl/time/time.h>

#include <catch2/catch.hpp>

#include "rfc3339.h"

#include "kairos/cron.h"

using kairos::cron::BackoffForNextScheduleMs;
using kairos::cron::Schedule;
using kairos::cron::Validate;

using kairos::testing::At;

namespace {

std::string Show(int64_t nanos) {
  return absl::FormatTime(absl::RFC3339_full, absl::FromUnixNanos(nanos), absl::UTCTimeZone());
}

// The next activation after `from`, as an RFC 3339 time in UTC.
std::string Next(const std::string& spec, const std::string& from) {
  auto s = Schedule::Parse(spec);
  REQUIRE(s.has_value());
  int64_t next = s->Next(At(from));
  return next == 0 ? "none" : Show(next);
}

}  // namespace

TEST_CASE("cron: five standard fields") {
  CHECK(Next("*/15 * * * *", "2024-01-01T00:07:30Z") == Show(At("2024-01-01T00:15:00Z")));
  CHECK(Next("0 0 1 1 *", "2024-05-05T10:00:00Z") == Show(At("2025-01-01T00:00:00Z")));
  CHECK(Next("5 4 * * *", "2024-01-01T04:05:00Z") == Show(At("2024-01-02T04:05:00Z")));  // Strictly after.
  CHECK(Next("0 9-17/4 * * *", "2024-01-01T10:00:00Z") == Show(At("2024-01-01T13:00:00Z")));
  CHECK(Next("30 10/6 * * *", "2024-01-01T17:00:00Z") == Show(At("2024-01-01T22:30:00Z")));  // "N/step": N to max.
  CHECK(Next("0 0 * JAN-MAR mon-FRI", "2024-03-29T12:00:00Z") == Show(At("2025-01-01T00:00:00Z")));
  CHECK(Next("0 12 * * ?", "2024-01-01T13:00:00Z") == Show(At("2024-01-02T12:00:00Z")));
  CHECK(Next("1,2,,3 0 * * *", "2024-01-01T00:02:00Z") == Show(At("2024-01-01T00:03:00Z")));
}

TEST_CASE("cron: day of month and day of week") {
  // Both restricted: either matches (2024-01-05 is a Friday).
  CHECK(Next("0 0 13 * 5", "2024-01-01T00:00:00Z") == Show(At("2024-01-05T00:00:00Z")));
  CHECK(Next("0 0 13 */1 FRI", "2024-01-06T00:00:00Z") == Show(At("2024-01-12T00:00:00Z")));
  // One is a star (also "*/1"): both must match.
  CHECK(Next("0 0 */1 * 5", "2024-01-01T00:00:00Z") == Show(At("2024-01-05T00:00:00Z")));
  CHECK(Next("0 0 13 * */1", "2024-01-01T00:00:00Z") == Show(At("2024-01-13T00:00:00Z")));
  // "*/2" is no star: either matches.
  CHECK(Next("0 0 */2 * 5", "2024-01-01T00:00:00Z") == Show(At("2024-01-03T00:00:00Z")));
  CHECK(Next("0 0 * * 0", "2024-01-01T00:00:00Z") == Show(At("2024-01-07T00:00:00Z")));
}

TEST_CASE("cron: descriptors") {
  CHECK(Next("@hourly", "2024-01-01T10:00:00Z") == Show(At("2024-01-01T11:00:00Z")));
  CHECK(Next("@daily", "2024-01-01T10:00:00Z") == Show(At("2024-01-02T00:00:00Z")));
  CHECK(Next("@midnight", "2024-01-01T10:00:00Z") == Show(At("2024-01-02T00:00:00Z")));
  CHECK(Next("@weekly", "2024-01-01T10:00:00Z") == Show(At("2024-01-07T00:00:00Z")));
  CHECK(Next("@monthly", "2024-01-01T10:00:00Z") == Show(At("2024-02-01T00:00:00Z")));
  CHECK(Next("@yearly", "2024-01-01T10:00:00Z") == Show(At("2025-01-01T00:00:00Z")));
  CHECK(Next("@annually", "2024-01-01T10:00:00Z") == Show(At("2025-01-01T00:00:00Z")));
  // @every: from the start of the second, plus the interval.
  CHECK(Next("@every 2s", "2024-01-01T10:00:00.5Z") == Show(At("2024-01-01T10:00:02Z")));
  CHECK(Next("@every 1h30m", "2024-01-01T10:00:00Z") == Show(At("2024-01-01T11:30:00Z")));
  CHECK(Next("@every 1.5s", "2024-01-01T10:00:00Z") == Show(At("2024-01-01T10:00:01Z")));  // Whole seconds.
  CHECK(Next("@every 10ms", "2024-01-01T10:00:00Z") == Show(At("2024-01-01T10:00:01Z")));  // At least 1 s.
}

TEST_CASE("cron: time zones") {
  CHECK(Next("CRON_TZ=America/New_York 0 9 * * *", "2024-07-01T12:00:00Z") == Show(At("2024-07-01T13:00:00Z")));
  CHECK(Next("TZ=Asia/Tokyo 0 9 * * *", "2024-07-01T12:00:00Z") == Show(At("2024-07-02T00:00:00Z")));
  CHECK(Next("CRON_TZ=UTC 0 9 * * *", "2024-07-01T12:00:00Z") == Show(At("2024-07-02T09:00:00Z")));
  CHECK(Next("CRON_TZ=Europe/Paris @daily", "2024-07-01T12:00:00Z") == Show(At("2024-07-01T22:00:00Z")));
}

TEST_CASE("cron: daylight saving time") {
  // Spring forward in New York (02:00 EST -> 03:00 EDT): 02:30 does not
  // exist on 2012-03-11, so a yearly 02:30 job waits a year.
  CHECK(Next("CRON_TZ=America/New_York 30 2 11 3 *", "2012-03-11T00:00:00-05:00") ==
        Show(At("2013-03-11T02:30:00-04:00")));
  // A daily 02:30 job skips the missing day.
  CHECK(Next("CRON_TZ=America/New_York 30 2 * * *", "2012-03-10T12:00:00-05:00") ==
        Show(At("2012-03-12T02:30:00-04:00")));
  // Fall back (02:00 EDT -> 01:00 EST): 01:30 happens twice, and runs twice.
  CHECK(Next("CRON_TZ=America/New_York 30 1 4 11 *", "2012-11-04T00:00:00-04:00") ==
        Show(At("2012-11-04T01:30:00-04:00")));
  CHECK(Next("CRON_TZ=America/New_York 30 1 4 11 *", "2012-11-04T01:45:00-04:00") ==
        Show(At("2012-11-04T01:30:00-05:00")));
  // Hourly across the repeated hour.
  CHECK(Next("CRON_TZ=America/New_York 0 * * * *", "2012-11-04T00:30:00-04:00") ==
        Show(At("2012-11-04T01:00:00-04:00")));
  CHECK(Next("CRON_TZ=America/New_York 0 * * * *", "2012-11-04T01:00:00-04:00") ==
        Show(At("2012-11-04T01:00:00-05:00")));
  CHECK(Next("CRON_TZ=America/New_York 0 * * * *", "2012-11-04T01:00:00-05:00") ==
        Show(At("2012-11-04T02:00:00-05:00")));
  // East of Greenwich (Berlin, 02:00 CET -> 03:00 CEST on 2024-03-31).
  CHECK(Next("CRON_TZ=Europe/Berlin 30 2 * * *", "2024-03-30T12:00:00+01:00") ==
        Show(At("2024-04-01T02:30:00+02:00")));
  CHECK(Next("CRON_TZ=Europe/Berlin 0 * * * *", "2024-03-31T01:30:00+01:00") ==
        Show(At("2024-03-31T03:00:00+02:00")));
}

TEST_CASE("cron: invalid specs") {
  for (const char* bad : {"", "* * * *", "* * * * * *", "60 * * * *", "* 24 * * *", "* * 0 * *", "* * * 13 *",
                          "* * * * 7", "5-1 * * * *", "*/0 * * * *", "1-2-3 * * * *", "1/2/3 * * * *", "x * * * *",
                          "-1 * * * *", "@every", "@every 2", "@every x", "@foo", "CRON_TZ=Mars/Olympus 0 * * * *",
                          "CRON_TZ=America/New_York"}) {
    INFO(bad);
    CHECK_FALSE(Schedule::Parse(bad).has_value());
  }
  int64_t now = At("2024-01-01T00:00:00Z");
  CHECK(Validate("", now) == std::nullopt);
  CHECK(Validate("@every 2s", now) == std::nullopt);
  CHECK(Validate("* * * * 7", now) == "invalid CronSchedule.");
  // Valid syntax that never matches (February 30th).
  CHECK(Validate("0 0 30 2 *", now) == "invalid CronSchedule, no time can be found to satisfy the schedule");
}

TEST_CASE("cron: backoff before the next run") {
  int64_t now = At("2024-01-01T00:03:00.5Z");
  // Rounded up to whole seconds.
  CHECK(BackoffForNextScheduleMs("*/5 * * * *", now, now) == 120'000);
  CHECK(BackoffForNextScheduleMs("@every 2s", At("2024-01-01T00:00:00Z"), At("2024-01-01T00:00:00Z")) == 2'000);
  // A run that ended late: the first activation not before now.
  CHECK(BackoffForNextScheduleMs("@every 2s", At("2024-01-01T00:00:00Z"), At("2024-01-01T00:00:05.2Z")) == 1'000);
  // Scheduled in the future: wait for it.
  CHECK(BackoffForNextScheduleMs("@hourly", At("2024-01-01T01:00:00Z"), At("2024-01-01T00:59:00Z")) == 60'000);
  CHECK(BackoffForNextScheduleMs("", now, now) == -1);
  CHECK(BackoffForNextScheduleMs("0 0 30 2 *", now, now) == -1);
}
