// One HTTP/1.1 listener (cpp-httplib): a fixed pool of worker threads,
// keep-alive connections, every request handed to one handler function.
// Stop() (or the destructor) closes the listener, lets requests in flight
// finish and joins every thread.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include <grpcpp/support/status.h>

#include "kairos/http/api_handler.h"

namespace httplib {
class Server;
}

namespace kairos::http {

// PEM files of an HTTPS listener (cpp-httplib's SSLServer, OpenSSL). They are
// read once at start: a renewed certificate needs a restart here, unlike on
// the gRPC port.
class TlsReloader;

struct TlsFiles {
  std::string cert;
  std::string key;
  std::string client_ca;  // Non-empty: clients must present a certificate it signed.
  int reload_seconds = 60;  // How often the files are checked for a renewal.
  bool enabled() const { return !cert.empty(); }
};

class HttpServer {
 public:
  using Handler = std::function<HttpReply(const ApiRequest&)>;
  struct Options {
    std::string name;  // For logs: "HTTP API", "Web UI".
    std::string ip = "127.0.0.1";
    int port = 0;      // 0: any free port.
    int threads = 16;  // Long polls hold a thread each.
    TlsFiles tls{};    // Empty: plain HTTP.
  };

  // Binds the port (so a taken port fails here, before the banner) and
  // starts serving on a thread of its own.
  static grpc::Status Start(const Options& options, Handler handler, std::unique_ptr<HttpServer>* out);

  struct Key {};  // Only Start() constructs.
  explicit HttpServer(Key);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  int port() const { return port_; }
  void Stop();

 private:
  std::unique_ptr<TlsReloader> tls_reloader_;  // Before server_: outlives its handshakes.
  std::unique_ptr<httplib::Server> server_;
  std::atomic<bool> listen_returned_{false};
  std::thread thread_;
  int port_ = 0;
};

}  // namespace kairos::http
