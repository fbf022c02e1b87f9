#include "kairos/http/http_server.h"

#include <cctype>

#include <httplib.h>
#include <spdlog/spdlog.h>

#include "kairos/http/tls_reloader.h"

namespace kairos::http {
namespace {

ApiRequest FromHttplib(const httplib::Request& req) {
  ApiRequest r;
  r.verb = req.method == "HEAD" ? "GET" : req.method;
  // The raw target keeps %2F inside a workflow id from splitting the path.
  r.raw_path = req.target.substr(0, req.target.find('?'));
  r.body = req.body;
  for (const auto& [k, v] : req.params) r.query.emplace(k, v);
  // As Temporal's HTTP API: a bearer token or other auth header reaches the
  // gRPC handlers as metadata.
  for (const char* h : {"authorization", "authorization-extras"}) {
    if (req.has_header(h)) r.metadata.emplace(h, req.get_header_value(h));
  }
  for (const auto& [k, v] : req.headers) {
    std::string name = k;
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    r.headers.emplace(std::move(name), v);
  }
  return r;
}

}  // namespace

grpc::Status HttpServer::Start(const Options& options, Handler handler, std::unique_ptr<HttpServer>* out) {
  auto s = std::make_unique<HttpServer>(Key{});
  if (options.tls.enabled()) {
    const auto& t = options.tls;
    auto ssl = std::make_unique<httplib::SSLServer>(t.cert.c_str(), t.key.c_str(),
                                                    t.client_ca.empty() ? nullptr : t.client_ca.c_str());
    std::string error;
    if (!ssl->is_valid() ||
        !TlsReloader::Install(ssl->ssl_context(), t, std::chrono::seconds(t.reload_seconds), &s->tls_reloader_, &error)) {
      return {grpc::StatusCode::INVALID_ARGUMENT, "the TLS files of the " + options.name + " (" + t.cert + ", " +
                                                      t.key + ") could not be loaded" +
                                                      (error.empty() ? "" : ": " + error)};
    }
    s->server_ = std::move(ssl);
  } else {
    s->server_ = std::make_unique<httplib::Server>();
  }
  int threads = options.threads;
  // httplib's interface: it owns (and deletes) the queue this factory returns.
  s->server_->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  s->server_->set_keep_alive_max_count(1000);
  // An idle keep-alive connection holds its worker until this timeout, and
  // stopping waits for every worker: short, so that shutdown stays quick.
  s->server_->set_keep_alive_timeout(2);
  s->server_->set_payload_max_length(128 * 1024 * 1024);
  // httplib's default adds SO_REUSEPORT, which lets a second server bind the
  // same port and share its requests; a taken port must fail as for gRPC.
  s->server_->set_socket_options([](int sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  // cpp-httplib compresses text and JSON replies, preferring brotli at its
  // highest quality: over a second of CPU for one large UI script. Offering
  // it only gzip keeps compression (a few ms per script). The request is not
  // a const object: httplib hands its own mutable Request by const reference.
  s->server_->set_pre_routing_handler([](const httplib::Request& req, httplib::Response&) {
    auto& headers = const_cast<httplib::Request&>(req).headers;
    if (auto it = headers.find("Accept-Encoding"); it != headers.end() && it->second.find("br") != std::string::npos)
      it->second = it->second.find("gzip") != std::string::npos ? "gzip" : "identity";
    return httplib::Server::HandlerResponse::Unhandled;
  });
  auto serve = [handler = std::move(handler), name = options.name](const httplib::Request& req,
                                                                    httplib::Response& res) {
    HttpReply reply = handler(FromHttplib(req));
    res.status = reply.status;
    for (const auto& [k, v] : reply.headers) res.set_header(k, v);
    if (reply.content_type.empty()) res.body = std::move(reply.body);
    else res.set_content(std::move(reply.body), reply.content_type);
    spdlog::debug("{} {} {} -> {}", name, req.method, req.target, reply.status);
  };
  s->server_->Get(".*", serve);
  s->server_->Post(".*", serve);
  s->server_->Put(".*", serve);
  s->server_->Patch(".*", serve);
  s->server_->Delete(".*", serve);
  if (options.port == 0) {
    s->port_ = s->server_->bind_to_any_port(options.ip);
    if (s->port_ <= 0) s->port_ = 0;
  } else if (s->server_->bind_to_port(options.ip, options.port)) {
    s->port_ = options.port;
  }
  if (s->port_ == 0) {
    return {grpc::StatusCode::UNAVAILABLE,
            "cannot listen on " + options.ip + ":" + std::to_string(options.port) + " for the " + options.name};
  }
  s->thread_ = std::thread([self = s.get()] {
    self->server_->listen_after_bind();
    self->listen_returned_ = true;
  });
  *out = std::move(s);
  return grpc::Status::OK;
}

void HttpServer::Stop() {
  if (!server_) return;
  // stop() only acts on a running listener: wait until the thread is in it.
  while (thread_.joinable() && !server_->is_running() && !listen_returned_)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  server_->stop();
  if (thread_.joinable()) thread_.join();
}

HttpServer::HttpServer(Key) {}

HttpServer::~HttpServer() { Stop(); }

}  // namespace kairos::http
