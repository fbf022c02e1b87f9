#include "kairos/auth/authorizer.h"

#include <filesystem>
#include <map>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>

#include <strings.h>

#include <spdlog/spdlog.h>

#include "kairos/auth/api_access.h"
#include "kairos/auth/api_keys.h"
#include "kairos/auth/claims.h"
#include "kairos/auth/jwks.h"
#include "kairos/auth/jwt.h"
#include "kairos/errors.h"

namespace kairos::auth {
namespace {

using FileTime = std::filesystem::file_time_type;

bool ReadText(const std::string& path, std::string* text, FileTime* mtime, std::string* error) {
  std::error_code ec;
  *mtime = std::filesystem::last_write_time(path, ec);
  std::ifstream in(path);
  if (ec || !in) {
    *error = "cannot read " + path;
    return false;
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  *text = buffer.str();
  return true;
}

// One of the two key files, parsed; replaced whole when the file changes.
template <class Parsed>
struct WatchedFile {
  std::string path;
  FileTime mtime{};
  std::shared_ptr<const Parsed> parsed;

  bool Load(std::string* error) {
    std::string text;
    FileTime t;
    auto next = std::make_shared<Parsed>();
    if (!ReadText(path, &text, &t, error) || !Parsed::Parse(text, next.get(), error)) {
      if (!error->starts_with(path)) *error = path + ": " + *error;
      return false;
    }
    mtime = t;
    parsed = std::move(next);
    return true;
  }

  // Keeps the last good content when the new one cannot be used.
  void ReloadIfChanged() {
    if (path.empty()) return;
    std::error_code ec;
    auto t = std::filesystem::last_write_time(path, ec);
    if (ec || t == mtime) return;
    std::string error;
    if (Load(&error)) spdlog::info("authorization: reloaded {}", path);
    else spdlog::error("authorization: keeping the previous keys: {}", error);
    mtime = t;  // Not retried until the file changes again.
  }
};

}  // namespace

class Authorizer::State {
 public:
  explicit State(AuthOptions options) : options_(std::move(options)) {
    jwks_.path = options_.jwks_file;
    api_keys_.path = options_.api_keys_file;
  }

  grpc::Status Load() {
    std::string error;
    if (!jwks_.path.empty() && !jwks_.Load(&error)) return errors::InvalidArgument("--auth-jwks: " + error);
    if (!api_keys_.path.empty() && !api_keys_.Load(&error)) return errors::InvalidArgument("--auth-api-keys: " + error);
    last_check_ = std::chrono::steady_clock::now();
    return grpc::Status::OK;
  }

  // The caller's claims, or why the token is refused.
  std::optional<Claims> ClaimsOf(std::string_view authorization, std::string* why) {
    size_t space = authorization.find(' ');
    if (space == std::string_view::npos) {
      *why = "unexpected authorization token format";
      return std::nullopt;
    }
    std::string scheme(authorization.substr(0, space));
    std::string_view token = authorization.substr(space + 1);
    if (strcasecmp(scheme.c_str(), "bearer") != 0) {
      *why = "unexpected name in authorization token";
      return std::nullopt;
    }
    auto [keys, api_keys] = Current();
    if (api_keys) {
      if (const Claims* c = api_keys->Find(token)) return *c;
    }
    if (!keys) {
      *why = api_keys ? "not a known API key" : "no JWKS to verify tokens with";
      return std::nullopt;
    }
    auto now = std::chrono::system_clock::now();
    if (auto cached = Cached(token, now)) return cached;
    VerifiedToken verified;
    *why = VerifyJwt(token, *keys, options_.permissions_claim, now, &verified);
    if (!why->empty()) return std::nullopt;
    Claims claims = MapPermissions(std::move(verified.subject), verified.permissions);
    Remember(token, claims, verified.expires, keys);
    return claims;
  }

  std::string Describe() {
    auto [keys, api_keys] = Current();
    std::string out;
    if (keys) out = "JWT (" + std::to_string(keys->size()) + " keys in " + jwks_.path + ", claim \"" +
                    options_.permissions_claim + "\")";
    if (api_keys) out += (out.empty() ? "" : ", ") + std::string("API keys (") + std::to_string(api_keys->size()) + ")";
    return out;
  }

 private:
  std::pair<std::shared_ptr<const KeySet>, std::shared_ptr<const ApiKeys>> Current() {
    std::lock_guard lock(mu_);
    auto now = std::chrono::steady_clock::now();
    if (now - last_check_ >= options_.reload_interval) {
      last_check_ = now;
      jwks_.ReloadIfChanged();
      api_keys_.ReloadIfChanged();
    }
    return {jwks_.parsed, api_keys_.parsed};
  }

  // Verified tokens, so that a client's every call does not pay for a
  // signature check. An entry is good until the token's exp and only for
  // the key set that verified it (a reloaded JWKS can revoke keys).
  struct CachedToken {
    Claims claims;
    std::optional<std::chrono::system_clock::time_point> expires;
    std::shared_ptr<const KeySet> keys;
  };
  static constexpr size_t kMaxCachedTokens = 4096;

  std::optional<Claims> Cached(std::string_view token, std::chrono::system_clock::time_point now) {
    std::lock_guard lock(mu_);
    auto it = verified_.find(token);
    if (it == verified_.end()) return std::nullopt;
    if (it->second.keys != jwks_.parsed || (it->second.expires && now > *it->second.expires)) {
      verified_.erase(it);
      return std::nullopt;
    }
    return it->second.claims;
  }

  void Remember(std::string_view token, const Claims& claims,
                std::optional<std::chrono::system_clock::time_point> expires, std::shared_ptr<const KeySet> keys) {
    std::lock_guard lock(mu_);
    if (verified_.size() >= kMaxCachedTokens) verified_.clear();  // Simple bound; tokens are re-verified.
    verified_.insert_or_assign(std::string(token), CachedToken{claims, expires, std::move(keys)});
  }

  const AuthOptions options_;
  std::mutex mu_;
  std::map<std::string, CachedToken, std::less<>> verified_;
  std::chrono::steady_clock::time_point last_check_;
  WatchedFile<KeySet> jwks_;
  WatchedFile<ApiKeys> api_keys_;
};

Authorizer::Authorizer(Key) {}
Authorizer::~Authorizer() = default;

grpc::Status Authorizer::Create(const AuthOptions& options, std::unique_ptr<Authorizer>* out) {
  auto a = std::make_unique<Authorizer>(Key{});
  a->state_ = std::make_unique<State>(options);
  if (auto st = a->state_->Load(); !st.ok()) return st;
  *out = std::move(a);
  return grpc::Status::OK;
}

std::string Authorizer::Describe() const { return state_->Describe(); }

grpc::Status Authorizer::Authorize(std::string_view authorization, std::string_view full_method,
                                   std::string_view ns) const {
  // As Temporal: a token that is there must be good, even for a health check.
  std::optional<Claims> claims;
  if (!authorization.empty()) {
    std::string why;
    claims = state_->ClaimsOf(authorization, &why);
    if (!claims) {
      spdlog::warn("unauthorized rpc={} namespace={}: {}", full_method, ns, why);
      return errors::PermissionDenied("Request unauthorized.");
    }
  }
  if (IsHealthCheck(full_method)) return grpc::Status::OK;
  if (!claims) {
    spdlog::warn("unauthorized rpc={} namespace={}: no authorization token", full_method, ns);
    return errors::PermissionDenied("Request unauthorized.");
  }
  ApiAccess api = AccessOf(full_method);
  uint8_t role = kRoleUndefined;
  if (api.scope == Scope::kCluster) {
    role = claims->system;
  } else if (api.scope == Scope::kNamespace) {
    role = claims->system;
    if (auto it = claims->namespaces.find(ns); it != claims->namespaces.end()) role |= it->second;
  }
  uint8_t required = api.access == Access::kReadOnly ? kRoleReader
                     : api.access == Access::kWrite  ? kRoleWriter
                                                     : kRoleAdmin;
  if (api.scope != Scope::kUnknown && role >= required) return grpc::Status::OK;
  spdlog::warn("unauthorized rpc={} namespace={} subject={}: role bits {} in scope, {} needed", full_method, ns,
               claims->subject, role, required);
  return errors::PermissionDenied("Request unauthorized.");
}

}  // namespace kairos::auth
