// The two HTTP listeners of a Kairos process: Temporal's HTTP API
// (--http-port; 0 picks a free port, as Temporal's dev server does) and,
// unless headless, the Web UI (--ui-ip/--ui-port). Both reach the gRPC
// services through `channel`, an in-process channel of the gRPC server.
#pragma once

#include <memory>
#include <string>

#include <grpcpp/channel.h>
#include <grpcpp/support/status.h>

#include "kairos/http/api_handler.h"
#include "kairos/http/http_server.h"
#include "kairos/http/nexus_endpoint.h"

namespace kairos::http {

struct SitesOptions {
  std::string ip = "127.0.0.1";  // Of the HTTP API.
  int http_port = 0;
  bool headless = false;
  std::string ui_ip;  // Empty: `ip`.
  int ui_port = 0;
  int threads = 16;  // Per listener.
  TlsFiles tls{};    // HTTPS on both listeners when set.
};

class Sites {
 public:
  // Binds both listeners; an error names the one that could not listen.
  // `nexus` (not owned, may be null: no Nexus endpoint) serves Nexus's HTTP
  // paths on the HTTP API's port and must outlive the sites.
  static grpc::Status Start(const SitesOptions& options, std::shared_ptr<grpc::Channel> channel,
                            NexusDispatcher* nexus, std::unique_ptr<Sites>* out);
  ~Sites();

  std::string api_address() const;  // "127.0.0.1:7243"
  std::string ui_url() const;       // "http://127.0.0.1:8233", empty when headless.

  // Closes both listeners after their requests in flight; idempotent.
  void Stop();

  struct Key {};  // Only Start() constructs.
  explicit Sites(Key) {}

 private:
  std::unique_ptr<ApiHandler> api_;
  std::unique_ptr<HttpServer> api_server_;
  std::unique_ptr<HttpServer> ui_server_;
  std::string ip_, ui_ip_;
  bool tls_ = false;
};

}  // namespace kairos::http
