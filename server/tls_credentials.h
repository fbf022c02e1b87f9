// gRPC server credentials from --tls-cert / --tls-key / --tls-client-ca:
// plain TLS, or mutual TLS when a client CA is given (a client without a
// certificate signed by it is refused in the handshake). The files are
// watched and reloaded (gRPC's FileWatcherCertificateProvider), so a renewed
// certificate is used for new connections without a restart.
#pragma once

#include <memory>
#include <string>

#include <grpcpp/security/server_credentials.h>
#include <grpcpp/support/status.h>

namespace kairos::server {

struct TlsOptions {
  std::string cert_file;       // PEM certificate chain; empty: no TLS.
  std::string key_file;        // PEM private key.
  std::string client_ca_file;  // PEM CA bundle; non-empty: clients must present a certificate it signed.
  int reload_seconds = 60;     // How often the files are checked for changes.
  bool enabled() const { return !cert_file.empty(); }
};

// Checks the files now (readable, PEM, the key matches the certificate), so
// that a mistake fails the start rather than every handshake.
grpc::Status MakeServerCredentials(const TlsOptions& options, std::shared_ptr<grpc::ServerCredentials>* out);

}  // namespace kairos::server
