#include "attributes_json.h"

#include <cmath>
#include <cstdio>

#include "kairos/json_text.h"

namespace kairos::persistence {
namespace {

// One value in the one form its type compares (a Text value as its words).
void AppendItem(const SearchAttributeValue& a, std::string* json) {
  if (a.text) {
    AppendJsonString(*a.text, json);
  } else if (a.int_value) {
    *json += std::to_string(*a.int_value);
  } else if (a.double_value && std::isfinite(*a.double_value)) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.17g", *a.double_value);
    *json += buf;
  } else if (a.bool_value) {
    *json += *a.bool_value ? "1" : "0";
  } else if (a.time_nanos) {
    *json += std::to_string(*a.time_nanos);
  } else {
    AppendJsonString(a.words, json);
  }
}

// Appends the members of `values` to an object being written.
void AppendMembers(const std::vector<SearchAttributeValue>& values, std::string* json) {
  const std::string* open = nullptr;
  for (const auto& a : values) {
    if (!open || *open != a.name) {
      if (open) *json += ']';
      if (json->size() > 1) *json += ',';
      AppendJsonString(a.name, json);
      *json += ":[";
      open = &a.name;
    } else {
      *json += ',';
    }
    AppendItem(a, json);
  }
  if (open) *json += ']';
}

// The end of the JSON string starting at `pos` (its closing quote + 1).
size_t StringEnd(std::string_view s, size_t pos) {
  for (size_t i = pos + 1; i < s.size(); ++i) {
    if (s[i] == '\\') ++i;
    else if (s[i] == '"') return i + 1;
  }
  return s.size();
}

// Calls f(quoted key, member text) for each top-level member of a compact
// object; stops at anything it does not expect.
template <class F>
void ForEachMember(std::string_view json, F f) {
  if (json.size() < 2 || json.front() != '{') return;
  size_t i = 1;
  while (i < json.size() && json[i] == '"') {
    size_t key_end = StringEnd(json, i);
    if (key_end >= json.size() || json[key_end] != ':') return;
    size_t j = key_end + 1;
    int depth = 0;
    for (; j < json.size(); ++j) {
      char c = json[j];
      if (c == '"') {
        j = StringEnd(json, j) - 1;
      } else if (c == '[' || c == '{') {
        ++depth;
      } else if (c == ']' || c == '}') {
        if (depth == 0) break;
        --depth;
      } else if (c == ',' && depth == 0) {
        break;
      }
    }
    f(json.substr(i, key_end - i), json.substr(i, j - i));
    if (j >= json.size() || json[j] != ',') return;
    i = j + 1;
  }
}

std::string Quoted(const std::string& name) {
  std::string q;
  AppendJsonString(name, &q);
  return q;
}

}  // namespace

std::string AttributesJson(const std::vector<SearchAttributeValue>& values) {
  if (values.empty()) return "";
  std::string json = "{";
  AppendMembers(values, &json);
  return json + "}";
}

std::string MergeAttributesJson(std::string_view old, const std::vector<std::string>& replaced,
                                const std::vector<SearchAttributeValue>& values) {
  std::vector<std::string> dropped;
  dropped.reserve(replaced.size());
  for (const auto& name : replaced) dropped.push_back(Quoted(name));
  std::string json = "{";
  ForEachMember(old, [&](std::string_view key, std::string_view member) {
    for (const auto& d : dropped)
      if (key == d) return;
    if (json.size() > 1) json += ',';
    json += member;
  });
  AppendMembers(values, &json);
  return json.size() > 1 ? json + "}" : "";
}

bool HasAttribute(std::string_view json, const std::string& name) {
  std::string quoted = Quoted(name);
  bool found = false;
  ForEachMember(json, [&](std::string_view key, std::string_view) { found = found || key == quoted; });
  return found;
}

}  // namespace kairos::persistence
