#include "kairos/matching/matching_service.h"

#include <atomic>
#include <condition_variable>
#include <deque>
#include <list>
#include <optional>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>

#include <spdlog/spdlog.h>

#include "kairos/executor.h"
#include "kairos/matching/task_backlog.h"
#include "kairos/matching/task_rate.h"
#include "kairos/metrics/registry.h"
#include "kairos/time_util.h"

namespace kairos::matching {

using Kind = records::QueueTask::Kind;
using SteadyClock = std::chrono::steady_clock;

// A queue's series, resolved when its first poll names it (no registry: null).
struct QueueMetrics {
  metrics::Counter* success = nullptr;
  metrics::Counter* success_sync = nullptr;
  metrics::Counter* timeouts = nullptr;
  metrics::Gauge* backlog = nullptr;
};

class Poll {
 public:
  enum class State { kParked, kDispatching, kDone };

  Kind kind = records::QueueTask::WORKFLOW;
  std::string queue_key;
  std::string version;  // The worker's deployment version; empty: unversioned.
  const wsv1::PollWorkflowTaskQueueRequest* workflow_request = nullptr;
  wsv1::PollWorkflowTaskQueueResponse* workflow_response = nullptr;
  const wsv1::PollActivityTaskQueueRequest* activity_request = nullptr;
  wsv1::PollActivityTaskQueueResponse* activity_response = nullptr;
  const wsv1::PollNexusTaskQueueRequest* nexus_request = nullptr;
  wsv1::PollNexusTaskQueueResponse* nexus_response = nullptr;
  SteadyClock::time_point expires;
  std::function<void(grpc::Status)> done;
  State state = State::kParked;  // Guarded by the service mutex.
  bool cancelled = false;        // Likewise.
  bool sync_match = false;       // Handed a task as it arrived, not from the backlog.
  const QueueMetrics* metrics = nullptr;
};

namespace {

// What a poll of the deprecated build-id versioning says of its worker.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
template <class Request>
const temporal::api::common::v1::WorkerVersionCapabilities& CapabilitiesOf(const Request& r) {
  return r.worker_version_capabilities();
}
#pragma GCC diagnostic pop

// A worker that stopped polling this long ago is not trusted with sticky tasks.
constexpr int64_t kStickyPollerLivenessNanos = 10'000'000'000;

struct Queue {
  explicit Queue(int max_in_memory) : tasks(max_in_memory) {}
  TaskBacklog tasks;
  std::list<PollHandle> parked;
  std::map<std::string, int64_t> pollers;  // identity -> last access (nanos)
  int64_t last_poll_nanos = 0;
  std::string poller_version;  // Of the last poll (a sticky queue has one worker).
  bool shut_down = false;
  QueueMetrics metrics;
  // From the queue's first task on, as Temporal's trackers.
  struct Rates {
    std::optional<TaskRate> added, dispatched;
  };
  Rates rates;
  // The same per version: adds by the task's target version when it was
  // added, dispatches by the worker's version ("": unversioned).
  std::map<std::string, Rates> by_version;
};

void Count(std::optional<TaskRate>& rate, int64_t now) {
  if (!rate) rate.emplace(now);
  rate->Add(now);
}

std::string QueueKey(const std::string& namespace_id, const std::string& name, Kind kind) {
  char suffix = kind == records::QueueTask::WORKFLOW ? 'w' : kind == records::QueueTask::NEXUS ? 'n' : 'a';
  return namespace_id + '\x1f' + name + '\x1f' + suffix;
}

// A Nexus request waiting for a worker, then for its answer.
struct NexusPending {
  temporal::api::nexus::v1::Request request;
  SteadyClock::time_point deadline;
  NexusReply reply;
  std::string namespace_id;
};

class MatchingServiceImpl final : public MatchingService {
 public:
  MatchingServiceImpl(Executor* executor, metrics::Registry* registry, MatchingOptions options)
      : executor_(executor), options_(options) {
    if (registry != nullptr) {
      std::vector<std::string> labels = {"namespace", "operation", "service_name", "task_type", "taskqueue"};
      poll_success_ = registry->AddCounter("poll_success", "Polls that were handed a task", labels);
      poll_success_sync_ = registry->AddCounter(
          "poll_success_sync", "Polls handed a task as it arrived (sync match), without a backlog", labels);
      poll_timeouts_ = registry->AddCounter("poll_timeouts", "Polls that expired without a task", labels);
      backlog_ = registry->AddGauge("approximate_backlog_count", "Tasks waiting in a queue for a poller", labels);
      backlog_hook_ = registry->AddScrapeHook([this] {
        std::lock_guard lock(mu_);
        for (auto& [key, q] : queues_)
          if (q.metrics.backlog != nullptr) q.metrics.backlog->Set(static_cast<double>(q.tasks.Count()));
      });
    }
    sweeper_ = std::thread([this] { SweepLoop(); });
  }
  ~MatchingServiceImpl() override {
    Shutdown();
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    sweep_cv_.notify_all();
    sweeper_.join();
  }

  void SetTaskStarter(TaskStarter* starter) override { starter_ = starter; }
  void SetVersionRouter(VersionRouter* router) override { router_.store(router); }
  void SetBuildIdRouter(BuildIdRouter* router) override { build_id_router_.store(router); }

  void SetBacklogReader(BacklogReader reader) override {
    std::lock_guard lock(mu_);
    reader_ = std::move(reader);
  }

  void AddStoredBacklog(const std::string& queue_key, int64_t count) override {
    std::lock_guard lock(mu_);
    Queue& q = QueueOf(queue_key);
    q.tasks.AddStored(count);
    MaybeRead(queue_key, q);
  }

  void AddTask(int64_t task_id, records::QueueTask task, bool stored) override {
    PollHandle poll;
    Matches late;
    std::string target = TargetOf(task);
    stored = stored && task.query_id().empty() && task.kind() != records::QueueTask::NEXUS;
    {
      std::lock_guard lock(mu_);
      auto key = QueueKey(task.namespace_id(), task.task_queue(), task.kind());
      if (!task.normal_task_queue().empty()) {
        // A sticky worker of another version than the task's must not take
        // it (an auto-upgrade workflow moving on): the normal queue does.
        auto sticky = queues_.find(key);
        if (sticky != queues_.end() && !sticky->second.pollers.empty() && sticky->second.poller_version != target) {
          task.set_task_queue(task.normal_task_queue());
          task.clear_normal_task_queue();
          key = QueueKey(task.namespace_id(), task.task_queue(), task.kind());
          stored = false;  // Its row is under the sticky queue's key.
        }
      }
      Queue& q = QueueOf(key);
      Count(q.rates.added, NowNanos());
      if (task.normal_task_queue().empty()) Count(q.by_version[target].added, NowNanos());
      auto match = q.parked.end();
      if (q.tasks.MaySyncMatch(task_id, stored))
        match = task.normal_task_queue().empty() ? FindParked(q, target) : q.parked.begin();
      if (match != q.parked.end()) {
        poll = *match;
        q.parked.erase(match);
        poll->state = Poll::State::kDispatching;
        poll->sync_match = true;
      } else {
        // A task of a spilled queue whose id the reads have passed goes to
        // memory: a poll parked meanwhile takes it.
        if (q.tasks.Add({task_id, std::move(task)}, stored) && q.tasks.spilled() && !q.parked.empty())
          MatchParked(q, &late);
      }
    }
    if (!poll) {
      DispatchAll(std::move(late));
      return;
    }
    executor_->Submit([this, poll, t = QueuedTask{task_id, std::move(task)}]() mutable { Dispatch(poll, std::move(t)); });
  }

  PollHandle PollWorkflowTasks(const std::string& namespace_id, const wsv1::PollWorkflowTaskQueueRequest* request,
                               wsv1::PollWorkflowTaskQueueResponse* response, SteadyClock::time_point expires,
                               std::function<void(grpc::Status)> done) override {
    auto poll = std::make_shared<Poll>();
    poll->kind = records::QueueTask::WORKFLOW;
    poll->queue_key = QueueKey(namespace_id, request->task_queue().name(), poll->kind);
    poll->workflow_request = request;
    poll->workflow_response = response;
    poll->expires = expires;
    poll->done = std::move(done);
    if (auto st = RecordPoll(namespace_id, request->task_queue(), *poll, request->deployment_options(),
                             CapabilitiesOf(*request));
        !st.ok()) {
      Refuse(poll, std::move(st));
      return poll;
    }
    Start(poll, request->identity());
    return poll;
  }

  PollHandle PollActivityTasks(const std::string& namespace_id, const wsv1::PollActivityTaskQueueRequest* request,
                               wsv1::PollActivityTaskQueueResponse* response, SteadyClock::time_point expires,
                               std::function<void(grpc::Status)> done) override {
    auto poll = std::make_shared<Poll>();
    poll->kind = records::QueueTask::ACTIVITY;
    poll->queue_key = QueueKey(namespace_id, request->task_queue().name(), poll->kind);
    poll->activity_request = request;
    poll->activity_response = response;
    poll->expires = expires;
    poll->done = std::move(done);
    if (auto st = RecordPoll(namespace_id, request->task_queue(), *poll, request->deployment_options(),
                             CapabilitiesOf(*request));
        !st.ok()) {
      Refuse(poll, std::move(st));
      return poll;
    }
    Start(poll, request->identity());
    return poll;
  }

  void AddNexusTask(const std::string& namespace_id, const std::string& task_queue,
                    temporal::api::nexus::v1::Request request, SteadyClock::time_point deadline,
                    NexusReply reply) override {
    records::QueueTask task;
    task.set_kind(records::QueueTask::NEXUS);
    task.set_namespace_id(namespace_id);
    task.set_task_queue(task_queue);
    task.set_created_time_nanos(NowNanos());
    int64_t id;
    {
      std::lock_guard lock(mu_);
      // Dropped unanswered: the caller's durable step sends it again after the restart.
      if (shut_down_) return;
      id = ++next_nexus_id_;
      nexus_[id] = NexusPending{std::move(request), deadline, std::move(reply), namespace_id};
    }
    AddTask(id, std::move(task), /*stored=*/false);
  }

  PollHandle PollNexusTasks(const std::string& namespace_id, const wsv1::PollNexusTaskQueueRequest* request,
                            wsv1::PollNexusTaskQueueResponse* response, SteadyClock::time_point expires,
                            std::function<void(grpc::Status)> done) override {
    auto poll = std::make_shared<Poll>();
    poll->kind = records::QueueTask::NEXUS;
    poll->queue_key = QueueKey(namespace_id, request->task_queue().name(), poll->kind);
    poll->nexus_request = request;
    poll->nexus_response = response;
    poll->expires = expires;
    poll->done = std::move(done);
    Start(poll, request->identity());
    return poll;
  }

  grpc::Status RespondNexusTask(const std::string& namespace_id, const std::string& task_token,
                                NexusTaskResult result) override {
    records::NexusTaskToken token;
    if (task_token.empty() || !token.ParseFromString(task_token) || token.task_id() == 0)
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "Error deserializing task token.");
    if (token.namespace_id() != namespace_id)
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "Operation requested with a token from a different namespace.");
    NexusReply reply;
    {
      std::lock_guard lock(mu_);
      auto it = nexus_.find(token.task_id());
      if (it == nexus_.end())
        return grpc::Status(grpc::StatusCode::NOT_FOUND, "Nexus task not found or already expired");
      reply = std::move(it->second.reply);
      nexus_.erase(it);
    }
    executor_->Submit([reply = std::move(reply), result = std::move(result)] { reply(grpc::Status::OK, result); });
    return grpc::Status::OK;
  }

  void Rematch() override {
    Matches matched;
    {
      std::lock_guard lock(mu_);
      for (auto& [key, q] : queues_) MatchParked(q, &matched);
    }
    DispatchAll(std::move(matched));
  }

  void CancelPoll(const PollHandle& poll) override {
    {
      std::lock_guard lock(mu_);
      poll->cancelled = true;
      if (poll->state != Poll::State::kParked) return;  // Dispatch finishes it.
      QueueOf(poll->queue_key).parked.remove(poll);
      poll->state = Poll::State::kDone;
    }
    poll->done(grpc::Status(grpc::StatusCode::CANCELLED, "poll cancelled by the client"));
  }

  bool HasRecentPoller(const std::string& namespace_id, const std::string& task_queue) override {
    std::lock_guard lock(mu_);
    auto it = queues_.find(QueueKey(namespace_id, task_queue, records::QueueTask::WORKFLOW));
    if (it == queues_.end() || it->second.shut_down) return false;
    return !it->second.parked.empty() || NowNanos() - it->second.last_poll_nanos < kStickyPollerLivenessNanos;
  }

  void ShutdownQueue(const std::string& namespace_id, const std::string& task_queue) override {
    std::vector<PollHandle> expired;
    {
      std::lock_guard lock(mu_);
      Queue& q = QueueOf(QueueKey(namespace_id, task_queue, records::QueueTask::WORKFLOW));
      q.shut_down = true;
      q.last_poll_nanos = 0;
      for (auto& p : q.parked) {
        p->state = Poll::State::kDone;
        expired.push_back(p);
      }
      q.parked.clear();
    }
    for (auto& p : expired) p->done(grpc::Status::OK);
  }

  std::vector<PollerInfo> Pollers(const std::string& namespace_id, const std::string& task_queue, Kind kind) override {
    std::lock_guard lock(mu_);
    std::vector<PollerInfo> out;
    auto it = queues_.find(QueueKey(namespace_id, task_queue, kind));
    if (it == queues_.end()) return out;
    for (const auto& [identity, last] : it->second.pollers) out.push_back({identity, last});
    return out;
  }

  QueueStats Stats(const std::string& namespace_id, const std::string& task_queue, Kind kind) override {
    return Measure(namespace_id, task_queue, kind, nullptr);
  }

  QueueStats VersionStats(const std::string& namespace_id, const std::string& task_queue, Kind kind,
                          const std::string& version) override {
    return Measure(namespace_id, task_queue, kind, &version);
  }

  void Shutdown() override {
    std::vector<PollHandle> all;
    {
      std::lock_guard lock(mu_);
      shut_down_ = true;
      // Nothing answers these after history stops; their steps run again at start-up.
      nexus_.clear();
      for (auto& [key, q] : queues_) {
        for (auto& p : q.parked) {
          p->state = Poll::State::kDone;
          all.push_back(p);
        }
        q.parked.clear();
      }
    }
    for (auto& p : all) p->done(grpc::Status::OK);
  }

 private:
  // Records the poller, then either takes a queued task or parks.
  void Start(const PollHandle& poll, const std::string& identity) {
    std::optional<QueuedTask> task;
    {
      std::lock_guard lock(mu_);
      if (shut_down_) {
        poll->state = Poll::State::kDone;
      } else {
        Queue& q = QueueOf(poll->queue_key);
        int64_t now = NowNanos();
        q.pollers[identity] = now;
        q.last_poll_nanos = now;
        q.poller_version = poll->version;
        q.shut_down = false;
        if (poll_success_ != nullptr && q.metrics.success == nullptr) ResolveMetrics(q, *poll);
        poll->metrics = &q.metrics;
        task = TakeOrPark(q, poll);
      }
    }
    if (poll->state == Poll::State::kDone) {
      poll->done(grpc::Status(grpc::StatusCode::UNAVAILABLE, "server is shutting down"));
      return;
    }
    if (task) executor_->Submit([this, poll, t = std::move(*task)]() mutable { Dispatch(poll, std::move(t)); });
  }

  // The poller's version, registered with the router (sticky queues are
  // a worker's own, not its deployment's). A worker of the deprecated
  // build-id versioning (use_versioning without a deployment) is named by
  // its build, or refused when a newer build of its set is the default.
  grpc::Status RecordPoll(const std::string& namespace_id, const temporal::api::taskqueue::v1::TaskQueue& queue,
                          Poll& poll, const temporal::api::deployment::v1::WorkerDeploymentOptions& options,
                          const temporal::api::common::v1::WorkerVersionCapabilities& caps) {
    bool sticky = queue.kind() == temporal::api::enums::v1::TASK_QUEUE_KIND_STICKY;
    poll.version = PollerVersion(options);
    BuildIdRouter* build_ids = build_id_router_.load();
    if (poll.version.empty() && build_ids != nullptr && caps.use_versioning() && !caps.build_id().empty() &&
        caps.deployment_series_name().empty() && options.deployment_name().empty())
      return build_ids->PollTarget(namespace_id, sticky ? queue.normal_name() : queue.name(), caps.build_id(),
                                   &poll.version);
    VersionRouter* router = router_.load();
    if (router == nullptr || poll.version.empty() || sticky) return grpc::Status::OK;
    router->RecordPoll(namespace_id, queue.name(), poll.kind, options);
    return grpc::Status::OK;
  }

  // A poll refused before it parks.
  void Refuse(const PollHandle& poll, grpc::Status st) {
    {
      std::lock_guard lock(mu_);
      poll->state = Poll::State::kDone;
    }
    executor_->Submit([poll, st = std::move(st)] { poll->done(st); });
  }

  // The version whose workers take the task ("" unversioned). Asked outside
  // mu_: the routers have their own locks.
  std::string TargetOf(const records::QueueTask& task) {
    const std::string& pinned = task.pinned_version();
    if (!pinned.empty() && !IsBuildIdDirective(pinned)) return pinned;
    const std::string& queue = task.normal_task_queue().empty() ? task.task_queue() : task.normal_task_queue();
    if (!pinned.empty()) {
      BuildIdRouter* build_ids = build_id_router_.load();
      if (build_ids != nullptr) {
        if (auto target = build_ids->TaskTarget(task.namespace_id(), queue, pinned)) return *target;
      }
    }
    VersionRouter* router = router_.load();
    if (router == nullptr) return "";
    return router->RouteTask(task.namespace_id(), queue, task.workflow_id(), task.use_ramping_version());
  }

  // The deployment version a task is pinned to ("" when routed; a build-id
  // directive is not a pin).
  static std::string DeploymentPin(const records::QueueTask& task) {
    return IsBuildIdDirective(task.pinned_version()) ? std::string() : task.pinned_version();
  }

  // The whole queue (`version` null) or one version's part of it.
  QueueStats Measure(const std::string& namespace_id, const std::string& task_queue, Kind kind,
                     const std::string* version) {
    std::lock_guard lock(mu_);
    QueueStats out;
    auto it = queues_.find(QueueKey(namespace_id, task_queue, kind));
    if (it == queues_.end()) return out;
    Queue& q = it->second;
    if (version == nullptr) {
      out.backlog_count = q.tasks.Count();
      out.oldest_task_created_nanos = q.tasks.OldestCreatedNanos();
    } else {
      // A version's own part: the tasks pinned to it. Those not in memory
      // (left in the store, or just arrived during a read) are not decoded:
      // they count as unpinned, with the queue's newest tasks.
      int64_t in_memory = 0;
      for (const auto& t : q.tasks) {
        ++in_memory;
        if (DeploymentPin(t.task) != *version) continue;
        ++out.backlog_count;
        int64_t created = t.task.created_time_nanos();
        if (created > 0 && (out.oldest_task_created_nanos == 0 || created < out.oldest_task_created_nanos))
          out.oldest_task_created_nanos = created;
      }
      if (version->empty()) out.backlog_count += q.tasks.Count() - in_memory;
    }
    Queue::Rates* rates = &q.rates;
    if (version != nullptr) {
      auto v = q.by_version.find(*version);
      if (v == q.by_version.end()) return out;
      rates = &v->second;
    }
    int64_t now = NowNanos();
    if (rates->added) out.add_rate = rates->added->PerSecond(now);
    if (rates->dispatched) out.dispatch_rate = rates->dispatched->PerSecond(now);
    return out;
  }

  // Caller holds mu_. The first parked poll of the target's version.
  static std::list<PollHandle>::iterator FindParked(Queue& q, const std::string& target) {
    for (auto it = q.parked.begin(); it != q.parked.end(); ++it)
      if ((*it)->version == target) return it;
    return q.parked.end();
  }

  // Caller holds mu_. A sticky queue's tasks are its worker's; a normal
  // queue's go to the poll of their version. Routing may change between
  // polls (a new current version), so the backlog is routed as it is taken.
  std::optional<QueuedTask> TakeOrPark(Queue& q, const PollHandle& poll) {
    if (auto t = TakeRoutable(q, poll)) {
      poll->state = Poll::State::kDispatching;
      return t;
    }
    poll->state = Poll::State::kParked;
    q.parked.push_back(poll);
    return std::nullopt;
  }

  // Caller holds mu_. The first waiting task the poll may take.
  std::optional<QueuedTask> TakeRoutable(Queue& q, const PollHandle& poll) {
    for (auto it = q.tasks.begin(); it != q.tasks.end(); ++it) {
      if (!Routable(*it, poll)) continue;
      QueuedTask t = q.tasks.Take(it);
      MaybeRead(poll->queue_key, q);
      return t;
    }
    return std::nullopt;
  }

  using Matches = std::vector<std::pair<PollHandle, QueuedTask>>;

  // Caller holds mu_. Hands waiting tasks to the queue's parked polls.
  void MatchParked(Queue& q, Matches* matched) {
    for (auto it = q.parked.begin(); it != q.parked.end() && !q.tasks.empty_in_memory();) {
      auto task = TakeRoutable(q, *it);
      if (!task) {
        ++it;
        continue;
      }
      (*it)->state = Poll::State::kDispatching;
      matched->emplace_back(*it, std::move(*task));
      it = q.parked.erase(it);
    }
  }

  void DispatchAll(Matches matched) {
    for (auto& [poll, task] : matched)
      executor_->Submit([this, poll, t = std::move(task)]() mutable { Dispatch(poll, std::move(t)); });
  }

  // Caller holds mu_. The queue, created on first use.
  Queue& QueueOf(const std::string& key) {
    auto it = queues_.find(key);
    if (it == queues_.end()) it = queues_.try_emplace(key, options_.max_tasks_in_memory_per_queue).first;
    return it->second;
  }

  // Caller holds mu_. Starts reading the queue's next page from the store
  // when its in-memory part runs low; the read runs on the executor.
  void MaybeRead(const std::string& key, Queue& q) {
    if (!reader_ || shut_down_) return;
    auto request = q.tasks.NextRead();
    if (!request) return;
    executor_->Submit([this, key, request = *request] { ReadPage(key, request); });
  }

  void ReadPage(const std::string& key, TaskBacklog::PageRequest request) {
    BacklogReader reader;
    {
      std::lock_guard lock(mu_);
      if (shut_down_) return;  // The store may be closing; the rows stay for the next start.
      reader = reader_;
    }
    std::vector<StoredTask> rows = reader(key, request.after_id, request.limit);
    Matches matched;
    {
      std::lock_guard lock(mu_);
      std::vector<QueuedTask> tasks;
      tasks.reserve(rows.size());
      for (auto& r : rows) tasks.push_back({r.id, std::move(r.task)});
      Queue& q = QueueOf(key);
      q.tasks.FinishRead(request, std::move(tasks));
      if (shut_down_) return;
      MatchParked(q, &matched);
      MaybeRead(key, q);
    }
    DispatchAll(std::move(matched));
  }

  // Caller holds mu_ (the router's lock nests inside it, never around it).
  bool Routable(const QueuedTask& t, const PollHandle& poll) {
    if (!t.task.normal_task_queue().empty()) return true;
    if (router_.load() == nullptr && build_id_router_.load() == nullptr && DeploymentPin(t.task).empty()) return true;
    return TargetOf(t.task) == poll->version;
  }

  void Dispatch(PollHandle poll, QueuedTask task) {
    for (;;) {
      grpc::Status st;
      if (poll->kind == records::QueueTask::NEXUS) {
        st = StartNexusTask(task.id, poll->nexus_response);
      } else if (poll->kind == records::QueueTask::WORKFLOW) {
        st = starter_->StartWorkflowTask(task.id, task.task, *poll->workflow_request, poll->workflow_response);
      } else {
        st = starter_->StartActivityTask(task.id, task.task, *poll->activity_request, poll->activity_response);
      }
      if (st.ok()) {
        {
          std::lock_guard lock(mu_);
          Queue& q = QueueOf(poll->queue_key);
          Count(q.rates.dispatched, NowNanos());
          Count(q.by_version[poll->version].dispatched, NowNanos());
        }
        if (poll->metrics != nullptr && poll->metrics->success != nullptr) {
          poll->metrics->success->Inc();
          if (poll->sync_match) poll->metrics->success_sync->Inc();
        }
        Finish(poll, grpc::Status::OK);
        return;
      }
      if (st.error_code() != grpc::StatusCode::NOT_FOUND) {
        // Keep the task for the next poller; this poll ends empty.
        spdlog::warn("dispatch of task {} failed: {}", task.id, st.error_message());
        ClearResponse(poll);
        {
          std::lock_guard lock(mu_);
          QueueOf(poll->queue_key).tasks.PutBack(std::move(task));
        }
        Finish(poll, grpc::Status::OK);
        return;
      }
      // Stale task: dropped; this poll goes on with the next one.
      ClearResponse(poll);
      std::optional<QueuedTask> next;
      {
        std::lock_guard lock(mu_);
        if (poll->cancelled || shut_down_) {
          poll->state = Poll::State::kDone;
        } else {
          next = TakeOrPark(QueueOf(poll->queue_key), poll);
          if (!next) return;  // Parked again.
        }
      }
      if (!next) {
        poll->done(grpc::Status::OK);
        return;
      }
      task = std::move(*next);
    }
  }

  // Hands the request to the poll; NOT_FOUND when it expired meanwhile.
  grpc::Status StartNexusTask(int64_t id, wsv1::PollNexusTaskQueueResponse* response) {
    std::lock_guard lock(mu_);
    auto it = nexus_.find(id);
    if (it == nexus_.end() || it->second.deadline <= SteadyClock::now())
      return grpc::Status(grpc::StatusCode::NOT_FOUND, "expired");
    records::NexusTaskToken token;
    token.set_namespace_id(it->second.namespace_id);
    token.set_task_id(id);
    response->set_task_token(token.SerializeAsString());
    *response->mutable_request() = it->second.request;
    return grpc::Status::OK;
  }

  static void ClearResponse(const PollHandle& poll) {
    if (poll->nexus_response) poll->nexus_response->Clear();
    if (poll->workflow_response) poll->workflow_response->Clear();
    if (poll->activity_response) poll->activity_response->Clear();
  }

  void Finish(const PollHandle& poll, grpc::Status st) {
    {
      std::lock_guard lock(mu_);
      poll->state = Poll::State::kDone;
    }
    poll->done(std::move(st));
  }

  // Caller holds mu_. Labelled as Temporal's matching labels them.
  void ResolveMetrics(Queue& q, const Poll& poll) {
    bool workflow = poll.kind == records::QueueTask::WORKFLOW;
    if (poll.kind == records::QueueTask::NEXUS) return;  // Not counted.
    const std::string& ns = workflow ? poll.workflow_request->namespace_() : poll.activity_request->namespace_();
    const auto& queue = workflow ? poll.workflow_request->task_queue() : poll.activity_request->task_queue();
    // Each worker has a sticky queue of its own: counted under the normal
    // queue's name, so that series do not grow with every worker started.
    bool sticky = queue.kind() == temporal::api::enums::v1::TASK_QUEUE_KIND_STICKY && !queue.normal_name().empty();
    const std::string& tq = sticky ? queue.normal_name() : queue.name();
    std::string_view op = workflow ? "PollWorkflowTaskQueue" : "PollActivityTaskQueue";
    std::string_view type = workflow ? "Workflow" : "Activity";
    q.metrics.success = poll_success_->Get({ns, op, "matching", type, tq});
    q.metrics.success_sync = poll_success_sync_->Get({ns, op, "matching", type, tq});
    q.metrics.timeouts = poll_timeouts_->Get({ns, op, "matching", type, tq});
    if (!sticky) q.metrics.backlog = backlog_->Get({ns, "TaskQueueMgr", "matching", type, tq});
  }

  void SweepLoop() {
    std::unique_lock lock(mu_);
    while (!stopping_) {
      sweep_cv_.wait_for(lock, std::chrono::milliseconds(100));
      auto now = SteadyClock::now();
      std::vector<PollHandle> expired;
      for (auto& [key, q] : queues_) {
        if (q.tasks.spilled()) MaybeRead(key, q);
        for (auto it = q.parked.begin(); it != q.parked.end();) {
          if ((*it)->expires <= now) {
            (*it)->state = Poll::State::kDone;
            if (q.metrics.timeouts != nullptr) q.metrics.timeouts->Inc();
            expired.push_back(*it);
            it = q.parked.erase(it);
          } else {
            ++it;
          }
        }
      }
      std::vector<NexusReply> late;
      for (auto it = nexus_.begin(); it != nexus_.end();) {
        if (it->second.deadline <= now) {
          late.push_back(std::move(it->second.reply));
          it = nexus_.erase(it);
        } else {
          ++it;
        }
      }
      if (expired.empty() && late.empty()) continue;
      lock.unlock();
      for (auto& p : expired) p->done(grpc::Status::OK);
      for (auto& r : late) {
        executor_->Submit([r = std::move(r)] {
          r(grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "no Nexus worker answered in time"), NexusTaskResult{});
        });
      }
      lock.lock();
    }
  }

  Executor* executor_;
  const MatchingOptions options_;
  BacklogReader reader_;  // Guarded by mu_.
  TaskStarter* starter_ = nullptr;
  std::atomic<VersionRouter*> router_{nullptr};
  std::atomic<BuildIdRouter*> build_id_router_{nullptr};
  std::mutex mu_;
  std::condition_variable sweep_cv_;
  std::unordered_map<std::string, Queue> queues_;
  std::unordered_map<int64_t, NexusPending> nexus_;  // Waiting or handed out, by task id.
  int64_t next_nexus_id_ = 0;
  bool shut_down_ = false;
  bool stopping_ = false;
  metrics::Family<metrics::Counter>* poll_success_ = nullptr;
  metrics::Family<metrics::Counter>* poll_success_sync_ = nullptr;
  metrics::Family<metrics::Counter>* poll_timeouts_ = nullptr;
  metrics::Family<metrics::Gauge>* backlog_ = nullptr;
  metrics::Registry::HookHandle backlog_hook_;  // Removed before the queues go.
  std::thread sweeper_;
};

}  // namespace

std::string PollerVersion(const temporal::api::deployment::v1::WorkerDeploymentOptions& options) {
  if (options.worker_versioning_mode() != temporal::api::enums::v1::WORKER_VERSIONING_MODE_VERSIONED) return "";
  return options.deployment_name() + ":" + options.build_id();
}

std::string TaskQueueKey(const records::QueueTask& task) {
  return QueueKey(task.namespace_id(), task.task_queue(), task.kind());
}

std::unique_ptr<MatchingService> NewMatchingService(Executor* executor, metrics::Registry* metrics,
                                                    MatchingOptions options) {
  return std::make_unique<MatchingServiceImpl>(executor, metrics, options);
}

}  // namespace kairos::matching
