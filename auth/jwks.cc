#include "kairos/auth/jwks.h"

#include <nlohmann/json.hpp>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <spdlog/spdlog.h>

#include "kairos/auth/base64url.h"

namespace kairos::auth {

struct KeySet::Key {
  std::string alg;  // "RS256" or "ES256"
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> pkey{nullptr, &EVP_PKEY_free};
};

namespace {

using BnPtr = std::unique_ptr<BIGNUM, decltype(&BN_free)>;
using ParamBldPtr = std::unique_ptr<OSSL_PARAM_BLD, decltype(&OSSL_PARAM_BLD_free)>;
using ParamsPtr = std::unique_ptr<OSSL_PARAM, decltype(&OSSL_PARAM_free)>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)>;
using EcdsaSigPtr = std::unique_ptr<ECDSA_SIG, decltype(&ECDSA_SIG_free)>;

BnPtr ToBignum(const std::string& bytes) {
  return BnPtr(BN_bin2bn(reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()), nullptr),
               &BN_free);
}

std::optional<std::string> Member(const nlohmann::json& jwk, const char* name) {
  auto it = jwk.find(name);
  if (it == jwk.end() || !it->is_string()) return std::nullopt;
  return Base64UrlDecode(it->get<std::string>());
}

// A public key from OpenSSL parameters; null when OpenSSL refuses them.
EVP_PKEY* FromParams(const char* type, OSSL_PARAM_BLD* bld) {
  ParamsPtr params(OSSL_PARAM_BLD_to_param(bld), &OSSL_PARAM_free);
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr), &EVP_PKEY_CTX_free);
  EVP_PKEY* pkey = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) <= 0 ||
      EVP_PKEY_fromdata(ctx.get(), &pkey, EVP_PKEY_PUBLIC_KEY, params.get()) <= 0)
    return nullptr;
  return pkey;
}

EVP_PKEY* RsaKey(const nlohmann::json& jwk) {
  auto n = Member(jwk, "n"), e = Member(jwk, "e");
  if (!n || !e || n->empty() || e->empty()) return nullptr;
  auto bn_n = ToBignum(*n), bn_e = ToBignum(*e);
  ParamBldPtr bld(OSSL_PARAM_BLD_new(), &OSSL_PARAM_BLD_free);
  if (!bn_n || !bn_e || !bld || !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) ||
      !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get()))
    return nullptr;
  return FromParams("RSA", bld.get());
}

EVP_PKEY* P256Key(const nlohmann::json& jwk) {
  if (jwk.value("crv", "") != "P-256") return nullptr;
  auto x = Member(jwk, "x"), y = Member(jwk, "y");
  if (!x || !y || x->size() != 32 || y->size() != 32) return nullptr;
  std::string point = "\x04" + *x + *y;  // Uncompressed SEC1 point.
  ParamBldPtr bld(OSSL_PARAM_BLD_new(), &OSSL_PARAM_BLD_free);
  if (!bld || !OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) ||
      !OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()))
    return nullptr;
  return FromParams("EC", bld.get());
}

// JWS's ES256 signature is r||s (32 bytes each); OpenSSL verifies DER.
std::optional<std::string> EcdsaToDer(std::string_view sig) {
  if (sig.size() != 64) return std::nullopt;
  EcdsaSigPtr esig(ECDSA_SIG_new(), &ECDSA_SIG_free);
  BIGNUM* r = BN_bin2bn(reinterpret_cast<const unsigned char*>(sig.data()), 32, nullptr);
  BIGNUM* s = BN_bin2bn(reinterpret_cast<const unsigned char*>(sig.data()) + 32, 32, nullptr);
  if (!esig || !r || !s || !ECDSA_SIG_set0(esig.get(), r, s)) {  // set0 owns r and s on success.
    BN_free(r);
    BN_free(s);
    return std::nullopt;
  }
  unsigned char* der = nullptr;
  int len = i2d_ECDSA_SIG(esig.get(), &der);
  if (len <= 0) return std::nullopt;
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  return out;
}

}  // namespace

bool KeySet::Parse(std::string_view json, KeySet* out, std::string* error) {
  auto doc = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object() || !doc.contains("keys") || !doc["keys"].is_array()) {
    *error = "not a JWKS document (an object with a \"keys\" array)";
    return false;
  }
  KeySet set;
  for (const auto& jwk : doc["keys"]) {
    if (!jwk.is_object()) continue;
    std::string kid = jwk.value("kid", "");
    std::string kty = jwk.value("kty", "");
    std::string alg = jwk.value("alg", "");
    auto key = std::make_shared<Key>();
    if (kty == "RSA" && (alg.empty() || alg == "RS256")) {
      key->alg = "RS256";
      key->pkey.reset(RsaKey(jwk));
    } else if (kty == "EC" && (alg.empty() || alg == "ES256")) {
      key->alg = "ES256";
      key->pkey.reset(P256Key(jwk));
    }
    if (kid.empty() || !key->pkey) {
      spdlog::warn("JWKS: skipping key kid={} kty={} alg={} (RS256 RSA and ES256 P-256 keys with a kid are used)", kid,
                   kty, alg);
      continue;
    }
    set.keys_[kid] = std::move(key);
  }
  ERR_clear_error();  // Of keys OpenSSL refused above.
  if (set.keys_.empty()) {
    *error = "the JWKS document holds no usable key (RS256 RSA or ES256 P-256, with a kid)";
    return false;
  }
  *out = std::move(set);
  return true;
}


std::string KeySet::Verify(std::string_view alg, std::string_view kid, std::string_view signed_data,
                           std::string_view signature) const {
  auto it = keys_.find(kid);
  if (it == keys_.end()) return "no key with kid " + std::string(kid);
  const Key& key = *it->second;
  if (alg != key.alg) return "algorithm " + std::string(alg) + " does not match the key's " + key.alg;
  std::string der;
  if (key.alg == "ES256") {
    auto converted = EcdsaToDer(signature);
    if (!converted) return "malformed ES256 signature";
    der = std::move(*converted);
    signature = der;
  }
  MdCtxPtr md(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  if (!md || EVP_DigestVerifyInit(md.get(), nullptr, EVP_sha256(), nullptr, key.pkey.get()) != 1)
    return "cannot set up signature verification";
  int ok = EVP_DigestVerify(md.get(), reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
                            reinterpret_cast<const unsigned char*>(signed_data.data()), signed_data.size());
  // A failed check leaves entries on this thread's OpenSSL error queue,
  // where gRPC's own TLS code on the same thread would find them.
  ERR_clear_error();
  return ok == 1 ? "" : "signature does not verify";
}

}  // namespace kairos::auth
