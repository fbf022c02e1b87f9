// Tests of the worker deployment registry: versions registered by polls,
// routing to the current and ramping versions, conflict tokens and
// validation, drainage, and durability across a reopen of the store.
#include <unistd.h>

#include <filesystem>
#include <map>
#include <string>

#include <catch2/catch.hpp>

#include "kairos/deployments/deployment_registry.h"
#include "kairos/persistence/sqlite_store.h"
#include "kairos/persistence/store.h"

namespace fs = std::filesystem;
using namespace kairos;
using deployments::DeploymentRegistry;
using deployments::AttributedStats;
using deployments::QueueRouting;
namespace wsv1 = temporal::api::workflowservice::v1;
namespace enums = temporal::api::enums::v1;

namespace {

std::string TempDbPath() {
  std::string tmpl = (fs::temp_directory_path() / "kairos-deploy-test-XXXXXX").string();
  REQUIRE(mkdtemp(tmpl.data()) != nullptr);
  return tmpl + "/kairos.db";
}

std::unique_ptr<persistence::Store> Open(const std::string& path) {
  persistence::SqliteOptions o;
  o.path = path;
  std::unique_ptr<persistence::Store> store;
  REQUIRE(persistence::OpenSqliteStore(o, &store).ok());
  return store;
}

temporal::api::deployment::v1::WorkerDeploymentOptions Versioned(const std::string& name, const std::string& build) {
  temporal::api::deployment::v1::WorkerDeploymentOptions o;
  o.set_deployment_name(name);
  o.set_build_id(build);
  o.set_worker_versioning_mode(enums::WORKER_VERSIONING_MODE_VERSIONED);
  return o;
}

grpc::Status SetCurrent(DeploymentRegistry& r, const std::string& build, const std::string& token = "") {
  wsv1::SetWorkerDeploymentCurrentVersionRequest req;
  req.set_deployment_name("orders");
  req.set_build_id(build);
  req.set_conflict_token(token);
  wsv1::SetWorkerDeploymentCurrentVersionResponse resp;
  return r.SetWorkerDeploymentCurrentVersion("ns", req, &resp);
}

grpc::Status Ramp(DeploymentRegistry& r, const std::string& build, float percentage) {
  wsv1::SetWorkerDeploymentRampingVersionRequest req;
  req.set_deployment_name("orders");
  req.set_build_id(build);
  req.set_percentage(percentage);
  wsv1::SetWorkerDeploymentRampingVersionResponse resp;
  return r.SetWorkerDeploymentRampingVersion("ns", req, &resp);
}

}  // namespace

TEST_CASE("Deployments: polls register versions; tasks go to the current version", "[deployments]") {
  std::string path = TempDbPath();
  auto store = Open(path);
  int routing_changes = 0;
  DeploymentRegistry r(store.get(), nullptr, [&] { ++routing_changes; });
  CHECK(r.RouteTask("ns", "tq", "wf", false) == "");
  r.RecordPoll("ns", "tq", records::QueueTask::WORKFLOW, Versioned("orders", "v1"));
  r.RecordPoll("ns", "tq", records::QueueTask::ACTIVITY, Versioned("orders", "v1"));
  // Registered, not current: new work still goes to unversioned workers.
  CHECK(r.RouteTask("ns", "tq", "wf", false) == "");

  auto st = SetCurrent(r, "never-polled");
  CHECK(st.error_code() == grpc::StatusCode::NOT_FOUND);
  CHECK(st.error_message() == "build ID 'never-polled' not found in Worker Deployment 'orders'");
  REQUIRE(SetCurrent(r, "v1").ok());
  CHECK(routing_changes == 1);
  CHECK(r.RouteTask("ns", "tq", "wf", false) == "orders:v1");
  CHECK(r.RouteTask("other-ns", "tq", "wf", false) == "");

  wsv1::DescribeWorkerDeploymentRequest dreq;
  dreq.set_deployment_name("orders");
  wsv1::DescribeWorkerDeploymentResponse desc;
  REQUIRE(r.DescribeWorkerDeployment("ns", dreq, &desc).ok());
  REQUIRE(desc.worker_deployment_info().version_summaries_size() == 1);
  CHECK(desc.worker_deployment_info().version_summaries(0).status() == enums::WORKER_DEPLOYMENT_VERSION_STATUS_CURRENT);
  CHECK(SetCurrent(r, "v1", "stale").error_code() == grpc::StatusCode::FAILED_PRECONDITION);

  r.RecordPoll("ns", "tq", records::QueueTask::WORKFLOW, Versioned("orders", "v2"));
  REQUIRE(SetCurrent(r, "v2", desc.conflict_token()).ok());
  CHECK(r.RouteTask("ns", "tq", "wf", false) == "orders:v2");

  // Durable: a new registry on the reopened store routes the same way.
  store.reset();
  auto reopened = Open(path);
  DeploymentRegistry again(reopened.get(), nullptr, nullptr);
  again.Load();
  CHECK(again.RouteTask("ns", "tq", "wf", false) == "orders:v2");
  wsv1::DescribeWorkerDeploymentVersionRequest vreq;
  vreq.mutable_deployment_version()->set_deployment_name("orders");
  vreq.mutable_deployment_version()->set_build_id("v1");
  wsv1::DescribeWorkerDeploymentVersionResponse vdesc;
  REQUIRE(again.DescribeWorkerDeploymentVersion("ns", vreq, &vdesc).ok());
  CHECK(vdesc.worker_deployment_version_info().status() == enums::WORKER_DEPLOYMENT_VERSION_STATUS_DRAINING);
  CHECK(vdesc.version_task_queues_size() == 2);
}

TEST_CASE("Deployments: a ramp sends its share of workflows, each always the same way", "[deployments]") {
  auto store = Open(TempDbPath());
  DeploymentRegistry r(store.get(), nullptr, nullptr);
  r.RecordPoll("ns", "tq", records::QueueTask::WORKFLOW, Versioned("orders", "v1"));
  r.RecordPoll("ns", "tq", records::QueueTask::WORKFLOW, Versioned("orders", "v2"));
  REQUIRE(SetCurrent(r, "v1").ok());
  CHECK(Ramp(r, "v2", 101).error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(Ramp(r, "v1", 10).error_code() == grpc::StatusCode::FAILED_PRECONDITION);
  REQUIRE(Ramp(r, "v2", 30).ok());
  std::map<std::string, int> counts;
  for (int i = 0; i < 2000; ++i) {
    std::string wf = "wf-" + std::to_string(i);
    auto target = r.RouteTask("ns", "tq", wf, false);
    CHECK(r.RouteTask("ns", "tq", wf, false) == target);
    counts[target]++;
  }
  CHECK(counts["orders:v2"] > 500);
  CHECK(counts["orders:v2"] < 700);
  CHECK(counts["orders:v1"] + counts["orders:v2"] == 2000);
  // A first task that asks for the ramping version gets it whatever its share,
  // and RoutingTarget names the same version with the routing revision.
  for (int i = 0; i < 20; ++i) CHECK(r.RouteTask("ns", "tq", "wf-" + std::to_string(i), true) == "orders:v2");
  auto [target, revision] = r.RoutingTarget("ns", "tq", "wf-1");
  CHECK(deployments::VersionString(target) == r.RouteTask("ns", "tq", "wf-1", false));
  CHECK(revision == 2);
  CHECK(r.RoutingTarget("ns", "other-tq", "wf-1").second == 0);
  CHECK(r.WorkflowQueueInVersion("ns", "tq", "orders:v1"));
  CHECK_FALSE(r.WorkflowQueueInVersion("ns", "other-tq", "orders:v1"));
  CHECK_FALSE(r.WorkflowQueueInVersion("ns", "tq", "orders:v9"));
  REQUIRE(Ramp(r, "v2", 100).ok());
  CHECK(r.RouteTask("ns", "tq", "wf-1", false) == "orders:v2");
  // Promoting the ramping version ends the ramp.
  REQUIRE(SetCurrent(r, "v2").ok());
  wsv1::DescribeWorkerDeploymentRequest dreq;
  dreq.set_deployment_name("orders");
  wsv1::DescribeWorkerDeploymentResponse desc;
  REQUIRE(r.DescribeWorkerDeployment("ns", dreq, &desc).ok());
  CHECK_FALSE(desc.worker_deployment_info().routing_config().has_ramping_deployment_version());
}

TEST_CASE("Deployments: a version drains when no open workflow is pinned to it, then may be deleted", "[deployments]") {
  auto store = Open(TempDbPath());
  int64_t pinned = 1;
  deployments::Timing timing;
  timing.poller_ttl_nanos = 0;  // Pollers are forgotten at once.
  timing.drainage_grace_nanos = 0;
  timing.drainage_refresh_nanos = 0;
  DeploymentRegistry r(store.get(), [&](const std::string&, const std::string& version) {
    CHECK(version == "orders:v1");
    return pinned;
  }, nullptr, timing);
  r.RecordPoll("ns", "tq", records::QueueTask::WORKFLOW, Versioned("orders", "v1"));
  r.RecordPoll("ns", "tq", records::QueueTask::WORKFLOW, Versioned("orders", "v2"));
  REQUIRE(SetCurrent(r, "v1").ok());
  REQUIRE(SetCurrent(r, "v2").ok());
  wsv1::DeleteWorkerDeploymentVersionRequest del;
  del.mutable_deployment_version()->set_deployment_name("orders");
  del.mutable_deployment_version()->set_build_id("v1");
  wsv1::DeleteWorkerDeploymentVersionResponse del_resp;
  auto st = r.DeleteWorkerDeploymentVersion("ns", del, &del_resp);
  CHECK(st.error_message() == "version 'orders:v1' cannot be deleted since it is draining");
  pinned = 0;
  REQUIRE(r.DeleteWorkerDeploymentVersion("ns", del, &del_resp).ok());
  del.mutable_deployment_version()->set_build_id("v2");
  CHECK(r.DeleteWorkerDeploymentVersion("ns", del, &del_resp).error_message() ==
        "version 'orders:v2' cannot be deleted since it is current or ramping");
  wsv1::DeleteWorkerDeploymentRequest dd;
  dd.set_deployment_name("orders");
  wsv1::DeleteWorkerDeploymentResponse dd_resp;
  CHECK(r.DeleteWorkerDeployment("ns", dd, &dd_resp).error_message() == "deployment has versions, can't be deleted");
}

TEST_CASE("Deployments: a manager identity keeps other clients from changing the routing", "[deployments]") {
  auto path = TempDbPath();
  auto store = Open(path);
  DeploymentRegistry r(store.get(), nullptr, nullptr);
  r.RecordPoll("ns", "tq", records::QueueTask::WORKFLOW, Versioned("orders", "v1"));
  r.RecordPoll("ns", "tq", records::QueueTask::WORKFLOW, Versioned("orders", "v2"));
  wsv1::DescribeWorkerDeploymentRequest dreq;
  dreq.set_deployment_name("orders");
  wsv1::DescribeWorkerDeploymentResponse before;
  REQUIRE(r.DescribeWorkerDeployment("ns", dreq, &before).ok());

  wsv1::SetWorkerDeploymentManagerRequest m;
  m.set_deployment_name("orders");
  m.set_identity("alice");
  m.set_self(true);
  wsv1::SetWorkerDeploymentManagerResponse mresp;
  REQUIRE(r.SetWorkerDeploymentManager("ns", m, &mresp).ok());
  CHECK(mresp.conflict_token() != before.conflict_token());  // Setting the manager is a change.
  CHECK(SetCurrent(r, "v1", before.conflict_token()).error_code() == grpc::StatusCode::FAILED_PRECONDITION);

  // SetCurrent's helper has no identity: not the manager.
  auto refused = SetCurrent(r, "v1");
  CHECK(refused.error_code() == grpc::StatusCode::FAILED_PRECONDITION);
  CHECK(refused.error_message().find("ManagerIdentity 'alice' is set and does not match user identity ''") == 0);
  CHECK(Ramp(r, "v2", 10).error_code() == grpc::StatusCode::FAILED_PRECONDITION);

  // It survives a reopen, shows in describe, and is removed by setting it empty.
  DeploymentRegistry again(store.get(), nullptr, nullptr);
  again.Load();
  wsv1::DescribeWorkerDeploymentResponse desc;
  REQUIRE(again.DescribeWorkerDeployment("ns", dreq, &desc).ok());
  CHECK(desc.worker_deployment_info().manager_identity() == "alice");
  m.set_manager_identity("");
  REQUIRE(again.SetWorkerDeploymentManager("ns", m, &mresp).ok());
  CHECK(SetCurrent(again, "v1").ok());
}

TEST_CASE("Deployments: ListWorkerDeployments pages by page_size and next_page_token", "[deployments]") {
  auto store = Open(TempDbPath());
  DeploymentRegistry r(store.get(), nullptr, nullptr);
  for (const char* name : {"a", "b", "c"}) r.RecordPoll("ns", "tq-" + std::string(name), records::QueueTask::WORKFLOW, Versioned(name, "v1"));
  r.RecordPoll("other-ns", "tq", records::QueueTask::WORKFLOW, Versioned("z", "v1"));
  wsv1::ListWorkerDeploymentsRequest req;
  req.set_page_size(2);
  std::vector<std::string> names;
  int pages = 0;
  do {
    wsv1::ListWorkerDeploymentsResponse resp;
    REQUIRE(r.ListWorkerDeployments("ns", req, &resp).ok());
    CHECK(resp.worker_deployments_size() <= 2);
    for (const auto& d : resp.worker_deployments()) names.push_back(d.name());
    req.set_next_page_token(resp.next_page_token());
    ++pages;
  } while (!req.next_page_token().empty() && pages < 5);
  CHECK(names == std::vector<std::string>{"a", "b", "c"});
  CHECK(pages == 2);
  wsv1::ListWorkerDeploymentsResponse all;
  REQUIRE(r.ListWorkerDeployments("ns", wsv1::ListWorkerDeploymentsRequest(), &all).ok());
  CHECK(all.worker_deployments_size() == 3);
  CHECK(all.next_page_token().empty());
}

TEST_CASE("Deployments: a version missing a busy task queue of the current one is refused", "[deployments]") {
  auto store = Open(TempDbPath());
  DeploymentRegistry r(store.get(), nullptr, nullptr);
  bool busy = false;
  r.SetQueueStats([&busy](const std::string&, const std::string& queue, records::QueueTask::Kind, const std::string&) {
    matching::QueueStats s;
    if (queue == "only-v1" && busy) s.add_rate = 0.5;
    return s;
  });
  r.RecordPoll("ns", "tq", records::QueueTask::WORKFLOW, Versioned("orders", "v1"));
  r.RecordPoll("ns", "only-v1", records::QueueTask::WORKFLOW, Versioned("orders", "v1"));
  r.RecordPoll("ns", "tq", records::QueueTask::WORKFLOW, Versioned("orders", "v2"));
  REQUIRE(SetCurrent(r, "v1").ok());
  busy = true;
  auto refused = Ramp(r, "v2", 10);
  CHECK(refused.error_code() == grpc::StatusCode::FAILED_PRECONDITION);
  CHECK(refused.error_message().find("proposed ramping version 'orders:v2' is missing active task queues") == 0);
  CHECK(SetCurrent(r, "v2").error_code() == grpc::StatusCode::FAILED_PRECONDITION);
  wsv1::SetWorkerDeploymentCurrentVersionRequest req;
  req.set_deployment_name("orders");
  req.set_build_id("v2");
  req.set_ignore_missing_task_queues(true);
  wsv1::SetWorkerDeploymentCurrentVersionResponse resp;
  CHECK(r.SetWorkerDeploymentCurrentVersion("ns", req, &resp).ok());
  // An idle queue is no reason to refuse.
  busy = false;
  CHECK(SetCurrent(r, "v1").ok());
}

TEST_CASE("Deployments: a version's task queue statistics are attributed as Temporal's", "[deployments]") {
  matching::QueueStats own;
  own.backlog_count = 1;
  own.oldest_task_created_nanos = 500;
  own.add_rate = 1;
  matching::QueueStats unpinned;
  unpinned.backlog_count = 4;
  unpinned.oldest_task_created_nanos = 100;
  unpinned.add_rate = 4;
  QueueRouting routing{"orders:v1", "", 0};
  // The current version has every unpinned task, another only its own.
  auto current = AttributedStats(own, unpinned, routing, "orders:v1");
  CHECK(current.backlog_count == 5);
  CHECK(current.oldest_task_created_nanos == 100);
  CHECK(current.add_rate == 5);
  CHECK(AttributedStats(own, unpinned, routing, "orders:v2").backlog_count == 1);
  // A 25 % ramp: shares rounded up (3 and 1 of 4), rates split exactly.
  routing = {"orders:v1", "orders:v2", 25};
  current = AttributedStats(own, unpinned, routing, "orders:v1");
  CHECK(current.backlog_count == 4);
  CHECK(current.add_rate == 4);
  auto ramping = AttributedStats(own, unpinned, routing, "orders:v2");
  CHECK(ramping.backlog_count == 2);
  CHECK(ramping.add_rate == 2);
  CHECK(ramping.oldest_task_created_nanos == 100);
  // Nothing waits: no age.
  CHECK(AttributedStats({}, {}, routing, "orders:v2").oldest_task_created_nanos == 0);
}

TEST_CASE("Deployments: describe reports task queue statistics only when asked", "[deployments]") {
  auto store = Open(TempDbPath());
  DeploymentRegistry r(store.get(), nullptr, nullptr);
  r.SetQueueStats([](const std::string&, const std::string&, records::QueueTask::Kind kind, const std::string& version) {
    matching::QueueStats s;
    if (kind == records::QueueTask::WORKFLOW) s.backlog_count = version.empty() ? 3 : 1;
    return s;
  });
  r.RecordPoll("ns", "tq", records::QueueTask::WORKFLOW, Versioned("orders", "v1"));
  r.RecordPoll("ns", "tq", records::QueueTask::ACTIVITY, Versioned("orders", "v1"));
  REQUIRE(SetCurrent(r, "v1").ok());
  wsv1::DescribeWorkerDeploymentVersionRequest req;
  req.mutable_deployment_version()->set_deployment_name("orders");
  req.mutable_deployment_version()->set_build_id("v1");
  wsv1::DescribeWorkerDeploymentVersionResponse plain;
  REQUIRE(r.DescribeWorkerDeploymentVersion("ns", req, &plain).ok());
  REQUIRE(plain.version_task_queues_size() == 2);
  CHECK(!plain.version_task_queues(0).has_stats());
  req.set_report_task_queue_stats(true);
  wsv1::DescribeWorkerDeploymentVersionResponse with;
  REQUIRE(r.DescribeWorkerDeploymentVersion("ns", req, &with).ok());
  for (const auto& q : with.version_task_queues()) {
    int64_t want = q.type() == temporal::api::enums::v1::TASK_QUEUE_TYPE_WORKFLOW ? 4 : 0;
    CHECK(q.stats().approximate_backlog_count() == want);
    CHECK(q.stats().has_approximate_backlog_age());
    CHECK(q.stats_by_priority_key().at(matching::kDefaultPriorityKey).approximate_backlog_count() == want);
  }
}
