// Task queues: tasks that history committed wait here until a worker's long
// poll takes them. A poll that finds nothing parks without holding a thread;
// the first task to arrive is handed to it directly. A queue keeps a bounded
// number of its tasks in memory; the rest stay in their rows in the store and
// are read back a page at a time, oldest first (task_backlog.h).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <grpcpp/support/status.h>

#include "kairos/records.pb.h"
#include "temporal/api/workflowservice/v1/request_response.pb.h"

namespace kairos {
class Executor;
}
namespace kairos::metrics {
class Registry;
}

namespace kairos::matching {

namespace wsv1 = temporal::api::workflowservice::v1;

// Implemented by history: turns a queued task into a started one.
class TaskStarter {
 public:
  virtual ~TaskStarter() = default;
  // NOT_FOUND means the task is stale (its workflow moved on): drop it.
  virtual grpc::Status StartWorkflowTask(int64_t task_id, const records::QueueTask& task,
                                         const wsv1::PollWorkflowTaskQueueRequest& poll,
                                         wsv1::PollWorkflowTaskQueueResponse* response) = 0;
  virtual grpc::Status StartActivityTask(int64_t task_id, const records::QueueTask& task,
                                         const wsv1::PollActivityTaskQueueRequest& poll,
                                         wsv1::PollActivityTaskQueueResponse* response) = 0;
};

// Worker versioning (implemented by deployments/): which workers a task
// may go to. A version is named "deployment:build"; empty names the
// unversioned workers.
class VersionRouter {
 public:
  virtual ~VersionRouter() = default;
  // A worker polled with deployment options: a versioned one registers its
  // version and the queue it polls.
  virtual void RecordPoll(const std::string& namespace_id, const std::string& task_queue, records::QueueTask::Kind kind,
                          const temporal::api::deployment::v1::WorkerDeploymentOptions& options) = 0;
  // The version whose workers take a task of `workflow_id` on this queue
  // that is not pinned: the current one, or the ramping one for the ramp's
  // share of workflows (`use_ramping`: the ramping one whatever its share).
  virtual std::string RouteTask(const std::string& namespace_id, const std::string& task_queue,
                                const std::string& workflow_id, bool use_ramping) = 0;
};

// Temporal's deprecated build-id versioning (compatible version sets,
// deployments/version_sets.h). A task's directive rides in
// QueueTask.pinned_version with a leading ':' (a deployment version never
// starts so: its deployment name is not empty): kAssignBuildDirective + ':' +
// run id for new work (assignment rules, else the default build),
// kCompatibleBuildPrefix + build id for work compatible with that build. Targets and versioned
// pollers are named kCompatibleBuildPrefix + build id.
inline constexpr const char* kAssignBuildDirective = ":assign";
inline constexpr const char* kCompatibleBuildPrefix = ":build:";
inline bool IsBuildIdDirective(const std::string& pinned_version) {
  return !pinned_version.empty() && pinned_version[0] == ':';
}

class BuildIdRouter {
 public:
  virtual ~BuildIdRouter() = default;
  // Where a task with a build-id directive goes; nullopt when the queue's
  // version sets do not decide (new work on a queue without sets: the
  // deployment routing, or unversioned workers).
  virtual std::optional<std::string> TaskTarget(const std::string& namespace_id, const std::string& task_queue,
                                                const std::string& directive) = 0;
  // A worker polling with use_versioning and `build_id`: the target name it
  // takes tasks of, or OUT_OF_RANGE (NewerBuildExists) when a newer build
  // of its set is the set's default.
  virtual grpc::Status PollTarget(const std::string& namespace_id, const std::string& task_queue,
                                  const std::string& build_id, std::string* target) = 0;
};

// The version a worker's deployment options name (empty: unversioned).
std::string PollerVersion(const temporal::api::deployment::v1::WorkerDeploymentOptions& options);

// A parked poll. The owner (the RPC layer) keeps it alive until `done` runs.
class Poll;
using PollHandle = std::shared_ptr<Poll>;

// How a handler worker answered a Nexus task: a response, or a handler
// error (a Failure with NexusHandlerFailureInfo).
struct NexusTaskResult {
  bool handler_failed = false;
  temporal::api::nexus::v1::Response response;
  temporal::api::failure::v1::Failure handler_failure;
};
// Runs at most once, on an executor thread: OK with the worker's answer,
// DEADLINE_EXCEEDED when no worker answered in time; never after Shutdown.
using NexusReply = std::function<void(grpc::Status, const NexusTaskResult&)>;

struct PollerInfo {
  std::string identity;
  int64_t last_access_time_nanos = 0;
};

// What DescribeTaskQueue reports of one queue (Temporal's TaskQueueStats).
struct QueueStats {
  int64_t backlog_count = 0;
  int64_t oldest_task_created_nanos = 0;  // 0: no backlog.
  double add_rate = 0;                    // Tasks per second, last 30 s.
  double dispatch_rate = 0;
};

// The key a task's row is stored under, so that a queue's rows can be read
// back in pages: its namespace, task queue and kind.
std::string TaskQueueKey(const records::QueueTask& task);

// Reads a queue's stored rows: ids after `after_id` under `queue_key`, in id
// order, at most `limit`, every row of the page (one that does not parse as
// an empty task: a short page means the store has no more).
struct StoredTask {
  int64_t id = 0;
  records::QueueTask task;
};
using BacklogReader =
    std::function<std::vector<StoredTask>(const std::string& queue_key, int64_t after_id, int limit)>;

struct MatchingOptions {
  // Tasks a queue keeps in memory; newer stored ones wait in the store.
  int max_tasks_in_memory_per_queue = 1000;
};

class MatchingService {
 public:
  virtual ~MatchingService() = default;

  virtual void SetTaskStarter(TaskStarter* starter) = 0;
  // Without a router every task goes to any poller (no versioning).
  virtual void SetVersionRouter(VersionRouter* router) = 0;
  // Without one, build-id directives are ignored and use_versioning
  // pollers are unversioned ones.
  virtual void SetBuildIdRouter(BuildIdRouter* router) = 0;
  // Routing changed (a new current or ramping version): waiting tasks are
  // offered again to the parked polls they may now go to.
  virtual void Rematch() = 0;

  // Reads queues' stored rows (set before AddStoredBacklog or AddTask;
  // without one every task stays in memory).
  virtual void SetBacklogReader(BacklogReader reader) = 0;
  // At start-up: `count` rows wait in the store under `queue_key`; they are
  // read in pages as the queue drains.
  virtual void AddStoredBacklog(const std::string& queue_key, int64_t count) = 0;

  // Makes a committed task available for dispatch. `stored`: its row is
  // stored under TaskQueueKey(task), so it may be left there until its page
  // is read (query and Nexus tasks, never stored, stay in memory anyway).
  virtual void AddTask(int64_t task_id, records::QueueTask task, bool stored = true) = 0;

  // Long polls. `done` runs exactly once, on an executor thread: OK with the
  // response filled, OK with an empty response when the poll expires, or an
  // error. `expires` is when to give up with an empty response.
  virtual PollHandle PollWorkflowTasks(const std::string& namespace_id, const wsv1::PollWorkflowTaskQueueRequest* request,
                                       wsv1::PollWorkflowTaskQueueResponse* response,
                                       std::chrono::steady_clock::time_point expires,
                                       std::function<void(grpc::Status)> done) = 0;
  virtual PollHandle PollActivityTasks(const std::string& namespace_id, const wsv1::PollActivityTaskQueueRequest* request,
                                       wsv1::PollActivityTaskQueueResponse* response,
                                       std::chrono::steady_clock::time_point expires,
                                       std::function<void(grpc::Status)> done) = 0;
  // Nexus tasks live in memory only: the caller's history keeps the durable
  // step and sends the request again after a crash or a timeout.
  virtual void AddNexusTask(const std::string& namespace_id, const std::string& task_queue,
                            temporal::api::nexus::v1::Request request, std::chrono::steady_clock::time_point deadline,
                            NexusReply reply) = 0;
  virtual PollHandle PollNexusTasks(const std::string& namespace_id, const wsv1::PollNexusTaskQueueRequest* request,
                                    wsv1::PollNexusTaskQueueResponse* response,
                                    std::chrono::steady_clock::time_point expires,
                                    std::function<void(grpc::Status)> done) = 0;
  // A worker's answer to the task of `task_token`.
  virtual grpc::Status RespondNexusTask(const std::string& namespace_id, const std::string& task_token,
                                        NexusTaskResult result) = 0;

  // The client went away: finish the poll (if still parked) with CANCELLED.
  virtual void CancelPoll(const PollHandle& poll) = 0;

  // Whether a worker polled this (sticky) queue recently enough to trust it.
  virtual bool HasRecentPoller(const std::string& namespace_id, const std::string& task_queue) = 0;
  // A sticky worker said goodbye: its queue is dead until it polls again.
  virtual void ShutdownQueue(const std::string& namespace_id, const std::string& task_queue) = 0;

  // Workflow (kind = WORKFLOW) or activity pollers seen on a queue lately.
  virtual std::vector<PollerInfo> Pollers(const std::string& namespace_id, const std::string& task_queue,
                                          records::QueueTask::Kind kind) = 0;
  virtual QueueStats Stats(const std::string& namespace_id, const std::string& task_queue,
                           records::QueueTask::Kind kind) = 0;
  // One version's part of a normal queue, as Temporal's physical queue of
  // that version counts it: the backlog of tasks pinned to it ("": the
  // unpinned tasks), tasks added while it was their target, tasks its
  // workers took. Attributing the unpinned backlog to the current or
  // ramping version is the caller's.
  virtual QueueStats VersionStats(const std::string& namespace_id, const std::string& task_queue,
                                  records::QueueTask::Kind kind, const std::string& version) = 0;

  // Answers every parked poll with an empty response (server shutdown).
  virtual void Shutdown() = 0;
};

// `metrics`: poll outcomes and backlogs are reported there (null: nowhere).
std::unique_ptr<MatchingService> NewMatchingService(Executor* executor, metrics::Registry* metrics = nullptr,
                                                    MatchingOptions options = {});

}  // namespace kairos::matching
