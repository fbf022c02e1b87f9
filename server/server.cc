#include "server.h"

#include <atomic>
#include <csignal>
#include <chrono>
#include <cstdio>

#include <absl/synchronization/mutex.h>
#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include "kairos/batcher/batch_service.h"
#include "kairos/executor.h"
#include "kairos/frontend/callback_rules.h"
#include "kairos/frontend/frontend.h"
#include "kairos/frontend/namespace_registry.h"
#include "kairos/frontend/request_validation.h"
#include "kairos/history/history_service.h"
#include "kairos/http/sites.h"
#include "kairos/history/limits.h"
#include "kairos/history/retention.h"
#include "kairos/deployments/build_id_versioning.h"
#include "kairos/deployments/deployment_registry.h"
#include "kairos/matching/matching_service.h"
#include "kairos/metrics/process_metrics.h"
#include "kairos/metrics/registry.h"
#include "kairos/metrics/rpc_metrics.h"
#include "kairos/persistence/sqlite_store.h"
#include "kairos/nexus/endpoint_registry.h"
#include "kairos/http/nexus_callbacks.h"
#include "kairos/http/nexus_client.h"
#include "kairos/nexus/callback_token.h"
#include "nexus_dispatch.h"
#include "kairos/scheduler/scheduler_service.h"
#include "kairos/version.h"
#include "kairos/visibility/search_attribute_validator.h"
#include "kairos/visibility/search_attributes.h"
#include "kairos/visibility/visibility_service.h"
#include "ops_site.h"

namespace kairos::server {
namespace {

// The persisted custom search attributes, and those of --search-attribute,
// added to every namespace there is at start.
grpc::Status LoadSearchAttributes(const ServerOptions& options, frontend::NamespaceRegistry& namespaces,
                                  visibility::SearchAttributeRegistry* registry) {
  if (auto st = registry->Load(); !st.ok()) return st;
  if (options.search_attributes.empty()) return grpc::Status::OK;
  visibility::TypeMap declared;
  for (const auto& [name, type] : options.search_attributes) {
    auto t = visibility::ParseTypeName(type);
    if (!t) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "invalid search attribute type " + type + " for " + name +
                              " (one of Text, Keyword, Int, Double, Bool, Datetime, KeywordList)");
    }
    declared[name] = *t;
  }
  for (const auto& ns : namespaces.Names()) {
    std::string id;
    if (auto st = namespaces.Resolve(ns, &id); !st.ok()) return st;
    if (auto st = registry->Add(id, declared); !st.ok()) return grpc::Status(st.error_code(), "--search-attribute: " + st.error_message());
  }
  return grpc::Status::OK;
}

bool IsLoopback(const std::string& ip) {
  return ip.starts_with("127.") || ip == "::1" || ip == "[::1]" || ip == "localhost";
}

}  // namespace

int Run(const ServerOptions& options) {
  auto started = std::chrono::steady_clock::now();
  // gRPC's mutexes are Abseil's, whose Debian build checks every lock for
  // deadlock cycles (a debug aid: 2% of the server's instructions).
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  // Signals are taken synchronously by this thread; every thread started
  // from here on inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  // Safe by default: without TLS anyone who reaches the port can do
  // anything, so plaintext is served beyond this machine only when asked.
  std::string ui_ip = options.ui_ip.empty() ? options.ip : options.ui_ip;
  bool exposed = !IsLoopback(options.ip) || (!options.headless && !IsLoopback(ui_ip));
  if (exposed && !options.tls.enabled() && !options.allow_insecure) {
    spdlog::critical("refusing to serve plaintext on {} (not a loopback address): give --tls-cert and --tls-key "
                     "(and --auth-jwks or --auth-api-keys to check who calls), or --allow-insecure to accept that "
                     "traffic, tokens included, can be read and that without authorization anyone who reaches the "
                     "port can do anything",
                     IsLoopback(options.ip) ? ui_ip : options.ip);
    return 1;
  }

  std::unique_ptr<auth::Authorizer> authorizer;
  if (options.auth.enabled()) {
    if (auto st = auth::Authorizer::Create(options.auth, &authorizer); !st.ok()) {
      spdlog::critical("{}", st.error_message());
      return 1;
    }
  }

  for (const auto& [key, value] : options.dynamic_config)
    spdlog::debug("dynamic config {}={} (Kairos reads the limit.* keys of its limits)", key, value);

  // Metrics are always kept (atomics, cheap); --metrics-port serves them.
  metrics::Registry registry;
  metrics::ProcessMetrics process_metrics(&registry);
  std::atomic<bool> ready{false};

  persistence::SqliteOptions store_options;
  store_options.metrics = &registry;
  store_options.path = options.db_path;
  store_options.pragmas = options.sqlite_pragmas;
  store_options.recent_event_bytes = options.event_cache_bytes;
  std::unique_ptr<persistence::Store> store;
  if (auto st = persistence::OpenSqliteStore(store_options, &store); !st.ok()) {
    spdlog::critical("cannot open the database: {}", st.error_message());
    return 1;
  }

  auto executor = std::make_unique<Executor>(options.executor_threads);
  matching::MatchingOptions matching_options;
  matching_options.max_tasks_in_memory_per_queue = options.task_queue_memory;
  auto matching = matching::NewMatchingService(executor.get(), &registry, matching_options);
  visibility::SearchAttributeRegistry search_attributes(store.get());
  visibility::SearchAttributeValidator search_attribute_validator(&search_attributes);
  // Temporal's limit.* dynamic config keys set the per-workflow limits.
  auto limits = history::Limits::FromDynamicConfig(options.dynamic_config);
  history::ScaleOptions scale;
  scale.cache_max_workflows = options.cache_max_workflows;
  scale.timer_lookahead_ms = options.timer_lookahead_ms;
  scale.timer_page_size = options.timer_page_size;
  auto history = history::NewHistoryService(store.get(), matching.get(), executor.get(), &limits,
                                            &search_attribute_validator, &registry, scale);
  frontend::NamespaceRegistry namespaces(store.get(), &limits);
  if (auto st = namespaces.Load(options.namespaces); !st.ok()) {
    spdlog::critical("cannot load namespaces: {}", st.error_message());
    return 1;
  }
  if (auto st = LoadSearchAttributes(options, namespaces, &search_attributes); !st.ok()) {
    spdlog::critical("{}", st.error_message());
    return 1;
  }
  visibility::VisibilityService visibility_service(store.get(), &search_attributes);
  nexus::EndpointRegistry nexus_endpoints(
      store.get(), {[&namespaces](const std::string& name, std::string* id) { return namespaces.Resolve(name, id); },
                    [&namespaces](const std::string& id) { return namespaces.NameOf(id); }});
  if (auto st = nexus_endpoints.Load(); !st.ok()) {
    spdlog::critical("cannot load Nexus endpoints: {}", st.error_message());
    return 1;
  }
  history->SetNexusEndpoints([&nexus_endpoints](const std::string& name) -> std::optional<history::NexusEndpointRoute> {
    auto route = nexus_endpoints.RouteByName(name);
    if (!route) return std::nullopt;
    return history::NexusEndpointRoute{route->endpoint_id, route->namespace_id, route->task_queue, route->external_url};
  });
  // Operations to external endpoints call their handler over HTTP on a small
  // executor of their own: no gRPC or history thread waits on the network.
  auto nexus_client_executor = std::make_unique<Executor>(4);
  history->SetNexusExternalCaller([pool = nexus_client_executor.get()](const std::string& url,
                                                                       temporal::api::nexus::v1::Request req,
                                                                       int64_t timeout_ms, matching::NexusReply reply) {
    pool->Submit([url, req = std::move(req), timeout_ms, reply = std::move(reply)] {
      http::NexusAnswer answer;
      auto st = http::CallNexusHandler(url, req, std::chrono::milliseconds(timeout_ms), &answer);
      reply(st, matching::NexusTaskResult{answer.handler_failed, answer.response, answer.handler_failure});
    });
  });
  // The callback URL handlers outside are given: Temporal's template, by
  // default this server's HTTP port (known once bound, below).
  auto callback_template = [&options](int port) {
    return std::string(options.tls.enabled() ? "https://" : "http://") + (options.ip == "0.0.0.0" || options.ip.empty() ? std::string("localhost") : options.ip) + ":" +
           std::to_string(port) + "/namespaces/{{.NamespaceName}}/nexus/callback";
  };
  history->SetNexusCallbackUrls(nexus::CallbackUrlConfig::FromDynamicConfig(
      options.dynamic_config, options.http_port != 0 ? callback_template(options.http_port) : "unset"));
  // Handler runs started over Nexus's HTTP endpoint report to their caller's URL.
  history->SetNexusCompletionSender(http::PostNexusCompletion);
  history->SetSystemNexusAdmission(frontend::SystemNexusAdmission(&search_attribute_validator));
  // Worker deployments route tasks before history hands matching its backlog.
  auto count_pinned = [&visibility_service](const std::string& namespace_id, const std::string& version) -> int64_t {
    temporal::api::workflowservice::v1::CountWorkflowExecutionsRequest req;
    req.set_query("ExecutionStatus = 'Running' AND TemporalWorkerDeploymentVersion = '" + version +
                  "' AND TemporalWorkflowVersioningBehavior = 'Pinned'");
    temporal::api::workflowservice::v1::CountWorkflowExecutionsResponse resp;
    if (!visibility_service.Count(namespace_id, req, &resp).ok()) return 1;  // Unknown: still draining.
    return resp.count();
  };
  deployments::DeploymentRegistry deployments(store.get(), count_pinned, [&matching] { matching->Rematch(); },
                                              deployments::Timing::FromDynamicConfig(options.dynamic_config));
  deployments.Load();
  deployments.SetQueueStats([&matching](const std::string& ns, const std::string& queue, kairos::records::QueueTask::Kind kind,
                                       const std::string& version) { return matching->VersionStats(ns, queue, kind, version); });
  matching->SetVersionRouter(&deployments);
  // The deprecated version-set and rules APIs and their routing, when
  // dynamic config turns them on (frontend.workerVersioningDataAPIs,
  // frontend.workerVersioningRuleAPIs), as Temporal does.
  std::unique_ptr<deployments::BuildIdVersioning> build_ids;
  auto build_id_apis = deployments::BuildIdApis::FromDynamicConfig(options.dynamic_config);
  if (build_id_apis.any()) {
    auto count = [&visibility_service](const std::string& namespace_id, const std::string& query,
                                       int64_t* count) -> grpc::Status {
      temporal::api::workflowservice::v1::CountWorkflowExecutionsRequest req;
      req.set_query(query);
      temporal::api::workflowservice::v1::CountWorkflowExecutionsResponse resp;
      auto st = visibility_service.Count(namespace_id, req, &resp);
      *count = resp.count();
      return st;
    };
    build_ids = std::make_unique<deployments::BuildIdVersioning>(
        store.get(), count, [&matching] { matching->Rematch(); },
        deployments::BuildIdLimits::FromDynamicConfig(options.dynamic_config), build_id_apis);
    build_ids->Load();
    matching->SetBuildIdRouter(build_ids.get());
  }
  history::DeploymentLookup deployment_lookup;
  deployment_lookup.workflow_queue_in_version = [&deployments](const std::string& ns, const std::string& queue,
                                                               const std::string& version) {
    return deployments.WorkflowQueueInVersion(ns, queue, version);
  };
  deployment_lookup.routing_target = [&deployments](const std::string& ns, const std::string& queue,
                                                    const std::string& workflow_id) {
    auto [version, revision] = deployments.RoutingTarget(ns, queue, workflow_id);
    return history::RoutingTarget{std::move(version), revision};
  };
  deployment_lookup.query_blackholed = [&deployments, &matching](const std::string& ns, const std::string& queue,
                                                               const temporal::api::deployment::v1::WorkerDeploymentVersion& v) {
    return deployments.QueryBlackholed(ns, v, matching->Pollers(ns, queue, kairos::records::QueueTask::WORKFLOW));
  };
  history->SetDeployments(std::move(deployment_lookup));
  history->Start();
  auto scheduler = scheduler::NewSchedulerService(store.get(), history.get(), executor.get());
  scheduler->Start();
  history::RetentionOptions retention_options;
  retention_options.override_ms = options.retention_override_ms;
  retention_options.interval = std::chrono::milliseconds(options.retention_interval_ms);
  history::RetentionWorker retention(history.get(), [&namespaces] { return namespaces.Retentions(); },
                                     retention_options);
  retention.Start();

  auto batcher = batcher::NewBatchService(store.get(), history.get(), &visibility_service);
  batcher->Start();
  // The services with threads of their own, stopped before the store goes.
  auto stop_services = [&] {
    matching->SetVersionRouter(nullptr);
    matching->SetBuildIdRouter(nullptr);
    retention.Stop();
    batcher->Stop();
    scheduler->Stop();
    history->Stop();
  };

  frontend::Dependencies deps{&namespaces,        history.get(),      matching.get(),    executor.get(),
                              &visibility_service, &search_attributes, scheduler.get(),
                              &search_attribute_validator, batcher.get(), authorizer.get(), &nexus_endpoints};
  deps.deployments = &deployments;
  deps.build_ids = build_ids.get();
  const auto callback_rules = frontend::CallbackRules::FromDynamicConfig(options.dynamic_config);
  deps.callback_rules = &callback_rules;
  frontend::FrontendOptions fe_options{kVersion};
  auto workflow_service = frontend::NewWorkflowService(deps, fe_options);
  auto operator_service = frontend::NewOperatorService(deps, fe_options);
  auto health_service = frontend::NewHealthService(authorizer.get());

  std::string address = options.ip + ":" + std::to_string(options.port);
  std::shared_ptr<grpc::ServerCredentials> credentials;
  if (auto st = MakeServerCredentials(options.tls, &credentials); !st.ok()) {
    spdlog::critical("{}", st.error_message());
    stop_services();
    return 1;
  }
  grpc::ServerBuilder builder;
  int bound_port = 0;
  builder.AddListeningPort(address, credentials, &bound_port);
  builder.SetMaxReceiveMessageSize(options.max_message_bytes);
  builder.SetMaxSendMessageSize(options.max_message_bytes);
  builder.RegisterService(workflow_service.get());
  builder.RegisterService(operator_service.get());
  builder.RegisterService(health_service.get());
  std::unique_ptr<grpc::CallbackGenericService> unknown_methods;
  if (authorizer) {
    unknown_methods = frontend::NewUnknownMethodsService(authorizer.get());
    builder.RegisterCallbackGenericService(unknown_methods.get());
  }
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> interceptors;
  interceptors.push_back(std::make_unique<metrics::RpcMetricsFactory>(&registry));
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  auto server = builder.BuildAndStart();
  if (!server || bound_port == 0) {
    spdlog::critical("cannot listen on {}", address);
    stop_services();
    return 1;
  }
  // Temporal's HTTP API and the Web UI call the services above in process.
  http::SitesOptions site_options{options.ip, options.http_port, options.headless, options.ui_ip,
                                  options.ui_port != 0 ? options.ui_port : bound_port + 1000};
  // The HTTP API and the UI get the gRPC port's TLS settings (mutual TLS too).
  site_options.tls = {options.tls.cert_file, options.tls.key_file, options.tls.client_ca_file,
                      options.tls.reload_seconds};
  grpc::ChannelArguments channel_args;
  channel_args.SetMaxReceiveMessageSize(128 * 1024 * 1024);
  channel_args.SetMaxSendMessageSize(128 * 1024 * 1024);
  std::unique_ptr<http::Sites> sites;
  NexusTaskDispatcher nexus_dispatcher(&nexus_endpoints, &namespaces, authorizer.get(), matching.get(), &limits,
                                       history.get());
  if (auto st = http::Sites::Start(site_options, server->InProcessChannel(channel_args), &nexus_dispatcher, &sites);
      !st.ok()) {
    spdlog::critical("{}", st.error_message());
    server->Shutdown();
    stop_services();
    return 1;
  }
  if (options.http_port == 0) {
    std::string bound = sites->api_address();
    history->SetNexusCallbackUrls(nexus::CallbackUrlConfig::FromDynamicConfig(
        options.dynamic_config, callback_template(std::stoi(bound.substr(bound.rfind(':') + 1)))));
  }
  std::unique_ptr<OpsSite> ops;
  if (options.metrics_port != 0) {
    if (auto st = OpsSite::Start(options.ip, options.metrics_port, &registry, &ready, &ops); !st.ok()) {
      spdlog::critical("{}", st.error_message());
      sites->Stop();
      server->Shutdown();
      stop_services();
      return 1;
    }
  }
  ready = true;
  auto ready_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
  std::string ns_list;
  for (const auto& n : namespaces.Names()) ns_list += (ns_list.empty() ? "" : ", ") + n;
  std::string ui = sites->ui_url().empty() ? "off (--headless)" : sites->ui_url();
  std::string metrics_url =
      ops ? "http://" + options.ip + ":" + std::to_string(ops->port()) + "/metrics" : "off (--metrics-port)";
  // The last synchronous pragma wins, as SQLite applies them in order.
  std::string synchronous = "NORMAL";
  for (const auto& [key, value] : options.sqlite_pragmas)
    if (key == "synchronous") synchronous = value;
  std::string persistence = options.db_path.empty()
                                ? "in memory (state is lost on exit)"
                                : "sqlite file " + options.db_path + " (synchronous=" + synchronous + ")";
  std::string tls = !options.tls.enabled()            ? "off"
                    : options.tls.client_ca_file.empty() ? "on"
                                                         : "on, client certificates required";
  std::string authorization = authorizer ? authorizer->Describe() : "off";
  std::printf("Kairos %s\n  Temporal API: %s (TLS %s)\n  Authorization: %s\n  HTTP API:     %s\n  Web UI:       %s\n"
              "  Metrics:      %s\n  Namespaces:   %s\n  Persistence:  %s\n  Ready in %.1f ms\n",
              kVersion, address.c_str(), tls.c_str(), authorization.c_str(), sites->api_address().c_str(), ui.c_str(),
              metrics_url.c_str(), ns_list.c_str(), persistence.c_str(), ready_ms);
  if (exposed && !options.tls.enabled())
    std::printf("  WARNING: plaintext on a non-loopback address (--allow-insecure): no TLS, %s\n",
                authorizer ? "bearer tokens travel in clear" : "no authorization");
  else if (exposed && !authorizer && options.tls.client_ca_file.empty())
    std::printf("  WARNING: no authorization on a non-loopback address: any client that reaches it can do anything "
                "(--auth-jwks, --auth-api-keys)\n");
  std::fflush(stdout);
  spdlog::info("serving address={} ready_ms={:.1f}", address, ready_ms);

  int sig = 0;
  sigwait(&signals, &sig);
  spdlog::info("shutting down signal={}", sig);
  ready = false;
  // Answer parked polls and history waits first: the server's shutdown
  // waits for every call in flight to finish.
  matching->Shutdown();
  stop_services();
  sites->Stop();  // Its requests in flight are gRPC calls: they end as the polls above were answered.
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(3));
  executor.reset();  // Runs what is queued, so every commit in flight ends.
  server->Wait();
  store.reset();
  if (ops) ops->Stop();  // Last: probes see /readyz fail while the rest stops.
  spdlog::info("stopped");
  return 0;
}

}  // namespace kairos::server
