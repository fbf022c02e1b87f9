// Temporal's deprecated build-id versioning with compatible version sets
// (v0.1), served when dynamic config frontend.workerVersioningDataAPIs is
// on: UpdateWorkerBuildIdCompatibility, GetWorkerBuildIdCompatibility and
// GetWorkerTaskReachability, and the routing of matching for workers that
// poll with use_versioning and a build id (matching::BuildIdRouter). Each
// task queue's sets are one row of the build_id_versioning table, written
// (one transaction) before a change takes effect.
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

  static BuildIdLimits FromDynamicConfig(const std::vector<std::pair<std::string, std::string>>& values);
};

// Whether dynamic config turns frontend.workerVersioningDataAPIs on.
bool WorkerVersioningDataApisEnabled(const std::vector<std::pair<std::string, std::string>>& values);

// Counts a namespace's workflows matching a visibility query.
using WorkflowCounter =
    std::function<grpc::Status(const std::string& namespace_id, const std::string& query, int64_t* count)>;

class BuildIdVersioning final : public matching::BuildIdRouter {
 public:
  // `on_change` runs (outside the lock) after a queue's sets changed, so
  // that matching offers its waiting tasks again.
  BuildIdVersioning(persistence::Store* store, WorkflowCounter count, std::function<void()> on_change,
                    BuildIdLimits limits = {});

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

  persistence::Store* store_;
  WorkflowCounter count_;
  std::function<void()> on_change_;
  BuildIdLimits limits_;
  std::mutex mu_;
  std::map<Key, VersionSets> queues_;
};

}  // namespace kairos::deployments
