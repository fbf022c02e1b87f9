// JSON Web Tokens as Temporal's default JWT claim mapper reads them:
// compact JWS, RS256 or ES256, a "kid" header naming a key of the JWKS,
// "exp"/"nbf" honoured, a string "sub", and a permissions claim holding a
// list of strings.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kairos/auth/jwks.h"

namespace kairos::auth {

struct VerifiedToken {
  std::string subject;
  std::vector<std::string> permissions;  // The claim's strings; other values are skipped.
  std::optional<std::chrono::system_clock::time_point> expires;  // "exp", when there is one.
};

// Empty on success (with `out` filled), else why the token is refused.
std::string VerifyJwt(std::string_view token, const KeySet& keys, std::string_view permissions_claim,
                      std::chrono::system_clock::time_point now, VerifiedToken* out);

}  // namespace kairos::auth
