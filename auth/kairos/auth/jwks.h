// The public keys of a JWKS document (RFC 7517), by key id: RSA keys for
// RS256 and P-256 EC keys for ES256, the two algorithms Temporal's default
// token key provider accepts. Other keys are skipped, as Temporal does.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>

namespace kairos::auth {

class KeySet {
 public:
  // Parses a JWKS document ({"keys": [...]}); false with `error` set when it
  // is not one or holds no usable key.
  static bool Parse(std::string_view json, KeySet* out, std::string* error);

  // Checks `signature` (JWS form: PKCS#1 v1.5 for RS256, r||s for ES256)
  // over `signed_data` with the key `kid`. Empty on success, else why not.
  std::string Verify(std::string_view alg, std::string_view kid, std::string_view signed_data,
                     std::string_view signature) const;

  size_t size() const { return keys_.size(); }

 private:
  struct Key;
  std::map<std::string, std::shared_ptr<const Key>, std::less<>> keys_;
};

}  // namespace kairos::auth
