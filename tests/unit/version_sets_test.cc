// Tests of the deprecated build-id versioning with compatible version sets:
// the set operations (Temporal's order and messages), where tasks and
// versioned pollers go, and the sets surviving a reopen of the store.
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "kairos/deployments/build_id_versioning.h"
#include "kairos/deployments/version_sets.h"
#include "kairos/persistence/sqlite_store.h"
#include "kairos/persistence/store.h"

namespace fs = std::filesystem;
using namespace kairos;
using deployments::BuildIdVersioning;
using deployments::VersionSets;
namespace wsv1 = temporal::api::workflowservice::v1;

namespace {

wsv1::UpdateWorkerBuildIdCompatibilityRequest NewDefault(const std::string& id) {
  wsv1::UpdateWorkerBuildIdCompatibilityRequest r;
  r.set_namespace_("default");
  r.set_task_queue("q");
  r.set_add_new_build_id_in_new_default_set(id);
  return r;
}

wsv1::UpdateWorkerBuildIdCompatibilityRequest Compatible(const std::string& id, const std::string& existing,
                                                         bool make_default = false) {
  wsv1::UpdateWorkerBuildIdCompatibilityRequest r;
  r.set_namespace_("default");
  r.set_task_queue("q");
  auto* op = r.mutable_add_new_compatible_build_id();
  op->set_new_build_id(id);
  op->set_existing_compatible_build_id(existing);
  op->set_make_set_default(make_default);
  return r;
}

std::vector<std::vector<std::string>> Ids(const VersionSets& d) {
  std::vector<std::vector<std::string>> out;
  for (const auto& s : d.sets) {
    out.emplace_back();
    for (const auto& b : s.builds) out.back().push_back(b.id);
  }
  return out;
}

std::string TempDbPath() {
  std::string tmpl = (fs::temp_directory_path() / "kairos-vsets-test-XXXXXX").string();
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

}  // namespace

TEST_CASE("Version sets: operations keep Temporal's order", "[version_sets]") {
  VersionSets d;
  int64_t clock = 0;
  auto apply = [&](const wsv1::UpdateWorkerBuildIdCompatibilityRequest& r) {
    return deployments::ApplyVersionSetUpdate(&d, r, ++clock, {});
  };
  REQUIRE(apply(NewDefault("1.0")).ok());
  REQUIRE(apply(NewDefault("1.0")).ok());  // Idempotent.
  REQUIRE(apply(Compatible("1.1", "1.0")).ok());
  REQUIRE(apply(NewDefault("2.0")).ok());
  CHECK(Ids(d) == std::vector<std::vector<std::string>>{{"1.0", "1.1"}, {"2.0"}});
  REQUIRE(apply(Compatible("1.2", "1.1", true)).ok());
  CHECK(Ids(d) == std::vector<std::vector<std::string>>{{"2.0"}, {"1.0", "1.1", "1.2"}});

  wsv1::UpdateWorkerBuildIdCompatibilityRequest promote;
  promote.set_promote_build_id_within_set("1.0");
  REQUIRE(apply(promote).ok());
  CHECK(Ids(d).back() == std::vector<std::string>{"1.1", "1.2", "1.0"});

  wsv1::UpdateWorkerBuildIdCompatibilityRequest merge;
  merge.mutable_merge_sets()->set_primary_set_build_id("2.0");
  merge.mutable_merge_sets()->set_secondary_set_build_id("1.1");
  REQUIRE(apply(merge).ok());
  CHECK(Ids(d) == std::vector<std::vector<std::string>>{{"1.1", "1.2", "1.0", "2.0"}});

  auto st = apply(NewDefault("1.2"));
  CHECK(st.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(st.error_message() == "version 1.2 already exists");
  st = apply(Compatible("3.1", "3.0"));
  CHECK(st.error_code() == grpc::StatusCode::NOT_FOUND);
  CHECK(st.error_message() == "targeted compatible_version 3.0 not found");
  CHECK(Ids(d) == std::vector<std::vector<std::string>>{{"1.1", "1.2", "1.0", "2.0"}});  // Unchanged by errors.

  deployments::VersionSetLimits limits;
  limits.max_build_ids = 4;
  st = deployments::ApplyVersionSetUpdate(&d, NewDefault("5.0"), ++clock, limits);
  CHECK(st.error_code() == grpc::StatusCode::FAILED_PRECONDITION);
  CHECK(st.error_message() == "update would exceed number of build IDs permitted in namespace dynamic config (5/4)");

  VersionSets back;
  REQUIRE(back.Parse(d.Serialize()));
  CHECK(Ids(back) == Ids(d));
  CHECK(back.clock == d.clock);
}

TEST_CASE("Version sets: validation lists what is missing", "[version_sets]") {
  wsv1::UpdateWorkerBuildIdCompatibilityRequest r;
  auto st = deployments::ValidateVersionSetUpdate(r, 255);
  CHECK(st.error_message() ==
        "request to update worker build ID compatability requires: , `namespace` to be set, `task_queue` to be set, an "
        "operation to be specified");
  r = NewDefault(std::string(256, 'x'));
  st = deployments::ValidateVersionSetUpdate(r, 255);
  CHECK(st.error_message() ==
        "request to update worker build ID compatability requires: ,  Worker build IDs to be no larger than 255 "
        "characters");
}

TEST_CASE("Version sets: routing of tasks and pollers, durable across a reopen", "[version_sets]") {
  std::string path = TempDbPath();
  int changes = 0;
  auto no_count = [](const std::string&, const std::string&, int64_t* n) {
    *n = 0;
    return grpc::Status::OK;
  };
  {
    auto store = Open(path);
    BuildIdVersioning v(store.get(), no_count, [&] { ++changes; });
    v.Load();
    // No sets: new work is not decided here; a build's work stays its own.
    CHECK_FALSE(v.TaskTarget("ns", "q", matching::kAssignBuildDirective).has_value());
    CHECK(v.TaskTarget("ns", "q", ":build:7").value() == ":build:7");
    wsv1::UpdateWorkerBuildIdCompatibilityResponse resp;
    REQUIRE(v.UpdateWorkerBuildIdCompatibility("ns", NewDefault("1.0"), &resp).ok());
    REQUIRE(v.UpdateWorkerBuildIdCompatibility("ns", Compatible("1.1", "1.0"), &resp).ok());
    REQUIRE(v.UpdateWorkerBuildIdCompatibility("ns", NewDefault("2.0"), &resp).ok());
    REQUIRE(v.UpdateWorkerBuildIdCompatibility("ns", NewDefault("2.0"), &resp).ok());  // No change.
    CHECK(changes == 3);
  }
  auto store = Open(path);
  BuildIdVersioning v(store.get(), no_count, [] {});
  v.Load();
  CHECK(v.TaskTarget("ns", "q", matching::kAssignBuildDirective).value() == ":build:2.0");
  CHECK(v.TaskTarget("ns", "q", ":build:1.0").value() == ":build:1.1");  // The set's default.
  CHECK(v.TaskTarget("ns", "other", ":build:1.0").value() == ":build:1.0");
  std::string target;
  CHECK(v.PollTarget("ns", "q", "1.1", &target).ok());
  CHECK(target == ":build:1.1");
  auto st = v.PollTarget("ns", "q", "1.0", &target);
  CHECK(st.error_code() == grpc::StatusCode::OUT_OF_RANGE);
  CHECK(st.error_message() == "Task queue has a newer compatible build: \"1.1\"");
  wsv1::GetWorkerBuildIdCompatibilityRequest get;
  get.set_task_queue("q");
  get.set_max_sets(1);
  wsv1::GetWorkerBuildIdCompatibilityResponse sets;
  REQUIRE(v.GetWorkerBuildIdCompatibility("ns", get, &sets).ok());
  REQUIRE(sets.major_version_sets_size() == 1);
  CHECK(sets.major_version_sets(0).build_ids(0) == "2.0");
}

TEST_CASE("Versioning rules: the RPCs, routing of new work and redirects, durable across a reopen", "[version_sets]") {
  std::string path = TempDbPath();
  auto no_count = [](const std::string&, const std::string&, int64_t* n) {
    *n = 0;
    return grpc::Status::OK;
  };
  auto read = [](BuildIdVersioning& v) {
    wsv1::GetWorkerVersioningRulesRequest get;
    get.set_task_queue("q");
    wsv1::GetWorkerVersioningRulesResponse rules;
    REQUIRE(v.GetWorkerVersioningRules("ns", get, &rules).ok());
    return rules;
  };
  std::string token;
  {
    auto store = Open(path);
    BuildIdVersioning v(store.get(), no_count, [] {});
    v.Load();
    auto rules = read(v);
    CHECK(rules.assignment_rules_size() == 0);

    wsv1::UpdateWorkerVersioningRulesRequest commit;
    commit.set_task_queue("q");
    commit.mutable_commit_build_id()->set_target_build_id("1.0");
    wsv1::UpdateWorkerVersioningRulesResponse resp;
    auto st = v.UpdateWorkerVersioningRules("ns", commit, &resp);  // No token.
    CHECK(st.error_code() == grpc::StatusCode::FAILED_PRECONDITION);
    CHECK(st.error_message() == "provided conflict token '[]' does not match existing one '[48]'");
    commit.set_conflict_token(rules.conflict_token());
    st = v.UpdateWorkerVersioningRules("ns", commit, &resp);
    CHECK(st.error_message() ==
          "no versioned poller with build ID '1.0' seen within the last 1m10s, use force=true to commit anyways");
    std::string target;
    REQUIRE(v.PollTarget("ns", "q", "1.0", &target).ok());
    REQUIRE(v.UpdateWorkerVersioningRules("ns", commit, &resp).ok());
    REQUIRE(resp.assignment_rules_size() == 1);
    CHECK(resp.assignment_rules(0).rule().target_build_id() == "1.0");
    CHECK(resp.assignment_rules(0).create_time().seconds() > 0);
    CHECK(resp.conflict_token() != rules.conflict_token());
    // The old token is stale now.
    CHECK(v.UpdateWorkerVersioningRules("ns", commit, &resp).error_code() == grpc::StatusCode::FAILED_PRECONDITION);

    wsv1::UpdateWorkerVersioningRulesRequest redirect;
    redirect.set_task_queue("q");
    redirect.set_conflict_token(resp.conflict_token());
    redirect.mutable_add_compatible_redirect_rule()->mutable_rule()->set_source_build_id("1.0");
    redirect.mutable_add_compatible_redirect_rule()->mutable_rule()->set_target_build_id("2.0");
    REQUIRE(v.UpdateWorkerVersioningRules("ns", redirect, &resp).ok());
    token = resp.conflict_token();
  }
  auto store = Open(path);
  BuildIdVersioning v(store.get(), no_count, [] {});
  v.Load();
  auto rules = read(v);
  CHECK(rules.conflict_token() == token);
  REQUIRE(rules.compatible_redirect_rules_size() == 1);
  // New work is assigned 1.0, which redirects to 2.0; 1.0's work goes to 2.0.
  CHECK(v.TaskTarget("ns", "q", std::string(matching::kAssignBuildDirective) + ":run").value() == ":build:2.0");
  CHECK(v.TaskTarget("ns", "q", ":build:1.0").value() == ":build:2.0");
  CHECK(v.TaskTarget("ns", "q", ":build:3.0").value() == ":build:3.0");
  CHECK_FALSE(v.TaskTarget("ns", "other", matching::kAssignBuildDirective).has_value());
  std::string target;
  auto st = v.PollTarget("ns", "q", "1.0", &target);
  CHECK(st.error_code() == grpc::StatusCode::OUT_OF_RANGE);
  CHECK(st.error_message() == "Task queue has a newer compatible build: \"2.0\"");
  REQUIRE(v.PollTarget("ns", "q", "2.0", &target).ok());
  CHECK(target == ":build:2.0");
}
