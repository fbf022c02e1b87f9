#include "kairos/deployments/build_id_versioning.h"

#include <algorithm>
#include <chrono>

#include <google/protobuf/any.pb.h>
#include <spdlog/spdlog.h>

#include "kairos/errors.h"
#include "kairos/persistence/store.h"
#include "kairos/rpc_status.pb.h"
#include "temporal/api/errordetails/v1/message.pb.h"
#include "kairos/visibility/values.h"

namespace kairos::deployments {

namespace enums = temporal::api::enums::v1;
namespace tqv1 = temporal::api::taskqueue::v1;

namespace {

int64_t NowMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string Unquoted(std::string value) {
  if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
  return value;
}

// A string literal of the visibility query language.
std::string Quoted(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  return out + "'";
}

// Temporal's task queue name checks (tqid.NormalizeAndValidate).
grpc::Status ValidateQueueName(const std::string& name) {
  if (name.empty()) return errors::InvalidArgument("missing task queue name");
  if (name.size() > 1000) return errors::InvalidArgument("taskQueue length exceeds limit");
  if (name.starts_with("/_sys/")) return errors::InvalidArgument("task queue name cannot start with reserved prefix /_sys/");
  return grpc::Status::OK;
}

// OUT_OF_RANGE with a NewerBuildExistsFailure, as Temporal answers a poll
// of a build that is not its set's default.
grpc::Status NewerBuildExists(const std::string& default_build_id) {
  std::string message = "Task queue has a newer compatible build: \"" + default_build_id + "\"";
  temporal::api::errordetails::v1::NewerBuildExistsFailure detail;
  detail.set_default_build_id(default_build_id);
  records::RpcStatus status;
  status.set_code(static_cast<int32_t>(grpc::StatusCode::OUT_OF_RANGE));
  status.set_message(message);
  status.add_details()->PackFrom(detail);
  return grpc::Status(grpc::StatusCode::OUT_OF_RANGE, message, status.SerializeAsString());
}

}  // namespace

BuildIdLimits BuildIdLimits::FromDynamicConfig(const std::vector<std::pair<std::string, std::string>>& values) {
  BuildIdLimits l;
  for (const auto& [key, raw] : values) {
    std::string value = Unquoted(raw);
    if (key == "frontend.reachabilityQuerySetDurationSinceDefault") {
      if (auto nanos = visibility::ParseDuration(value); nanos && *nanos >= 0)
        l.reachable_after_default_millis = *nanos / 1'000'000;
      continue;
    }
    if (key == "matching.wv.DeletedRuleRetentionTime") {
      if (auto nanos = visibility::ParseDuration(value); nanos && *nanos >= 0)
        l.rules.deleted_rule_retention_millis = *nanos / 1'000'000;
      continue;
    }
    if (value.empty() || !std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
        value.size() > 9)
      continue;
    int n = std::stoi(value);
    if (key == "limit.versionCompatibleSetLimitPerQueue") l.sets.max_sets = n;
    if (key == "limit.versionBuildIdLimitPerQueue") l.sets.max_build_ids = n;
    if (key == "limit.workerBuildIdSize") l.max_build_id_size = n;
    if (key == "limit.taskQueuesPerBuildId") l.max_task_queues_per_build_id = n;
    if (key == "limit.reachabilityQueryBuildIds") l.max_reachability_build_ids = n;
    if (key == "limit.reachabilityTaskQueueScan") l.max_reachability_task_queues = n;
    if (key == "limit.wv.AssignmentRuleLimitPerQueue") l.rules.max_assignment_rules = n;
    if (key == "limit.wv.RedirectRuleLimitPerQueue") l.rules.max_redirect_rules = n;
    if (key == "limit.wv.RedirectRuleMaxUpstreamBuildIDsPerQueue") l.rules.max_upstream_build_ids = n;
  }
  return l;
}

BuildIdApis BuildIdApis::FromDynamicConfig(const std::vector<std::pair<std::string, std::string>>& values) {
  BuildIdApis apis{false, false};
  for (const auto& [key, value] : values) {
    if (key == "frontend.workerVersioningDataAPIs") apis.data = Unquoted(value) == "true";
    if (key == "frontend.workerVersioningRuleAPIs") apis.rules = Unquoted(value) == "true";
  }
  return apis;
}

BuildIdVersioning::BuildIdVersioning(persistence::Store* store, WorkflowCounter count, std::function<void()> on_change,
                                     BuildIdLimits limits, BuildIdApis apis)
    : store_(store), count_(std::move(count)), on_change_(std::move(on_change)), limits_(limits), apis_(apis) {}

void BuildIdVersioning::Load() {
  std::lock_guard lock(mu_);
  for (auto& row : store_->LoadBuildIdVersioning()) {
    VersionSets sets;
    VersioningRules rules;
    if (!ParseQueueRecord(row.record, &sets, &rules)) {
      spdlog::error("version sets of task queue {} of namespace {}: unreadable record, skipped", row.task_queue,
                    row.namespace_id);
      continue;
    }
    queues_[{row.namespace_id, row.task_queue}] = std::move(sets);
    if (!rules.empty()) rules_[{row.namespace_id, row.task_queue}] = std::move(rules);
  }
}

int BuildIdVersioning::QueuesWithBuild(const std::string& namespace_id, const std::string& build_id) const {
  int n = 0;
  for (auto it = queues_.lower_bound({namespace_id, ""}); it != queues_.end() && it->first.first == namespace_id; ++it)
    if (it->second.Find(build_id).first >= 0) ++n;
  return n;
}

grpc::Status BuildIdVersioning::UpdateWorkerBuildIdCompatibility(const std::string& namespace_id,
                                                                 const wsv1::UpdateWorkerBuildIdCompatibilityRequest& req,
                                                                 wsv1::UpdateWorkerBuildIdCompatibilityResponse*) {
  if (auto st = ValidateVersionSetUpdate(req, limits_.max_build_id_size); !st.ok()) return st;
  if (auto st = ValidateQueueName(req.task_queue()); !st.ok()) return st;
  {
    std::lock_guard lock(mu_);
    Key key{namespace_id, req.task_queue()};
    auto it = queues_.find(key);
    VersionSets sets = it == queues_.end() ? VersionSets{} : it->second;
    VersionSets before = sets;
    int64_t clock = sets.NextClock(NowMillis());
    if (auto st = ApplyVersionSetUpdate(&sets, req, clock, limits_.sets); !st.ok()) return st;
    if (sets.Serialize() == before.Serialize()) return grpc::Status::OK;  // Idempotent: nothing to write.
    sets.clock = clock;
    // A build newly named here counts against its namespace's limit of
    // queues per build.
    for (const auto& s : sets.sets)
      for (const auto& b : s.builds)
        if (before.Find(b.id).first < 0 && limits_.max_task_queues_per_build_id > 0 &&
            QueuesWithBuild(namespace_id, b.id) >= limits_.max_task_queues_per_build_id)
          return errors::FailedPrecondition("Exceeded max task queues allowed to be mapped to a single build ID: " +
                                            std::to_string(limits_.max_task_queues_per_build_id));
    auto rules = rules_.find(key);
    if (auto st = Persist(key, sets, rules == rules_.end() ? VersioningRules{} : rules->second); !st.ok()) return st;
    queues_[key] = std::move(sets);
  }
  if (on_change_) on_change_();
  return grpc::Status::OK;
}

grpc::Status BuildIdVersioning::GetWorkerBuildIdCompatibility(const std::string& namespace_id,
                                                              const wsv1::GetWorkerBuildIdCompatibilityRequest& req,
                                                              wsv1::GetWorkerBuildIdCompatibilityResponse* resp) {
  if (auto st = ValidateQueueName(req.task_queue()); !st.ok()) return st;
  std::lock_guard lock(mu_);
  auto it = queues_.find({namespace_id, req.task_queue()});
  if (it == queues_.end()) return grpc::Status::OK;
  const auto& sets = it->second.sets;
  size_t n = sets.size();
  if (req.max_sets() > 0 && static_cast<size_t>(req.max_sets()) < n) n = req.max_sets();
  for (size_t i = sets.size() - n; i < sets.size(); ++i) {
    auto* out = resp->add_major_version_sets();
    for (const auto& b : sets[i].builds) out->add_build_ids(b.id);
  }
  return grpc::Status::OK;
}

grpc::Status BuildIdVersioning::GetWorkerTaskReachability(const std::string& namespace_id,
                                                          const wsv1::GetWorkerTaskReachabilityRequest& req,
                                                          wsv1::GetWorkerTaskReachabilityResponse* resp) {
  if (req.build_ids().empty())
    return errors::InvalidArgument("Must query at least one build ID (or empty string for unversioned worker)");
  if (req.build_ids_size() > limits_.max_reachability_build_ids)
    return errors::InvalidArgument("Too many build ids queried at once, limit: " +
                                   std::to_string(limits_.max_reachability_build_ids));
  bool unversioned = false;
  for (const auto& id : req.build_ids()) {
    if (id.empty()) unversioned = true;
    if (static_cast<int>(id.size()) > limits_.max_build_id_size)
      return errors::InvalidArgument("Build ID exceeds configured limit.workerBuildIdSize, use a shorter build ID.");
  }
  if (unversioned && req.task_queues().empty())
    return errors::InvalidArgument(
        "Cannot get reachability of an unversioned worker without specifying at least one task queue (empty build ID "
        "is interpereted as unversioned)");
  for (const auto& q : req.task_queues())
    if (auto st = ValidateQueueName(q); !st.ok()) return st;

  for (const auto& build_id : req.build_ids()) {
    // The queues to look at and their sets, copied so that visibility is
    // asked without the lock. Without queues: those whose sets name the build.
    std::vector<std::pair<std::string, VersionSets>> queues;
    {
      std::lock_guard lock(mu_);
      auto sets_of = [&](const std::string& q) {
        auto it = queues_.find({namespace_id, q});
        return it == queues_.end() ? VersionSets{} : it->second;
      };
      if (!req.task_queues().empty()) {
        for (const auto& q : req.task_queues()) queues.emplace_back(q, sets_of(q));
      } else {
        for (auto it = queues_.lower_bound({namespace_id, ""}); it != queues_.end() && it->first.first == namespace_id;
             ++it)
          if (it->second.Find(build_id).first >= 0) queues.emplace_back(it->first.second, it->second);
      }
    }
    auto* out = resp->add_build_id_reachability();
    out->set_build_id(build_id);
    for (size_t i = 0; i < queues.size(); ++i) {
      auto* r = out->add_task_queue_reachability();
      if (static_cast<int>(i) >= limits_.max_reachability_task_queues) {
        // Beyond the scan limit: not looked at.
        r->set_task_queue(queues[i].first);
        r->add_reachability(enums::TASK_REACHABILITY_UNSPECIFIED);
        continue;
      }
      if (auto st = QueueReachability(namespace_id, build_id, queues[i].first, queues[i].second, req.reachability(), r);
          !st.ok()) {
        if (st.error_code() == grpc::StatusCode::INVALID_ARGUMENT) return st;
        spdlog::error("worker task reachability of build {}: {}", build_id, st.error_message());
        return errors::Internal("Internal error");
      }
    }
  }
  return grpc::Status::OK;
}

grpc::Status BuildIdVersioning::QueueReachability(const std::string& namespace_id, const std::string& build_id,
                                                  const std::string& task_queue, const VersionSets& sets,
                                                  enums::TaskReachability type, tqv1::TaskQueueReachability* out) {
  out->set_task_queue(task_queue);
  bool default_in_queue = false;
  bool new_workflows = false;
  std::string filter;
  int64_t now = NowMillis();
  if (build_id.empty()) {
    default_in_queue = sets.sets.empty();
    if (default_in_queue) {
      new_workflows = true;
    } else {
      // A queue that became versioned lately still sends new workflows to
      // unversioned workers (the versioning data may not have reached them).
      int64_t first = sets.sets.front().default_clock;
      for (const auto& s : sets.sets) first = std::min(first, s.default_clock);
      new_workflows = now - VersionSets::ClockMillis(first) < limits_.reachable_after_default_millis;
    }
    filter = "BuildIds = 'unversioned'";
  } else {
    auto [set, in_set] = sets.Find(build_id);
    if (set < 0) return grpc::Status::OK;
    const auto& s = sets.sets[set];
    if (in_set != static_cast<int>(s.builds.size()) - 1) return grpc::Status::OK;  // Not its set's default.
    default_in_queue = set == static_cast<int>(sets.sets.size()) - 1;
    new_workflows =
        default_in_queue || now - VersionSets::ClockMillis(s.default_clock) < limits_.reachable_after_default_millis;
    std::string ids;
    for (const auto& b : s.builds) ids += (ids.empty() ? "" : ", ") + Quoted("versioned:" + b.id);
    filter = "BuildIds IN (" + ids + ")";
  }
  if (new_workflows) out->add_reachability(enums::TASK_REACHABILITY_NEW_WORKFLOWS);
  // Started workflows no worker took a task of yet count for the default.
  if (default_in_queue && type != enums::TASK_REACHABILITY_CLOSED_WORKFLOWS)
    filter = "(BuildIds IS NULL OR " + filter + ")";

  std::string status;
  switch (type) {
    case enums::TASK_REACHABILITY_OPEN_WORKFLOWS:
      status = " AND ExecutionStatus = 'Running'";
      break;
    case enums::TASK_REACHABILITY_CLOSED_WORKFLOWS:
      status = " AND ExecutionStatus != 'Running'";
      break;
    case enums::TASK_REACHABILITY_UNSPECIFIED:
      type = enums::TASK_REACHABILITY_EXISTING_WORKFLOWS;
      break;
    case enums::TASK_REACHABILITY_EXISTING_WORKFLOWS:
      break;
    case enums::TASK_REACHABILITY_NEW_WORKFLOWS:
      return grpc::Status::OK;
    default:
      return errors::InvalidArgument("Unsupported reachability type: " + enums::TaskReachability_Name(type));
  }
  int64_t count = 0;
  if (auto st = count_(namespace_id, "TaskQueue = " + Quoted(task_queue) + " AND " + filter + status, &count); !st.ok())
    return st;
  if (count > 0) out->add_reachability(type);
  return grpc::Status::OK;
}

grpc::Status BuildIdVersioning::UpdateWorkerVersioningRules(const std::string& namespace_id,
                                                            const wsv1::UpdateWorkerVersioningRulesRequest& req,
                                                            wsv1::UpdateWorkerVersioningRulesResponse* resp) {
  if (auto st = ValidateRulesUpdate(req); !st.ok()) return st;
  if (auto st = ValidateQueueName(req.task_queue()); !st.ok()) return st;
  {
    std::lock_guard lock(mu_);
    Key key{namespace_id, req.task_queue()};
    auto it = queues_.find(key);
    VersionSets sets = it == queues_.end() ? VersionSets{} : it->second;
    if (std::string token = VersioningRules::ConflictToken(sets.clock); req.conflict_token() != token) {
      auto bytes = [](const std::string& s) {
        std::string out = "[";
        for (unsigned char c : s) out += (out.size() > 1 ? " " : "") + std::to_string(c);
        return out + "]";
      };
      return errors::FailedPrecondition("provided conflict token '" + bytes(req.conflict_token()) +
                                        "' does not match existing one '" + bytes(token) + "'");
    }
    auto r = rules_.find(key);
    VersioningRules rules = r == rules_.end() ? VersioningRules{} : r->second;
    int64_t clock = sets.NextClock(NowMillis());
    bool polled = req.has_commit_build_id() &&
                  PolledRecently(namespace_id, req.task_queue(), req.commit_build_id().target_build_id());
    if (auto st = ApplyRulesUpdate(&rules, sets, req, clock, polled, limits_.rules); !st.ok()) return st;
    sets.clock = clock;
    if (auto st = Persist(key, sets, rules); !st.ok()) return st;
    queues_[key] = sets;
    rules_[key] = rules;
    rules.Fill(clock, resp);
  }
  if (on_change_) on_change_();
  return grpc::Status::OK;
}

grpc::Status BuildIdVersioning::GetWorkerVersioningRules(const std::string& namespace_id,
                                                         const wsv1::GetWorkerVersioningRulesRequest& req,
                                                         wsv1::GetWorkerVersioningRulesResponse* resp) {
  if (auto st = ValidateQueueName(req.task_queue()); !st.ok()) return st;
  std::lock_guard lock(mu_);
  auto it = queues_.find({namespace_id, req.task_queue()});
  auto r = rules_.find({namespace_id, req.task_queue()});
  (r == rules_.end() ? VersioningRules{} : r->second).Fill(it == queues_.end() ? 0 : it->second.clock, resp);
  return grpc::Status::OK;
}

std::optional<std::string> BuildIdVersioning::TaskTarget(const std::string& namespace_id, const std::string& task_queue,
                                                         const std::string& directive) {
  std::lock_guard lock(mu_);
  auto it = queues_.find({namespace_id, task_queue});
  const VersionSets* sets = it == queues_.end() ? nullptr : &it->second;
  auto r = rules_.find({namespace_id, task_queue});
  const VersioningRules* rules = r == rules_.end() ? nullptr : &r->second;
  const std::string assign = matching::kAssignBuildDirective;
  std::string build;
  if (directive == assign || directive.starts_with(assign + ":")) {
    // New work: the first assignment rule that applies to the run, else the
    // default build of the default set, if the queue has sets.
    std::string run_id = directive.size() > assign.size() ? directive.substr(assign.size() + 1) : "";
    if (rules != nullptr) build = rules->AssignedBuild(run_id);
    if (build.empty() && sets != nullptr && !sets->sets.empty())
      return matching::kCompatibleBuildPrefix + sets->sets.back().builds.back().id;
  } else {
    build = directive.substr(std::string(matching::kCompatibleBuildPrefix).size());
    // Any build of a set leads to the set's default.
    if (sets != nullptr) {
      if (int set = sets->Find(build).first; set >= 0)
        return matching::kCompatibleBuildPrefix + sets->sets[set].builds.back().id;
    }
  }
  // A build no set names: its own workers (Temporal's build-id queue), or
  // those its redirect rules lead to.
  if (rules != nullptr) build = rules->Redirected(build);
  if (build.empty()) return std::nullopt;
  return matching::kCompatibleBuildPrefix + build;
}

grpc::Status BuildIdVersioning::PollTarget(const std::string& namespace_id, const std::string& task_queue,
                                           const std::string& build_id, std::string* target) {
  std::lock_guard lock(mu_);
  auto it = queues_.find({namespace_id, task_queue});
  if (it != queues_.end()) {
    auto [set, in_set] = it->second.Find(build_id);
    if (set >= 0) {
      const auto& builds = it->second.sets[set].builds;
      if (in_set != static_cast<int>(builds.size()) - 1) {
        // Only a set's default build takes its tasks (Temporal's NewerBuildExists).
        return NewerBuildExists(builds.back().id);
      }
      *target = matching::kCompatibleBuildPrefix + build_id;
      return grpc::Status::OK;
    }
  }
  // A build that redirects elsewhere takes no task: its workers are told
  // of the build its work goes to.
  if (auto r = rules_.find({namespace_id, task_queue}); r != rules_.end()) {
    if (std::string terminal = r->second.Redirected(build_id); terminal != build_id) return NewerBuildExists(terminal);
  }
  polled_[{{namespace_id, task_queue}, build_id}] = NowMillis();
  *target = matching::kCompatibleBuildPrefix + build_id;
  return grpc::Status::OK;
}

grpc::Status BuildIdVersioning::Persist(const Key& key, const VersionSets& sets, const VersioningRules& rules) {
  persistence::WriteBatch batch;
  batch.build_id_versioning_upserts.push_back({key.first, key.second, QueueRecord(sets, rules)});
  return store_->Commit(std::move(batch));
}

bool BuildIdVersioning::PolledRecently(const std::string& namespace_id, const std::string& task_queue,
                                       const std::string& build_id) {
  auto it = polled_.find({{namespace_id, task_queue}, build_id});
  return it != polled_.end() && NowMillis() - it->second < kCommitPollerWindowMillis;
}

}  // namespace kairos::deployments
