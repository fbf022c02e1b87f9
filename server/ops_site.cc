#include "ops_site.h"

namespace kairos::server {

grpc::Status OpsSite::Start(const std::string& ip, int port, metrics::Registry* registry,
                            const std::atomic<bool>* ready, std::unique_ptr<OpsSite>* out) {
  http::HttpServer::Options options;
  options.name = "metrics";
  options.ip = ip;
  options.port = port;
  options.threads = 4;  // Scrapes and probes are short.
  auto handler = [registry, ready](const http::ApiRequest& req) {
    if (req.verb != "GET") return http::HttpReply(405, "method not allowed\n", "text/plain");
    if (req.raw_path == "/metrics")
      return http::HttpReply(200, registry->Render(), "text/plain; version=0.0.4; charset=utf-8");
    if (req.raw_path == "/healthz") return http::HttpReply(200, "ok\n", "text/plain");
    if (req.raw_path == "/readyz") {
      return ready->load() ? http::HttpReply(200, "ready\n", "text/plain")
                           : http::HttpReply(503, "not ready\n", "text/plain");
    }
    return http::HttpReply(404, "not found: /metrics, /healthz, /readyz\n", "text/plain");
  };
  auto site = std::make_unique<OpsSite>();
  if (auto st = http::HttpServer::Start(options, handler, &site->http_); !st.ok()) return st;
  *out = std::move(site);
  return grpc::Status::OK;
}

}  // namespace kairos::server
