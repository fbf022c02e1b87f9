// Tests of the rules of the deprecated rules-based worker versioning (v0.2):
// each operation of UpdateWorkerVersioningRules with Temporal's checks and
// messages, the assignment of new work (ramps) and redirects, and the row
// that keeps a queue's sets and rules together.
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "kairos/deployments/version_sets.h"
#include "kairos/deployments/versioning_rules.h"

using namespace kairos;
using deployments::RuleLimits;
using deployments::VersioningRules;
using deployments::VersionSets;
namespace wsv1 = temporal::api::workflowservice::v1;

namespace {

using Req = wsv1::UpdateWorkerVersioningRulesRequest;

Req Insert(int index, const std::string& target, float ramp = -1) {
  Req r;
  auto* op = r.mutable_insert_assignment_rule();
  op->set_rule_index(index);
  op->mutable_rule()->set_target_build_id(target);
  if (ramp >= 0 || ramp < -1) op->mutable_rule()->mutable_percentage_ramp()->set_ramp_percentage(ramp);
  return r;
}

Req Replace(int index, const std::string& target, bool force = false) {
  Req r;
  auto* op = r.mutable_replace_assignment_rule();
  op->set_rule_index(index);
  op->mutable_rule()->set_target_build_id(target);
  op->set_force(force);
  return r;
}

Req Delete(int index, bool force = false) {
  Req r;
  r.mutable_delete_assignment_rule()->set_rule_index(index);
  r.mutable_delete_assignment_rule()->set_force(force);
  return r;
}

Req Redirect(const std::string& source, const std::string& target, bool replace = false) {
  Req r;
  auto* rule = replace ? r.mutable_replace_compatible_redirect_rule()->mutable_rule()
                       : r.mutable_add_compatible_redirect_rule()->mutable_rule();
  rule->set_source_build_id(source);
  rule->set_target_build_id(target);
  return r;
}

Req Commit(const std::string& target, bool force = false) {
  Req r;
  r.mutable_commit_build_id()->set_target_build_id(target);
  r.mutable_commit_build_id()->set_force(force);
  return r;
}

// The active assignment rules' targets and ramps, in order.
std::vector<std::pair<std::string, float>> Assigned(const VersioningRules& r) {
  std::vector<std::pair<std::string, float>> out;
  for (const auto& a : r.assignment)
    if (a.delete_clock == 0) out.emplace_back(a.target, a.ramp);
  return out;
}

std::vector<std::pair<std::string, std::string>> Redirects(const VersioningRules& r) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& x : r.redirect)
    if (x.delete_clock == 0) out.emplace_back(x.source, x.target);
  return out;
}

struct Fixture {
  VersioningRules rules;
  VersionSets sets;
  RuleLimits limits;
  int64_t clock = 1000;
  grpc::Status Apply(const Req& r, bool polled = false) {
    return deployments::ApplyRulesUpdate(&rules, sets, r, ++clock, polled, limits);
  }
};

void RequireError(const grpc::Status& st, grpc::StatusCode code, const std::string& message) {
  CHECK(st.error_code() == code);
  CHECK(st.error_message() == message);
}

}  // namespace

TEST_CASE("Versioning rules: assignment rules are inserted, replaced and deleted by index", "[versioning_rules]") {
  Fixture f;
  REQUIRE(f.Apply(Insert(0, "1.0")).ok());
  REQUIRE(f.Apply(Insert(0, "2.0", 20)).ok());
  REQUIRE(f.Apply(Insert(9, "3.0", 10)).ok());  // Past the end: appended.
  CHECK(Assigned(f.rules) == std::vector<std::pair<std::string, float>>{{"2.0", 20}, {"1.0", 100}, {"3.0", 10}});

  RequireError(f.Apply(Insert(-1, "4.0")), grpc::StatusCode::INVALID_ARGUMENT, "rule index cannot be negative");
  RequireError(f.Apply(Insert(0, "4.0", 101)), grpc::StatusCode::INVALID_ARGUMENT,
               "ramp percentage must be in range [0, 100]");
  RequireError(f.Apply(Replace(3, "4.0")), grpc::StatusCode::INVALID_ARGUMENT,
               "rule index 3 is out of bounds for assignment rule list of length 3");
  RequireError(f.Apply(Delete(5)), grpc::StatusCode::INVALID_ARGUMENT,
               "rule index 5 is out of bounds for assignment rule list of length 3");

  REQUIRE(f.Apply(Replace(1, "1.1")).ok());
  CHECK(Assigned(f.rules)[1] == std::pair<std::string, float>{"1.1", 100});
  // The only fully-ramped rule goes only with force.
  RequireError(f.Apply(Delete(1)), grpc::StatusCode::FAILED_PRECONDITION,
               "at least one fully-ramped assignment rule must exist (use force=true to bypass this requirement and "
               "set the unversioned queue as the default)");
  RequireError(f.Apply(Replace(1, "1.2")), grpc::StatusCode::OK, "");  // A fully-ramped replacement is fine.
  REQUIRE(f.Apply(Delete(1, true)).ok());
  CHECK(Assigned(f.rules) == std::vector<std::pair<std::string, float>>{{"2.0", 20}, {"3.0", 10}});
  // Deleted fully-ramped rules still count (Temporal's tombstones): a
  // partially-ramped rule cannot go without force either.
  RequireError(f.Apply(Delete(0)), grpc::StatusCode::FAILED_PRECONDITION,
               "at least one fully-ramped assignment rule must exist (use force=true to bypass this requirement and "
               "set the unversioned queue as the default)");

  f.limits.max_assignment_rules = 2;
  RequireError(f.Apply(Insert(0, "5.0")), grpc::StatusCode::FAILED_PRECONDITION,
               "update exceeds number of assignment rules permitted in namespace (3/2)");
  CHECK(Assigned(f.rules).size() == 2);  // Unchanged by errors.
}

TEST_CASE("Versioning rules: redirect rules and their checks", "[versioning_rules]") {
  Fixture f;
  REQUIRE(f.Apply(Redirect("1.0", "2.0")).ok());
  REQUIRE(f.Apply(Redirect("2.0", "3.0")).ok());
  CHECK(Redirects(f.rules) == std::vector<std::pair<std::string, std::string>>{{"2.0", "3.0"}, {"1.0", "2.0"}});
  CHECK(f.rules.Redirected("1.0") == "3.0");
  CHECK(f.rules.Redirected("3.0") == "3.0");

  RequireError(f.Apply(Redirect("1.0", "4.0")), grpc::StatusCode::ALREADY_EXISTS, "source 1.0 already redirects to target 2.0");
  RequireError(f.Apply(Redirect("3.0", "1.0")), grpc::StatusCode::FAILED_PRECONDITION, "update would break acyclic requirement");
  RequireError(f.Apply(Redirect("x", "")), grpc::StatusCode::INVALID_ARGUMENT,
               "the unversioned build ID cannot be the target of a redirect rule");
  RequireError(f.Apply(Redirect("9.0", "4.0", true)), grpc::StatusCode::NOT_FOUND, "no redirect rule found with source ID 9.0");
  Req del;
  del.mutable_delete_compatible_redirect_rule()->set_source_build_id("9.0");
  RequireError(f.Apply(del), grpc::StatusCode::NOT_FOUND, "no redirect rule found with source ID 9.0");

  REQUIRE(f.Apply(Redirect("2.0", "4.0", true)).ok());
  CHECK(f.rules.Redirected("1.0") == "4.0");
  del.mutable_delete_compatible_redirect_rule()->set_source_build_id("2.0");
  REQUIRE(f.Apply(del).ok());
  CHECK(f.rules.Redirected("1.0") == "2.0");

  // Partially-ramped assignment targets and redirect sources exclude each other.
  REQUIRE(f.Apply(Insert(0, "5.0", 50)).ok());
  RequireError(f.Apply(Redirect("5.0", "6.0")), grpc::StatusCode::FAILED_PRECONDITION,
               "redirect rule source build ID cannot be the target of any partially-ramped assignment rule");
  RequireError(f.Apply(Insert(0, "1.0", 50)), grpc::StatusCode::FAILED_PRECONDITION,
               "update breaks requirement, this build ID cannot be the target of a partially-ramped assignment rule "
               "because it is the source of a redirect rule");

  f.limits.max_upstream_build_ids = 1;
  RequireError(f.Apply(Redirect("0.9", "1.0")), grpc::StatusCode::FAILED_PRECONDITION,
               "update exceeds number of upstream build ids permitted in namespace (2/1)");
  f.limits.max_redirect_rules = 1;
  RequireError(f.Apply(Redirect("7.0", "8.0")), grpc::StatusCode::FAILED_PRECONDITION,
               "update exceeds number of redirect rules permitted in namespace (2/1)");
}

TEST_CASE("Versioning rules: commit build id and version-set members", "[versioning_rules]") {
  Fixture f;
  REQUIRE(f.Apply(Insert(0, "1.0")).ok());
  REQUIRE(f.Apply(Insert(0, "2.0", 30)).ok());
  REQUIRE(f.Apply(Insert(2, "3.0", 30)).ok());
  RequireError(f.Apply(Commit("2.0")), grpc::StatusCode::FAILED_PRECONDITION,
               "no versioned poller with build ID '2.0' seen within the last 1m10s, use force=true to commit anyways");
  REQUIRE(f.Apply(Commit("2.0"), true).ok());
  // The build's own rules and the fully-ramped ones go; it is appended fully ramped.
  CHECK(Assigned(f.rules) == std::vector<std::pair<std::string, float>>{{"3.0", 30}, {"2.0", 100}});
  REQUIRE(f.Apply(Commit("4.0", true)).ok());
  CHECK(Assigned(f.rules) == std::vector<std::pair<std::string, float>>{{"3.0", 30}, {"4.0", 100}});

  wsv1::UpdateWorkerBuildIdCompatibilityRequest add;
  add.set_add_new_build_id_in_new_default_set("v1");
  REQUIRE(deployments::ApplyVersionSetUpdate(&f.sets, add, 1, {}).ok());
  std::string member = "update breaks requirement, target build ID is already a member of a version set";
  RequireError(f.Apply(Insert(0, "v1")), grpc::StatusCode::FAILED_PRECONDITION, member);
  RequireError(f.Apply(Commit("v1", true)), grpc::StatusCode::FAILED_PRECONDITION, member);
  RequireError(f.Apply(Redirect("x", "v1")), grpc::StatusCode::FAILED_PRECONDITION, member);
  RequireError(f.Apply(Redirect("v1", "x")), grpc::StatusCode::FAILED_PRECONDITION,
               "update breaks requirement, source build ID is already a member of a version set");

  Req long_id = Insert(0, std::string(256, 'b'));
  RequireError(deployments::ValidateRulesUpdate(long_id), grpc::StatusCode::INVALID_ARGUMENT,
               "BuildId must be <= 255 characters, was 256");
}

TEST_CASE("Versioning rules: new work by ramp, tombstones, the queue's row", "[versioning_rules]") {
  Fixture f;
  REQUIRE(f.Apply(Insert(0, "1.0")).ok());
  REQUIRE(f.Apply(Insert(0, "2.0", 0)).ok());
  CHECK(f.rules.AssignedBuild("any run") == "1.0");  // A 0 % ramp takes nothing.
  REQUIRE(f.Apply(Replace(0, "2.0")).ok());
  CHECK(f.rules.AssignedBuild("any run") == "2.0");
  REQUIRE(f.Apply(Replace(0, "2.0")).ok());
  // A 50 % ramp: about half of the runs, each always on the same side.
  Req half = Replace(0, "3.0");
  half.mutable_replace_assignment_rule()->mutable_rule()->mutable_percentage_ramp()->set_ramp_percentage(50);
  REQUIRE(f.Apply(half).ok());
  int on_ramp = 0;
  for (int i = 0; i < 1000; ++i) {
    std::string run = "run-" + std::to_string(i);
    std::string build = f.rules.AssignedBuild(run);
    CHECK(build == f.rules.AssignedBuild(run));
    if (build == "3.0") ++on_ramp;
  }
  CHECK(on_ramp > 400);
  CHECK(on_ramp < 600);

  // Deleted rules are kept until the retention passed, then dropped at the next change.
  size_t kept = f.rules.assignment.size();
  CHECK(kept > Assigned(f.rules).size());
  f.limits.deleted_rule_retention_millis = 0;
  f.clock += 10'000;
  REQUIRE(f.Apply(Redirect("a", "b")).ok());
  CHECK(f.rules.assignment.size() == Assigned(f.rules).size());

  // Sets and rules share the queue's row; a row of sets alone still reads.
  wsv1::UpdateWorkerBuildIdCompatibilityRequest add;
  add.set_add_new_build_id_in_new_default_set("v1");
  REQUIRE(deployments::ApplyVersionSetUpdate(&f.sets, add, 7, {}).ok());
  f.sets.clock = 7;
  VersionSets sets;
  VersioningRules rules;
  REQUIRE(deployments::ParseQueueRecord(deployments::QueueRecord(f.sets, f.rules), &sets, &rules));
  CHECK(sets.Serialize() == f.sets.Serialize());
  CHECK(rules.Serialize() == f.rules.Serialize());
  REQUIRE(deployments::ParseQueueRecord(f.sets.Serialize(), &sets, &rules));
  CHECK(rules.empty());
  CHECK(sets.clock == 7);

  wsv1::GetWorkerVersioningRulesResponse resp;
  f.rules.Fill(f.clock, &resp);
  REQUIRE(resp.assignment_rules_size() == 2);
  CHECK(resp.assignment_rules(0).rule().percentage_ramp().ramp_percentage() == 50);
  REQUIRE(resp.compatible_redirect_rules_size() == 1);
  CHECK(resp.conflict_token() == VersioningRules::ConflictToken(f.clock));
}
