// Calendar and cron strings to structured calendars, as Temporal compiles
// them: the field grammar ("*", "x", "x-z", "x/y", lists, month and weekday
// names), each field's default, and cron's 5/6/7-field and @ forms.
#include <algorithm>
#include <cctype>
#include <map>
#include <sstream>

#include "kairos/scheduler/schedule_spec.h"

namespace kairos::scheduler {
namespace {

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string part;
  std::istringstream in(s);
  while (std::getline(in, part, sep)) out.push_back(part);
  if (!s.empty() && s.back() == sep) out.push_back("");
  return out;
}

struct FieldRule {
  const char* name;
  int min, max;
  const char* default_value;
  const std::map<std::string, int>* names;
};

const std::map<std::string, int>& MonthNames() {
  static const std::map<std::string, int> kNames = {
      {"jan", 1}, {"january", 1}, {"feb", 2}, {"february", 2}, {"mar", 3}, {"march", 3},  {"apr", 4},
      {"april", 4}, {"may", 5}, {"jun", 6}, {"june", 6}, {"jul", 7}, {"july", 7}, {"aug", 8}, {"august", 8},
      {"sep", 9}, {"september", 9}, {"oct", 10}, {"october", 10}, {"nov", 11}, {"november", 11}, {"dec", 12},
      {"december", 12}};
  return kNames;
}

const std::map<std::string, int>& WeekdayNames() {
  static const std::map<std::string, int> kNames = {
      {"sun", 0}, {"sunday", 0}, {"mon", 1}, {"monday", 1}, {"tue", 2}, {"tues", 2}, {"tuesday", 2},
      {"wed", 3}, {"wednesday", 3}, {"thu", 4}, {"thur", 4}, {"thurs", 4}, {"thursday", 4},
      {"fri", 5}, {"friday", 5}, {"sat", 6}, {"saturday", 6}};
  return kNames;
}

bool ParseValue(const std::string& text, const FieldRule& rule, int* out) {
  if (text.empty()) return false;
  if (rule.names) {
    auto it = rule.names->find(Lower(text));
    if (it != rule.names->end()) {
      *out = it->second;
      return true;
    }
  }
  if (!std::all_of(text.begin(), text.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); }) ||
      text.size() > 9)
    return false;
  *out = std::stoi(text);
  return true;
}

bool ParseField(const std::string& raw, const FieldRule& rule, google::protobuf::RepeatedPtrField<schedv1::Range>* out,
                std::string* error) {
  std::string text = raw.empty() ? rule.default_value : raw;
  bool is_year = std::string(rule.name) == "year";
  if (is_year && text == "*") return true;  // No ranges: every year.
  auto bad = [&] {
    *error = "invalid " + std::string(rule.name) + " in calendar spec: \"" + text + "\"";
    return false;
  };
  for (const auto& item : Split(text, ',')) {
    auto slash = Split(item, '/');
    if (slash.size() > 2) return bad();
    int step = 1;
    if (slash.size() == 2 && (!ParseValue(slash[1], {rule.name, 1, 1 << 30, "", nullptr}, &step) || step <= 0))
      return bad();
    int start, end;
    const std::string& span = slash[0];
    if (span == "*") {
      start = rule.min;
      end = rule.max;
    } else if (auto dash = span.find('-'); dash != std::string::npos && dash > 0) {
      if (!ParseValue(span.substr(0, dash), rule, &start) || !ParseValue(span.substr(dash + 1), rule, &end)) return bad();
    } else {
      if (!ParseValue(span, rule, &start)) return bad();
      // "x/y" means x, x+y, ... up to the field's maximum.
      end = slash.size() == 2 ? rule.max : start;
    }
    bool weekday = rule.names == &WeekdayNames();
    if (weekday && end == 7 && start <= 7) end = start == 7 ? 0 : 6;  // 7 is Sunday too.
    if (weekday && start == 7) start = 0;
    if (start < rule.min || start > rule.max || end < start || end > rule.max) return bad();
    auto* r = out->Add();
    r->set_start(start);
    if (end != start) r->set_end(end);
    if (step != 1) r->set_step(step);
  }
  return true;
}

}  // namespace

bool ParseCalendarSpec(const schedv1::CalendarSpec& in, schedv1::StructuredCalendarSpec* out, std::string* error) {
  static const FieldRule kSecond{"second", 0, 59, "0", nullptr}, kMinute{"minute", 0, 59, "0", nullptr},
      kHour{"hour", 0, 23, "0", nullptr}, kDay{"day_of_month", 1, 31, "*", nullptr},
      kMonth{"month", 1, 12, "*", &MonthNames()}, kYear{"year", 1970, 1 << 20, "*", nullptr},
      kWeekday{"day_of_week", 0, 7, "*", &WeekdayNames()};
  return ParseField(in.second(), kSecond, out->mutable_second(), error) &&
         ParseField(in.minute(), kMinute, out->mutable_minute(), error) &&
         ParseField(in.hour(), kHour, out->mutable_hour(), error) &&
         ParseField(in.day_of_month(), kDay, out->mutable_day_of_month(), error) &&
         ParseField(in.month(), kMonth, out->mutable_month(), error) &&
         ParseField(in.year(), kYear, out->mutable_year(), error) &&
         ParseField(in.day_of_week(), kWeekday, out->mutable_day_of_week(), error) &&
         (out->set_comment(in.comment()), true);
}

namespace {

// "<n><unit>" with unit s, m, h or d.
bool ParseCronDuration(const std::string& text, int64_t* seconds) {
  if (text.size() < 2) return false;
  int64_t unit = 0;
  switch (text.back()) {
    case 's': unit = 1; break;
    case 'm': unit = 60; break;
    case 'h': unit = 3600; break;
    case 'd': unit = 86400; break;
    default: return false;
  }
  std::string digits = text.substr(0, text.size() - 1);
  if (digits.empty() || digits.size() > 12 ||
      !std::all_of(digits.begin(), digits.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); }))
    return false;
  *seconds = std::stoll(digits) * unit;
  return true;
}

}  // namespace

bool ParseCronString(const std::string& cron_in, schedv1::ScheduleSpec* into, std::string* error) {
  std::string cron = cron_in;
  std::string comment;
  if (auto hash = cron.find('#'); hash != std::string::npos) {
    comment = cron.substr(hash + 1);
    cron = cron.substr(0, hash);
  }
  std::istringstream in(cron);
  std::vector<std::string> fields;
  for (std::string f; in >> f;) fields.push_back(f);
  auto bad = [&] {
    *error = "invalid cron string: \"" + cron_in + "\"";
    return false;
  };
  if (!fields.empty() && (fields[0].starts_with("CRON_TZ=") || fields[0].starts_with("TZ="))) {
    std::string tz = fields[0].substr(fields[0].find('=') + 1);
    if (!into->timezone_name().empty() && into->timezone_name() != tz) {
      *error = "mismatched time zones in cron string: \"" + cron_in + "\"";
      return false;
    }
    into->set_timezone_name(tz);
    fields.erase(fields.begin());
  }
  if (fields.empty()) return bad();
  schedv1::CalendarSpec cal;
  cal.set_comment(comment);
  if (fields[0].starts_with("@")) {
    std::string d = Lower(fields[0]);
    if (d == "@every") {
      if (fields.size() != 2) return bad();
      auto parts = Split(fields[1], '/');
      int64_t every = 0, phase = 0;
      if (parts.size() > 2 || !ParseCronDuration(parts[0], &every) || every <= 0 ||
          (parts.size() == 2 && !ParseCronDuration(parts[1], &phase)))
        return bad();
      auto* iv = into->add_interval();
      iv->mutable_interval()->set_seconds(every);
      if (phase) iv->mutable_phase()->set_seconds(phase);
      return true;
    }
    if (fields.size() != 1) return bad();
    if (d == "@yearly" || d == "@annually") {
      cal.set_day_of_month("1");
      cal.set_month("1");
    } else if (d == "@monthly") {
      cal.set_day_of_month("1");
    } else if (d == "@weekly") {
      cal.set_day_of_week("0");
    } else if (d == "@daily" || d == "@midnight") {
    } else if (d == "@hourly") {
      cal.set_hour("*");
    } else {
      return bad();
    }
  } else {
    size_t i = 0;
    switch (fields.size()) {
      case 7: cal.set_second(fields[i++]); [[fallthrough]];
      case 5:
      case 6:
        cal.set_minute(fields[i++]);
        cal.set_hour(fields[i++]);
        cal.set_day_of_month(fields[i++]);
        cal.set_month(fields[i++]);
        cal.set_day_of_week(fields[i++]);
        if (i < fields.size()) cal.set_year(fields[i++]);
        break;
      default:
        return bad();
    }
  }
  return ParseCalendarSpec(cal, into->add_structured_calendar(), error);
}

}  // namespace kairos::scheduler
