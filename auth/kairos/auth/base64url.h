// Base64url without padding (RFC 4648 section 5), as JWTs and JWKs use it.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace kairos::auth {

// nullopt when `in` holds a character outside the alphabet or has an
// impossible length. Trailing '=' padding is accepted.
std::optional<std::string> Base64UrlDecode(std::string_view in);
std::string Base64UrlEncode(std::string_view in);

}  // namespace kairos::auth
