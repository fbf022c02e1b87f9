// Static API keys for small setups: a JSON file
//   {"keys": [{"key": "…", "subject": "ci", "permissions": ["default:write"]}]}
// where each key stands for the claims its permission strings map to, as a
// JWT's would. Keys are held as SHA-256 digests and looked up by digest.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "kairos/auth/claims.h"

namespace kairos::auth {

class ApiKeys {
 public:
  static bool Parse(std::string_view json, ApiKeys* out, std::string* error);

  const Claims* Find(std::string_view key) const;  // Null: not a known key.
  size_t size() const { return by_digest_.size(); }

 private:
  std::map<std::string, Claims, std::less<>> by_digest_;
};

}  // namespace kairos::auth
