// The history engine's core: construction, start/stop, per-workflow locking,
// the mutable-state cache, and the one-transaction commit of changes.
#include <limits>
#include <utility>

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/wire_format_lite.h>
#include <spdlog/spdlog.h>

#include "history_engine.h"
#include "kairos/history/run_search_attributes.h"
#include "kairos/history/children.h"
#include "kairos/visibility/search_attribute_validator.h"
#include "kairos/history/limits.h"
#include "kairos/visibility/values.h"
#include "kairos/visibility/query_sql.h"
#include "kairos/history/nexus_operations.h"

namespace kairos::history {

HistoryEngine::HistoryEngine(persistence::Store* store, matching::MatchingService* matching, Executor* executor,
                             const Limits& limits, const visibility::SearchAttributeValidator* search_attributes,
                             metrics::Registry* metrics, const ScaleOptions& scale)
    : metrics_(metrics),
      store_(store),
      matching_(matching),
      executor_(executor),
      limits_(limits),
      search_attributes_(search_attributes),
      timers_([this](int64_t id, const records::TimerTask& t) {
        executor_->Submit([this, id, t] { OnTimer(id, t); });
      }, TimerPaging{scale.timer_lookahead_ms, scale.timer_page_size, scale.timers_max_in_memory}),
      states_(scale.cache_max_workflows, [](const StatePtr& p) { return p.use_count() > 1; }),
      current_runs_(scale.cache_max_workflows) {
  env_.next_id = [this] { return store_->NextId(); };
  env_.timer_min_delay_nanos = limits_.timer_min_delay_nanos;
  env_.sticky_alive = [this](const std::string& ns, const std::string& queue) {
    return matching_->HasRecentPoller(ns, queue);
  };
  env_.namespace_id = [this](const std::string& name) { return NamespaceIdByName(name); };
  env_.nexus_endpoint_id = [this](const std::string& name) {
    auto route = nexus_endpoints_ ? nexus_endpoints_(name) : std::nullopt;
    return route ? route->id : std::string();
  };
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
  // Queued tasks are read into matching a page per queue as each drains;
  // known before the timers start, which may queue more.
  matching_->SetBacklogReader([this](const std::string& queue, int64_t after_id, int limit) {
    std::vector<matching::StoredTask> out;
    for (auto& row : store_->LoadTaskPage(queue, after_id, limit)) {
      // A row that does not parse still counts in the page (a short page
      // ends the queue's reads); dispatched, it is found stale and dropped.
      matching::StoredTask t{row.id, {}};
      if (!t.task.ParseFromString(row.task)) spdlog::warn("task row {} does not parse", row.id);
      out.push_back(std::move(t));
    }
    return out;
  });
  for (const auto& backlog : store_->CountTaskBacklogs())
    if (!backlog.queue.empty()) matching_->AddStoredBacklog(backlog.queue, backlog.count);
  // Rows written before tasks were stored by queue are queued whole, once.
  constexpr int kLegacyPage = 1000;
  for (int64_t after = std::numeric_limits<int64_t>::min();;) {
    auto rows = store_->LoadTaskPage("", after, kLegacyPage);
    for (auto& row : rows) {
      records::QueueTask t;
      if (t.ParseFromString(row.task)) matching_->AddTask(row.id, std::move(t), /*stored=*/false);
      after = row.id;
    }
    if (static_cast<int>(rows.size()) < kLegacyPage) break;
  }
  // Timers are paged in from the store by due time as they approach.
  timers_.Start([this](const persistence::TimerPageQuery& page) { return store_->LoadTimers(page); });
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
  std::string key = WorkflowKey(ns, wf);
  if (auto hit = current_runs_.Get(key)) return hit;
  uint64_t ticket = current_runs_.Ticket(key);
  auto row = store_->GetCurrentRun(ns, wf);
  if (row) current_runs_.Fill(key, *row, ticket);
  return row;
}

StatePtr HistoryEngine::Load(const ExecutionKey& key) {
  std::string run_key = RunKey(key);
  if (auto hit = states_.Get(run_key)) return *hit;
  uint64_t ticket = states_.Ticket(run_key);
  auto bytes = store_->LoadExecution(key);
  if (!bytes) return nullptr;
  auto state = std::make_shared<State>();
  if (!state->ParseFromString(*bytes)) return nullptr;
  // Closed runs are read back from the store when asked for, so that the
  // cache holds what is running rather than everything that ran.
  if (state->status() == enums::WORKFLOW_EXECUTION_STATUS_RUNNING) states_.Fill(run_key, state, ticket);
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
  std::vector<bool> made_current;
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
    made_current.push_back(is_current);
    // The current row changes only when a run becomes current or the
    // current run's status or start request changes (most changes of a
    // running workflow touch neither).
    bool write_current = new_current == ms || (is_current && (current->status != s.status() ||
                                                               current->start_request_id != s.start_request_id()));
    batch.executions.push_back({key, s.SerializeAsString(), write_current, s.status(), s.start_request_id()});
    for (const auto& e : ms->new_events()) batch.events.push_back({key, e.event_id(), e.SerializeAsString()});
    for (const auto& [id, t] : ms->tasks())
      batch.task_inserts.push_back({id, t.SerializeAsString(), matching::TaskQueueKey(t)});
    for (int64_t id : ms->task_deletes()) batch.task_deletes.push_back(id);
    for (const auto& [id, t] : ms->timers()) batch.timer_inserts.push_back({id, t.fire_time_nanos(), t.SerializeAsString()});
    for (int64_t id : ms->timer_deletes()) batch.timer_deletes.push_back(id);
    // As on Temporal, the visibility row is written when the run starts,
    // when its search attributes or memo change and when it closes, not at
    // every event: a running run's history length and size in a list are
    // those of its last visibility write (describe has the live ones).
    bool new_run = !ms->new_events().empty() && ms->new_events().front().event_id() == 1;
    if (new_run || ms->visibility_changed() || ms->closed_now())
      batch.visibility.push_back(VisibilityOf(s, new_run, ms->changed_search_attributes()));
  }
  if (auto st = store_->Commit(std::move(batch)); !st.ok()) {
    spdlog::error("commit failed: {}", st.error_message());
    for (MutableState* ms : changes) {
      states_.Erase(RunKey({ms->s().namespace_id(), ms->s().workflow_id(), ms->s().run_id()}));
      current_runs_.Erase(WorkflowKey(ms->s().namespace_id(), ms->s().workflow_id()));
    }
    return errors::Unavailable("persistence failure: " + st.error_message());
  }
  for (MutableState* ms : changes) metrics_.OnCommitted(*ms);
  std::vector<std::string> touched;
  for (size_t i = 0; i < changes.size(); ++i) {
    const State& s = std::as_const(*changes[i]).s();
    ExecutionKey key{s.namespace_id(), s.workflow_id(), s.run_id()};
    // Closed runs are read back from the store when asked for. The cache
    // shares the committed state (no copy): a later change copies it.
    if (s.status() == enums::WORKFLOW_EXECUTION_STATUS_RUNNING) {
      states_.Put(RunKey(key), changes[i]->Publish());
    } else {
      states_.Erase(RunKey(key));
    }
    if (made_current[i])
      current_runs_.Put(WorkflowKey(key.namespace_id, key.workflow_id), {key.run_id, s.status(), s.start_request_id()});
    touched.push_back(RunKey(key));
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
      const State& s = std::as_const(*ms).s();
      has_queries = queries_by_run_.contains(RunKey({s.namespace_id(), s.workflow_id(), s.run_id()}));
    }
    const State& s = std::as_const(*ms).s();
    if (has_queries) DispatchQueries({s.namespace_id(), s.workflow_id(), s.run_id()});
  }
  return grpc::Status::OK;
}

persistence::VisibilityRow HistoryEngine::VisibilityOf(const State& s, bool new_run,
                                                       const std::set<std::string>& changed_search_attributes) {
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
  v.namespace_division = NamespaceDivisionOf(s);
  // Decoding and rewriting the attribute rows is most of a visibility
  // write's cost: only when they changed (a new run has none to replace).
  v.new_run = new_run;
  v.search_attributes_changed = new_run || !changed_search_attributes.empty();
  if (v.search_attributes_changed) {
    visibility::TypeLookup type_of;
    if (search_attributes_) {
      // A standalone Nexus operation's carrier run: its namespace's custom
      // attributes, and the operation's service and request id as Keywords.
      std::string types_ns = s.namespace_id();
      const bool carrier = IsStandaloneNexusNamespaceId(types_ns);
      if (carrier) types_ns.resize(types_ns.size() - std::string_view(kStandaloneNexusSuffix).size());
      type_of = [this, types_ns, carrier](const std::string& name) -> std::optional<temporal::api::enums::v1::IndexedValueType> {
        if (carrier && (name == visibility::kNexusServiceAttribute || name == visibility::kNexusRequestIdAttribute))
          return temporal::api::enums::v1::INDEXED_VALUE_TYPE_KEYWORD;
        return search_attributes_->TypeOf(types_ns, name);
      };
    }
    if (new_run) {
      v.search_attributes = visibility::IndexValues(SearchAttributesOf(s), type_of);
    } else {
      // Only the attributes that changed are decoded and rewritten.
      v.replaced_search_attributes.assign(changed_search_attributes.begin(), changed_search_attributes.end());
      v.search_attributes = visibility::IndexValues(SearchAttributesOf(s, changed_search_attributes), type_of);
    }
  }
  v.info = SerializedExecutionInfo(s);
  return v;
}

std::string HistoryEngine::SerializedExecutionInfo(const State& s) {
  using temporal::api::workflow::v1::WorkflowExecutionInfo;
  WorkflowExecutionInfo info;
  FillExecutionInfoScalars(s, &info);
  std::string out = info.SerializeAsString();
  // The memo, the attributes and the reset points are the bulk of the info
  // and already messages of the state: appended in wire form rather than
  // copied (a field serialized after the others parses the same).
  google::protobuf::io::StringOutputStream stream(&out);
  google::protobuf::io::CodedOutputStream coded(&stream);
  using google::protobuf::internal::WireFormatLite;
  if (s.has_memo()) WireFormatLite::WriteMessage(WorkflowExecutionInfo::kMemoFieldNumber, s.memo(), &coded);
  if (!s.search_attributes().empty())  // Already in wire form.
    WireFormatLite::WriteBytes(WorkflowExecutionInfo::kSearchAttributesFieldNumber, s.search_attributes(), &coded);
  if (s.auto_reset_points().points_size() > 0)
    WireFormatLite::WriteMessage(WorkflowExecutionInfo::kAutoResetPointsFieldNumber, s.auto_reset_points(), &coded);
  coded.Trim();
  return out;
}

void HistoryEngine::FillExecutionInfo(const State& s, temporal::api::workflow::v1::WorkflowExecutionInfo* info) {
  FillExecutionInfoScalars(s, info);
  if (s.has_memo()) *info->mutable_memo() = s.memo();
  if (!s.search_attributes().empty()) *info->mutable_search_attributes() = SearchAttributesOf(s);
  if (s.auto_reset_points().points_size() > 0) *info->mutable_auto_reset_points() = s.auto_reset_points();
}

void HistoryEngine::FillExecutionInfoScalars(const State& s, temporal::api::workflow::v1::WorkflowExecutionInfo* info) {
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
  info->set_task_queue(s.start().task_queue().name());
  info->set_first_run_id(s.first_execution_run_id());
  info->set_state_transition_count(s.db_version());
  info->set_history_size_bytes(s.history_size_bytes());
  if (s.start().has_parent_workflow_execution()) {
    info->set_parent_namespace_id(s.start().parent_workflow_namespace_id());
    *info->mutable_parent_execution() = s.start().parent_workflow_execution();
  }
  // Deprecated in the API for deployments; Temporal still fills it.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  if (s.has_most_recent_worker_version_stamp())
    *info->mutable_most_recent_worker_version_stamp() = s.most_recent_worker_version_stamp();
#pragma GCC diagnostic pop
  if (s.has_versioning_info()) *info->mutable_versioning_info() = s.versioning_info();
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
                                                  metrics::Registry* metrics, const ScaleOptions& scale) {
  return std::make_unique<HistoryEngine>(store, matching, executor, limits ? *limits : Limits{}, search_attributes,
                                         metrics, scale);
}

}  // namespace kairos::history
