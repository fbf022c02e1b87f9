#include "kairos/cron.h"

#include <absl/time/civil_time.h>
#include <absl/time/time.h>

#include <cctype>
#include <cmath>
#include <limits>
#include <vector>

namespace kairos::cron {
namespace {

constexpr uint64_t kStarBit = uint64_t{1} << 63;
constexpr int64_t kNanosPerSecond = 1'000'000'000;

struct Bounds {
  unsigned min, max;
  const char* const* names;  // Lower-case names for min, min+1, ... (or null).
};

const char* const kMonthNames[] = {"jan", "feb", "mar", "apr", "may", "jun", "jul",
                                   "aug", "sep", "oct", "nov", "dec", nullptr};
const char* const kDowNames[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat", nullptr};
constexpr Bounds kMinutes{0, 59, nullptr};
constexpr Bounds kHours{0, 23, nullptr};
constexpr Bounds kDom{1, 31, nullptr};
constexpr Bounds kMonths{1, 12, kMonthNames};
constexpr Bounds kDow{0, 6, kDowNames};

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (;;) {
    size_t i = s.find(sep, start);
    out.push_back(s.substr(start, i == std::string_view::npos ? std::string_view::npos : i - start));
    if (i == std::string_view::npos) return out;
    start = i + 1;
  }
}

std::vector<std::string_view> Fields(std::string_view s) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
    size_t j = i;
    while (j < s.size() && !std::isspace(static_cast<unsigned char>(s[j]))) ++j;
    if (j > i) out.push_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

// strconv.Atoi, then refusing negatives.
bool ParseUint(std::string_view s, unsigned* out, std::string* error) {
  std::string_view digits = s;
  bool negative = false;
  if (!digits.empty() && (digits[0] == '+' || digits[0] == '-')) {
    negative = digits[0] == '-';
    digits.remove_prefix(1);
  }
  int64_t v = 0;
  bool ok = !digits.empty();
  for (char c : digits) {
    if (!std::isdigit(static_cast<unsigned char>(c)) || v > (int64_t{1} << 40)) {
      ok = false;
      break;
    }
    v = v * 10 + (c - '0');
  }
  if (!ok) {
    *error = "failed to parse int from " + std::string(s);
    return false;
  }
  if (negative && v != 0) {
    *error = "negative number not allowed: " + std::string(s);
    return false;
  }
  *out = static_cast<unsigned>(std::min<int64_t>(v, std::numeric_limits<unsigned>::max()));
  return true;
}

bool ParseIntOrName(std::string_view s, const Bounds& b, unsigned* out, std::string* error) {
  if (b.names) {
    std::string lower;
    for (char c : s) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    for (unsigned i = 0; b.names[i]; ++i) {
      if (lower == b.names[i]) {
        *out = b.min + i;
        return true;
      }
    }
  }
  return ParseUint(s, out, error);
}

uint64_t Bits(unsigned lo, unsigned hi, unsigned step) {
  uint64_t bits = 0;
  for (unsigned i = lo; i <= hi; i += step) bits |= uint64_t{1} << i;
  return bits;
}

bool ParseRange(std::string_view expr, const Bounds& b, uint64_t* bits, std::string* error) {
  auto range_and_step = Split(expr, '/');
  auto low_high = Split(range_and_step[0], '-');
  bool single = low_high.size() == 1;
  unsigned start = 0, end = 0, step = 1;
  uint64_t extra = 0;
  if (low_high[0] == "*" || low_high[0] == "?") {
    start = b.min;
    end = b.max;
    extra = kStarBit;
  } else {
    if (!ParseIntOrName(low_high[0], b, &start, error)) return false;
    if (low_high.size() == 1) {
      end = start;
    } else if (low_high.size() == 2) {
      if (!ParseIntOrName(low_high[1], b, &end, error)) return false;
    } else {
      *error = "too many hyphens: " + std::string(expr);
      return false;
    }
  }
  if (range_and_step.size() == 2) {
    if (!ParseUint(range_and_step[1], &step, error)) return false;
    if (single) end = b.max;  // "N/step" runs from N to the maximum.
    if (step > 1) extra = 0;
  } else if (range_and_step.size() > 2) {
    *error = "too many slashes: " + std::string(expr);
    return false;
  }
  if (start < b.min) {
    *error = "beginning of range below minimum: " + std::string(expr);
    return false;
  }
  if (end > b.max) {
    *error = "end of range above maximum: " + std::string(expr);
    return false;
  }
  if (start > end) {
    *error = "beginning of range beyond end of range: " + std::string(expr);
    return false;
  }
  if (step == 0) {
    *error = "step of range should be a positive number: " + std::string(expr);
    return false;
  }
  *bits |= Bits(start, end, step) | extra;
  return true;
}

bool ParseField(std::string_view field, const Bounds& b, uint64_t* bits, std::string* error) {
  *bits = 0;
  for (auto expr : Split(field, ',')) {
    if (expr.empty()) continue;  // strings.FieldsFunc drops empty pieces.
    if (!ParseRange(expr, b, bits, error)) return false;
  }
  return true;
}

// Go's time.ParseDuration, in nanoseconds.
bool ParseGoDuration(std::string_view s, int64_t* out) {
  std::string_view orig = s;
  bool negative = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s == "0") {
    *out = 0;
    return true;
  }
  if (s.empty()) return false;
  long double total = 0;
  while (!s.empty()) {
    size_t i = 0;
    long double value = 0;
    bool digits = false;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) {
      value = value * 10 + (s[i] - '0');
      digits = true;
      ++i;
    }
    if (i < s.size() && s[i] == '.') {
      ++i;
      long double scale = 0.1L;
      while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) {
        value += (s[i] - '0') * scale;
        scale /= 10;
        digits = true;
        ++i;
      }
    }
    if (!digits) return false;
    size_t u = i;
    while (u < s.size() && s[u] != '.' && !std::isdigit(static_cast<unsigned char>(s[u]))) ++u;
    std::string_view unit = s.substr(i, u - i);
    long double mult;
    if (unit == "ns") mult = 1;
    else if (unit == "us" || unit == "\xC2\xB5s" || unit == "\xCE\xBCs") mult = 1e3L;
    else if (unit == "ms") mult = 1e6L;
    else if (unit == "s") mult = 1e9L;
    else if (unit == "m") mult = 60e9L;
    else if (unit == "h") mult = 3600e9L;
    else return false;  // Missing or unknown unit.
    total += value * mult;
    if (total > static_cast<long double>(std::numeric_limits<int64_t>::max())) return false;
    s.remove_prefix(u);
  }
  (void)orig;
  *out = static_cast<int64_t>(negative ? -total : total);
  return true;
}

bool LoadZone(const std::string& name, absl::TimeZone* tz) {
  if (name.empty() || name == "UTC" || name == "Local") {
    *tz = absl::UTCTimeZone();  // The server's local zone is UTC, as Temporal's images run.
    return true;
  }
  if (name.front() == '/' || name.find("..") != std::string::npos) return false;
  return absl::LoadTimeZone(name, tz);
}

// What Go's time.Date gives for a civil time in `tz`: in a gap or an overlap
// it resolves the offset the way Go does (the offset at the civil time read
// as UTC, corrected once), not the way Abseil would.
int64_t GoDate(const absl::CivilSecond& cs, const absl::TimeZone& tz) {
  int64_t unix = absl::ToUnixSeconds(absl::FromCivil(cs, absl::UTCTimeZone()));
  int offset = tz.At(absl::FromUnixSeconds(unix)).offset;
  if (offset != 0) {
    int64_t utc = unix - offset;
    int at_utc = tz.At(absl::FromUnixSeconds(utc)).offset;
    if (at_utc != offset) offset = at_utc;
    unix -= offset;
  }
  return unix;
}

int GoWeekday(const absl::CivilSecond& cs) {
  // Abseil counts from Monday = 0; Go from Sunday = 0.
  return (static_cast<int>(absl::GetWeekday(absl::CivilDay(cs))) + 1) % 7;
}

int64_t FloorTo(int64_t v, int64_t unit) {
  int64_t r = v % unit;
  return r < 0 ? v - r - unit : v - r;
}

}  // namespace

std::optional<Schedule> Schedule::Parse(std::string_view spec, std::string* error) {
  std::string scratch;
  if (!error) error = &scratch;
  if (spec.empty()) {
    *error = "empty spec string";
    return std::nullopt;
  }
  Schedule s;
  if (spec.starts_with("TZ=") || spec.starts_with("CRON_TZ=")) {
    size_t space = spec.find(' ');
    size_t eq = spec.find('=');
    if (space == std::string_view::npos) {
      *error = "provided bad location";
      return std::nullopt;
    }
    s.zone_ = std::string(spec.substr(eq + 1, space - eq - 1));
    absl::TimeZone tz;
    if (!LoadZone(s.zone_, &tz)) {
      *error = "provided bad location " + s.zone_;
      return std::nullopt;
    }
    if (s.zone_ == "UTC" || s.zone_ == "Local") s.zone_.clear();
    spec.remove_prefix(space);
    while (!spec.empty() && std::isspace(static_cast<unsigned char>(spec.front()))) spec.remove_prefix(1);
    while (!spec.empty() && std::isspace(static_cast<unsigned char>(spec.back()))) spec.remove_suffix(1);
  }
  if (spec.starts_with("@")) {
    auto all = [](const Bounds& b) { return Bits(b.min, b.max, 1) | kStarBit; };
    auto one = [](const Bounds& b) { return uint64_t{1} << b.min; };
    Spec& d = s.spec_;
    d = Spec{one(kMinutes), one(kHours), all(kDom), all(kMonths), all(kDow)};
    if (spec == "@yearly" || spec == "@annually") {
      d.dom = one(kDom);
      d.month = one(kMonths);
    } else if (spec == "@monthly") {
      d.dom = one(kDom);
    } else if (spec == "@weekly") {
      d.dow = one(kDow);
    } else if (spec == "@daily" || spec == "@midnight") {
    } else if (spec == "@hourly") {
      d.hour = all(kHours);
    } else if (spec.starts_with("@every ")) {
      int64_t nanos = 0;
      if (!ParseGoDuration(spec.substr(7), &nanos)) {
        *error = "failed to parse duration " + std::string(spec);
        return std::nullopt;
      }
      if (nanos < kNanosPerSecond) nanos = kNanosPerSecond;
      s.every_seconds_ = nanos / kNanosPerSecond;
    } else {
      *error = "unrecognized descriptor: " + std::string(spec);
      return std::nullopt;
    }
    return s;
  }
  auto fields = Fields(spec);
  if (fields.size() != 5) {
    *error = "expected exactly 5 fields, found " + std::to_string(fields.size());
    return std::nullopt;
  }
  Spec& d = s.spec_;
  if (!ParseField(fields[0], kMinutes, &d.minute, error) || !ParseField(fields[1], kHours, &d.hour, error) ||
      !ParseField(fields[2], kDom, &d.dom, error) || !ParseField(fields[3], kMonths, &d.month, error) ||
      !ParseField(fields[4], kDow, &d.dow, error))
    return std::nullopt;
  return s;
}

int64_t Schedule::Next(int64_t after_nanos) const {
  if (every_seconds_ > 0) {
    // Truncated to the second, plus the delay.
    return FloorTo(after_nanos, kNanosPerSecond) + every_seconds_ * kNanosPerSecond;
  }
  return NextSpec(after_nanos);
}

// robfig/cron's search: find the month, then the day, hour, minute and
// second, starting over whenever a field wraps; the first field that moves
// resets the smaller ones. Hours and minutes advance in absolute time, days
// and months in civil time, as Go's Add and AddDate do.
int64_t Schedule::NextSpec(int64_t after_nanos) const {
  absl::TimeZone tz;
  if (!LoadZone(zone_, &tz)) return 0;
  auto civil = [&](int64_t t) { return absl::ToCivilSecond(absl::FromUnixSeconds(t), tz); };
  auto has = [](uint64_t bits, int v) { return (bits >> v & 1) != 0; };
  const Spec& s = spec_;
  auto day_matches = [&](const absl::CivilSecond& c) {
    bool dom = has(s.dom, c.day());
    bool dow = has(s.dow, GoWeekday(c));
    if ((s.dom & kStarBit) || (s.dow & kStarBit)) return dom && dow;
    return dom || dow;
  };
  // The upcoming second.
  int64_t t = FloorTo(after_nanos, kNanosPerSecond) / kNanosPerSecond + 1;
  bool added = false;
  const int64_t year_limit = civil(t).year() + 5;
  for (;;) {
  wrap:
    absl::CivilSecond c = civil(t);
    if (c.year() > year_limit) return 0;
    while (!has(s.month, c.month())) {
      if (!added) {
        added = true;
        t = GoDate(absl::CivilSecond(c.year(), c.month(), 1, 0, 0, 0), tz);
        c = civil(t);
      }
      t = GoDate(absl::CivilSecond(c.year(), c.month() + 1, c.day(), c.hour(), c.minute(), c.second()), tz);
      c = civil(t);
      if (c.month() == 1) goto wrap;
    }
    while (!day_matches(c)) {
      if (!added) {
        added = true;
        t = GoDate(absl::CivilSecond(c.year(), c.month(), c.day(), 0, 0, 0), tz);
        c = civil(t);
      }
      t = GoDate(absl::CivilSecond(c.year(), c.month(), c.day() + 1, c.hour(), c.minute(), c.second()), tz);
      c = civil(t);
      // Midnight may not exist (DST): come back to the day's start.
      if (c.hour() != 0) {
        t += c.hour() > 12 ? (24 - c.hour()) * 3600 : -c.hour() * 3600;
        c = civil(t);
      }
      if (c.day() == 1) goto wrap;
    }
    while (!has(s.hour, c.hour())) {
      if (!added) {
        added = true;
        t = GoDate(absl::CivilSecond(c.year(), c.month(), c.day(), c.hour(), 0, 0), tz);
      }
      t += 3600;
      c = civil(t);
      if (c.hour() == 0) goto wrap;
    }
    while (!has(s.minute, c.minute())) {
      if (!added) {
        added = true;
        t = FloorTo(t, 60);
      }
      t += 60;
      c = civil(t);
      if (c.minute() == 0) goto wrap;
    }
    // The seconds field of a standard spec is always 0.
    while (c.second() != 0) {
      if (!added) {
        added = true;
      }
      t += 1;
      c = civil(t);
      if (c.second() == 0) goto wrap;
    }
    return t * kNanosPerSecond;
  }
}

std::optional<std::string> Validate(const std::string& spec, int64_t now_nanos) {
  if (spec.empty()) return std::nullopt;
  auto s = Schedule::Parse(spec);
  if (!s) return std::string("invalid CronSchedule.");
  if (s->Next(now_nanos) == 0) return std::string("invalid CronSchedule, no time can be found to satisfy the schedule");
  return std::nullopt;
}

int64_t BackoffForNextScheduleMs(const std::string& spec, int64_t scheduled_nanos, int64_t now_nanos) {
  if (spec.empty()) return -1;
  auto s = Schedule::Parse(spec);
  if (!s) return -1;
  int64_t next;
  if (now_nanos < scheduled_nanos) {
    next = scheduled_nanos;
  } else {
    next = s->Next(scheduled_nanos);
    while (next != 0 && next < now_nanos) next = s->Next(next);
  }
  if (next == 0) return -1;
  int64_t nanos = next - now_nanos;
  int64_t seconds = nanos / kNanosPerSecond + (nanos % kNanosPerSecond > 0 ? 1 : 0);
  return seconds * 1000;
}

}  // namespace kairos::cron
