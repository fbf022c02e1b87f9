#include "kairos/scheduler/schedule_spec.h"

#include <algorithm>
#include <functional>
#include <limits>

#include "kairos/time_util.h"

namespace kairos::scheduler {
namespace {

constexpr int64_t kNanos = 1'000'000'000;
// A calendar search gives up past this many days (no match in ten years).
constexpr int kMaxSearchDays = 3700;

uint64_t Bits(const google::protobuf::RepeatedPtrField<schedv1::Range>& ranges, int min, int max) {
  uint64_t bits = 0;
  for (const auto& r : ranges) {
    int end = std::max(r.start(), r.end());
    int step = r.step() > 0 ? r.step() : 1;
    for (int v = std::max(r.start(), min); v <= std::min(end, max); v += step) bits |= uint64_t{1} << v;
  }
  return bits;
}

bool Has(uint64_t bits, int v) { return v >= 0 && v < 64 && ((bits >> v) & 1) != 0; }

bool InYears(const std::vector<schedv1::Range>& years, int64_t year) {
  if (years.empty()) return true;
  for (const auto& r : years) {
    int64_t end = std::max(r.start(), r.end());
    int64_t step = r.step() > 0 ? r.step() : 1;
    if (year >= r.start() && year <= end && (year - r.start()) % step == 0) return true;
  }
  return false;
}

int Weekday(const absl::CivilDay& day) {
  switch (absl::GetWeekday(day)) {
    case absl::Weekday::sunday: return 0;
    case absl::Weekday::monday: return 1;
    case absl::Weekday::tuesday: return 2;
    case absl::Weekday::wednesday: return 3;
    case absl::Weekday::thursday: return 4;
    case absl::Weekday::friday: return 5;
    case absl::Weekday::saturday: return 6;
  }
  return 0;
}

// Absolute times (seconds) at which the zone's clock shows `t`: none in a
// gap, two in a repeated hour.
void ClockTimes(const absl::TimeZone& zone, const absl::CivilSecond& t, std::vector<int64_t>* out) {
  auto info = zone.At(t);
  switch (info.kind) {
    case absl::TimeZone::TimeInfo::UNIQUE:
      out->push_back(absl::ToUnixSeconds(info.pre));
      break;
    case absl::TimeZone::TimeInfo::REPEATED:
      out->push_back(absl::ToUnixSeconds(info.pre));
      out->push_back(absl::ToUnixSeconds(info.post));
      break;
    case absl::TimeZone::TimeInfo::SKIPPED:
      break;
  }
}

uint64_t Mix(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return x;
}

}  // namespace

Calendar Calendar::From(const schedv1::StructuredCalendarSpec& s) {
  Calendar c;
  c.second = Bits(s.second(), 0, 59);
  c.minute = Bits(s.minute(), 0, 59);
  c.hour = Bits(s.hour(), 0, 23);
  c.day_of_month = Bits(s.day_of_month(), 1, 31);
  c.month = Bits(s.month(), 1, 12);
  c.day_of_week = Bits(s.day_of_week(), 0, 6);
  c.years.assign(s.year().begin(), s.year().end());
  return c;
}

bool Calendar::MatchesDay(const absl::CivilDay& d) const {
  return Has(month, d.month()) && Has(day_of_month, d.day()) && Has(day_of_week, Weekday(d)) && InYears(years, d.year());
}

bool Calendar::Matches(const absl::CivilSecond& t) const {
  return MatchesDay(absl::CivilDay(t)) && Has(hour, t.hour()) && Has(minute, t.minute()) && Has(second, t.second());
}

bool ScheduleSpec::Compile(const schedv1::ScheduleSpec& in, ScheduleSpec* out, std::string* error) {
  schedv1::ScheduleSpec n;
  n.set_timezone_name(in.timezone_name());
  *n.mutable_structured_calendar() = in.structured_calendar();
  *n.mutable_interval() = in.interval();
  for (const auto& cal : in.calendar())
    if (!ParseCalendarSpec(cal, n.add_structured_calendar(), error)) return false;
  for (const auto& cron : in.cron_string())
    if (!ParseCronString(cron, &n, error)) return false;
  *n.mutable_exclude_structured_calendar() = in.exclude_structured_calendar();
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  for (const auto& cal : in.exclude_calendar())
    if (!ParseCalendarSpec(cal, n.add_exclude_structured_calendar(), error)) return false;
#pragma GCC diagnostic pop
  if (in.has_start_time()) *n.mutable_start_time() = in.start_time();
  if (in.has_end_time()) *n.mutable_end_time() = in.end_time();
  if (in.has_jitter()) *n.mutable_jitter() = in.jitter();
  n.set_timezone_data(in.timezone_data());

  ScheduleSpec spec;
  if (!n.timezone_name().empty() && n.timezone_name() != "UTC" &&
      !absl::LoadTimeZone(n.timezone_name(), &spec.zone_)) {
    *error = "unknown time zone: " + n.timezone_name();
    return false;
  }
  for (const auto& c : n.structured_calendar()) spec.calendars_.push_back(Calendar::From(c));
  for (const auto& c : n.exclude_structured_calendar()) spec.excludes_.push_back(Calendar::From(c));
  for (const auto& iv : n.interval()) {
    int64_t every = iv.interval().seconds(), phase = iv.phase().seconds();
    if (every <= 0) {
      *error = "interval is zero or negative";
      return false;
    }
    if (phase < 0) {
      *error = "phase is negative";
      return false;
    }
    spec.intervals_.push_back({every, phase % every});
  }
  spec.start_seconds_ = n.start_time().seconds();
  spec.end_seconds_ = n.end_time().seconds();
  spec.jitter_nanos_ = DurationToMs(n.jitter()) * 1'000'000;
  spec.normalized_ = std::move(n);
  *out = std::move(spec);
  return true;
}

std::optional<int64_t> ScheduleSpec::NextCalendarTime(const Calendar& c, int64_t after) const {
  // Walk the zone's clock forward from a little before `after` (a repeated
  // hour can map a later clock time to an earlier instant) and keep the
  // earliest instant after `after`; clock times more than a few hours past
  // the first match cannot give an earlier one.
  constexpr int64_t kDstSlack = 3 * 3600;
  absl::CivilSecond from = absl::ToCivilSecond(absl::FromUnixSeconds(after - kDstSlack), zone_);
  std::optional<int64_t> best;
  std::optional<absl::CivilSecond> first_match;
  std::vector<int64_t> instants;
  absl::CivilDay day(from);
  for (int i = 0; i < kMaxSearchDays; ++i, ++day) {
    if (first_match && absl::CivilSecond(day) > *first_match + kDstSlack) break;
    if (!c.MatchesDay(day)) continue;
    bool first_day = absl::CivilDay(from) == day;
    for (int h = first_day ? from.hour() : 0; h < 24; ++h) {
      if (!Has(c.hour, h)) continue;
      for (int m = 0; m < 60; ++m) {
        if (!Has(c.minute, m)) continue;
        for (int s = 0; s < 60; ++s) {
          if (!Has(c.second, s)) continue;
          absl::CivilSecond t(day.year(), day.month(), day.day(), h, m, s);
          if (t < from) continue;
          if (first_match && t > *first_match + kDstSlack) return best;
          instants.clear();
          ClockTimes(zone_, t, &instants);
          for (int64_t at : instants) {
            if (at <= after) continue;
            if (!best || at < *best) best = at;
            if (!first_match) first_match = t;
          }
        }
      }
    }
  }
  return best;
}

bool ScheduleSpec::Excluded(int64_t seconds) const {
  if (excludes_.empty()) return false;
  auto t = absl::ToCivilSecond(absl::FromUnixSeconds(seconds), zone_);
  return std::any_of(excludes_.begin(), excludes_.end(), [&](const Calendar& c) { return c.Matches(t); });
}

std::optional<int64_t> ScheduleSpec::NextNominal(int64_t after) const {
  if (start_seconds_ > 0 && after < start_seconds_ - 1) after = start_seconds_ - 1;
  for (int guard = 0; guard < 100'000; ++guard) {
    std::optional<int64_t> next;
    for (const auto& iv : intervals_) {
      // The smallest epoch + n*every + phase strictly after `after`.
      int64_t k = (after - iv.phase_seconds) / iv.every_seconds;
      int64_t t = k * iv.every_seconds + iv.phase_seconds;
      while (t <= after) t += iv.every_seconds;
      if (!next || t < *next) next = t;
    }
    for (const auto& c : calendars_) {
      auto t = NextCalendarTime(c, after);
      if (t && (!next || *t < *next)) next = t;
    }
    if (!next) return std::nullopt;
    if (end_seconds_ > 0 && *next > end_seconds_) return std::nullopt;
    if (!Excluded(*next)) return next;
    after = *next;
  }
  return std::nullopt;
}

std::optional<ActionTime> ScheduleSpec::Next(int64_t after_nanos) const {
  // Nominal times are whole seconds; an action at exactly `after` is past.
  int64_t after = after_nanos >= 0 ? after_nanos / kNanos : -((-after_nanos + kNanos - 1) / kNanos);
  auto nominal = NextNominal(after);
  if (!nominal) return std::nullopt;
  ActionTime t;
  t.nominal_nanos = *nominal * kNanos;
  t.actual_nanos = t.nominal_nanos;
  if (jitter_nanos_ > 0)
    t.actual_nanos += static_cast<int64_t>(Mix(static_cast<uint64_t>(t.nominal_nanos)) % static_cast<uint64_t>(jitter_nanos_));
  return t;
}

}  // namespace kairos::scheduler
