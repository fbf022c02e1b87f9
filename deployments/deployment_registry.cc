#include "kairos/deployments/deployment_registry.h"

#include <algorithm>
#include <optional>
#include <vector>

#include <spdlog/spdlog.h>

#include "kairos/deployments/versioning_rules.h"
#include "kairos/errors.h"
#include "kairos/persistence/store.h"
#include "kairos/time_util.h"
#include "kairos/visibility/values.h"

namespace kairos::deployments {
namespace {

namespace depv1 = temporal::api::deployment::v1;
namespace enums = temporal::api::enums::v1;
using VersionInfo = depv1::WorkerDeploymentVersionInfo;

std::string NotFoundDeployment(const std::string& name) {
  return "no Worker Deployment found with name '" + name + "'; does your Worker Deployment have pollers?";
}

// The deprecated "deployment.build" form of a version.
std::string DottedVersion(const std::string& deployment, const std::string& build) { return deployment + "." + build; }

std::string ConflictToken(const records::WorkerDeploymentRecord& d) {
  std::string token = "kairos-routing-" + std::to_string(d.routing_config().revision_number());
  if (d.manager_changes() > 0) token += "-manager-" + std::to_string(d.manager_changes());
  return token;
}

// Once a manager is set, only the manager changes the routing or deletes
// versions (Temporal's message).
grpc::Status CheckManager(const records::WorkerDeploymentRecord& d, const std::string& identity) {
  if (d.manager_identity().empty() || d.manager_identity() == identity) return grpc::Status::OK;
  return errors::FailedPrecondition("ManagerIdentity '" + d.manager_identity() +
                                    "' is set and does not match user identity '" + identity +
                                    "'; to proceed, set your own identity as the ManagerIdentity, remove the "
                                    "ManagerIdentity, or wait for the other client to do so");
}

// An absent token skips the check, as in Temporal.
grpc::Status CheckConflictToken(const records::WorkerDeploymentRecord& d, const std::string& token) {
  if (token.empty() || token == ConflictToken(d)) return grpc::Status::OK;
  return errors::FailedPrecondition("conflict token mismatch");
}

// The version a request names: the message, else the deprecated string.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
template <class Request>
depv1::WorkerDeploymentVersion RequestedVersion(const Request& req) {
  if (req.has_deployment_version()) return req.deployment_version();
  depv1::WorkerDeploymentVersion v;
  const std::string& s = req.version();
  auto dot = s.find('.');
  if (dot != std::string::npos) {
    v.set_deployment_name(s.substr(0, dot));
    v.set_build_id(s.substr(dot + 1));
  }
  return v;
}

// The build id a routing request names: build_id, else the deprecated
// "deployment.build" version ("__unversioned__": none).
template <class Request>
std::string RequestedBuild(const Request& req) {
  if (!req.build_id().empty() || req.version().empty() || req.version() == "__unversioned__") return req.build_id();
  auto dot = req.version().find('.');
  return dot == std::string::npos ? req.version() : req.version().substr(dot + 1);
}

void FillVersionFields(const std::string& deployment, const std::string& build, VersionInfo* v) {
  v->set_version(DottedVersion(deployment, build));
  v->set_deployment_name(deployment);
  v->mutable_deployment_version()->set_deployment_name(deployment);
  v->mutable_deployment_version()->set_build_id(build);
}
#pragma GCC diagnostic pop

// A routing change may name a version no worker polled only when told to
// (allow_no_pollers); it is then created.
grpc::Status EnsureVersion(records::WorkerDeploymentRecord& d, const std::string& build, bool allow_no_pollers,
                           int64_t now) {
  if (build.empty() || d.versions().contains(build)) return grpc::Status::OK;
  if (!allow_no_pollers)
    return errors::NotFound("build ID '" + build + "' not found in Worker Deployment '" + d.name() + "'");
  auto& v = (*d.mutable_versions())[build];
  FillVersionFields(d.name(), build, &v);
  *v.mutable_create_time() = NanosToTimestamp(now);
  return grpc::Status::OK;
}

// A version becoming current or ramping: no longer draining.
VersionInfo& Activate(records::WorkerDeploymentRecord& d, const std::string& build, int64_t now) {
  auto& v = (*d.mutable_versions())[build];
  *v.mutable_routing_changed_time() = NanosToTimestamp(now);
  if (!v.has_first_activation_time()) *v.mutable_first_activation_time() = NanosToTimestamp(now);
  v.clear_drainage_info();
  return v;
}

bool IsCurrent(const records::WorkerDeploymentRecord& d, const std::string& build) {
  return d.routing_config().has_current_deployment_version() &&
         d.routing_config().current_deployment_version().build_id() == build;
}
bool IsRamping(const records::WorkerDeploymentRecord& d, const std::string& build) {
  return d.routing_config().has_ramping_deployment_version() &&
         d.routing_config().ramping_deployment_version().build_id() == build;
}

enums::WorkerDeploymentVersionStatus StatusOf(const records::WorkerDeploymentRecord& d, const VersionInfo& v) {
  const std::string& build = v.deployment_version().build_id();
  if (IsCurrent(d, build)) return enums::WORKER_DEPLOYMENT_VERSION_STATUS_CURRENT;
  if (IsRamping(d, build)) return enums::WORKER_DEPLOYMENT_VERSION_STATUS_RAMPING;
  switch (v.drainage_info().status()) {
    case enums::VERSION_DRAINAGE_STATUS_DRAINING:
      return enums::WORKER_DEPLOYMENT_VERSION_STATUS_DRAINING;
    case enums::VERSION_DRAINAGE_STATUS_DRAINED:
      return enums::WORKER_DEPLOYMENT_VERSION_STATUS_DRAINED;
    default:
      return enums::WORKER_DEPLOYMENT_VERSION_STATUS_INACTIVE;
  }
}

}  // namespace

std::string VersionString(const depv1::WorkerDeploymentVersion& v) {
  if (v.build_id().empty() && v.deployment_name().empty()) return "";
  return v.deployment_name() + ":" + v.build_id();
}

Timing Timing::FromDynamicConfig(const std::vector<std::pair<std::string, std::string>>& values) {
  Timing t;
  for (const auto& [key, value] : values) {
    auto nanos = visibility::DynamicConfigDurationNanos(value);
    if (!nanos) continue;
    if (key == "matching.PollerHistoryTTL") t.poller_ttl_nanos = *nanos;
    if (key == "matching.wv.VersionDrainageStatusVisibilityGracePeriod") t.drainage_grace_nanos = *nanos;
    if (key == "matching.wv.VersionDrainageStatusRefreshInterval") t.drainage_refresh_nanos = *nanos;
  }
  return t;
}

DeploymentRegistry::DeploymentRegistry(persistence::Store* store, PinnedCounter count_pinned,
                                       std::function<void()> on_routing_change, Timing timing)
    : store_(store),
      count_pinned_(std::move(count_pinned)),
      timing_(timing),
      on_routing_change_(std::move(on_routing_change)) {}

void DeploymentRegistry::Load() {
  std::lock_guard lock(mu_);
  for (auto& row : store_->LoadWorkerDeployments()) {
    records::WorkerDeploymentRecord d;
    if (!d.ParseFromString(row.record)) {
      spdlog::error("worker deployment {} of namespace {}: unreadable record, skipped", row.name, row.namespace_id);
      continue;
    }
    for (const auto& [build, v] : d.versions())
      for (const auto& tq : v.task_queue_infos()) queue_deployment_[{row.namespace_id, tq.name()}] = d.name();
    deployments_[{row.namespace_id, row.name}] = std::move(d);
  }
}

records::WorkerDeploymentRecord* DeploymentRegistry::Find(const std::string& namespace_id, const std::string& name) {
  auto it = deployments_.find({namespace_id, name});
  return it == deployments_.end() ? nullptr : &it->second;
}

grpc::Status DeploymentRegistry::CommitRoutingChange(records::WorkerDeploymentRecord& d, const std::string& identity,
                                                     std::string* conflict_token) {
  auto& rc = *d.mutable_routing_config();
  rc.set_revision_number(rc.revision_number() + 1);
  d.set_last_modifier_identity(identity);
  if (auto st = Save(d); !st.ok()) return st;
  *conflict_token = ConflictToken(d);
  return grpc::Status::OK;
}

grpc::Status DeploymentRegistry::FindForChange(const std::string& namespace_id, const std::string& name,
                                               const std::string& conflict_token, records::WorkerDeploymentRecord** d) {
  *d = Find(namespace_id, name);
  if (*d == nullptr) return errors::NotFound(NotFoundDeployment(name));
  return CheckConflictToken(**d, conflict_token);
}

grpc::Status DeploymentRegistry::Save(const records::WorkerDeploymentRecord& d) {
  persistence::WriteBatch batch;
  batch.worker_deployment_upserts.push_back({d.namespace_id(), d.name(), d.SerializeAsString()});
  return store_->Commit(std::move(batch));
}

bool DeploymentRegistry::HasPollers(const std::string& namespace_id, const std::string& version) {
  std::lock_guard lock(mu_);
  auto it = last_poll_nanos_.find({namespace_id, version});
  return it != last_poll_nanos_.end() && NowNanos() - it->second < timing_.poller_ttl_nanos;
}

bool DeploymentRegistry::QueryBlackholed(const std::string& namespace_id, const depv1::WorkerDeploymentVersion& version,
                                         const std::vector<matching::PollerInfo>& queue_pollers) {
  int64_t now = NowNanos();
  for (const auto& p : queue_pollers)
    if (now - p.last_access_time_nanos < timing_.poller_ttl_nanos) return false;
  std::lock_guard lock(mu_);
  auto* d = Find(namespace_id, version.deployment_name());
  if (d == nullptr || !d->versions().contains(version.build_id())) return false;
  RefreshDrainage(*d);
  return StatusOf(*d, d->versions().at(version.build_id())) == enums::WORKER_DEPLOYMENT_VERSION_STATUS_DRAINED;
}

void DeploymentRegistry::RecordPoll(const std::string& namespace_id, const std::string& task_queue,
                                    records::QueueTask::Kind kind, const depv1::WorkerDeploymentOptions& options) {
  const std::string& name = options.deployment_name();
  const std::string& build = options.build_id();
  if (name.empty() || build.empty()) return;
  auto type = kind == records::QueueTask::WORKFLOW ? enums::TASK_QUEUE_TYPE_WORKFLOW : enums::TASK_QUEUE_TYPE_ACTIVITY;
  int64_t now = NowNanos();
  std::lock_guard lock(mu_);
  last_poll_nanos_[{namespace_id, name + ":" + build}] = now;
  auto* d = Find(namespace_id, name);
  bool changed = false;
  if (d == nullptr) {
    d = &deployments_[{namespace_id, name}];
    d->set_namespace_id(namespace_id);
    d->set_name(name);
    d->set_create_time_nanos(now);
    changed = true;
  }
  auto& versions = *d->mutable_versions();
  if (!versions.contains(build)) {
    auto& v = versions[build];
    FillVersionFields(name, build, &v);
    *v.mutable_create_time() = NanosToTimestamp(now);
    changed = true;
  }
  auto& v = versions[build];
  bool known = std::any_of(v.task_queue_infos().begin(), v.task_queue_infos().end(),
                           [&](const auto& q) { return q.name() == task_queue && q.type() == type; });
  if (!known) {
    auto* q = v.add_task_queue_infos();
    q->set_name(task_queue);
    q->set_type(type);
    changed = true;
  }
  queue_deployment_[{namespace_id, task_queue}] = name;
  if (!changed) return;
  if (auto st = Save(*d); !st.ok()) spdlog::warn("registering version {}:{}: {}", name, build, st.error_message());
}

records::WorkerDeploymentRecord* DeploymentRegistry::OwnerOf(const std::string& namespace_id,
                                                            const std::string& task_queue) {
  auto owner = queue_deployment_.find({namespace_id, task_queue});
  return owner == queue_deployment_.end() ? nullptr : Find(namespace_id, owner->second);
}

const depv1::WorkerDeploymentVersion& DeploymentRegistry::Route(const records::WorkerDeploymentRecord& d,
                                                               const std::string& workflow_id, bool use_ramping) {
  const auto& rc = d.routing_config();
  if (rc.has_ramping_deployment_version() &&
      (use_ramping || RampBucket(workflow_id) < rc.ramping_version_percentage()))
    return rc.ramping_deployment_version();
  return rc.current_deployment_version();
}

std::string DeploymentRegistry::RouteTask(const std::string& namespace_id, const std::string& task_queue,
                                          const std::string& workflow_id, bool use_ramping) {
  std::lock_guard lock(mu_);
  auto* d = OwnerOf(namespace_id, task_queue);
  return d == nullptr ? "" : VersionString(Route(*d, workflow_id, use_ramping));
}

std::pair<depv1::WorkerDeploymentVersion, int64_t> DeploymentRegistry::RoutingTarget(const std::string& namespace_id,
                                                                                     const std::string& task_queue,
                                                                                     const std::string& workflow_id) {
  std::lock_guard lock(mu_);
  auto* d = OwnerOf(namespace_id, task_queue);
  if (d == nullptr) return {};
  return {Route(*d, workflow_id, false), d->routing_config().revision_number()};
}

bool DeploymentRegistry::WorkflowQueueInVersion(const std::string& namespace_id, const std::string& task_queue,
                                                const std::string& version) {
  auto colon = version.find(':');
  if (colon == std::string::npos) return false;
  std::lock_guard lock(mu_);
  auto* d = Find(namespace_id, version.substr(0, colon));
  if (d == nullptr) return false;
  auto v = d->versions().find(version.substr(colon + 1));
  if (v == d->versions().end()) return false;
  return std::any_of(v->second.task_queue_infos().begin(), v->second.task_queue_infos().end(), [&](const auto& q) {
    return q.name() == task_queue && q.type() == enums::TASK_QUEUE_TYPE_WORKFLOW;
  });
}

void DeploymentRegistry::StartDraining(records::WorkerDeploymentRecord& d, const std::string& build, int64_t now) {
  auto it = d.mutable_versions()->find(build);
  if (it == d.mutable_versions()->end()) return;
  auto& v = it->second;
  *v.mutable_last_deactivation_time() = NanosToTimestamp(now);
  *v.mutable_routing_changed_time() = NanosToTimestamp(now);
  v.clear_current_since_time();
  v.clear_ramping_since_time();
  v.set_ramp_percentage(0);
  auto* drainage = v.mutable_drainage_info();
  drainage->set_status(enums::VERSION_DRAINAGE_STATUS_DRAINING);
  *drainage->mutable_last_changed_time() = NanosToTimestamp(now);
  *drainage->mutable_last_checked_time() = NanosToTimestamp(now);
}

// A draining version is drained once no open workflow is pinned to it.
void DeploymentRegistry::RefreshDrainage(records::WorkerDeploymentRecord& d) {
  if (!count_pinned_) return;
  int64_t now = NowNanos();
  for (auto& [build, v] : *d.mutable_versions()) {
    if (v.drainage_info().status() != enums::VERSION_DRAINAGE_STATUS_DRAINING || IsCurrent(d, build) || IsRamping(d, build))
      continue;
    if (now - TimestampToNanos(v.last_deactivation_time()) < timing_.drainage_grace_nanos) continue;
    int64_t checked = TimestampToNanos(v.drainage_info().last_checked_time());
    if (checked > TimestampToNanos(v.last_deactivation_time()) && now - checked < timing_.drainage_refresh_nanos) continue;
    *v.mutable_drainage_info()->mutable_last_checked_time() = NanosToTimestamp(now);
    if (count_pinned_(d.namespace_id(), d.name() + ":" + build) > 0) continue;
    v.mutable_drainage_info()->set_status(enums::VERSION_DRAINAGE_STATUS_DRAINED);
    *v.mutable_drainage_info()->mutable_last_changed_time() = NanosToTimestamp(now);
    if (auto st = Save(d); !st.ok()) spdlog::warn("drainage of {}:{}: {}", d.name(), build, st.error_message());
  }
}

void DeploymentRegistry::FillSummary(const records::WorkerDeploymentRecord& d, const VersionInfo& v,
                                     depv1::WorkerDeploymentInfo::WorkerDeploymentVersionSummary* out) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  out->set_version(v.version());
  out->set_drainage_status(v.drainage_info().status());
#pragma GCC diagnostic pop
  out->set_status(StatusOf(d, v));
  *out->mutable_deployment_version() = v.deployment_version();
  *out->mutable_create_time() = v.create_time();
  if (v.has_drainage_info()) *out->mutable_drainage_info() = v.drainage_info();
  if (v.has_current_since_time()) *out->mutable_current_since_time() = v.current_since_time();
  if (v.has_ramping_since_time()) *out->mutable_ramping_since_time() = v.ramping_since_time();
  if (v.has_routing_changed_time()) *out->mutable_routing_update_time() = v.routing_changed_time();
  if (v.has_first_activation_time()) *out->mutable_first_activation_time() = v.first_activation_time();
  if (v.has_last_current_time()) *out->mutable_last_current_time() = v.last_current_time();
  if (v.has_last_deactivation_time()) *out->mutable_last_deactivation_time() = v.last_deactivation_time();
}

grpc::Status DeploymentRegistry::DescribeWorkerDeployment(const std::string& namespace_id,
                                                          const wsv1::DescribeWorkerDeploymentRequest& req,
                                                          wsv1::DescribeWorkerDeploymentResponse* resp) {
  std::lock_guard lock(mu_);
  auto* d = Find(namespace_id, req.deployment_name());
  if (d == nullptr) return errors::NotFound(NotFoundDeployment(req.deployment_name()));
  RefreshDrainage(*d);
  resp->set_conflict_token(ConflictToken(*d));
  auto* info = resp->mutable_worker_deployment_info();
  info->set_name(d->name());
  *info->mutable_create_time() = NanosToTimestamp(d->create_time_nanos());
  *info->mutable_routing_config() = d->routing_config();
  info->set_last_modifier_identity(d->last_modifier_identity());
  info->set_manager_identity(d->manager_identity());
  std::vector<const VersionInfo*> versions;
  for (const auto& [build, v] : d->versions()) versions.push_back(&v);
  std::sort(versions.begin(), versions.end(), [](const VersionInfo* a, const VersionInfo* b) {
    return TimestampToNanos(a->create_time()) < TimestampToNanos(b->create_time());
  });
  for (const auto* v : versions) FillSummary(*d, *v, info->add_version_summaries());
  return grpc::Status::OK;
}

grpc::Status DeploymentRegistry::ListWorkerDeployments(const std::string& namespace_id,
                                                       const wsv1::ListWorkerDeploymentsRequest& req,
                                                       wsv1::ListWorkerDeploymentsResponse* resp) {
  // Pages in name order; the token is the last name of the page before.
  std::lock_guard lock(mu_);
  const std::string& after = req.next_page_token();
  auto it = after.empty() ? deployments_.lower_bound({namespace_id, ""})
                          : deployments_.upper_bound({namespace_id, after});
  for (; it != deployments_.end() && it->first.first == namespace_id; ++it) {
    auto& d = it->second;
    if (req.page_size() > 0 && resp->worker_deployments_size() == req.page_size()) {
      resp->set_next_page_token(resp->worker_deployments(resp->worker_deployments_size() - 1).name());
      break;
    }
    RefreshDrainage(d);
    auto* s = resp->add_worker_deployments();
    s->set_name(d.name());
    *s->mutable_create_time() = NanosToTimestamp(d.create_time_nanos());
    *s->mutable_routing_config() = d.routing_config();
    const VersionInfo* latest = nullptr;
    for (const auto& [build, v] : d.versions()) {
      if (latest == nullptr || TimestampToNanos(v.create_time()) > TimestampToNanos(latest->create_time())) latest = &v;
      if (IsCurrent(d, build)) FillSummary(d, v, s->mutable_current_version_summary());
      if (IsRamping(d, build)) FillSummary(d, v, s->mutable_ramping_version_summary());
    }
    if (latest != nullptr) FillSummary(d, *latest, s->mutable_latest_version_summary());
  }
  return grpc::Status::OK;
}

grpc::Status DeploymentRegistry::DescribeWorkerDeploymentVersion(const std::string& namespace_id,
                                                                 const wsv1::DescribeWorkerDeploymentVersionRequest& req,
                                                                 wsv1::DescribeWorkerDeploymentVersionResponse* resp) {
  auto wanted = RequestedVersion(req);
  std::string version = VersionString(wanted);
  std::vector<QueueRouting> routings;
  {
    std::lock_guard lock(mu_);
    auto* d = Find(namespace_id, wanted.deployment_name());
    if (d == nullptr || !d->versions().contains(wanted.build_id()))
      return errors::NotFound("Worker Deployment Version not found");
    RefreshDrainage(*d);
    const auto& v = d->versions().at(wanted.build_id());
    auto* info = resp->mutable_worker_deployment_version_info();
    *info = v;
    info->set_status(StatusOf(*d, v));
    if (IsRamping(*d, wanted.build_id())) info->set_ramp_percentage(d->routing_config().ramping_version_percentage());
    for (const auto& q : v.task_queue_infos()) {
      auto* t = resp->add_version_task_queues();
      t->set_name(q.name());
      t->set_type(q.type());
      routings.push_back(RoutingOf(namespace_id, q.name()));
    }
  }
  if (!req.report_task_queue_stats() || !queue_stats_) return grpc::Status::OK;
  // Matching's lock nests the registry's: asked without mu_.
  for (int i = 0; i < resp->version_task_queues_size(); ++i) {
    auto* t = resp->mutable_version_task_queues(i);
    auto kind = t->type() == enums::TASK_QUEUE_TYPE_WORKFLOW ? records::QueueTask::WORKFLOW : records::QueueTask::ACTIVITY;
    auto stats = VersionQueueStats(namespace_id, t->name(), kind, version, routings[i]);
    matching::FillTaskQueueStats(stats, t->mutable_stats());
    matching::FillTaskQueueStats(stats, &(*t->mutable_stats_by_priority_key())[matching::kDefaultPriorityKey]);
  }
  return grpc::Status::OK;
}

QueueRouting DeploymentRegistry::RoutingOf(const std::string& namespace_id, const std::string& task_queue) {
  QueueRouting out;
  auto* d = OwnerOf(namespace_id, task_queue);
  if (d == nullptr) return out;
  const auto& rc = d->routing_config();
  out.current = VersionString(rc.current_deployment_version());
  if (rc.has_ramping_deployment_version()) {
    out.ramping = VersionString(rc.ramping_deployment_version());
    out.ramp_percentage = rc.ramping_version_percentage();
  }
  return out;
}

matching::QueueStats DeploymentRegistry::VersionQueueStats(const std::string& namespace_id, const std::string& task_queue,
                                                           records::QueueTask::Kind kind, const std::string& version,
                                                           const QueueRouting& routing) {
  return AttributedStats(queue_stats_(namespace_id, task_queue, kind, version),
                         queue_stats_(namespace_id, task_queue, kind, ""), routing, version);
}

matching::QueueStats AttributedStats(const matching::QueueStats& own, const matching::QueueStats& unpinned,
                                     const QueueRouting& routing, const std::string& version) {
  if (version.empty()) return own;
  bool ramps = routing.ramp_percentage > 0;
  if (version == routing.current) {
    return matching::MergeStats(own, ramps ? matching::SplitByRamp(unpinned, routing.ramp_percentage).first : unpinned);
  }
  if (ramps && version == routing.ramping) {
    return matching::MergeStats(own, matching::SplitByRamp(unpinned, routing.ramp_percentage).second);
  }
  return own;
}

bool DeploymentRegistry::MissesBusyQueues(const std::string& namespace_id, const std::string& name,
                                          const std::string& build, bool ramping) {
  if (!queue_stats_ || build.empty()) return false;
  struct Missing {
    std::string queue;
    records::QueueTask::Kind kind;
    QueueRouting routing;
  };
  std::vector<Missing> missing;
  std::string current_version;
  {
    std::lock_guard lock(mu_);
    auto* d = Find(namespace_id, name);
    if (d == nullptr) return false;
    const auto& rc = d->routing_config();
    if (!rc.has_current_deployment_version() || (ramping && rc.ramping_deployment_version().build_id() == build))
      return false;
    auto current = d->versions().find(rc.current_deployment_version().build_id());
    auto next = d->versions().find(build);
    if (current == d->versions().end() || next == d->versions().end()) return false;
    current_version = VersionString(rc.current_deployment_version());
    for (const auto& q : current->second.task_queue_infos()) {
      bool served = std::any_of(next->second.task_queue_infos().begin(), next->second.task_queue_infos().end(),
                                [&](const auto& n) { return n.name() == q.name() && n.type() == q.type(); });
      auto owner = queue_deployment_.find({namespace_id, q.name()});
      bool taken_over = owner != queue_deployment_.end() && owner->second != name;
      if (served || taken_over) continue;
      missing.push_back({q.name(),
                         q.type() == enums::TASK_QUEUE_TYPE_WORKFLOW ? records::QueueTask::WORKFLOW : records::QueueTask::ACTIVITY,
                         RoutingOf(namespace_id, q.name())});
    }
  }
  // Matching's lock nests the registry's: asked without mu_. As Temporal,
  // the current version's statistics of the queue.
  return std::any_of(missing.begin(), missing.end(), [&](const Missing& q) {
    auto stats = VersionQueueStats(namespace_id, q.queue, q.kind, current_version, q.routing);
    return stats.backlog_count > 0 || stats.add_rate > 0;
  });
}

grpc::Status DeploymentRegistry::SetWorkerDeploymentCurrentVersion(
    const std::string& namespace_id, const wsv1::SetWorkerDeploymentCurrentVersionRequest& req,
    wsv1::SetWorkerDeploymentCurrentVersionResponse* resp) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  std::string build = RequestedBuild(req);
  bool misses_busy = !req.ignore_missing_task_queues() && MissesBusyQueues(namespace_id, req.deployment_name(), build, false);
  {
    std::lock_guard lock(mu_);
    records::WorkerDeploymentRecord* d = nullptr;
    if (auto st = FindForChange(namespace_id, req.deployment_name(), req.conflict_token(), &d); !st.ok()) return st;
    auto& rc = *d->mutable_routing_config();
    std::string previous = rc.current_deployment_version().build_id();
    if (rc.has_current_deployment_version()) {
      *resp->mutable_previous_deployment_version() = rc.current_deployment_version();
      resp->set_previous_version(rc.current_version());
    }
    if ((build.empty() && !rc.has_current_deployment_version()) || IsCurrent(*d, build)) {
      resp->set_conflict_token(ConflictToken(*d));  // No change.
      return grpc::Status::OK;
    }
    int64_t now = NowNanos();
    if (auto st = EnsureVersion(*d, build, req.allow_no_pollers(), now); !st.ok()) return st;
    if (auto st = CheckManager(*d, req.identity()); !st.ok()) return st;
    if (misses_busy)
      return errors::FailedPrecondition("proposed current version '" + d->name() + ":" + build +
                                        "' is missing active task queues from the current version; these would "
                                        "become unversioned if it is set as the current version");
    if (!previous.empty()) StartDraining(*d, previous, now);
    if (build.empty()) {
      rc.clear_current_deployment_version();
      rc.set_current_version("__unversioned__");
    } else {
      rc.mutable_current_deployment_version()->set_deployment_name(d->name());
      rc.mutable_current_deployment_version()->set_build_id(build);
      rc.set_current_version(DottedVersion(d->name(), build));
      if (IsRamping(*d, build)) {
        rc.clear_ramping_deployment_version();
        rc.clear_ramping_version();
        rc.set_ramping_version_percentage(0);
        *rc.mutable_ramping_version_changed_time() = NanosToTimestamp(now);
      }
      auto& v = Activate(*d, build, now);
      *v.mutable_current_since_time() = NanosToTimestamp(now);
      *v.mutable_last_current_time() = NanosToTimestamp(now);
      v.clear_ramping_since_time();
      v.set_ramp_percentage(0);
    }
    *rc.mutable_current_version_changed_time() = NanosToTimestamp(now);
    if (auto st = CommitRoutingChange(*d, req.identity(), resp->mutable_conflict_token()); !st.ok()) return st;
  }
#pragma GCC diagnostic pop
  if (on_routing_change_) on_routing_change_();
  return grpc::Status::OK;
}

grpc::Status DeploymentRegistry::SetWorkerDeploymentRampingVersion(
    const std::string& namespace_id, const wsv1::SetWorkerDeploymentRampingVersionRequest& req,
    wsv1::SetWorkerDeploymentRampingVersionResponse* resp) {
  if (req.percentage() < 0 || req.percentage() > 100)
    return errors::InvalidArgument("Percentage must be between 0 and 100 (inclusive)");
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  std::string build = RequestedBuild(req);
  bool misses_busy = !req.ignore_missing_task_queues() && MissesBusyQueues(namespace_id, req.deployment_name(), build, true);
  {
    std::lock_guard lock(mu_);
    records::WorkerDeploymentRecord* d = nullptr;
    if (auto st = FindForChange(namespace_id, req.deployment_name(), req.conflict_token(), &d); !st.ok()) return st;
    auto& rc = *d->mutable_routing_config();
    if (rc.has_ramping_deployment_version()) *resp->mutable_previous_deployment_version() = rc.ramping_deployment_version();
    resp->set_previous_version(rc.ramping_version());
    resp->set_previous_percentage(rc.ramping_version_percentage());
    if (!build.empty() && IsCurrent(*d, build))
      return errors::FailedPrecondition("requested ramping version " + DottedVersion(d->name(), build) + " is already current");
    int64_t now = NowNanos();
    if (auto st = EnsureVersion(*d, build, req.allow_no_pollers(), now); !st.ok()) return st;
    if (auto st = CheckManager(*d, req.identity()); !st.ok()) return st;
    if (misses_busy)
      return errors::FailedPrecondition("proposed ramping version '" + d->name() + ":" + build +
                                        "' is missing active task queues from the current version; these would "
                                        "become unversioned if it is set as the ramping version");
    std::string previous = rc.ramping_deployment_version().build_id();
    if (!previous.empty() && previous != build) StartDraining(*d, previous, now);
    if (build.empty()) {
      rc.clear_ramping_deployment_version();
      rc.clear_ramping_version();
      rc.set_ramping_version_percentage(0);
    } else {
      if (previous != build) *rc.mutable_ramping_version_changed_time() = NanosToTimestamp(now);
      rc.mutable_ramping_deployment_version()->set_deployment_name(d->name());
      rc.mutable_ramping_deployment_version()->set_build_id(build);
      rc.set_ramping_version(DottedVersion(d->name(), build));
      rc.set_ramping_version_percentage(req.percentage());
      auto& v = Activate(*d, build, now);
      if (previous != build) *v.mutable_ramping_since_time() = NanosToTimestamp(now);
      v.set_ramp_percentage(req.percentage());
    }
    *rc.mutable_ramping_version_percentage_changed_time() = NanosToTimestamp(now);
    if (auto st = CommitRoutingChange(*d, req.identity(), resp->mutable_conflict_token()); !st.ok()) return st;
  }
#pragma GCC diagnostic pop
  if (on_routing_change_) on_routing_change_();
  return grpc::Status::OK;
}

grpc::Status DeploymentRegistry::DeleteWorkerDeploymentVersion(const std::string& namespace_id,
                                                               const wsv1::DeleteWorkerDeploymentVersionRequest& req,
                                                               wsv1::DeleteWorkerDeploymentVersionResponse*) {
  auto wanted = RequestedVersion(req);
  std::string version = wanted.deployment_name() + ":" + wanted.build_id();
  bool polled = HasPollers(namespace_id, version);
  std::lock_guard lock(mu_);
  auto* d = Find(namespace_id, wanted.deployment_name());
  if (d == nullptr)
    return errors::NotFound("workflow not found for ID: temporal-sys-worker-deployment:" + wanted.deployment_name());
  if (!d->versions().contains(wanted.build_id())) return errors::NotFound("Worker Deployment Version not found");
  if (IsCurrent(*d, wanted.build_id()) || IsRamping(*d, wanted.build_id()))
    return errors::FailedPrecondition("version '" + version + "' cannot be deleted since it is current or ramping");
  if (auto st = CheckManager(*d, req.identity()); !st.ok()) return st;
  RefreshDrainage(*d);
  if (!req.skip_drainage() &&
      d->versions().at(wanted.build_id()).drainage_info().status() == enums::VERSION_DRAINAGE_STATUS_DRAINING)
    return errors::FailedPrecondition("version '" + version + "' cannot be deleted since it is draining");
  if (polled) return errors::FailedPrecondition("version '" + version + "' cannot be deleted since it has active pollers");
  d->mutable_versions()->erase(wanted.build_id());
  d->set_last_modifier_identity(req.identity());
  for (auto it = queue_deployment_.begin(); it != queue_deployment_.end();) {
    bool still_used = false;
    for (const auto& [build, v] : d->versions())
      for (const auto& q : v.task_queue_infos()) still_used |= q.name() == it->first.second;
    if (it->first.first == namespace_id && it->second == d->name() && !still_used)
      it = queue_deployment_.erase(it);
    else
      ++it;
  }
  return Save(*d);
}

grpc::Status DeploymentRegistry::DeleteWorkerDeployment(const std::string& namespace_id,
                                                        const wsv1::DeleteWorkerDeploymentRequest& req,
                                                        wsv1::DeleteWorkerDeploymentResponse*) {
  std::lock_guard lock(mu_);
  auto* d = Find(namespace_id, req.deployment_name());
  if (d == nullptr) return grpc::Status::OK;
  if (!d->versions().empty()) return errors::FailedPrecondition("deployment has versions, can't be deleted");
  persistence::WriteBatch batch;
  batch.worker_deployment_deletes.emplace_back(namespace_id, req.deployment_name());
  if (auto st = store_->Commit(std::move(batch)); !st.ok()) return st;
  deployments_.erase({namespace_id, req.deployment_name()});
  return grpc::Status::OK;
}

grpc::Status DeploymentRegistry::SetWorkerDeploymentManager(const std::string& namespace_id,
                                                            const wsv1::SetWorkerDeploymentManagerRequest& req,
                                                            wsv1::SetWorkerDeploymentManagerResponse* resp) {
  std::string manager = req.self() ? req.identity() : req.manager_identity();
  // previous_manager_identity is deprecated, but Temporal still fills it.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  std::lock_guard lock(mu_);
  auto* d = Find(namespace_id, req.deployment_name());
  if (d == nullptr) return errors::NotFound(NotFoundDeployment(req.deployment_name()));
  if (d->manager_identity() == manager && d->last_modifier_identity() == req.identity()) {
    resp->set_previous_manager_identity(manager);  // No change.
    resp->set_conflict_token(ConflictToken(*d));
    return grpc::Status::OK;
  }
  if (auto st = CheckConflictToken(*d, req.conflict_token()); !st.ok()) return st;
  resp->set_previous_manager_identity(d->manager_identity());
  d->set_manager_identity(manager);
  d->set_last_modifier_identity(req.identity());
  d->set_manager_changes(d->manager_changes() + 1);
#pragma GCC diagnostic pop
  if (auto st = Save(*d); !st.ok()) return st;
  resp->set_conflict_token(ConflictToken(*d));
  return grpc::Status::OK;
}

grpc::Status DeploymentRegistry::UpdateWorkerDeploymentVersionMetadata(
    const std::string& namespace_id, const wsv1::UpdateWorkerDeploymentVersionMetadataRequest& req,
    wsv1::UpdateWorkerDeploymentVersionMetadataResponse* resp) {
  auto wanted = RequestedVersion(req);
  std::lock_guard lock(mu_);
  auto* d = Find(namespace_id, wanted.deployment_name());
  if (d == nullptr || !d->versions().contains(wanted.build_id()))
    return errors::NotFound("Worker Deployment Version not found");
  auto& v = (*d->mutable_versions())[wanted.build_id()];
  auto& entries = *v.mutable_metadata()->mutable_entries();
  for (const auto& [k, p] : req.upsert_entries()) entries[k] = p;
  for (const auto& k : req.remove_entries()) entries.erase(k);
  if (auto st = Save(*d); !st.ok()) return st;
  *resp->mutable_metadata() = v.metadata();
  return grpc::Status::OK;
}

}  // namespace kairos::deployments
