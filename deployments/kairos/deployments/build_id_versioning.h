// Temporal's deprecated build-id versioning: compatible version sets
// (v0.1), served when dynamic config frontend.workerVersioningDataAPIs is
// on (UpdateWorkerBuildIdCompatibility, GetWorkerBuildIdCompatibility and
// GetWorkerTaskReachability), assignment and redirect rules (v0.2), served
// when frontend.workerVersioningRuleAPIs is on (UpdateWorkerVersioningRules,
// GetWorkerVersioningRules), and the routing of matching for workers that
// poll with use_versioning and a build id (matching::BuildIdRouter). Each
// task queue's sets and rules are one row of the build_id_versioning table,
// written (one transaction) before a change takes effect.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <grpcpp/support/status.h>

#include "kairos/deployments/version_sets.h"
#include "kairos/deployments/versioning_rules.h"
#include "kairos/matching/matching_service.h"
#include "temporal/api/workflowservice/v1/request_response.pb.h"

namespace kairos::persistence {
class Store;
}

namespace kairos::deployments {

namespace wsv1 = temporal::api::workflowservice::v1;

// Temporal's limits for these APIs, from the same dynamic config keys.
struct BuildIdLimits {
  VersionSetLimits sets;
  int max_build_id_size = 255;                 // limit.workerBuildIdSize
  int max_task_queues_per_build_id = 20;       // limit.taskQueuesPerBuildId
  int max_reachability_build_ids = 5;          // limit.reachabilityQueryBuildIds
  int max_reachability_task_queues = 20;       // limit.reachabilityTaskQueueScan
  // frontend.reachabilityQuerySetDurationSinceDefault: a set that stopped
  // being the default this recently still counts as reachable by new
  // workflows.
  int64_t reachable_after_default_millis = 5 * 60 * 1000;
  RuleLimits rules;

  static BuildIdLimits FromDynamicConfig(const std::vector<std::pair<std::string, std::string>>& values);
};

// Which of the two generations' APIs are served.
struct BuildIdApis {
  bool data = true;   // frontend.workerVersioningDataAPIs: version sets.
  bool rules = true;  // frontend.workerVersioningRuleAPIs: rules.
  static BuildIdApis FromDynamicConfig(const std::vector<std::pair<std::string, std::string>>& values);
  bool any() const { return data || rules; }
};

// Counts a namespace's workflows matching a visibility query.
using WorkflowCounter =
    std::function<grpc::Status(const std::string& namespace_id, const std::string& query, int64_t* count)>;

class BuildIdVersioning final : public matching::BuildIdRouter {
 public:
  // `on_change` runs (outside the lock) after a queue's sets changed, so
  // that matching offers its waiting tasks again.
  BuildIdVersioning(persistence::Store* store, WorkflowCounter count, std::function<void()> on_change,
                    BuildIdLimits limits = {}, BuildIdApis apis = {});
  const BuildIdApis& apis() const { return apis_; }

  // Reads every queue's sets back from the store (at start).
  void Load();

  grpc::Status UpdateWorkerBuildIdCompatibility(const std::string& namespace_id,
                                                const wsv1::UpdateWorkerBuildIdCompatibilityRequest& req,
                                                wsv1::UpdateWorkerBuildIdCompatibilityResponse* resp);
  grpc::Status GetWorkerBuildIdCompatibility(const std::string& namespace_id,
                                             const wsv1::GetWorkerBuildIdCompatibilityRequest& req,
                                             wsv1::GetWorkerBuildIdCompatibilityResponse* resp);
  grpc::Status GetWorkerTaskReachability(const std::string& namespace_id,
                                         const wsv1::GetWorkerTaskReachabilityRequest& req,
                                         wsv1::GetWorkerTaskReachabilityResponse* resp);
  // The rules' RPCs.
  grpc::Status UpdateWorkerVersioningRules(const std::string& namespace_id,
                                           const wsv1::UpdateWorkerVersioningRulesRequest& req,
                                           wsv1::UpdateWorkerVersioningRulesResponse* resp);
  grpc::Status GetWorkerVersioningRules(const std::string& namespace_id,
                                        const wsv1::GetWorkerVersioningRulesRequest& req,
                                        wsv1::GetWorkerVersioningRulesResponse* resp);

  // A directive's target: version sets first, else assignment rules (new
  // work, kAssignBuildDirective optionally followed by ':' and the run id)
  // and redirect rules.
  std::optional<std::string> TaskTarget(const std::string& namespace_id, const std::string& task_queue,
                                        const std::string& directive) override;
  grpc::Status PollTarget(const std::string& namespace_id, const std::string& task_queue, const std::string& build_id,
                          std::string* target) override;

 private:
  using Key = std::pair<std::string, std::string>;  // (namespace id, task queue)
  // One build's reachability on one queue, as Temporal's frontend computes it.
  grpc::Status QueueReachability(const std::string& namespace_id, const std::string& build_id,
                                 const std::string& task_queue, const VersionSets& sets,
                                 temporal::api::enums::v1::TaskReachability type,
                                 temporal::api::taskqueue::v1::TaskQueueReachability* out);
  // Caller holds mu_. How many queues of the namespace name the build.
  int QueuesWithBuild(const std::string& namespace_id, const std::string& build_id) const;

  // Caller holds mu_. Writes a queue's row; the maps change only after.
  grpc::Status Persist(const Key& key, const VersionSets& sets, const VersioningRules& rules);
  // Caller holds mu_. Whether a worker of the build polled the queue lately.
  bool PolledRecently(const std::string& namespace_id, const std::string& task_queue, const std::string& build_id);

  persistence::Store* store_;
  WorkflowCounter count_;
  std::function<void()> on_change_;
  BuildIdLimits limits_;
  BuildIdApis apis_;
  std::mutex mu_;
  std::map<Key, VersionSets> queues_;  // Also holds the clock of a queue with rules only.
  std::map<Key, VersioningRules> rules_;
  // Last poll (milliseconds) of a build's workers, by (queue key, build).
  std::map<std::pair<Key, std::string>, int64_t> polled_;
};

}  // namespace kairos::deployments
