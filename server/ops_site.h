// The operator's listener on --metrics-port: Prometheus metrics (/metrics)
// and health endpoints for orchestrators (/healthz: the process serves HTTP;
// /readyz: it accepts work, 503 before start-up ends and once shutdown began).
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include <grpcpp/support/status.h>

#include "kairos/http/http_server.h"
#include "kairos/metrics/registry.h"

namespace kairos::server {

class OpsSite {
 public:
  // `registry` and `ready` outlive the site.
  static grpc::Status Start(const std::string& ip, int port, metrics::Registry* registry,
                            const std::atomic<bool>* ready, std::unique_ptr<OpsSite>* out);
  int port() const { return http_->port(); }
  void Stop() { http_->Stop(); }

 private:
  std::unique_ptr<http::HttpServer> http_;
};

}  // namespace kairos::server
