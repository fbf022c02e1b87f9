// The build-id assignment rules and compatible redirect rules of one task
// queue (Temporal's deprecated rules-based worker versioning, v0.2).
// Assignment rules choose the build of new work: the first rule that
// applies (a ramp below 100 % applies to its share of runs); redirect rules
// move the work of a source build to a target build. The operations of
// UpdateWorkerVersioningRules follow Temporal 1.32's matching
// (service/matching/version_rule_helpers.go), with its checks and messages.
// As Temporal, a deleted rule is kept with its deletion clock for
// matching.wv.DeletedRuleRetentionTime (it still counts in one check).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <google/protobuf/timestamp.pb.h>
#include <grpcpp/support/status.h>

#include "kairos/deployments/version_sets.h"
#include "temporal/api/workflowservice/v1/request_response.pb.h"

namespace kairos::deployments {

struct VersioningRules {
  struct Assignment {
    std::string target;
    float ramp = 100;            // Percentage of runs; 100: fully ramped.
    int64_t create_clock = 0;    // VersionSets::clock values.
    int64_t delete_clock = 0;    // 0: active.
  };
  struct Redirect {
    std::string source;
    std::string target;
    int64_t create_clock = 0;
    int64_t delete_clock = 0;
  };
  std::vector<Assignment> assignment;  // In rule order.
  std::vector<Redirect> redirect;      // Newest first.

  bool empty() const { return assignment.empty() && redirect.empty(); }
  // The build of new work of `run_id` (its share of a ramp decided by a hash
  // of the id, so a run always lands on the same side); "" when no rule
  // applies.
  std::string AssignedBuild(const std::string& run_id) const;
  // Follows the active redirect rules from `build` (itself when none).
  std::string Redirected(std::string build) const;

  std::string Serialize() const;
  bool Parse(const std::string& bytes);

  // The response fields of both RPCs: the active rules with their create
  // times, and the conflict token naming `clock`.
  template <class Response>
  void Fill(int64_t clock, Response* resp) const {
    for (const auto& a : assignment) {
      if (a.delete_clock != 0) continue;
      auto* out = resp->add_assignment_rules();
      out->mutable_rule()->set_target_build_id(a.target);
      out->mutable_rule()->mutable_percentage_ramp()->set_ramp_percentage(a.ramp);
      *out->mutable_create_time() = TimeOf(a.create_clock);
    }
    for (const auto& r : redirect) {
      if (r.delete_clock != 0) continue;
      auto* out = resp->add_compatible_redirect_rules();
      out->mutable_rule()->set_source_build_id(r.source);
      out->mutable_rule()->set_target_build_id(r.target);
      *out->mutable_create_time() = TimeOf(r.create_clock);
    }
    resp->set_conflict_token(ConflictToken(clock));
  }
  static std::string ConflictToken(int64_t clock);
  static google::protobuf::Timestamp TimeOf(int64_t clock);
};

// A task queue's row (persistence::BuildIdVersioningRow): its version sets
// and, when it has any, its rules (both under one clock, as Temporal keeps
// them in one record of the queue).
std::string QueueRecord(const VersionSets& sets, const VersioningRules& rules);
bool ParseQueueRecord(const std::string& bytes, VersionSets* sets, VersioningRules* rules);

// Temporal's limits, from the same dynamic config keys.
struct RuleLimits {
  int max_assignment_rules = 100;   // limit.wv.AssignmentRuleLimitPerQueue
  int max_redirect_rules = 500;     // limit.wv.RedirectRuleLimitPerQueue
  int max_upstream_build_ids = 50;  // limit.wv.RedirectRuleMaxUpstreamBuildIDsPerQueue
  // matching.wv.DeletedRuleRetentionTime
  int64_t deleted_rule_retention_millis = int64_t{14} * 24 * 3600 * 1000;
};

// A run's or workflow's place in [0, 100) for ramps: the same id always
// lands on the same side (FNV-1a of the id).
double RampBucket(const std::string& id);

// How long a build counts as polled for CommitBuildId (Temporal's
// versioningPollerSeenWindow).
inline constexpr int64_t kCommitPollerWindowMillis = 70'000;

// Applies an UpdateWorkerVersioningRules operation, stamped with `clock`, to
// a queue's rules (`sets`: its version sets, whose builds no rule may
// name). On error `rules` is unchanged. `has_recent_poller`: a worker of the
// committed build polled within kCommitPollerWindowMillis.
grpc::Status ApplyRulesUpdate(VersioningRules* rules, const VersionSets& sets,
                              const temporal::api::workflowservice::v1::UpdateWorkerVersioningRulesRequest& req,
                              int64_t clock, bool has_recent_poller, const RuleLimits& limits);

// The frontend's checks of the build ids a request names.
grpc::Status ValidateRulesUpdate(const temporal::api::workflowservice::v1::UpdateWorkerVersioningRulesRequest& req);

}  // namespace kairos::deployments
