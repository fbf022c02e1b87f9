// Tests of schedule specs: calendar and cron strings compiled as Temporal
// compiles them, intervals with phase, exclusions, start/end, jitter, and
// literal clock matching across DST changes in IANA time zones.
#include <string>
#include <vector>

#include <absl/time/time.h>
#include <catch2/catch.hpp>

#include "rfc3339.h"

#include "kairos/scheduler/schedule_spec.h"

namespace sched = kairos::scheduler;
namespace schedv1 = temporal::api::schedule::v1;

using kairos::testing::At;

namespace {

std::string Format(int64_t nanos) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromUnixNanos(nanos), absl::UTCTimeZone());
}

// The next `n` nominal times after `from`, as UTC strings.
std::vector<std::string> NextTimes(const schedv1::ScheduleSpec& in, const std::string& from, int n) {
  sched::ScheduleSpec spec;
  std::string error;
  REQUIRE(sched::ScheduleSpec::Compile(in, &spec, &error));
  std::vector<std::string> out;
  int64_t t = At(from);
  for (int i = 0; i < n; ++i) {
    auto next = spec.Next(t);
    if (!next) break;
    out.push_back(Format(next->nominal_nanos));
    t = next->nominal_nanos;
  }
  return out;
}

schedv1::ScheduleSpec Cron(const std::string& cron) {
  schedv1::ScheduleSpec s;
  s.add_cron_string(cron);
  return s;
}

}  // namespace

TEST_CASE("cron strings in five, six and seven fields", "[schedule]") {
  CHECK(NextTimes(Cron("30 9 * * mon-fri"), "2026-11-27T12:00:00Z", 3) ==
        std::vector<std::string>{"2026-11-30T09:30:00Z", "2026-12-01T09:30:00Z", "2026-12-02T09:30:00Z"});
  CHECK(NextTimes(Cron("0 0 1 jan * 2028"), "2026-01-01T00:00:00Z", 2) == std::vector<std::string>{"2028-01-01T00:00:00Z"});
  CHECK(NextTimes(Cron("15 */20 * * * * *"), "2026-11-30T10:00:00Z", 3) ==
        std::vector<std::string>{"2026-11-30T10:00:15Z", "2026-11-30T10:20:15Z", "2026-11-30T10:40:15Z"});
  CHECK(NextTimes(Cron("@hourly"), "2026-11-30T10:00:00Z", 2) ==
        std::vector<std::string>{"2026-11-30T11:00:00Z", "2026-11-30T12:00:00Z"});
  CHECK(NextTimes(Cron("@weekly # sundays"), "2026-11-30T10:00:00Z", 1) == std::vector<std::string>{"2026-12-06T00:00:00Z"});
  CHECK(NextTimes(Cron("0 12 * * 7"), "2026-11-30T10:00:00Z", 1) == std::vector<std::string>{"2026-12-06T12:00:00Z"});
  CHECK(NextTimes(Cron("@every 90m/15m"), "2026-11-30T00:00:00Z", 2) ==
        std::vector<std::string>{"2026-11-30T00:15:00Z", "2026-11-30T01:45:00Z"});
}

TEST_CASE("invalid specs are refused with a reason", "[schedule]") {
  sched::ScheduleSpec spec;
  std::string error;
  for (std::string bad : {"61 * * * *", "* * * *", "@fortnightly", "1-x * * * *", "0 0 31 feb-x *", "@every 0s"}) {
    INFO(bad);
    CHECK_FALSE(sched::ScheduleSpec::Compile(Cron(bad), &spec, &error));
    CHECK_FALSE(error.empty());
  }
  schedv1::ScheduleSpec tz = Cron("CRON_TZ=Mars/Olympus_Mons 0 0 * * *");
  CHECK_FALSE(sched::ScheduleSpec::Compile(tz, &spec, &error));
}

TEST_CASE("intervals are aligned to the epoch plus their phase", "[schedule]") {
  schedv1::ScheduleSpec s;
  auto* iv = s.add_interval();
  iv->mutable_interval()->set_seconds(3600);
  iv->mutable_phase()->set_seconds(19 * 60);
  CHECK(NextTimes(s, "2026-11-30T10:19:00Z", 2) == std::vector<std::string>{"2026-11-30T11:19:00Z", "2026-11-30T12:19:00Z"});
  schedv1::ScheduleSpec days;
  days.add_interval()->mutable_interval()->set_seconds(28 * 86400);
  CHECK(NextTimes(days, "2022-02-16T00:00:00Z", 1) == std::vector<std::string>{"2022-02-17T00:00:00Z"});
}

TEST_CASE("exclusions, start and end bound the times", "[schedule]") {
  schedv1::ScheduleSpec s = Cron("0 * * * *");
  auto* ex = s.add_exclude_structured_calendar();
  ex->add_second()->set_start(0);
  ex->add_minute()->set_start(0);
  auto* hours = ex->add_hour();
  hours->set_start(12);
  hours->set_end(13);
  ex->add_day_of_month()->set_end(31), ex->mutable_day_of_month(0)->set_start(1);
  ex->add_month()->set_start(1), ex->mutable_month(0)->set_end(12);
  ex->add_day_of_week()->set_start(0), ex->mutable_day_of_week(0)->set_end(6);
  *s.mutable_end_time() = google::protobuf::Timestamp();
  s.mutable_end_time()->set_seconds(At("2026-11-30T15:00:00Z") / 1'000'000'000);
  CHECK(NextTimes(s, "2026-11-30T10:30:00Z", 10) ==
        std::vector<std::string>{"2026-11-30T11:00:00Z", "2026-11-30T14:00:00Z", "2026-11-30T15:00:00Z"});
  s.mutable_start_time()->set_seconds(At("2026-11-30T14:00:00Z") / 1'000'000'000);
  CHECK(NextTimes(s, "2026-11-30T10:30:00Z", 10) ==
        std::vector<std::string>{"2026-11-30T14:00:00Z", "2026-11-30T15:00:00Z"});
}

TEST_CASE("calendar times follow the zone's clock across DST", "[schedule]") {
  // New York springs forward on 2026-03-08 (02:00 -> 03:00): 02:30 does not
  // exist that day; it falls back on 2026-11-01 (02:00 -> 01:00): 01:30 is
  // there twice.
  schedv1::ScheduleSpec s = Cron("CRON_TZ=America/New_York 30 2 * * *");
  CHECK(NextTimes(s, "2026-03-07T00:00:00Z", 2) ==
        std::vector<std::string>{"2026-03-07T07:30:00Z", "2026-03-09T06:30:00Z"});
  schedv1::ScheduleSpec fall = Cron("30 1 * * *");
  fall.set_timezone_name("America/New_York");
  CHECK(NextTimes(fall, "2026-10-31T12:00:00Z", 3) ==
        std::vector<std::string>{"2026-11-01T05:30:00Z", "2026-11-01T06:30:00Z", "2026-11-02T06:30:00Z"});
  schedv1::ScheduleSpec tokyo = Cron("0 9 * * *");
  tokyo.set_timezone_name("Asia/Tokyo");
  CHECK(NextTimes(tokyo, "2026-11-30T00:00:00Z", 1) == std::vector<std::string>{"2026-12-01T00:00:00Z"});
}

TEST_CASE("jitter delays an action by a stable amount below the bound", "[schedule]") {
  schedv1::ScheduleSpec s = Cron("0 * * * *");
  s.mutable_jitter()->set_seconds(60);
  sched::ScheduleSpec spec;
  std::string error;
  REQUIRE(sched::ScheduleSpec::Compile(s, &spec, &error));
  auto a = spec.Next(At("2026-11-30T10:00:00Z"));
  auto b = spec.Next(At("2026-11-30T10:00:00Z"));
  REQUIRE(a);
  CHECK(a->actual_nanos == b->actual_nanos);
  CHECK(a->actual_nanos >= a->nominal_nanos);
  CHECK(a->actual_nanos < a->nominal_nanos + 60'000'000'000);
}

TEST_CASE("calendar strings compile to Temporal's structured form", "[schedule]") {
  schedv1::CalendarSpec c;
  c.set_hour("9-17/4");
  c.set_day_of_week("mon,wed");
  schedv1::StructuredCalendarSpec out;
  std::string error;
  REQUIRE(sched::ParseCalendarSpec(c, &out, &error));
  REQUIRE(out.hour_size() == 1);
  CHECK(out.hour(0).start() == 9);
  CHECK(out.hour(0).end() == 17);
  CHECK(out.hour(0).step() == 4);
  CHECK(out.second(0).start() == 0);
  CHECK(out.day_of_month(0).start() == 1);
  CHECK(out.day_of_month(0).end() == 31);
  CHECK(out.day_of_week_size() == 2);
  CHECK(out.year_size() == 0);
}
