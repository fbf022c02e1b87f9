// Tests of the Prometheus registry: series lookup, the text format (labels,
// escaping, cumulative histogram buckets), concurrent updates, and the
// error_type names of the per-RPC metrics.
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "kairos/errors.h"
#include "kairos/metrics/registry.h"
#include "kairos/metrics/rpc_metrics.h"

namespace metrics = kairos::metrics;

TEST_CASE("a family returns one series per label set", "[metrics]") {
  metrics::Registry r;
  auto* f = r.AddCounter("service_requests", "requests", {"namespace", "operation"});
  auto* a = f->Get({"default", "StartWorkflowExecution"});
  auto* b = f->Get({"default", "StartWorkflowExecution"});
  auto* c = f->Get({"default", "SignalWorkflowExecution"});
  CHECK(a == b);
  CHECK(a != c);
  // ("ab","c") and ("a","bc") are different label sets.
  CHECK(f->Get({"ab", "c"}) != f->Get({"a", "bc"}));
  CHECK(r.AddCounter("service_requests", "requests", {"namespace", "operation"}) == f);
}

TEST_CASE("counters and gauges render in the text format", "[metrics]") {
  metrics::Registry r;
  r.AddCounter("service_requests", "Requests received", {"namespace", "operation"})->Get({"default", "Start"})->Inc(3);
  auto* g = r.AddGauge("process_threads", "Threads")->Get({});
  g->Set(7);
  g->Add(-2);
  r.AddCounter("escaped", "Escaping")->Get({});  // No labels.
  r.AddCounter("labels", "Escaping", {"v"})->Get({"a\"b\\c\nd"})->Inc();
  r.AddGauge("ratio", "Fractions")->Get({})->Set(0.03);
  std::string text = r.Render();
  CHECK(text.find("# HELP service_requests Requests received\n# TYPE service_requests counter\n"
                  "service_requests{namespace=\"default\",operation=\"Start\"} 3\n") != std::string::npos);
  CHECK(text.find("# TYPE process_threads gauge\nprocess_threads 5\n") != std::string::npos);
  CHECK(text.find("escaped 0\n") != std::string::npos);
  CHECK(text.find("labels{v=\"a\\\"b\\\\c\\nd\"} 1\n") != std::string::npos);
  CHECK(text.find("ratio 0.03\n") != std::string::npos);
  // Families in name order.
  CHECK(text.find("# HELP escaped") < text.find("# HELP labels"));
  CHECK(text.find("# HELP labels") < text.find("# HELP process_threads"));
}

TEST_CASE("histograms render cumulative buckets, sum and count", "[metrics]") {
  metrics::Registry r;
  auto* h = r.AddHistogram("service_latency", "Latency", {"operation"}, metrics::LatencyBuckets())->Get({"Start"});
  h->ObserveDuration(std::chrono::microseconds(500));  // <= 1 ms
  h->ObserveDuration(std::chrono::milliseconds(3));    // <= 5 ms
  h->ObserveDuration(std::chrono::milliseconds(5));    // <= 5 ms (bounds are inclusive)
  h->ObserveDuration(std::chrono::seconds(2000));      // +Inf
  std::string text = r.Render();
  CHECK(text.find("service_latency_bucket{operation=\"Start\",le=\"0.001\"} 1\n") != std::string::npos);
  CHECK(text.find("service_latency_bucket{operation=\"Start\",le=\"0.002\"} 1\n") != std::string::npos);
  CHECK(text.find("service_latency_bucket{operation=\"Start\",le=\"0.005\"} 3\n") != std::string::npos);
  CHECK(text.find("service_latency_bucket{operation=\"Start\",le=\"1000\"} 3\n") != std::string::npos);
  CHECK(text.find("service_latency_bucket{operation=\"Start\",le=\"+Inf\"} 4\n") != std::string::npos);
  CHECK(text.find("service_latency_sum{operation=\"Start\"} 2000.0085\n") != std::string::npos);
  CHECK(text.find("service_latency_count{operation=\"Start\"} 4\n") != std::string::npos);
  CHECK(metrics::LatencyBuckets().bounds.size() == 19);  // 1 ms .. 1000 s in 1-2-5 steps
}

TEST_CASE("concurrent updates and first lookups lose nothing", "[metrics]") {
  metrics::Registry r;
  auto* f = r.AddCounter("c", "c", {"k"});
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([f] {
      for (int i = 0; i < 10000; ++i) f->Get({std::to_string(i % 50)})->Inc();
    });
  }
  for (auto& th : threads) th.join();
  uint64_t total = 0;
  for (int i = 0; i < 50; ++i) total += f->Get({std::to_string(i)})->value();
  CHECK(total == 80000);
}

TEST_CASE("more label sets than the lock-free table still resolve", "[metrics]") {
  metrics::Registry r;
  auto* f = r.AddCounter("c", "c", {"k"});
  for (int i = 0; i < 2000; ++i) f->Get({std::to_string(i)})->Inc(i);
  for (int i = 0; i < 2000; i += 97) CHECK(f->Get({std::to_string(i)})->value() == static_cast<uint64_t>(i));
}

TEST_CASE("scrape hooks run before rendering until their handle goes", "[metrics]") {
  metrics::Registry r;
  auto* g = r.AddGauge("g", "g")->Get({});
  int runs = 0;
  {
    auto handle = r.AddScrapeHook([&] { g->Set(++runs); });
    CHECK(r.Render().find("g 1\n") != std::string::npos);
  }
  r.Render();
  CHECK(runs == 1);
}

TEST_CASE("error_type is Temporal's serviceerror name", "[metrics]") {
  CHECK(metrics::ErrorType(kairos::errors::NotFound("gone")) == "serviceerror_NotFound");
  CHECK(metrics::ErrorType(kairos::errors::NamespaceNotFound("x")) == "serviceerror_NamespaceNotFound");
  CHECK(metrics::ErrorType(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "bad")) == "serviceerror_InvalidArgument");
  CHECK(metrics::ErrorType(grpc::Status(grpc::StatusCode::CANCELLED, "gone")) == "serviceerror_Canceled");
  CHECK(metrics::IsServerError(grpc::StatusCode::UNAVAILABLE));
  CHECK_FALSE(metrics::IsServerError(grpc::StatusCode::NOT_FOUND));
}

// The work the per-RPC interceptor does for one call, timed (run by hand:
// kairos_unit_tests "[.bench]"); the figure is in docs/operating.md.
TEST_CASE("per-RPC metrics cost", "[.bench]") {
  metrics::Registry r;
  std::vector<std::string> labels = {"namespace", "operation", "service_name"};
  auto* requests = r.AddCounter("service_requests", "r", labels);
  auto* pending = r.AddGauge("service_pending_requests", "p", labels);
  auto* latency = r.AddHistogram("service_latency", "l", labels, metrics::LatencyBuckets());
  constexpr int kCalls = 1'000'000;
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < kCalls; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    std::string ns = "default";  // The interceptor copies the namespace out of the request.
    requests->Get({ns, "RespondWorkflowTaskCompleted", "frontend"})->Inc();
    auto* g = pending->Get({ns, "RespondWorkflowTaskCompleted", "frontend"});
    g->Add(1);
    g->Add(-1);
    latency->Get({ns, "RespondWorkflowTaskCompleted", "frontend"})
        ->ObserveDuration(std::chrono::steady_clock::now() - t0);
  }
  double ns_per_call =
      std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count() / kCalls;
  WARN("per-RPC metrics work: " << ns_per_call << " ns per call");
  CHECK(ns_per_call < 5000);
}
