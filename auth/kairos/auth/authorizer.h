// The authorization check every RPC passes before its handler runs, with
// Temporal's rules: the bearer token of the `authorization` metadata is a
// static API key or a JWT verified against the JWKS file; its permissions
// map to roles (kairos/auth/claims.h); the RPC's scope and access
// (kairos/auth/api_access.h) say which role it needs. Refusals are
// PERMISSION_DENIED "Request unauthorized." (details only in the log), as
// Temporal answers. Thread-safe; the key files are re-read when they change.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include <grpcpp/support/status.h>

namespace kairos::auth {

struct AuthOptions {
  std::string jwks_file;                        // JWKS of the token issuer; empty: JWTs are refused.
  std::string permissions_claim = "permissions";  // Temporal's permissionsClaimName.
  std::string api_keys_file;                    // Static API keys; empty: none.
  std::chrono::seconds reload_interval{10};     // How often the files are checked for changes.

  bool enabled() const { return !jwks_file.empty() || !api_keys_file.empty(); }
};

class Authorizer {
 public:
  // Reads the files; an error says which and why.
  static grpc::Status Create(const AuthOptions& options, std::unique_ptr<Authorizer>* out);
  ~Authorizer();

  // `authorization`: the metadata's value, empty when absent.
  // `full_method`: "/package.Service/Method"; `ns`: the request's namespace.
  grpc::Status Authorize(std::string_view authorization, std::string_view full_method, std::string_view ns) const;

  std::string Describe() const;  // For the banner: "JWT (2 keys in jwks.json), API keys (3)".

  struct Key {};  // Only Create() constructs.
  explicit Authorizer(Key);

 private:
  class State;
  std::unique_ptr<State> state_;
};

}  // namespace kairos::auth
