#include "kairos/visibility/search_attribute_validator.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <set>
#include <vector>

#include <google/protobuf/struct.pb.h>

#include "kairos/errors.h"
#include "kairos/visibility/json_value.h"
#include "kairos/visibility/values.h"

namespace kairos::visibility {
namespace {

using google::protobuf::Value;
using temporal::api::common::v1::Payload;

// Predefined attributes Temporal still lets users set; the others (worker
// deployment, external payload figures) are the server's own.
const std::set<std::string>& SettablePredefined() {
  static const std::set<std::string> kSettable = {
      "TemporalChangeVersion",      "BinaryChecksums",        "BuildIds",
      "BatcherNamespace",           "BatcherUser",            "TemporalScheduledStartTime",
      "TemporalScheduledById",      "TemporalSchedulePaused", "TemporalNamespaceDivision",
      "TemporalPauseInfo",          "TemporalReportedProblems",
  };
  return kSettable;
}

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

// Go's %v of a float64: shortest digits, exponent form below 1e-4 and from 1e6.
std::string GoFloat(double d) {
  char buf[64];
  auto sci = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
  std::string s(buf, sci.ptr);
  auto e = s.find('e');
  int exp = std::atoi(s.c_str() + e + 1);
  if (exp < -4 || exp >= 6) return s;  // to_chars writes at least two exponent digits, as Go does.
  auto fixed = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::fixed);
  return std::string(buf, fixed.ptr);
}

// Go's %v of what encoding/json decodes into an interface{}.
std::string GoValue(const Value& v) {
  switch (v.kind_case()) {
    case Value::kStringValue: return v.string_value();
    case Value::kNumberValue: return GoFloat(v.number_value());
    case Value::kBoolValue: return v.bool_value() ? "true" : "false";
    case Value::kListValue: {
      std::string out = "[";
      for (int i = 0; i < v.list_value().values_size(); ++i)
        out += (i ? " " : "") + GoValue(v.list_value().values(i));
      return out + "]";
    }
    case Value::kStructValue: {
      std::vector<std::string> keys;
      for (const auto& [k, _] : v.struct_value().fields()) keys.push_back(k);
      std::sort(keys.begin(), keys.end());
      std::string out = "map[";
      for (size_t i = 0; i < keys.size(); ++i)
        out += (i ? " " : "") + keys[i] + ":" + GoValue(v.struct_value().fields().at(keys[i]));
      return out + "]";
    }
    default: return "<nil>";
  }
}

std::string Quoted(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c >= 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

// A payload that does not decode at all, in protobuf text form as Temporal
// prints it (Go varies that form's spacing; single spaces here).
std::string PayloadText(const Payload& p) {
  std::vector<std::string> keys;
  for (const auto& [k, _] : p.metadata()) keys.push_back(k);
  std::sort(keys.begin(), keys.end());
  std::string out;
  for (const auto& k : keys) {
    if (!out.empty()) out += " ";
    out += "metadata:{key:" + Quoted(k) + " value:" + Quoted(p.metadata().at(k)) + "}";
  }
  if (!p.data().empty()) out += (out.empty() ? "" : " ") + std::string("data:") + Quoted(p.data());
  return "value from <" + out + ">";
}

bool IsIntegerLiteral(const std::string& s) {
  size_t i = !s.empty() && s[0] == '-' ? 1 : 0;
  if (i >= s.size()) return false;
  for (; i < s.size(); ++i)
    if (s[i] < '0' || s[i] > '9') return false;
  errno = 0;
  (void)std::strtoll(s.c_str(), nullptr, 10);
  return errno == 0;
}

// time.Time's JSON form: RFC 3339 with an upper-case T and Z.
bool IsTime(const Value& v) {
  if (v.kind_case() != Value::kStringValue) return false;
  const auto& s = v.string_value();
  return ParseRfc3339(s).has_value() && s[10] == 'T' && s.back() != 'z';
}

bool Decodes(const Value& v, const std::string& raw, enums::IndexedValueType type) {
  // A scalar may come as a list of one (older SDKs send every value as a list).
  if (type != enums::INDEXED_VALUE_TYPE_KEYWORD_LIST && v.kind_case() == Value::kListValue) {
    if (v.list_value().values_size() != 1) return false;
    const Value& item = v.list_value().values(0);
    if (item.kind_case() == Value::kListValue) return false;
    double d = item.number_value();
    std::string item_raw = item.kind_case() == Value::kNumberValue && std::trunc(d) == d && std::fabs(d) < 9.2e18
                               ? std::to_string(static_cast<int64_t>(d))
                               : "";
    return Decodes(item, item_raw, type);
  }
  switch (type) {
    case enums::INDEXED_VALUE_TYPE_TEXT:
    case enums::INDEXED_VALUE_TYPE_KEYWORD: return v.kind_case() == Value::kStringValue;
    case enums::INDEXED_VALUE_TYPE_INT: return v.kind_case() == Value::kNumberValue && IsIntegerLiteral(raw);
    case enums::INDEXED_VALUE_TYPE_DOUBLE: return v.kind_case() == Value::kNumberValue;
    case enums::INDEXED_VALUE_TYPE_BOOL: return v.kind_case() == Value::kBoolValue;
    case enums::INDEXED_VALUE_TYPE_DATETIME: return IsTime(v);
    case enums::INDEXED_VALUE_TYPE_KEYWORD_LIST:
      return v.kind_case() == Value::kListValue &&
             std::all_of(v.list_value().values().begin(), v.list_value().values().end(), [](const Value& item) {
               return item.kind_case() == Value::kStringValue || item.kind_case() == Value::kNullValue;
             });
    default: return false;
  }
}

// The common shapes, a plain string or an integer, accepted without
// building a Value. False is no verdict: the general path decides, and
// words the error.
bool DecodesQuickly(const std::string& data, enums::IndexedValueType type) {
  if (data.size() >= 2 && data.front() == '"' && data.back() == '"') {
    if (type != enums::INDEXED_VALUE_TYPE_KEYWORD && type != enums::INDEXED_VALUE_TYPE_TEXT) return false;
    for (size_t i = 1; i + 1 < data.size(); ++i)
      if (data[i] == '"' || data[i] == '\\' || static_cast<unsigned char>(data[i]) < 0x20) return false;
    return true;
  }
  if (type != enums::INDEXED_VALUE_TYPE_INT && type != enums::INDEXED_VALUE_TYPE_DOUBLE) return false;
  size_t digits = !data.empty() && data[0] == '-' ? 1 : 0;
  if (data.size() > digits + 1 && data[digits] == '0') return false;  // JSON has no leading zeros.
  return IsIntegerLiteral(data);
}

// The map's entries sorted by name, so that the attribute a message names
// does not vary with the map's order.
using Entry = std::pair<const std::string*, const Payload*>;
std::vector<Entry> SortedEntries(const temporal::api::common::v1::SearchAttributes& sa) {
  std::vector<Entry> entries;
  entries.reserve(sa.indexed_fields().size());
  for (const auto& [name, payload] : sa.indexed_fields()) entries.emplace_back(&name, &payload);
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) { return *a.first < *b.first; });
  return entries;
}

}  // namespace

bool DecodesAs(const Payload& payload, enums::IndexedValueType type, std::string* shown) {
  auto enc = payload.metadata().find("encoding");
  std::string encoding = enc == payload.metadata().end() ? "" : enc->second;
  if (encoding == "binary/null") return true;
  if (encoding == "binary/plain") {
    // Decoded as bytes, printed as Go prints a byte slice.
    std::string out = "[";
    for (size_t i = 0; i < payload.data().size(); ++i)
      out += (i ? " " : "") + std::to_string(static_cast<unsigned char>(payload.data()[i]));
    *shown = out + "]";
    return false;
  }
  if (encoding == "json/plain" && DecodesQuickly(payload.data(), type)) return true;
  auto parsed = encoding == "json/plain" ? ParseJsonValue(payload.data()) : std::nullopt;
  if (!parsed) {
    *shown = PayloadText(payload);
    return false;
  }
  const Value& v = *parsed;
  if (v.kind_case() == Value::kNullValue) return true;
  if (v.kind_case() == Value::kListValue && v.list_value().values_size() == 0) return true;
  if (Decodes(v, Trim(payload.data()), type)) return true;
  *shown = GoValue(v);
  return false;
}

grpc::Status SearchAttributeValidator::Validate(const std::string& namespace_id, const std::string& namespace_name,
                                                const temporal::api::common::v1::SearchAttributes& sa) const {
  if (sa.indexed_fields().empty()) return grpc::Status::OK;
  const auto entries = SortedEntries(sa);
  // Names are mapped to their columns first: an unregistered one fails there.
  std::vector<enums::IndexedValueType> types;
  types.reserve(entries.size());
  for (const auto& [name, _] : entries) {
    auto type = registry_->TypeOf(namespace_id, *name);
    if (!type)
      return errors::InvalidArgument("Namespace " + namespace_name + " has no mapping defined for search attribute " +
                                     *name);
    types.push_back(*type);
  }
  if (static_cast<int>(entries.size()) > limits_.max_keys)
    return errors::InvalidArgument("number of search attributes " + std::to_string(entries.size()) +
                                   " exceeds limit " + std::to_string(limits_.max_keys));
  for (size_t i = 0; i < entries.size(); ++i) {
    const std::string& name = *entries[i].first;
    if (SystemAttributes().contains(name) ||
        (PredefinedAttributes().contains(name) && !SettablePredefined().contains(name)))
      return errors::InvalidArgument(name + " attribute can't be set in SearchAttributes");
    std::string shown;
    if (!DecodesAs(*entries[i].second, types[i], &shown))
      return errors::InvalidArgument("invalid value for search attribute " + name + " of type " +
                                     TypeName(types[i]) + ": " + shown);
  }
  return grpc::Status::OK;
}

grpc::Status SearchAttributeValidator::ValidateSize(const temporal::api::common::v1::SearchAttributes& sa) const {
  for (const auto& [name, payload] : SortedEntries(sa)) {
    size_t size = payload->data().size();
    if (size > static_cast<size_t>(limits_.max_value_bytes))
      return errors::InvalidArgument("search attribute " + *name + " value size " + std::to_string(size) +
                                     " exceeds size limit " + std::to_string(limits_.max_value_bytes));
  }
  const size_t total = sa.ByteSizeLong();
  if (total > static_cast<size_t>(limits_.max_total_bytes))
    return errors::InvalidArgument("total size of search attributes " + std::to_string(total) + " exceeds size limit " +
                                   std::to_string(limits_.max_total_bytes));
  return grpc::Status::OK;
}

grpc::Status SearchAttributeValidator::ValidateAll(const std::string& namespace_id, const std::string& namespace_name,
                                                   const temporal::api::common::v1::SearchAttributes& sa) const {
  if (auto st = Validate(namespace_id, namespace_name, sa); !st.ok()) return st;
  return ValidateSize(sa);
}

}  // namespace kairos::visibility
