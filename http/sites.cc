#include "kairos/http/sites.h"

#include "kairos/http/nexus_completion_route.h"
#include "kairos/http/ui_site.h"

namespace kairos::http {

grpc::Status Sites::Start(const SitesOptions& options, std::shared_ptr<grpc::Channel> channel,
                          NexusDispatcher* nexus, std::unique_ptr<Sites>* out) {
  auto sites = std::make_unique<Sites>(Key{});
  sites->api_ = std::make_unique<ApiHandler>(std::move(channel));
  sites->ip_ = options.ip;
  sites->ui_ip_ = options.ui_ip.empty() ? options.ip : options.ui_ip;
  const ApiHandler* api = sites->api_.get();
  sites->tls_ = options.tls.enabled();
  HttpServer::Options api_options{"HTTP API", options.ip, options.http_port, options.threads, options.tls};
  auto serve_api = [api, nexus](const ApiRequest& r) {
    // Temporal serves Nexus's paths beside /api/v1 on the same port.
    if (nexus && IsNexusPath(r.raw_path)) return ServeNexus(*nexus, r);
    if (nexus && IsNexusCompletionPath(r.raw_path)) return ServeNexusCompletion(*nexus, r);
    return ServeApi(*api, r);
  };
  if (auto st = HttpServer::Start(api_options, serve_api, &sites->api_server_);
      !st.ok())
    return st;
  if (!options.headless) {
    HttpServer::Options ui_options{"Web UI", sites->ui_ip_, options.ui_port, options.threads, options.tls};
    if (auto st = HttpServer::Start(ui_options, [api](const ApiRequest& r) { return ServeUi(*api, r); },
                                    &sites->ui_server_);
        !st.ok())
      return st;
  }
  *out = std::move(sites);
  return grpc::Status::OK;
}

Sites::~Sites() { Stop(); }

void Sites::Stop() {
  if (ui_server_) ui_server_->Stop();
  if (api_server_) api_server_->Stop();
}

std::string Sites::api_address() const { return ip_ + ":" + std::to_string(api_server_ ? api_server_->port() : 0); }

std::string Sites::ui_url() const {
  if (!ui_server_) return "";
  return (tls_ ? "https://" : "http://") + ui_ip_ + ":" + std::to_string(ui_server_->port());
}

}  // namespace kairos::http
