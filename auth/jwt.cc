#include "kairos/auth/jwt.h"


#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "kairos/auth/base64url.h"

namespace kairos::auth {
namespace {

std::optional<nlohmann::json> DecodeJsonPart(std::string_view part) {
  auto text = Base64UrlDecode(part);
  if (!text) return std::nullopt;
  auto doc = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) return std::nullopt;
  return doc;
}

}  // namespace

std::string VerifyJwt(std::string_view token, const KeySet& keys, std::string_view permissions_claim,
                      std::chrono::system_clock::time_point now, VerifiedToken* out) {
  size_t dot1 = token.find('.');
  size_t dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos)
    return "token is malformed: not three dot-separated parts";
  auto header = DecodeJsonPart(token.substr(0, dot1));
  auto payload = DecodeJsonPart(token.substr(dot1 + 1, dot2 - dot1 - 1));
  auto signature = Base64UrlDecode(token.substr(dot2 + 1));
  if (!header || !payload || !signature) return "token is malformed: a part is not base64url JSON";

  auto alg = header->find("alg");
  if (alg == header->end() || !alg->is_string()) return "token is malformed: no \"alg\" header";
  if (*alg != "RS256" && *alg != "ES256") return "unexpected signing method " + alg->dump();
  auto kid = header->find("kid");
  if (kid == header->end() || !kid->is_string()) return "malformed token - no \"kid\" header";
  if (auto err = keys.Verify(alg->get<std::string>(), kid->get<std::string>(), token.substr(0, dot2), *signature);
      !err.empty())
    return err;

  double now_s = std::chrono::duration<double>(now.time_since_epoch()).count();
  std::optional<std::chrono::system_clock::time_point> expires;
  if (auto exp = payload->find("exp"); exp != payload->end()) {
    if (!exp->is_number()) return "token has an invalid \"exp\" claim";
    if (now_s > exp->get<double>()) return "token is expired";
    expires = std::chrono::system_clock::time_point(std::chrono::duration_cast<std::chrono::system_clock::duration>(
        std::chrono::duration<double>(exp->get<double>())));
  }
  if (auto nbf = payload->find("nbf"); nbf != payload->end()) {
    if (!nbf->is_number()) return "token has an invalid \"nbf\" claim";
    if (now_s < nbf->get<double>()) return "token is not valid yet";
  }
  auto sub = payload->find("sub");
  if (sub == payload->end() || !sub->is_string()) return "unexpected value type of \"sub\" claim";

  VerifiedToken result;
  result.subject = sub->get<std::string>();
  result.expires = expires;
  if (auto perms = payload->find(std::string(permissions_claim)); perms != payload->end() && perms->is_array()) {
    for (const auto& p : *perms) {
      if (p.is_string()) result.permissions.push_back(p.get<std::string>());
      else spdlog::warn("ignoring permission that is not a string: {}", p.dump());
    }
  }
  *out = std::move(result);
  return "";
}

}  // namespace kairos::auth
