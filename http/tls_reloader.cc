#include "kairos/http/tls_reloader.h"

#include <filesystem>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <spdlog/spdlog.h>

namespace kairos::http {

struct TlsReloader::Material {
  std::unique_ptr<X509, decltype(&X509_free)> cert{nullptr, &X509_free};
  std::unique_ptr<STACK_OF(X509), void (*)(STACK_OF(X509)*)> chain{nullptr, [](STACK_OF(X509)* s) {
                                                                      sk_X509_pop_free(s, X509_free);
                                                                    }};
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key{nullptr, &EVP_PKEY_free};
  std::unique_ptr<X509_STORE, decltype(&X509_STORE_free)> client_ca{nullptr, &X509_STORE_free};
};

namespace {

using BioPtr = std::unique_ptr<BIO, decltype(&BIO_free)>;

// Size and modification time of each file: what tells a renewal.
std::string Stamp(const TlsFiles& files) {
  std::string out;
  for (const std::string* path : {&files.cert, &files.key, &files.client_ca}) {
    if (path->empty()) continue;
    std::error_code ec;
    auto size = std::filesystem::file_size(*path, ec);
    auto time = std::filesystem::last_write_time(*path, ec);
    out += std::to_string(size) + "@" + std::to_string(time.time_since_epoch().count()) + ";";
  }
  return out;
}

std::shared_ptr<TlsReloader::Material> Load(const TlsFiles& files, std::string* error) {
  auto m = std::make_shared<TlsReloader::Material>();
  BioPtr cert_bio(BIO_new_file(files.cert.c_str(), "r"), &BIO_free);
  if (cert_bio) m->cert.reset(PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr));
  if (!m->cert) {
    *error = "no PEM certificate in " + files.cert;
    return nullptr;
  }
  m->chain.reset(sk_X509_new_null());
  while (X509* extra = PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr)) sk_X509_push(m->chain.get(), extra);
  BioPtr key_bio(BIO_new_file(files.key.c_str(), "r"), &BIO_free);
  if (key_bio) m->key.reset(PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr));
  if (!m->key) {
    *error = "no PEM private key in " + files.key;
    return nullptr;
  }
  if (X509_check_private_key(m->cert.get(), m->key.get()) != 1) {
    *error = files.key + " is not the key of " + files.cert;
    return nullptr;
  }
  if (!files.client_ca.empty()) {
    m->client_ca.reset(X509_STORE_new());
    if (!m->client_ca || X509_STORE_load_file(m->client_ca.get(), files.client_ca.c_str()) != 1) {
      *error = "no PEM CA certificate in " + files.client_ca;
      return nullptr;
    }
  }
  return m;
}

}  // namespace

TlsReloader::TlsReloader(Key, TlsFiles files, std::chrono::seconds interval)
    : files_(std::move(files)), interval_(interval) {}
TlsReloader::~TlsReloader() = default;

bool TlsReloader::Install(SSL_CTX* ctx, const TlsFiles& files, std::chrono::seconds interval,
                          std::unique_ptr<TlsReloader>* out, std::string* error) {
  auto r = std::make_unique<TlsReloader>(Key{}, files, interval);
  r->stamp_ = Stamp(files);
  r->material_ = Load(files, error);
  ERR_clear_error();
  if (!r->material_) return false;
  r->last_check_ = std::chrono::steady_clock::now();
  SSL_CTX_set_cert_cb(ctx, &TlsReloader::OnCertificateNeeded, r.get());
  *out = std::move(r);
  return true;
}

std::shared_ptr<const TlsReloader::Material> TlsReloader::Current() {
  std::lock_guard lock(mu_);
  auto now = std::chrono::steady_clock::now();
  if (now - last_check_ < interval_) return material_;
  last_check_ = now;
  std::string stamp = Stamp(files_);
  if (stamp == stamp_) return material_;
  std::string error;
  if (auto fresh = Load(files_, &error)) {
    material_ = std::move(fresh);
    spdlog::info("reloaded the HTTPS certificate {}", files_.cert);
  } else {
    // Half-written renewals show up here; the next change is tried again.
    spdlog::warn("keeping the current HTTPS certificate: {}", error);
  }
  ERR_clear_error();
  stamp_ = std::move(stamp);
  return material_;
}

// Runs in each handshake before the certificate is sent (and before the
// client's is verified): the connection gets the current material.
int TlsReloader::OnCertificateNeeded(SSL* ssl, void* self) {
  auto m = static_cast<TlsReloader*>(self)->Current();
  if (SSL_use_cert_and_key(ssl, m->cert.get(), m->key.get(), m->chain.get(), 1) != 1) return 0;
  if (m->client_ca && SSL_set1_verify_cert_store(ssl, m->client_ca.get()) != 1) return 0;
  return 1;
}

}  // namespace kairos::http
