// What a caller may do, as Temporal's claims hold it: a role bit set for
// the whole system and one per namespace, mapped from permission strings
// "<namespace>:<read|write|worker|admin>" ("temporal-system:<role>" for the
// system) by the rules of Temporal's default JWT claim mapper.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace kairos::auth {

// Bits, ordered so that a set compares as at least its highest role.
enum Role : uint8_t {
  kRoleUndefined = 0,
  kRoleWorker = 1,
  kRoleReader = 2,
  kRoleWriter = 4,
  kRoleAdmin = 8,
};

struct Claims {
  std::string subject;
  uint8_t system = kRoleUndefined;
  std::map<std::string, uint8_t, std::less<>> namespaces;
};

// Unknown roles add nothing; strings without ':' are skipped (logged).
Claims MapPermissions(std::string subject, const std::vector<std::string>& permissions);

}  // namespace kairos::auth
