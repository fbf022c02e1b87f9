#include "kairos/auth/claims.h"

#include <algorithm>

#include <spdlog/spdlog.h>

namespace kairos::auth {
namespace {

constexpr std::string_view kSystemScope = "temporal-system";

uint8_t RoleOf(std::string role) {
  std::transform(role.begin(), role.end(), role.begin(), [](unsigned char c) { return std::tolower(c); });
  if (role == "read") return kRoleReader;
  if (role == "write") return kRoleWriter;
  if (role == "worker") return kRoleWorker;
  if (role == "admin") return kRoleAdmin;
  return kRoleUndefined;
}

}  // namespace

Claims MapPermissions(std::string subject, const std::vector<std::string>& permissions) {
  Claims claims;
  claims.subject = std::move(subject);
  for (const auto& p : permissions) {
    size_t colon = p.find(':');
    if (colon == std::string::npos) {
      spdlog::warn("ignoring permission in unexpected format: {}", p);
      continue;
    }
    std::string scope = p.substr(0, colon);
    uint8_t role = RoleOf(p.substr(colon + 1));
    if (scope == kSystemScope) claims.system |= role;
    else claims.namespaces[scope] |= role;
  }
  return claims;
}

}  // namespace kairos::auth
