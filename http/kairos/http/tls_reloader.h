// Renewed certificates for the HTTPS listeners without a restart, as the
// gRPC port has them: the certificate chain, its key and the client CA are
// read again when their files change (checked at most every `interval`, at
// a handshake), and each new connection is served with the current ones.
// The connections already open keep theirs.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>

#include <openssl/ssl.h>

#include "kairos/http/http_server.h"

namespace kairos::http {

class TlsReloader {
 public:
  // Hooks into `ctx` (which must outlive the returned object's use, and the
  // object must outlive `ctx`'s connections being set up). An error says
  // which file could not be used.
  static bool Install(SSL_CTX* ctx, const TlsFiles& files, std::chrono::seconds interval,
                      std::unique_ptr<TlsReloader>* out, std::string* error);
  ~TlsReloader();

  struct Material;
  struct Key {};  // Only Install() constructs.
  TlsReloader(Key, TlsFiles files, std::chrono::seconds interval);

 private:
  static int OnCertificateNeeded(SSL* ssl, void* self);
  std::shared_ptr<const Material> Current();

  const TlsFiles files_;
  const std::chrono::seconds interval_;
  std::mutex mu_;
  std::shared_ptr<const Material> material_;
  std::string stamp_;  // The files' sizes and times when material_ was read.
  std::chrono::steady_clock::time_point last_check_;
};

}  // namespace kairos::http
