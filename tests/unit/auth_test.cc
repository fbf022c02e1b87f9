// Authorization: JWT verification against a JWKS (keys made here with
// OpenSSL), Temporal's claim mapping, API keys, and the per-RPC decisions.
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <unistd.h>

#include "kairos/auth/api_access.h"
#include "kairos/auth/api_keys.h"
#include "kairos/auth/authorizer.h"
#include "kairos/auth/base64url.h"
#include "kairos/auth/claims.h"
#include "kairos/auth/jwks.h"
#include "kairos/auth/jwt.h"

namespace {

using namespace kairos::auth;
using Json = nlohmann::json;
using PkeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;

std::string BnBytes(const EVP_PKEY* key, const char* param, size_t pad = 0) {
  BIGNUM* bn = nullptr;
  REQUIRE(EVP_PKEY_get_bn_param(key, param, &bn) == 1);
  size_t len = std::max<size_t>(pad, static_cast<size_t>(BN_num_bytes(bn)));
  std::string out(len, '\0');
  BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(len));
  BN_free(bn);
  return out;
}

// A signing key and its public JWK.
struct TestKey {
  std::string alg, kid;
  PkeyPtr pkey{nullptr, &EVP_PKEY_free};

  static TestKey Rsa(std::string kid) {
    TestKey k{"RS256", std::move(kid)};
    k.pkey.reset(EVP_RSA_gen(2048));
    REQUIRE(k.pkey);
    return k;
  }
  static TestKey P256(std::string kid) {
    TestKey k{"ES256", std::move(kid)};
    k.pkey.reset(EVP_EC_gen("P-256"));
    REQUIRE(k.pkey);
    return k;
  }

  Json Jwk() const {
    if (alg == "RS256")
      return {{"kty", "RSA"}, {"kid", kid}, {"alg", "RS256"}, {"use", "sig"},
              {"n", Base64UrlEncode(BnBytes(pkey.get(), OSSL_PKEY_PARAM_RSA_N))},
              {"e", Base64UrlEncode(BnBytes(pkey.get(), OSSL_PKEY_PARAM_RSA_E))}};
    return {{"kty", "EC"}, {"kid", kid}, {"crv", "P-256"},
            {"x", Base64UrlEncode(BnBytes(pkey.get(), OSSL_PKEY_PARAM_EC_PUB_X, 32))},
            {"y", Base64UrlEncode(BnBytes(pkey.get(), OSSL_PKEY_PARAM_EC_PUB_Y, 32))}};
  }

  std::string Sign(const Json& payload, std::string header_kid = "") const {
    Json header = {{"alg", alg}, {"typ", "JWT"}, {"kid", header_kid.empty() ? kid : header_kid}};
    std::string input = Base64UrlEncode(header.dump()) + "." + Base64UrlEncode(payload.dump());
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> md(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
    REQUIRE(EVP_DigestSignInit(md.get(), nullptr, EVP_sha256(), nullptr, pkey.get()) == 1);
    size_t len = 0;
    REQUIRE(EVP_DigestSign(md.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1);
    std::string sig(len, '\0');
    REQUIRE(EVP_DigestSign(md.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                           reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1);
    sig.resize(len);
    if (alg == "ES256") {  // DER to JWS's r||s.
      const unsigned char* p = reinterpret_cast<const unsigned char*>(sig.data());
      ECDSA_SIG* es = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size()));
      REQUIRE(es);
      std::string raw(64, '\0');
      BN_bn2binpad(ECDSA_SIG_get0_r(es), reinterpret_cast<unsigned char*>(raw.data()), 32);
      BN_bn2binpad(ECDSA_SIG_get0_s(es), reinterpret_cast<unsigned char*>(raw.data()) + 32, 32);
      ECDSA_SIG_free(es);
      sig = raw;
    }
    return input + "." + Base64UrlEncode(sig);
  }
};

int64_t NowPlus(int seconds) {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count() +
         seconds;
}

KeySet KeysOf(std::initializer_list<const TestKey*> keys) {
  Json doc = {{"keys", Json::array()}};
  for (const auto* k : keys) doc["keys"].push_back(k->Jwk());
  KeySet set;
  std::string error;
  REQUIRE(KeySet::Parse(doc.dump(), &set, &error));
  return set;
}

std::string Verify(const std::string& token, const KeySet& keys, VerifiedToken* out = nullptr) {
  VerifiedToken ignored;
  return VerifyJwt(token, keys, "permissions", std::chrono::system_clock::now(), out ? out : &ignored);
}

struct TempFile {
  std::filesystem::path path;
  explicit TempFile(const std::string& text) {
    path = std::filesystem::temp_directory_path() /
           ("kairos-auth-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + ".json");
    std::ofstream(path) << text;
  }
  ~TempFile() { std::filesystem::remove(path); }
  static inline int counter = 0;
};

}  // namespace

TEST_CASE("base64url round trip and rejects", "[auth]") {
  for (std::string s : std::vector<std::string>{"", "f", "fo", "foo", "foob", "fooba", "foobar", std::string("\xff\xfe\x00\x01", 4)})
    CHECK(Base64UrlDecode(Base64UrlEncode(s)) == s);
  CHECK(Base64UrlEncode("\xfb\xff") == "-_8");
  CHECK_FALSE(Base64UrlDecode("ab+c").has_value());
  CHECK_FALSE(Base64UrlDecode("a").has_value());
}

TEST_CASE("JWTs verify with RS256 and ES256 keys of the JWKS", "[auth]") {
  auto rsa = TestKey::Rsa("rsa-1");
  auto ec = TestKey::P256("ec-1");
  auto keys = KeysOf({&rsa, &ec});
  CHECK(keys.size() == 2);
  Json payload = {{"sub", "alice"}, {"exp", NowPlus(300)}, {"permissions", {"default:read", 7, "temporal-system:admin"}}};
  for (const TestKey* k : {&rsa, &ec}) {
    VerifiedToken t;
    CHECK(Verify(k->Sign(payload), keys, &t) == "");
    CHECK(t.subject == "alice");
    CHECK(t.permissions == std::vector<std::string>{"default:read", "temporal-system:admin"});
  }
}

TEST_CASE("JWTs are refused when expired, not yet valid, forged or of an unknown key", "[auth]") {
  auto rsa = TestKey::Rsa("rsa-1");
  auto ec = TestKey::P256("ec-1");
  auto other = TestKey::Rsa("rsa-1");  // Same kid, different key: a forgery.
  auto keys = KeysOf({&rsa, &ec});
  Json ok = {{"sub", "alice"}, {"exp", NowPlus(300)}};

  CHECK(Verify(rsa.Sign({{"sub", "a"}, {"exp", NowPlus(-5)}}), keys) == "token is expired");
  CHECK(Verify(ec.Sign({{"sub", "a"}, {"nbf", NowPlus(60)}}), keys) == "token is not valid yet");
  CHECK(Verify(other.Sign(ok), keys) == "signature does not verify");
  CHECK(Verify(rsa.Sign(ok, "nope"), keys) == "no key with kid nope");
  CHECK(Verify(rsa.Sign(ok, "ec-1"), keys) == "algorithm RS256 does not match the key's ES256");
  CHECK(Verify(rsa.Sign({{"exp", NowPlus(60)}}), keys) == "unexpected value type of \"sub\" claim");
  CHECK(Verify(rsa.Sign({{"sub", "a"}, {"exp", "tomorrow"}}), keys) == "token has an invalid \"exp\" claim");

  // A payload changed after signing.
  std::string token = rsa.Sign(ok);
  size_t d1 = token.find('.'), d2 = token.find('.', d1 + 1);
  std::string forged = token.substr(0, d1 + 1) +
                       Base64UrlEncode(Json{{"sub", "alice"}, {"permissions", {"temporal-system:admin"}}}.dump()) +
                       token.substr(d2);
  CHECK(Verify(forged, keys) == "signature does not verify");

  // alg "none" and HMAC are never accepted.
  Json none_header = {{"alg", "none"}, {"kid", "rsa-1"}};
  CHECK(Verify(Base64UrlEncode(none_header.dump()) + "." + Base64UrlEncode(ok.dump()) + ".", keys) ==
        "unexpected signing method \"none\"");
  CHECK(Verify("abc", keys) == "token is malformed: not three dot-separated parts");
  CHECK(Verify("a.b.c", keys) == "token is malformed: a part is not base64url JSON");
}

TEST_CASE("a JWKS without usable keys is refused; unusable keys are skipped", "[auth]") {
  KeySet set;
  std::string error;
  CHECK_FALSE(KeySet::Parse("{}", &set, &error));
  CHECK_FALSE(KeySet::Parse(R"({"keys":[{"kty":"oct","kid":"h","k":"c2VjcmV0"}]})", &set, &error));
  auto rsa = TestKey::Rsa("r");
  Json doc = {{"keys", {Json{{"kty", "oct"}, {"kid", "h"}}, rsa.Jwk()}}};
  REQUIRE(KeySet::Parse(doc.dump(), &set, &error));
  CHECK(set.size() == 1);
}

TEST_CASE("permissions map to roles as Temporal's default claim mapper does", "[auth]") {
  auto c = MapPermissions("bob", {"default:read", "default:worker", "billing:WRITE", "temporal-system:read",
                                  "nocolon", "x:unknown"});
  CHECK(c.subject == "bob");
  CHECK(c.system == kRoleReader);
  CHECK(c.namespaces.at("default") == (kRoleReader | kRoleWorker));
  CHECK(c.namespaces.at("billing") == kRoleWriter);
  CHECK(c.namespaces.at("x") == kRoleUndefined);
  CHECK_FALSE(c.namespaces.contains("nocolon"));
}

TEST_CASE("API access categories follow Temporal's API metadata", "[auth]") {
  auto wf = [](const char* m) { return AccessOf(std::string("/temporal.api.workflowservice.v1.WorkflowService/") + m); };
  auto op = [](const char* m) { return AccessOf(std::string("/temporal.api.operatorservice.v1.OperatorService/") + m); };
  CHECK(wf("StartWorkflowExecution").access == Access::kWrite);
  CHECK(wf("PollActivityTaskQueue").access == Access::kWrite);
  CHECK(wf("DescribeWorkflowExecution").access == Access::kReadOnly);
  CHECK(wf("ListSchedules").access == Access::kReadOnly);
  CHECK(wf("CreateSchedule").access == Access::kWrite);
  CHECK(wf("StartBatchOperation").access == Access::kWrite);
  CHECK(wf("RegisterNamespace").access == Access::kAdmin);
  CHECK(wf("ListNamespaces").scope == Scope::kCluster);
  CHECK(op("ListSearchAttributes").access == Access::kReadOnly);
  CHECK(op("AddSearchAttributes").access == Access::kAdmin);
  CHECK(op("ListClusters").scope == Scope::kCluster);
  CHECK(AccessOf("/grpc.health.v1.Health/Watch").scope == Scope::kUnknown);
  // Nexus's completion route writes in the caller's namespace.
  CHECK(AccessOf("/temporal.api.nexusservice.v1.NexusService/CompleteNexusOperation").access == Access::kWrite);
  CHECK(AccessOf("/some.Other/Method").scope == Scope::kUnknown);
  CHECK(IsHealthCheck("/grpc.health.v1.Health/Check"));
  CHECK(IsHealthCheck("/temporal.api.workflowservice.v1.WorkflowService/GetSystemInfo"));
}

TEST_CASE("the authorizer decides per RPC, namespace and role", "[auth]") {
  auto rsa = TestKey::Rsa("k");
  TempFile jwks(Json{{"keys", {rsa.Jwk()}}}.dump());
  TempFile api_keys(R"({"keys":[{"key":"ci-key","subject":"ci","permissions":["default:write"]},
                               {"key":"ops","permissions":["temporal-system:admin"]}]})");
  std::unique_ptr<Authorizer> a;
  REQUIRE(Authorizer::Create({jwks.path.string(), "permissions", api_keys.path.string()}, &a).ok());
  auto bearer = [&](std::vector<std::string> perms) {
    return "Bearer " + rsa.Sign({{"sub", "u"}, {"exp", NowPlus(300)}, {"permissions", perms}});
  };
  const std::string wf = "/temporal.api.workflowservice.v1.WorkflowService/";
  const std::string op = "/temporal.api.operatorservice.v1.OperatorService/";
  auto allowed = [&](const std::string& auth, const std::string& method, const std::string& ns) {
    auto st = a->Authorize(auth, method, ns);
    if (!st.ok()) {
      CHECK(st.error_code() == grpc::StatusCode::PERMISSION_DENIED);
      CHECK(st.error_message() == "Request unauthorized.");
    }
    return st.ok();
  };

  struct Row {
    std::vector<std::string> perms;
    std::string method, ns;
    bool allow;
  };
  std::vector<Row> table = {
      {{"default:read"}, wf + "DescribeWorkflowExecution", "default", true},
      {{"default:read"}, wf + "ListWorkflowExecutions", "default", true},
      {{"default:read"}, wf + "StartWorkflowExecution", "default", false},
      {{"default:read"}, wf + "DescribeWorkflowExecution", "billing", false},
      {{"default:read"}, wf + "ListNamespaces", "", false},  // Cluster scope needs a system role.
      {{"default:write"}, wf + "StartWorkflowExecution", "default", true},
      {{"default:write"}, wf + "PollWorkflowTaskQueue", "default", true},
      {{"default:write"}, wf + "UpdateNamespace", "default", false},
      {{"default:write"}, op + "ListSearchAttributes", "default", true},
      {{"default:write"}, op + "AddSearchAttributes", "default", false},
      {{"default:worker"}, wf + "PollWorkflowTaskQueue", "default", false},  // Temporal: worker < reader.
      {{"default:worker", "default:read"}, wf + "DescribeTaskQueue", "default", true},
      {{"default:admin"}, wf + "UpdateNamespace", "default", true},
      {{"default:admin"}, op + "DeleteNamespace", "default", true},
      {{"default:admin"}, op + "ListClusters", "", false},
      {{"Default:admin"}, wf + "StartWorkflowExecution", "default", false},  // Namespaces are case-sensitive.
      {{"temporal-system:read"}, wf + "ListNamespaces", "", true},
      {{"temporal-system:read"}, wf + "DescribeNamespace", "any", true},
      {{"temporal-system:read"}, wf + "SignalWorkflowExecution", "any", false},
      {{"temporal-system:write"}, wf + "SignalWorkflowExecution", "any", true},
      {{"temporal-system:write"}, op + "ListClusters", "", false},
      {{"temporal-system:admin"}, op + "ListClusters", "", true},
      {{}, wf + "GetSystemInfo", "", true},
      {{}, "/grpc.health.v1.Health/Check", "", true},
      {{"temporal-system:admin"}, "/grpc.health.v1.Health/Watch", "", false},
      {{"temporal-system:admin"}, "/unknown.Service/Method", "", false},
  };
  for (const auto& row : table) {
    INFO(row.method << " ns=" << row.ns << " perms=" << Json(row.perms).dump());
    CHECK(allowed(bearer(row.perms), row.method, row.ns) == row.allow);
  }

  // No token: only the health checks.
  CHECK(allowed("", wf + "GetSystemInfo", ""));
  CHECK(allowed("", "/grpc.health.v1.Health/Check", ""));
  CHECK_FALSE(allowed("", wf + "DescribeNamespace", "default"));
  // A bad token fails even the health checks, as in Temporal.
  CHECK_FALSE(allowed("Bearer junk", "/grpc.health.v1.Health/Check", ""));
  CHECK_FALSE(allowed("Basic abc", wf + "DescribeNamespace", "default"));
  CHECK_FALSE(allowed("Bearer", wf + "DescribeNamespace", "default"));
  // API keys.
  CHECK(allowed("Bearer ci-key", wf + "StartWorkflowExecution", "default"));
  CHECK(allowed("bearer ci-key", wf + "StartWorkflowExecution", "default"));
  CHECK_FALSE(allowed("Bearer ci-key", wf + "StartWorkflowExecution", "billing"));
  CHECK(allowed("Bearer ops", op + "ListClusters", ""));
  CHECK_FALSE(allowed("Bearer ci-keyX", wf + "StartWorkflowExecution", "default"));
}

TEST_CASE("the authorizer refuses unusable files at start and reloads changed ones", "[auth]") {
  std::unique_ptr<Authorizer> a;
  TempFile bad("{\"keys\": 3}");
  auto st = Authorizer::Create({bad.path.string(), "permissions", ""}, &a);
  CHECK(st.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(st.error_message().find("--auth-jwks") != std::string::npos);
  CHECK_FALSE(Authorizer::Create({"", "permissions", "/nonexistent/keys.json"}, &a).ok());
  TempFile dup(R"({"keys":[{"key":"a"},{"key":"a"}]})");
  CHECK_FALSE(Authorizer::Create({"", "permissions", dup.path.string()}, &a).ok());

  TempFile keys(R"({"keys":[{"key":"old","permissions":["default:read"]}]})");
  AuthOptions options{"", "permissions", keys.path.string()};
  options.reload_interval = std::chrono::seconds(0);
  REQUIRE(Authorizer::Create(options, &a).ok());
  const std::string describe = "/temporal.api.workflowservice.v1.WorkflowService/DescribeNamespace";
  CHECK(a->Authorize("Bearer old", describe, "default").ok());
  {
    std::ofstream(keys.path) << R"({"keys":[{"key":"new","permissions":["default:read"]}]})";
  }
  std::filesystem::last_write_time(keys.path, std::filesystem::last_write_time(keys.path) + std::chrono::seconds(2));
  CHECK(a->Authorize("Bearer new", describe, "default").ok());
  CHECK_FALSE(a->Authorize("Bearer old", describe, "default").ok());
}

TEST_CASE("a verified token stops working when its key leaves the JWKS", "[auth]") {
  auto old_key = TestKey::Rsa("k1");
  auto new_key = TestKey::P256("k2");
  TempFile jwks(Json{{"keys", {old_key.Jwk()}}}.dump());
  AuthOptions options{jwks.path.string(), "permissions", ""};
  options.reload_interval = std::chrono::seconds(0);
  std::unique_ptr<Authorizer> a;
  REQUIRE(Authorizer::Create(options, &a).ok());
  const std::string start = "/temporal.api.workflowservice.v1.WorkflowService/StartWorkflowExecution";
  std::string token = "Bearer " + old_key.Sign({{"sub", "u"}, {"exp", NowPlus(300)}, {"permissions", {"default:write"}}});
  CHECK(a->Authorize(token, start, "default").ok());
  CHECK(a->Authorize(token, start, "default").ok());  // From the cache.
  {
    std::ofstream(jwks.path) << Json{{"keys", {new_key.Jwk()}}}.dump();
  }
  std::filesystem::last_write_time(jwks.path, std::filesystem::last_write_time(jwks.path) + std::chrono::seconds(2));
  CHECK_FALSE(a->Authorize(token, start, "default").ok());
  CHECK(a->Authorize("Bearer " + new_key.Sign({{"sub", "u"}, {"permissions", {"default:write"}}}), start, "default").ok());
}

TEST_CASE("authorizing a call with a JWT is cheap once the token is known", "[.bench]") {
  auto key = TestKey::Rsa("k");
  TempFile jwks(Json{{"keys", {key.Jwk()}}}.dump());
  std::unique_ptr<Authorizer> a;
  REQUIRE(Authorizer::Create({jwks.path.string(), "permissions", ""}, &a).ok());
  std::string token = "Bearer " + key.Sign({{"sub", "u"}, {"exp", NowPlus(300)}, {"permissions", {"default:write"}}});
  const std::string start = "/temporal.api.workflowservice.v1.WorkflowService/StartWorkflowExecution";
  constexpr int kCalls = 100000;
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < kCalls; ++i) REQUIRE(a->Authorize(token, start, "default").ok());
  auto per_call = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count() / kCalls;
  WARN("Authorize with a cached RS256 token: " << per_call << " us per call");
}
