#include "tls_credentials.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cstdio>
#include <memory>

#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>

namespace kairos::server {
namespace {

struct FileCloser {
  void operator()(FILE* f) const { std::fclose(f); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct KeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};

grpc::Status Invalid(const std::string& message) { return {grpc::StatusCode::INVALID_ARGUMENT, message}; }

std::unique_ptr<FILE, FileCloser> OpenFile(const std::string& path) {
  return std::unique_ptr<FILE, FileCloser>(std::fopen(path.c_str(), "r"));
}

grpc::Status CheckFiles(const TlsOptions& o) {
  if (o.key_file.empty()) return Invalid("--tls-cert needs --tls-key");
  auto cert_file = OpenFile(o.cert_file);
  if (!cert_file) return Invalid("cannot read --tls-cert " + o.cert_file);
  std::unique_ptr<X509, X509Free> cert(PEM_read_X509(cert_file.get(), nullptr, nullptr, nullptr));
  if (!cert) return Invalid("--tls-cert " + o.cert_file + " holds no PEM certificate");
  auto key_file = OpenFile(o.key_file);
  if (!key_file) return Invalid("cannot read --tls-key " + o.key_file);
  std::unique_ptr<EVP_PKEY, KeyFree> key(PEM_read_PrivateKey(key_file.get(), nullptr, nullptr, nullptr));
  if (!key) return Invalid("--tls-key " + o.key_file + " holds no PEM private key");
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    ERR_clear_error();
    return Invalid("--tls-key " + o.key_file + " is not the key of --tls-cert " + o.cert_file);
  }
  if (!o.client_ca_file.empty()) {
    auto ca_file = OpenFile(o.client_ca_file);
    if (!ca_file) return Invalid("cannot read --tls-client-ca " + o.client_ca_file);
    std::unique_ptr<X509, X509Free> ca(PEM_read_X509(ca_file.get(), nullptr, nullptr, nullptr));
    if (!ca) return Invalid("--tls-client-ca " + o.client_ca_file + " holds no PEM certificate");
  }
  return grpc::Status::OK;
}

}  // namespace

grpc::Status MakeServerCredentials(const TlsOptions& o, std::shared_ptr<grpc::ServerCredentials>* out) {
  if (!o.enabled()) {
    if (!o.key_file.empty() || !o.client_ca_file.empty()) return Invalid("--tls-key and --tls-client-ca need --tls-cert");
    *out = grpc::InsecureServerCredentials();
    return grpc::Status::OK;
  }
  if (auto st = CheckFiles(o); !st.ok()) return st;
  namespace gx = grpc::experimental;
  auto provider = std::make_shared<gx::FileWatcherCertificateProvider>(
      o.key_file, o.cert_file, o.client_ca_file, static_cast<unsigned>(o.reload_seconds > 0 ? o.reload_seconds : 1));
  gx::TlsServerCredentialsOptions options(provider);
  options.watch_identity_key_cert_pairs();
  if (!o.client_ca_file.empty()) {
    options.watch_root_certs();
    options.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  } else {
    options.set_cert_request_type(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  }
  *out = gx::TlsServerCredentials(options);
  if (!*out) return Invalid("gRPC refused the TLS settings");
  return grpc::Status::OK;
}

}  // namespace kairos::server
