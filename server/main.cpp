// kairos: a Temporal-compatible durable execution server in one binary.
#include <cctype>
#include <chrono>
#include <filesystem>
#include <iostream>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "kairos/persistence/backup.h"
#include "kairos/version.h"
#include "server.h"

namespace {

// Splits KEY=VALUE flags.
std::vector<std::pair<std::string, std::string>> Pairs(const std::vector<std::string>& items, const char* flag) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& item : items) {
    auto eq = item.find('=');
    if (eq == std::string::npos || eq == 0) throw CLI::ValidationError(flag, "expected KEY=VALUE, got '" + item + "'");
    out.emplace_back(item.substr(0, eq), item.substr(eq + 1));
  }
  return out;
}

struct Flags {
  std::string ip = "127.0.0.1";
  int port = 7233;
  std::vector<std::string> namespaces;
  std::string db_filename;
  std::string data_dir = "./kairos-data";
  std::string log_level = "info";
  std::string log_format = "text";
  std::vector<std::string> pragmas;
  std::vector<std::string> search_attributes;
  std::vector<std::string> dynamic_config;
  bool headless = false;
  std::string ui_ip;
  int ui_port = 0;
  int http_port = 0;
  int metrics_port = 0;
  int max_message_bytes = 4 * 1024 * 1024;
  int64_t retention_override_ms = 0;
  int64_t retention_interval_ms = 10'000;
  kairos::server::TlsOptions tls;
  bool allow_insecure = false;
  size_t cache_max_workflows = 10'000;
  size_t event_cache_mb = 64;
  int64_t timer_lookahead_ms = 60'000;
  int timer_page_size = 2'000;
  int task_queue_memory = 1'000;
  kairos::auth::AuthOptions auth;
  int auth_reload_seconds = 10;
};

void AddCommonFlags(CLI::App* cmd, Flags& f) {
  cmd->add_option("--ip", f.ip, "IP address to bind the Temporal API to")->capture_default_str();
  cmd->add_option("-p,--port", f.port, "Port of the Temporal gRPC API")->capture_default_str()->check(CLI::Range(0, 65535));
  cmd->add_option("-n,--namespace", f.namespaces, "Namespace to create at start, besides 'default' (repeatable)");
  cmd->add_option("--log-level", f.log_level, "debug, info, warn or error")
      ->capture_default_str()
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}));
  cmd->add_option("--log-format", f.log_format, "text or json")->capture_default_str()->check(CLI::IsMember({"text", "json"}));
  cmd->add_option("--sqlite-pragma", f.pragmas, "SQLite pragma KEY=VALUE applied at open (repeatable)");
  cmd->add_option("--search-attribute", f.search_attributes, "Custom search attribute KEY=TYPE, e.g. CustomerId=Keyword (repeatable)");
  cmd->add_option("--dynamic-config-value", f.dynamic_config, "Dynamic config KEY=JSON (repeatable; unknown keys are accepted)");
  cmd->add_flag("--headless", f.headless, "Do not serve the Web UI");
  cmd->add_option("--ui-ip", f.ui_ip, "IP address of the Web UI (default: --ip)");
  cmd->add_option("--ui-port", f.ui_port, "Port of the Web UI (default: the gRPC port + 1000)")->check(CLI::Range(0, 65535));
  cmd->add_option("--http-port", f.http_port, "Port of Temporal's HTTP API (default: a free port)")->check(CLI::Range(0, 65535));
  cmd->add_option("--max-message-size", f.max_message_bytes, "Largest gRPC message received or sent, in bytes")
      ->capture_default_str()
      ->check(CLI::Range(64 * 1024, 1024 * 1024 * 1024));
  // For tests and benchmarks only: retention in milliseconds instead of days.
  cmd->add_option("--retention-override-ms", f.retention_override_ms,
                  "Testing: every namespace's retention, in milliseconds (0: each namespace's own)")
      ->group("Testing")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--retention-interval-ms", f.retention_interval_ms, "Testing: pause between retention passes")
      ->group("Testing")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{10}, int64_t{3'600'000}));
  cmd->add_option("--cache-max-workflows", f.cache_max_workflows,
                  "Running workflows whose state stays in memory; the least recently used beyond it are read back "
                  "from the database when needed")
      ->capture_default_str()
      ->check(CLI::Range(size_t{1}, size_t{100'000'000}));
  cmd->add_option("--event-cache-mb", f.event_cache_mb,
                  "Megabytes of the newest history events of recently written workflows kept in memory, so that "
                  "workflow tasks are answered without reading them back from the database (0: none)")
      ->capture_default_str()
      ->check(CLI::Range(size_t{0}, size_t{1'000'000}));
  // For tests: small windows and pages make timers cross page boundaries.
  cmd->add_option("--timer-lookahead-ms", f.timer_lookahead_ms,
                  "Testing: timers due this far ahead are paged into memory from the database")
      ->group("Testing")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{10}, int64_t{86'400'000}));
  cmd->add_option("--task-queue-memory", f.task_queue_memory,
                  "Testing: tasks a task queue keeps in memory; older ones wait in the database and are read "
                  "back in pages as the queue drains")
      ->group("Testing")
      ->capture_default_str()
      ->check(CLI::Range(2, 1'000'000));
  cmd->add_option("--timer-page-size", f.timer_page_size, "Testing: timers read from the database at a time")
      ->group("Testing")
      ->capture_default_str()
      ->check(CLI::Range(1, 1'000'000));
  cmd->add_option("--metrics-port", f.metrics_port,
                  "Port of Prometheus metrics (/metrics) and health checks (/healthz, /readyz); default: not served")
      ->check(CLI::Range(0, 65535));
  cmd->add_option("--tls-cert", f.tls.cert_file, "PEM certificate chain of the gRPC port (turns TLS on)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--tls-key", f.tls.key_file, "PEM private key of --tls-cert")->check(CLI::ExistingFile);
  cmd->add_option("--tls-client-ca", f.tls.client_ca_file,
                  "PEM CA bundle: clients must present a certificate it signed (mutual TLS)")
      ->check(CLI::ExistingFile);
  cmd->add_flag("--allow-insecure", f.allow_insecure,
                "Serve plaintext on a non-loopback --ip/--ui-ip (refused otherwise: anyone reaching it can do anything)");
  cmd->add_option("--tls-reload-seconds", f.tls.reload_seconds,
                  "How often the TLS files are checked for changes and reloaded")
      ->capture_default_str()
      ->check(CLI::Range(1, 86400));
  cmd->add_option("--auth-jwks", f.auth.jwks_file,
                  "JWKS file of the token issuer: turns authorization on; bearer JWTs (RS256, ES256) are verified "
                  "against it")
      ->check(CLI::ExistingFile);
  cmd->add_option("--auth-permissions-claim", f.auth.permissions_claim,
                  "JWT claim holding the permissions (\"<namespace>:<read|write|worker|admin>\")")
      ->capture_default_str();
  cmd->add_option("--auth-api-keys", f.auth.api_keys_file,
                  "JSON file of static API keys and their permissions: turns authorization on")
      ->check(CLI::ExistingFile);
  cmd->add_option("--auth-reload-seconds", f.auth_reload_seconds,
                  "How often --auth-jwks and --auth-api-keys are checked for changes and reloaded")
      ->capture_default_str()
      ->check(CLI::Range(1, 86400));
}

// Every long flag of `cmd` can also be set by KAIROS_<FLAG> (upper case, '-'
// as '_'), e.g. KAIROS_METRICS_PORT; a flag on the command line wins.
void AddEnvironmentNames(CLI::App* cmd) {
  for (CLI::Option* o : cmd->get_options()) {
    if (o->get_lnames().empty() || o->get_lnames().front() == "help") continue;
    std::string env = "KAIROS_";
    for (char c : o->get_lnames().front()) env += c == '-' ? '_' : static_cast<char>(std::toupper(c));
    o->envname(env);
  }
}

void SetUpLogging(const Flags& f) {
  spdlog::set_level(spdlog::level::from_str(f.log_level == "warn" ? "warning" : f.log_level));
  if (f.log_format == "json") {
    spdlog::set_pattern(R"({"time":"%Y-%m-%dT%H:%M:%S.%fZ","level":"%l","msg":"%v"})", spdlog::pattern_time_type::utc);
  } else {
    spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  }
}

kairos::server::ServerOptions ToOptions(const Flags& f, const std::string& db_path) {
  kairos::server::ServerOptions o;
  o.ip = f.ip;
  o.port = f.port;
  o.db_path = db_path;
  for (const auto& n : f.namespaces)
    if (n != "default") o.namespaces.push_back(n);
  o.sqlite_pragmas = Pairs(f.pragmas, "--sqlite-pragma");
  o.search_attributes = Pairs(f.search_attributes, "--search-attribute");
  o.dynamic_config = Pairs(f.dynamic_config, "--dynamic-config-value");
  o.http_port = f.http_port;
  o.headless = f.headless;
  o.ui_ip = f.ui_ip;
  o.ui_port = f.ui_port;
  o.max_message_bytes = f.max_message_bytes;
  o.retention_override_ms = f.retention_override_ms;
  o.retention_interval_ms = f.retention_interval_ms;
  o.metrics_port = f.metrics_port;
  o.tls = f.tls;
  o.allow_insecure = f.allow_insecure;
  o.cache_max_workflows = f.cache_max_workflows;
  o.event_cache_bytes = f.event_cache_mb << 20;
  o.timer_lookahead_ms = f.timer_lookahead_ms;
  o.timer_page_size = f.timer_page_size;
  o.task_queue_memory = f.task_queue_memory;
  o.auth = f.auth;
  o.auth.reload_interval = std::chrono::seconds(f.auth_reload_seconds);
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Kairos: a durable execution server that Temporal SDKs and the temporal CLI talk to as if it were "
               "Temporal. One binary, SQLite inside."};
  app.set_version_flag("-v,--version", std::string("kairos ") + kairos::kVersion);
  app.require_subcommand(1);
  // TOML or INI, one section per command: [start], [server.start-dev].
  // Precedence (CLI11): the command line, then this file, then KAIROS_* variables.
  app.set_config("--config", "", "Config file (TOML/INI; a [start] or [server.start-dev] section sets that command's flags)");

  Flags dev;
  auto* server_cmd = app.add_subcommand("server", "Temporal CLI-compatible server commands");
  server_cmd->require_subcommand(1);
  auto* start_dev = server_cmd->add_subcommand(
      "start-dev", "Start a development server, as 'temporal server start-dev' does (in memory unless --db-filename)");
  AddCommonFlags(start_dev, dev);
  start_dev->add_option("-f,--db-filename", dev.db_filename, "SQLite file to persist to (default: in memory)");
  AddEnvironmentNames(start_dev);

  Flags prod;
  auto* start = app.add_subcommand("start", "Start a durable server with its SQLite file in --data-dir");
  AddCommonFlags(start, prod);
  start->add_option("--data-dir", prod.data_dir, "Directory that holds kairos.db")->capture_default_str();
  AddEnvironmentNames(start);

  std::string backup_to, backup_data_dir = "./kairos-data", backup_db;
  auto* backup = app.add_subcommand(
      "backup", "Copy the database of a server, running or not, consistently (SQLite's online backup API)");
  backup->add_option("--to", backup_to, "File to write the copy to (replaced if it exists)")->required();
  auto* backup_dir_opt = backup->add_option("--data-dir", backup_data_dir, "Data directory of the server (kairos start)")
                             ->capture_default_str();
  backup->add_option("-f,--db-filename", backup_db, "Database file of the server (server start-dev --db-filename)")
      ->excludes(backup_dir_opt);

  CLI11_PARSE(app, argc, argv);

  if (backup->parsed()) {
    std::string from = backup_db.empty() ? (std::filesystem::path(backup_data_dir) / "kairos.db").string() : backup_db;
    kairos::persistence::BackupResult result;
    auto started = std::chrono::steady_clock::now();
    if (auto st = kairos::persistence::BackupDatabase(from, backup_to, &result); !st.ok()) {
      std::cerr << "backup of " << from << " failed: " << st.error_message() << "\n";
      return 1;
    }
    auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
    std::cout << "backed up " << from << " to " << backup_to << ": " << result.bytes << " bytes in " << ms << " ms\n";
    return 0;
  }

  try {
    if (start_dev->parsed()) {
      SetUpLogging(dev);
      return kairos::server::Run(ToOptions(dev, dev.db_filename));
    }
    SetUpLogging(prod);
    std::error_code ec;
    std::filesystem::create_directories(prod.data_dir, ec);
    if (ec) {
      std::cerr << "cannot create data directory " << prod.data_dir << ": " << ec.message() << "\n";
      return 1;
    }
    auto options = ToOptions(prod, (std::filesystem::path(prod.data_dir) / "kairos.db").string());
    // The mode trusted with money: an acknowledged commit is fsynced, so it
    // survives power loss and an OS crash, not only a killed process (cost:
    // docs/performance.md). --sqlite-pragma synchronous=NORMAL, applied
    // after this, takes it back.
    options.sqlite_pragmas.insert(options.sqlite_pragmas.begin(), {"synchronous", "FULL"});
    return kairos::server::Run(options);
  } catch (const CLI::Error& e) {
    return app.exit(e);
  }
}
