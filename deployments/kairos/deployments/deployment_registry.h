// Worker deployments (Temporal's Worker Versioning): a versioned worker's
// polls register its version ("deployment:build") and the task queues it
// polls; operators make a version current or ramp one; matching asks where
// a workflow's task goes. Each change is one durable write (the
// worker_deployments table) before it takes effect.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <grpcpp/support/status.h>

#include "kairos/matching/matching_service.h"
#include "kairos/matching/queue_stats.h"
#include "kairos/records.pb.h"
#include "temporal/api/workflowservice/v1/request_response.pb.h"

namespace kairos::persistence {
class Store;
}

namespace kairos::deployments {

namespace wsv1 = temporal::api::workflowservice::v1;

// How many open workflows are pinned to a version (for drainage).
using PinnedCounter = std::function<int64_t(const std::string& namespace_id, const std::string& version)>;

// Temporal's timings, from the same dynamic config keys.
struct Timing {
  // matching.PollerHistoryTTL: a worker that polled within this long still
  // counts as a poller of its version.
  int64_t poller_ttl_nanos = 5LL * 60 * 1'000'000'000;
  // matching.wv.VersionDrainageStatusVisibilityGracePeriod: a version that
  // stopped being current or ramping is checked for pinned workflows only
  // after this long (visibility may lag behind)...
  int64_t drainage_grace_nanos = 3LL * 60 * 1'000'000'000;
  // matching.wv.VersionDrainageStatusRefreshInterval: ...and then at most
  // this often.
  int64_t drainage_refresh_nanos = 3LL * 60 * 1'000'000'000;

  // Durations as Go durations ("1s", "\"2m\"") or whole seconds.
  static Timing FromDynamicConfig(const std::vector<std::pair<std::string, std::string>>& values);
};

// How a queue routes its unpinned tasks: versions as "deployment:build"
// (empty: unversioned workers).
struct QueueRouting {
  std::string current;
  std::string ramping;
  double ramp_percentage = 0;  // Above 0: a ramp is on (maybe to unversioned).
};

// A version's statistics on a queue as Temporal 1.32 attributes them: its
// own (pinned) tasks, plus the share of the queue's unpinned tasks that
// routing gives it — all of them for the current version, or with a ramp
// the current and the ramping version's shares (matching::SplitByRamp).
matching::QueueStats AttributedStats(const matching::QueueStats& own, const matching::QueueStats& unpinned,
                                     const QueueRouting& routing, const std::string& version);

class DeploymentRegistry final : public matching::VersionRouter {
 public:
  // `on_routing_change` runs (outside the registry's lock) after a current
  // or ramping version changed.
  DeploymentRegistry(persistence::Store* store, PinnedCounter count_pinned, std::function<void()> on_routing_change,
                     Timing timing = {});

  // Matching's statistics of one version's part of a queue ("": the
  // unpinned tasks; matching::MatchingService::VersionStats), for
  // describe's task queue statistics and the missing-task-queue check
  // (unset: none, no queue counts as busy). Called without the registry's
  // lock.
  using QueueStatsLookup = std::function<matching::QueueStats(const std::string& namespace_id, const std::string& task_queue,
                                                              records::QueueTask::Kind kind, const std::string& version)>;
  void SetQueueStats(QueueStatsLookup stats) { queue_stats_ = std::move(stats); }

  // Reads every deployment back from the store (at start).
  void Load();

  void RecordPoll(const std::string& namespace_id, const std::string& task_queue, records::QueueTask::Kind kind,
                  const temporal::api::deployment::v1::WorkerDeploymentOptions& options) override;
  std::string RouteTask(const std::string& namespace_id, const std::string& task_queue,
                        const std::string& workflow_id, bool use_ramping) override;
  // The version RouteTask picks (empty: unversioned) and the routing
  // revision of the queue's deployment (0: the queue has none).
  std::pair<temporal::api::deployment::v1::WorkerDeploymentVersion, int64_t> RoutingTarget(
      const std::string& namespace_id, const std::string& task_queue, const std::string& workflow_id);
  // Whether workers of `version` ("deployment:build") polled `task_queue`
  // for workflow tasks.
  bool WorkflowQueueInVersion(const std::string& namespace_id, const std::string& task_queue,
                              const std::string& version);

  // The WorkflowService RPCs, with Temporal's validation and messages.
  grpc::Status DescribeWorkerDeployment(const std::string& namespace_id, const wsv1::DescribeWorkerDeploymentRequest& req,
                                        wsv1::DescribeWorkerDeploymentResponse* resp);
  grpc::Status ListWorkerDeployments(const std::string& namespace_id, const wsv1::ListWorkerDeploymentsRequest& req,
                                     wsv1::ListWorkerDeploymentsResponse* resp);
  grpc::Status DescribeWorkerDeploymentVersion(const std::string& namespace_id,
                                               const wsv1::DescribeWorkerDeploymentVersionRequest& req,
                                               wsv1::DescribeWorkerDeploymentVersionResponse* resp);
  grpc::Status SetWorkerDeploymentCurrentVersion(const std::string& namespace_id,
                                                 const wsv1::SetWorkerDeploymentCurrentVersionRequest& req,
                                                 wsv1::SetWorkerDeploymentCurrentVersionResponse* resp);
  grpc::Status SetWorkerDeploymentRampingVersion(const std::string& namespace_id,
                                                 const wsv1::SetWorkerDeploymentRampingVersionRequest& req,
                                                 wsv1::SetWorkerDeploymentRampingVersionResponse* resp);
  grpc::Status DeleteWorkerDeploymentVersion(const std::string& namespace_id,
                                             const wsv1::DeleteWorkerDeploymentVersionRequest& req,
                                             wsv1::DeleteWorkerDeploymentVersionResponse* resp);
  grpc::Status DeleteWorkerDeployment(const std::string& namespace_id, const wsv1::DeleteWorkerDeploymentRequest& req,
                                      wsv1::DeleteWorkerDeploymentResponse* resp);
  // Only the manager (when one is set) changes the routing or deletes
  // versions; setting the manager changes the conflict token.
  grpc::Status SetWorkerDeploymentManager(const std::string& namespace_id, const wsv1::SetWorkerDeploymentManagerRequest& req,
                                          wsv1::SetWorkerDeploymentManagerResponse* resp);
  grpc::Status UpdateWorkerDeploymentVersionMetadata(const std::string& namespace_id,
                                                     const wsv1::UpdateWorkerDeploymentVersionMetadataRequest& req,
                                                     wsv1::UpdateWorkerDeploymentVersionMetadataResponse* resp);

  // Whether the version's workers polled lately (Temporal's poller history).
  bool HasPollers(const std::string& namespace_id, const std::string& version);
  // Temporal's "blackholed query": a query to `version` can never be
  // answered when the version is drained (its drainage checked first, as a
  // read does) and no worker of any version polled the query's task queue
  // within matching.PollerHistoryTTL (`queue_pollers`: the queue's workflow
  // pollers, as matching lists them).
  bool QueryBlackholed(const std::string& namespace_id, const temporal::api::deployment::v1::WorkerDeploymentVersion& version,
                       const std::vector<matching::PollerInfo>& queue_pollers);

 private:
  using Key = std::pair<std::string, std::string>;  // (namespace id, name)
  records::WorkerDeploymentRecord* Find(const std::string& namespace_id, const std::string& name);
  // Caller holds mu_. The deployment whose versioned workers poll the queue.
  records::WorkerDeploymentRecord* OwnerOf(const std::string& namespace_id, const std::string& task_queue);
  // Caller holds mu_. How the queue's deployment routes it.
  QueueRouting RoutingOf(const std::string& namespace_id, const std::string& task_queue);
  // Called without mu_: the version's attributed statistics on the queue.
  matching::QueueStats VersionQueueStats(const std::string& namespace_id, const std::string& task_queue,
                                         records::QueueTask::Kind kind, const std::string& version,
                                         const QueueRouting& routing);
  // Caller holds mu_.
  static const temporal::api::deployment::v1::WorkerDeploymentVersion& Route(const records::WorkerDeploymentRecord& d,
                                                                             const std::string& workflow_id,
                                                                             bool use_ramping);
  grpc::Status Save(const records::WorkerDeploymentRecord& d);
  // The deployment a routing change names, if the caller's token is current.
  grpc::Status FindForChange(const std::string& namespace_id, const std::string& name,
                             const std::string& conflict_token, records::WorkerDeploymentRecord** d);
  // A new routing revision (stales earlier conflict tokens), saved.
  grpc::Status CommitRoutingChange(records::WorkerDeploymentRecord& d, const std::string& identity,
                                   std::string* conflict_token);
  // Whether making `build` current (`ramping`: ramping) would leave a task
  // queue of the current version busy (a backlog, or tasks added lately)
  // without a worker of the new one, and no other deployment took the queue
  // over: Temporal refuses that unless ignore_missing_task_queues.
  bool MissesBusyQueues(const std::string& namespace_id, const std::string& name, const std::string& build,
                        bool ramping);
  // Versions that stopped being current or ramping start draining.
  void StartDraining(records::WorkerDeploymentRecord& d, const std::string& build_id, int64_t now);
  void RefreshDrainage(records::WorkerDeploymentRecord& d);
  void FillSummary(const records::WorkerDeploymentRecord& d, const temporal::api::deployment::v1::WorkerDeploymentVersionInfo& v,
                   temporal::api::deployment::v1::WorkerDeploymentInfo::WorkerDeploymentVersionSummary* out);

  persistence::Store* store_;
  PinnedCounter count_pinned_;
  Timing timing_;
  std::function<void()> on_routing_change_;
  QueueStatsLookup queue_stats_;
  std::mutex mu_;
  std::map<Key, records::WorkerDeploymentRecord> deployments_;
  std::map<Key, std::string> queue_deployment_;  // (namespace id, task queue) -> deployment
  std::map<Key, int64_t> last_poll_nanos_;       // (namespace id, version)
};

// "deployment:build", the form of search attributes and pinned tasks.
std::string VersionString(const temporal::api::deployment::v1::WorkerDeploymentVersion& v);

}  // namespace kairos::deployments
