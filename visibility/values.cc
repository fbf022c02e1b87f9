#include "kairos/visibility/values.h"

#include <algorithm>

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include <google/protobuf/struct.pb.h>

#include "kairos/json_text.h"
#include "kairos/visibility/json_value.h"

namespace kairos::visibility {
namespace {

using google::protobuf::Value;
namespace enums = temporal::api::enums::v1;

// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

bool Digits(const std::string& s, size_t pos, size_t n, int* out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = 0; i < n; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(s[pos + i]))) return false;
    v = v * 10 + (s[pos + i] - '0');
  }
  *out = v;
  return true;
}

bool IsInteger(const std::string& s) {
  size_t i = (!s.empty() && s[0] == '-') ? 1 : 0;
  if (i >= s.size()) return false;
  for (; i < s.size(); ++i)
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
  return true;
}


// The value of one scalar, in the form a query of the attribute's type
// compares (see query_sql.cc's ValueColumn and TextCompare), or in every
// form when the type is not known.
void AddScalar(const std::string& name, const Value& v, const std::string& raw,
               std::optional<enums::IndexedValueType> type, std::vector<persistence::SearchAttributeValue>* out) {
  auto wants = [&](enums::IndexedValueType t) { return !type || *type == t; };
  persistence::SearchAttributeValue a;
  a.name = name;
  switch (v.kind_case()) {
    case Value::kStringValue:
      if (!type || *type == enums::INDEXED_VALUE_TYPE_KEYWORD || *type == enums::INDEXED_VALUE_TYPE_KEYWORD_LIST ||
          *type == enums::INDEXED_VALUE_TYPE_UNSPECIFIED)
        a.text = v.string_value();
      if (wants(enums::INDEXED_VALUE_TYPE_TEXT)) a.words = Words(v.string_value());
      if (wants(enums::INDEXED_VALUE_TYPE_DATETIME)) a.time_nanos = ParseRfc3339(v.string_value());
      break;
    case Value::kNumberValue: {
      double d = v.number_value();
      if (wants(enums::INDEXED_VALUE_TYPE_DOUBLE)) a.double_value = d;
      if (!wants(enums::INDEXED_VALUE_TYPE_INT)) break;
      std::string trimmed = raw;
      while (!trimmed.empty() && std::isspace(static_cast<unsigned char>(trimmed.back()))) trimmed.pop_back();
      while (!trimmed.empty() && std::isspace(static_cast<unsigned char>(trimmed.front()))) trimmed.erase(0, 1);
      if (IsInteger(trimmed)) {
        a.int_value = std::strtoll(trimmed.c_str(), nullptr, 10);
      } else if (std::trunc(d) == d && std::fabs(d) < 9.2e18) {
        a.int_value = static_cast<int64_t>(d);
      }
      break;
    }
    case Value::kBoolValue:
      if (wants(enums::INDEXED_VALUE_TYPE_BOOL)) a.bool_value = v.bool_value() ? 1 : 0;
      break;
    default:
      return;
  }
  out->push_back(std::move(a));
}

}  // namespace

std::vector<persistence::SearchAttributeValue> IndexValues(const temporal::api::common::v1::SearchAttributes& sa,
                                                           const TypeLookup& type_of) {
  std::vector<persistence::SearchAttributeValue> out;
  for (const auto& [name, payload] : sa.indexed_fields()) {
    auto enc = payload.metadata().find("encoding");
    if (enc != payload.metadata().end() && enc->second == "binary/null") continue;
    auto v = ParseJsonValue(payload.data());
    if (!v) continue;
    auto type = type_of ? type_of(name) : std::nullopt;
    if (v->kind_case() == Value::kListValue) {
      for (const auto& item : v->list_value().values()) {
        std::string raw = item.kind_case() == Value::kNumberValue ? std::to_string(item.number_value()) : "";
        AddScalar(name, item, raw, type, &out);
      }
    } else {
      AddScalar(name, *v, payload.data(), type, &out);
    }
  }
  return out;
}

std::optional<std::string> StringValue(const temporal::api::common::v1::SearchAttributes& sa, const std::string& name) {
  auto it = sa.indexed_fields().find(name);
  if (it == sa.indexed_fields().end()) return std::nullopt;
  auto v = ParseJsonValue(it->second.data());
  if (!v) return std::nullopt;
  if (v->kind_case() == Value::kStringValue) return v->string_value();
  if (v->kind_case() == Value::kListValue && v->list_value().values_size() == 1 &&
      v->list_value().values(0).kind_case() == Value::kStringValue)
    return v->list_value().values(0).string_value();
  return std::nullopt;
}

std::vector<std::string> StringValues(const temporal::api::common::v1::SearchAttributes& sa, const std::string& name) {
  std::vector<std::string> out;
  auto it = sa.indexed_fields().find(name);
  if (it == sa.indexed_fields().end()) return out;
  auto v = ParseJsonValue(it->second.data());
  if (!v) return out;
  if (v->kind_case() == Value::kStringValue) out.push_back(v->string_value());
  if (v->kind_case() == Value::kListValue)
    for (const auto& item : v->list_value().values())
      if (item.kind_case() == Value::kStringValue) out.push_back(item.string_value());
  return out;
}

namespace {
temporal::api::common::v1::Payload JsonPayload(std::string json, const char* type) {
  temporal::api::common::v1::Payload p;
  (*p.mutable_metadata())["encoding"] = "json/plain";
  (*p.mutable_metadata())["type"] = type;
  p.set_data(std::move(json));
  return p;
}
}  // namespace

temporal::api::common::v1::Payload KeywordListPayload(const std::vector<std::string>& items) {
  std::string json = "[";
  for (const auto& item : items) {
    if (json.size() > 1) json += ',';
    AppendJsonString(item, &json);
  }
  json += ']';
  return JsonPayload(std::move(json), "KeywordList");
}

temporal::api::common::v1::Payload KeywordPayload(const std::string& value) {
  std::string json;
  AppendJsonString(value, &json);
  return JsonPayload(std::move(json), "Keyword");
}

std::optional<int64_t> ParseRfc3339(const std::string& s) {
  int y, mo, d, h, mi, se;
  if (!Digits(s, 0, 4, &y) || s.size() < 20 || s[4] != '-' || !Digits(s, 5, 2, &mo) || s[7] != '-' ||
      !Digits(s, 8, 2, &d) || (s[10] != 'T' && s[10] != 't') || !Digits(s, 11, 2, &h) || s[13] != ':' ||
      !Digits(s, 14, 2, &mi) || s[16] != ':' || !Digits(s, 17, 2, &se))
    return std::nullopt;
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 59) return std::nullopt;
  size_t pos = 19;
  int64_t frac = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    int digits = 0;
    while (pos < s.size() && std::isdigit(static_cast<unsigned char>(s[pos]))) {
      if (digits < 9) {
        frac = frac * 10 + (s[pos] - '0');
        ++digits;
      }
      ++pos;
    }
    if (digits == 0) return std::nullopt;
    for (int i = digits; i < 9; ++i) frac *= 10;
  }
  int64_t offset = 0;
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    int oh, om;
    if (!Digits(s, pos + 1, 2, &oh) || pos + 3 >= s.size() || s[pos + 3] != ':' || !Digits(s, pos + 4, 2, &om))
      return std::nullopt;
    if (oh > 23 || om > 59) return std::nullopt;
    offset = (oh * 3600 + om * 60) * (s[pos] == '-' ? -1 : 1);
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != s.size()) return std::nullopt;
  int64_t secs = DaysFromCivil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - offset;
  return secs * 1'000'000'000 + frac;
}

std::optional<int64_t> DynamicConfigDurationNanos(std::string value) {
  if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
  std::optional<int64_t> nanos;
  if (!value.empty() && std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    if (value.size() > 9) return std::nullopt;  // Past any sensible number of seconds.
    nanos = std::stoll(value) * 1'000'000'000;
  } else {
    nanos = ParseDuration(value);
  }
  if (!nanos || *nanos < 0) return std::nullopt;
  return nanos;
}

std::optional<int64_t> ParseDuration(const std::string& s) {
  if (IsInteger(s)) {
    errno = 0;
    long long v = std::strtoll(s.c_str(), nullptr, 10);
    if (errno != 0) return std::nullopt;
    return v;
  }
  // Go durations, with "d" for days as Temporal adds.
  if (!s.empty()) {
    size_t pos = 0;
    bool negative = false;
    if (s[0] == '-' || s[0] == '+') {
      negative = s[0] == '-';
      pos = 1;
    }
    double total = 0;
    bool any = false, ok = pos < s.size();
    while (ok && pos < s.size()) {
      size_t start = pos;
      while (pos < s.size() && (std::isdigit(static_cast<unsigned char>(s[pos])) || s[pos] == '.')) ++pos;
      if (start == pos) {
        ok = false;
        break;
      }
      double num = std::strtod(s.substr(start, pos - start).c_str(), nullptr);
      size_t ustart = pos;
      while (pos < s.size() && !std::isdigit(static_cast<unsigned char>(s[pos])) && s[pos] != '.') ++pos;
      std::string unit = s.substr(ustart, pos - ustart);
      double scale;
      if (unit == "ns") scale = 1;
      else if (unit == "us" || unit == "\xC2\xB5s" || unit == "\xCE\xBCs") scale = 1e3;
      else if (unit == "ms") scale = 1e6;
      else if (unit == "s") scale = 1e9;
      else if (unit == "m") scale = 60e9;
      else if (unit == "h") scale = 3600e9;
      else if (unit == "d") scale = 86400e9;
      else {
        ok = false;
        break;
      }
      total += num * scale;
      any = true;
    }
    if (ok && any) return static_cast<int64_t>(negative ? -total : total);
  }
  // hh:mm:ss
  int h, m, sec;
  size_t c1 = s.find(':');
  size_t c2 = c1 == std::string::npos ? c1 : s.find(':', c1 + 1);
  if (c1 != std::string::npos && c2 != std::string::npos && c2 + 3 == s.size() && Digits(s, 0, c1, &h) &&
      Digits(s, c1 + 1, 2, &m) && c1 + 3 == c2 && Digits(s, c2 + 1, 2, &sec) && m < 60 && sec < 60)
    return (static_cast<int64_t>(h) * 3600 + m * 60 + sec) * 1'000'000'000;
  return std::nullopt;
}

std::vector<std::string> Tokens(const std::string& text) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || u >= 0x80) {
      cur += static_cast<char>(std::tolower(u));
    } else if (!cur.empty()) {
      out.push_back(std::move(cur));
      cur.clear();
    }
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

std::string Words(const std::string& text) {
  auto tokens = Tokens(text);
  if (tokens.empty()) return "";
  std::string out = " ";
  for (const auto& t : tokens) out += t + " ";
  return out;
}

}  // namespace kairos::visibility
