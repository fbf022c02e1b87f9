// The history engine's core: construction, start/stop, per-workflow locking,
// the mutable-state cache, and the one-transaction commit of changes.
#include <spdlog/spdlog.h>

#include "history_engine.h"
#include "kairos/history/children.h"
#include "kairos/visibility/search_attribute_validator.h"
#include "kairos/history/limits.h"
#include "kairos/visibility/values.h"

namespace kairos::history {

HistoryEngine::HistoryEngine(persistence::Store* store, matching::MatchingService* matching, Executor* executor,
                             const Limits& limits, const visibility::SearchAttributeValidator* search_attributes,
                             metrics::Registry* metrics)
    : metrics_(metrics),
      store_(store),
      matching_(matching),
      executor_(executor),
      limits_(limits),
      timers_([this](int64_t id, const records::TimerTask& t) {
        executor_->Submit([this, id, t] { OnTimer(id, t); });
      }) {
  env_.next_id = [this] { return store_->NextId(); };
  env_.sticky_alive = [this](const std::string& ns, const std::string& queue) {
    return matching_->HasRecentPoller(ns, queue);
  };
  env_.namespace_id = [this](const std::string& name) { return NamespaceIdByName(name); };
  if (search_attributes) {
    env_.search_attribute_error = [search_attributes](const std::string& ns_id, const std::string& ns_name,
                                                      const temporal::api::common::v1::SearchAttributes& sa) {
      auto st = search_attributes->Validate(ns_id, ns_name, sa);
      return st.ok() ? std::string() : st.error_message();
    };
    env_.search_attribute_size_error = [search_attributes](const temporal::api::common::v1::SearchAttributes& sa) {
      auto st = search_attributes->ValidateSize(sa);
      return st.ok() ? std::string() : st.error_message();
    };
  }
  matching_->SetTaskStarter(this);
  waiter_thread_ = std::thread([this] { WaiterLoop(); });
}

HistoryEngine::~HistoryEngine() { Stop(); }

void HistoryEngine::Start() {
  for (auto& row : store_->LoadTimers()) {
    records::TimerTask t;
    if (t.ParseFromString(row.timer)) timers_.Arm(row.id, std::move(t));
  }
  for (auto& row : store_->LoadTasks()) {
    records::QueueTask t;
    if (t.ParseFromString(row.task)) matching_->AddTask(row.id, std::move(t));
  }
  spdlog::debug("history started: {} timers armed", timers_.size());
}

void HistoryEngine::Stop() {
  timers_.Stop();
  {
    std::lock_guard lock(waiters_mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  waiters_cv_.notify_all();
  if (waiter_thread_.joinable()) waiter_thread_.join();
  // Answer whatever still waits.
  std::vector<std::function<void(bool)>> left;
  {
    std::lock_guard lock(waiters_mu_);
    for (auto& [key, list] : waiters_)
      for (auto& w : list) left.push_back(std::move(w.fn));
    waiters_.clear();
  }
  for (auto& fn : left) fn(true);
}

std::mutex& HistoryEngine::LockFor(const std::string& ns, const std::string& wf) {
  return stripes_[std::hash<std::string>{}(WorkflowKey(ns, wf)) % kLockStripes];
}

std::optional<persistence::CurrentRun> HistoryEngine::Current(const std::string& ns, const std::string& wf) {
  {
    std::lock_guard lock(cache_mu_);
    auto it = current_.find(WorkflowKey(ns, wf));
    if (it != current_.end()) return it->second;
  }
  auto row = store_->GetCurrentRun(ns, wf);
  if (row) {
    std::lock_guard lock(cache_mu_);
    current_[WorkflowKey(ns, wf)] = *row;
  }
  return row;
}

StatePtr HistoryEngine::Load(const ExecutionKey& key) {
  {
    std::lock_guard lock(cache_mu_);
    auto it = cache_.find(RunKey(key));
    if (it != cache_.end()) return it->second;
  }
  auto bytes = store_->LoadExecution(key);
  if (!bytes) return nullptr;
  auto state = std::make_shared<State>();
  if (!state->ParseFromString(*bytes)) return nullptr;
  if (state->status() == enums::WORKFLOW_EXECUTION_STATUS_RUNNING) {
    std::lock_guard lock(cache_mu_);
    cache_[RunKey(key)] = state;
  }
  return state;
}

grpc::Status HistoryEngine::Resolve(const std::string& ns, const common::WorkflowExecution& exec, StatePtr* out) {
  if (exec.workflow_id().empty()) return errors::InvalidArgument("WorkflowId is not set on request.");
  std::string run = exec.run_id();
  if (run.empty()) {
    auto current = Current(ns, exec.workflow_id());
    if (!current) return errors::NotFound("workflow not found for ID: " + exec.workflow_id());
    run = current->run_id;
  }
  ExecutionKey key{ns, exec.workflow_id(), run};
  *out = Load(key);
  if (!*out) return WorkflowNotFound(key);
  return grpc::Status::OK;
}

void HistoryEngine::DropTaskRow(int64_t task_id) {
  persistence::WriteBatch b;
  b.task_deletes.push_back(task_id);
  if (auto st = store_->Commit(std::move(b)); !st.ok()) spdlog::warn("dropping task {}: {}", task_id, st.error_message());
}

void HistoryEngine::DropTimerRow(int64_t row_id) {
  persistence::WriteBatch b;
  b.timer_deletes.push_back(row_id);
  if (auto st = store_->Commit(std::move(b)); !st.ok()) spdlog::warn("dropping timer {}: {}", row_id, st.error_message());
}

grpc::Status HistoryEngine::Commit(MutableState& ms) {
  auto next = BuildNextRun(ms);
  std::vector<MutableState*> all{&ms};
  if (next) all.push_back(next.get());
  return CommitStates(all, next.get());
}

grpc::Status HistoryEngine::CommitAll(std::vector<std::unique_ptr<MutableState>>& changes, MutableState* new_current) {
  std::vector<MutableState*> raw;
  for (auto& c : changes) raw.push_back(c.get());
  return CommitStates(raw, new_current);
}

grpc::Status HistoryEngine::CommitStates(const std::vector<MutableState*>& changes, MutableState* new_current) {
  persistence::WriteBatch batch;
  for (MutableState* ms : changes) {
    auto added_bytes = [ms] {
      int64_t added = 0;
      for (const auto& e : ms->new_events()) added += static_cast<int64_t>(e.ByteSizeLong());
      return added;
    };
    int64_t added = added_bytes();
    if (ms->IsRunning()) {
      // A run whose history outgrew Temporal's limits ends in this change.
      State probe;
      probe.set_workflow_id(ms->s().workflow_id());
      probe.set_run_id(ms->s().run_id());
      probe.set_next_event_id(ms->s().next_event_id());
      probe.set_history_size_bytes(ms->s().history_size_bytes() + added);
      if (auto reason = HistoryLimitExceeded(limits_, probe); !reason.empty()) {
        spdlog::warn("terminating workflow_id={} run_id={}: {}", probe.workflow_id(), probe.run_id(), reason);
        TerminateRun(*ms, reason, "history-service", nullptr);
        added = added_bytes();
      }
    }
    if (!ms->IsRunning()) AbortUpdates(*ms);
    if (ms->closed_now()) ArmCloseSteps(*ms);
    ms->s().set_db_version(ms->s().db_version() + 1);  // Describe's state_transition_count.
    ms->s().set_history_size_bytes(ms->s().history_size_bytes() + added);
    const State& s = ms->s();
    ExecutionKey key{s.namespace_id(), s.workflow_id(), s.run_id()};
    auto current = new_current == ms ? std::nullopt : Current(key.namespace_id, key.workflow_id);
    bool is_current = new_current == ms || (current && current->run_id == key.run_id);
    batch.executions.push_back({key, s.SerializeAsString(), is_current, s.status(), s.start_request_id()});
    for (const auto& e : ms->new_events()) batch.events.push_back({key, e.event_id(), e.SerializeAsString()});
    for (const auto& [id, t] : ms->tasks()) batch.task_inserts.push_back({id, t.SerializeAsString()});
    for (int64_t id : ms->task_deletes()) batch.task_deletes.push_back(id);
    for (const auto& [id, t] : ms->timers()) batch.timer_inserts.push_back({id, t.fire_time_nanos(), t.SerializeAsString()});
    for (int64_t id : ms->timer_deletes()) batch.timer_deletes.push_back(id);
    if (ms->visibility_changed() || !ms->new_events().empty()) {
      // A new run (its first commit writes event 1) indexes its attributes.
      bool new_run = !ms->new_events().empty() && ms->new_events().front().event_id() == 1;
      batch.visibility.push_back(VisibilityOf(s, new_run || ms->search_attributes_changed()));
    }
  }
  if (auto st = store_->Commit(std::move(batch)); !st.ok()) {
    spdlog::error("commit failed: {}", st.error_message());
    std::lock_guard lock(cache_mu_);
    for (MutableState* ms : changes) {
      cache_.erase(RunKey({ms->s().namespace_id(), ms->s().workflow_id(), ms->s().run_id()}));
      current_.erase(WorkflowKey(ms->s().namespace_id(), ms->s().workflow_id()));
    }
    return errors::Unavailable("persistence failure: " + st.error_message());
  }
  for (MutableState* ms : changes)
    if (ms->closed_now()) metrics_.OnClosed(ms->s());
  std::vector<std::string> touched;
  {
    std::lock_guard lock(cache_mu_);
    for (MutableState* ms : changes) {
      const State& s = ms->s();
      ExecutionKey key{s.namespace_id(), s.workflow_id(), s.run_id()};
      // Closed runs are read back from the store when asked for, so that
      // the cache holds what is running rather than everything that ran.
      if (s.status() == enums::WORKFLOW_EXECUTION_STATUS_RUNNING) {
        cache_[RunKey(key)] = std::make_shared<State>(s);
      } else {
        cache_.erase(RunKey(key));
      }
      auto& cur = current_[WorkflowKey(key.namespace_id, key.workflow_id)];
      if (new_current == ms || cur.run_id == key.run_id) cur = {key.run_id, s.status(), s.start_request_id()};
      touched.push_back(RunKey(key));
    }
  }
  for (MutableState* ms : changes) {
    for (int64_t id : ms->timer_deletes()) timers_.Disarm(id);
    for (const auto& [id, t] : ms->timers()) timers_.Arm(id, t);
    for (const auto& [id, t] : ms->tasks()) matching_->AddTask(id, t);
  }
  for (const auto& k : touched) NotifyWaiters(k);
  for (MutableState* ms : changes) {
    bool has_queries;
    {
      std::lock_guard lock(queries_mu_);
      has_queries = queries_by_run_.contains(RunKey({ms->s().namespace_id(), ms->s().workflow_id(), ms->s().run_id()}));
    }
    if (has_queries) DispatchQueries({ms->s().namespace_id(), ms->s().workflow_id(), ms->s().run_id()});
  }
  return grpc::Status::OK;
}

persistence::VisibilityRow HistoryEngine::VisibilityOf(const State& s, bool search_attributes_changed) {
  persistence::VisibilityRow v;
  v.key = {s.namespace_id(), s.workflow_id(), s.run_id()};
  v.workflow_type = s.start().workflow_type().name();
  v.task_queue = s.start().task_queue().name();
  v.status = s.status();
  v.start_time_nanos = s.start_time_nanos();
  v.execution_time_nanos = s.execution_time_nanos();
  v.close_time_nanos = s.close_time_nanos();
  v.history_length = s.next_event_id() - 1;
  v.history_size_bytes = s.history_size_bytes();
  v.state_transition_count = s.db_version();
  if (s.close_time_nanos()) v.execution_duration_nanos = s.close_time_nanos() - s.execution_time_nanos();
  v.parent_workflow_id = s.start().parent_workflow_execution().workflow_id();
  v.parent_run_id = s.start().parent_workflow_execution().run_id();
  bool own_root = !s.start().has_root_workflow_execution();
  v.root_workflow_id = own_root ? s.workflow_id() : s.start().root_workflow_execution().workflow_id();
  v.root_run_id = own_root ? s.run_id() : s.start().root_workflow_execution().run_id();
  v.namespace_division = visibility::StringValue(s.search_attributes(), "TemporalNamespaceDivision").value_or("");
  // Decoding and rewriting the attribute rows is most of a visibility
  // write's cost: only when they changed.
  v.search_attributes_changed = search_attributes_changed;
  if (search_attributes_changed) v.search_attributes = visibility::IndexValues(s.search_attributes());
  temporal::api::workflow::v1::WorkflowExecutionInfo info;
  FillExecutionInfo(s, &info);
  v.info = info.SerializeAsString();
  return v;
}

void HistoryEngine::FillExecutionInfo(const State& s, temporal::api::workflow::v1::WorkflowExecutionInfo* info) {
  *info->mutable_execution() = Execution(s);
  *info->mutable_type() = s.start().workflow_type();
  *info->mutable_start_time() = NanosToTimestamp(s.start_time_nanos());
  if (s.close_time_nanos()) {
    *info->mutable_close_time() = NanosToTimestamp(s.close_time_nanos());
    *info->mutable_execution_duration() = MsToDuration((s.close_time_nanos() - s.start_time_nanos()) / 1'000'000);
  }
  info->set_status(s.status());
  info->set_history_length(s.next_event_id() - 1);
  *info->mutable_execution_time() = NanosToTimestamp(s.execution_time_nanos());
  if (s.has_memo()) *info->mutable_memo() = s.memo();
  if (s.has_search_attributes()) *info->mutable_search_attributes() = s.search_attributes();
  info->set_task_queue(s.start().task_queue().name());
  info->set_first_run_id(s.first_execution_run_id());
  info->set_state_transition_count(s.db_version());
  info->set_history_size_bytes(s.history_size_bytes());
  if (s.start().has_parent_workflow_execution()) {
    info->set_parent_namespace_id(s.start().parent_workflow_namespace_id());
    *info->mutable_parent_execution() = s.start().parent_workflow_execution();
  }
  if (s.auto_reset_points().points_size() > 0) *info->mutable_auto_reset_points() = s.auto_reset_points();
  // Deprecated in the API for deployments; Temporal still fills it.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  if (s.has_most_recent_worker_version_stamp())
    *info->mutable_most_recent_worker_version_stamp() = s.most_recent_worker_version_stamp();
#pragma GCC diagnostic pop
  // A workflow without a parent is its own root.
  *info->mutable_root_execution() =
      s.start().has_root_workflow_execution() ? s.start().root_workflow_execution() : Execution(s);
}

std::unique_ptr<MutableState> HistoryEngine::BuildNextRun(MutableState& ms) {
  if (!ms.next_run()) return nullptr;
  auto& next = *ms.next_run();
  const auto& s = ms.s();
  auto nm = std::make_unique<MutableState>(
      FreshState(s.namespace_id(), s.namespace_name(), s.workflow_id(), next.run_id, s.first_execution_run_id(), ""),
      env_, ms.now());
  InitRun(*nm, next.start, next.backoff_ms);
  return nm;
}

std::unique_ptr<HistoryService> NewHistoryService(persistence::Store* store, matching::MatchingService* matching,
                                                  Executor* executor, const Limits* limits,
                                                  const visibility::SearchAttributeValidator* search_attributes,
                                                  metrics::Registry* metrics) {
  return std::make_unique<HistoryEngine>(store, matching, executor, limits ? *limits : Limits{}, search_attributes,
                                         metrics);
}

}  // namespace kairos::history
