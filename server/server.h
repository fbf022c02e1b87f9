// Wires persistence, matching, history and the frontend into one process
// and runs it until SIGINT/SIGTERM.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "kairos/auth/authorizer.h"
#include "tls_credentials.h"

namespace kairos::server {

struct ServerOptions {
  std::string ip = "127.0.0.1";
  int port = 7233;
  std::string db_path;  // Empty: in memory.
  std::vector<std::string> namespaces = {"default"};
  std::vector<std::pair<std::string, std::string>> sqlite_pragmas;
  std::vector<std::pair<std::string, std::string>> search_attributes;
  std::vector<std::pair<std::string, std::string>> dynamic_config;
  int executor_threads = 32;
  int http_port = 0;      // Temporal's HTTP API; 0: a free port.
  bool headless = false;  // No Web UI.
  std::string ui_ip;      // Empty: `ip`.
  int ui_port = 0;        // 0: the gRPC port + 1000.
  // Largest gRPC message accepted or sent (Temporal's default: 4 MiB).
  int max_message_bytes = 4 * 1024 * 1024;
  // Retention (tests and benchmarks): every namespace's retention replaced
  // by this when > 0, and the pause between retention passes.
  int64_t retention_override_ms = 0;
  int64_t retention_interval_ms = 10'000;
  int metrics_port = 0;   // /metrics, /healthz, /readyz; 0: not served.
  TlsOptions tls;         // Of the gRPC port.
  bool allow_insecure = false;  // Serve plaintext on a non-loopback address.
  size_t cache_max_workflows = 10'000;  // Running runs whose state stays in memory.
  size_t event_cache_bytes = 64u << 20;  // Newest history events kept in memory for workflow tasks.
  int64_t timer_lookahead_ms = 60'000;   // Timers due this far ahead are paged into memory...
  int timer_page_size = 2'000;           // ...this many rows at a time.
  int task_queue_memory = 1'000;         // Tasks a queue keeps in memory; the rest are paged in.
  auth::AuthOptions auth;       // Authorization of every RPC when enabled().
};

// Returns the process exit code.
int Run(const ServerOptions& options);

}  // namespace kairos::server
