#include "kairos/http/routes.h"

#include <google/api/annotations.pb.h>
#include <google/api/http.pb.h>
#include <spdlog/spdlog.h>

#include "temporal/api/operatorservice/v1/service.pb.h"
#include "temporal/api/workflowservice/v1/service.pb.h"

namespace kairos::http {
namespace {

namespace pb = google::protobuf;

std::vector<std::string> SplitPath(const std::string& path) {
  std::vector<std::string> parts;
  size_t i = 0;
  if (!path.empty() && path[0] == '/') i = 1;
  while (i <= path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    parts.push_back(path.substr(i, j - i));
    i = j + 1;
  }
  return parts;
}

// Parses "/a/{b.c}/d": literals and single-segment variables, the only forms
// Temporal's annotations use. A template with anything else is skipped with a
// warning rather than half-matched.
std::optional<Route> Parse(const std::string& verb, const std::string& pattern, const std::string& body,
                           const pb::MethodDescriptor* method) {
  Route r{verb, pattern, {}, body, method, 0};
  for (const auto& part : SplitPath(pattern)) {
    if (part.size() >= 2 && part.front() == '{' && part.back() == '}') {
      std::string field = part.substr(1, part.size() - 2);
      if (auto eq = field.find('='); eq != std::string::npos) {
        if (field.substr(eq + 1) != "*") return std::nullopt;
        field = field.substr(0, eq);
      }
      r.segments.push_back({"", field});
    } else if (part.find_first_of("{}*:") != std::string::npos || part.empty()) {
      return std::nullopt;
    } else {
      r.segments.push_back({part, ""});
      ++r.literals;
    }
  }
  return r;
}

void AddRule(const google::api::HttpRule& rule, const pb::MethodDescriptor* method, std::vector<Route>* out) {
  std::string verb, pattern;
  switch (rule.pattern_case()) {
    case google::api::HttpRule::kGet: verb = "GET", pattern = rule.get(); break;
    case google::api::HttpRule::kPost: verb = "POST", pattern = rule.post(); break;
    case google::api::HttpRule::kPut: verb = "PUT", pattern = rule.put(); break;
    case google::api::HttpRule::kDelete: verb = "DELETE", pattern = rule.delete_(); break;
    case google::api::HttpRule::kPatch: verb = "PATCH", pattern = rule.patch(); break;
    default: break;
  }
  if (!verb.empty()) {
    if (auto r = Parse(verb, pattern, rule.body(), method)) {
      out->push_back(std::move(*r));
    } else {
      spdlog::warn("http: route {} {} of {} not supported, skipped", verb, pattern, method->full_name());
    }
  }
  for (const auto& extra : rule.additional_bindings()) AddRule(extra, method, out);
}

}  // namespace

std::string PercentDecode(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

RouteTable RouteTable::FromServices(const std::vector<std::string>& service_names) {
  RouteTable table;
  const auto* pool = pb::DescriptorPool::generated_pool();
  for (const auto& name : service_names) {
    const auto* service = pool->FindServiceByName(name);
    if (service == nullptr) {
      spdlog::warn("http: service {} not compiled in", name);
      continue;
    }
    for (int i = 0; i < service->method_count(); ++i) {
      const auto* method = service->method(i);
      if (!method->options().HasExtension(google::api::http)) continue;
      AddRule(method->options().GetExtension(google::api::http), method, &table.routes_);
    }
  }
  return table;
}

RouteTable RouteTable::TemporalApi() {
  // The service descriptors live in objects that nothing else references, so
  // a static link would leave them out; naming their tables links them in and
  // registers them in the generated pool.
  pb::internal::AssignDescriptors(&descriptor_table_temporal_2fapi_2fworkflowservice_2fv1_2fservice_2eproto);
  pb::internal::AssignDescriptors(&descriptor_table_temporal_2fapi_2foperatorservice_2fv1_2fservice_2eproto);
  return FromServices(
      {"temporal.api.workflowservice.v1.WorkflowService", "temporal.api.operatorservice.v1.OperatorService"});
}

std::optional<RouteMatch> RouteTable::Match(const std::string& verb, const std::string& raw_path,
                                            bool* path_matched) const {
  auto parts = SplitPath(raw_path);
  // A trailing slash is not part of any template.
  if (parts.size() > 1 && parts.back().empty()) parts.pop_back();
  std::optional<RouteMatch> best;
  *path_matched = false;
  for (const auto& route : routes_) {
    if (route.segments.size() != parts.size()) continue;
    RouteMatch m{&route, {}};
    bool ok = true;
    for (size_t i = 0; i < parts.size() && ok; ++i) {
      const auto& seg = route.segments[i];
      if (seg.field_path.empty()) {
        ok = seg.literal == parts[i];
      } else {
        ok = !parts[i].empty();
        if (ok) m.variables.emplace_back(seg.field_path, PercentDecode(parts[i]));
      }
    }
    if (!ok) continue;
    *path_matched = true;
    if (route.verb != verb) continue;
    if (!best || route.literals > best->route->literals) best = std::move(m);
  }
  return best;
}

}  // namespace kairos::http
