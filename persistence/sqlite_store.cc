#include "kairos/persistence/sqlite_store.h"

#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>

#include <spdlog/spdlog.h>

#include "kairos/metrics/registry.h"
#include "kairos/persistence/metered_store.h"
#include "kairos/persistence/recent_events.h"
#include "schema.h"
#include "sqlite_deletion.h"
#include "sqlite_visibility.h"

namespace kairos::persistence {
namespace {

// Ids are handed out from ranges reserved in the meta table, so that they
// keep increasing across restarts without a write per id.
constexpr int64_t kIdRangeSize = 1 << 20;

struct StmtDeleter {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using Stmt = std::unique_ptr<sqlite3_stmt, StmtDeleter>;

struct DbDeleter {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using Db = std::unique_ptr<sqlite3, DbDeleter>;

void BindText(sqlite3_stmt* s, int i, const std::string& v) {
  sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
}
void BindBlob(sqlite3_stmt* s, int i, const std::string& v) {
  sqlite3_bind_blob(s, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
}
std::string ColumnBytes(sqlite3_stmt* s, int i) {
  const void* p = sqlite3_column_blob(s, i);
  int n = sqlite3_column_bytes(s, i);
  return p ? std::string(static_cast<const char*>(p), n) : std::string();
}

}  // namespace

constexpr const char* kUpsertSchedule =
    "INSERT INTO schedules (namespace_id, schedule_id, record) VALUES (?, ?, ?) "
    "ON CONFLICT (namespace_id, schedule_id) DO UPDATE SET record = excluded.record";
constexpr const char* kUpsertBatchOperation =
    "INSERT INTO batch_operations (namespace_id, job_id, record) VALUES (?, ?, ?) "
    "ON CONFLICT (namespace_id, job_id) DO UPDATE SET record = excluded.record";
constexpr const char* kUpsertWorkerDeployment =
    "INSERT INTO worker_deployments (namespace_id, name, record) VALUES (?, ?, ?) "
    "ON CONFLICT (namespace_id, name) DO UPDATE SET record = excluded.record";
constexpr const char* kUpsertBuildIdVersioning =
    "INSERT INTO build_id_versioning (namespace_id, task_queue, record) VALUES (?, ?, ?) "
    "ON CONFLICT (namespace_id, task_queue) DO UPDATE SET record = excluded.record";

class SqliteStore final : public Store {
 public:
  SqliteStore(Db db, int max_batches, size_t recent_event_bytes, metrics::Registry* metrics)
      : db_(std::move(db)), max_batches_(max_batches), recent_events_(recent_event_bytes) {
    if (metrics == nullptr) return;
    commit_latency_ = metrics->AddHistogram("kairos_store_commit_latency",
                                            "Time of one group-commit transaction (BEGIN to COMMIT), in seconds", {},
                                            metrics::LatencyBuckets())
                          ->Get({});
    commit_batches_ = metrics->AddHistogram("kairos_store_commit_batch_size",
                                            "Batches (one per caller) grouped in one transaction", {},
                                            metrics::CountBuckets())
                          ->Get({});
    commit_errors_ = metrics->AddCounter("kairos_store_commit_errors", "Transactions that failed to commit")->Get({});
  }
  ~SqliteStore() override;

  grpc::Status Init();

  grpc::Status Commit(WriteBatch batch) override;
  int64_t NextId() override;
  std::vector<NamespaceRow> ListNamespaces() override;
  std::optional<CurrentRun> GetCurrentRun(const std::string& namespace_id,
                                          const std::string& workflow_id) override;
  std::optional<std::string> LoadExecution(const ExecutionKey& key) override;
  std::vector<std::string> ReadEvents(const ExecutionKey& key, int64_t first_event_id,
                                      int64_t next_event_id, int max_count) override;
  std::vector<std::string> ReadEventsReverse(const ExecutionKey& key, int64_t last_event_id,
                                             int max_count) override;
  std::vector<TaskRow> LoadTasks() override;
  std::vector<TaskBacklog> CountTaskBacklogs() override;
  std::vector<TaskRow> LoadTaskPage(const std::string& queue, int64_t after_id, int limit) override;
  std::vector<TimerRow> LoadTimers(const TimerPageQuery& page) override;
  std::optional<VisibilityRow> GetVisibility(const ExecutionKey& key) override;
  std::vector<ScheduleRow> LoadSchedules() override;
  std::vector<BatchOperationRow> LoadBatchOperations() override;
  std::vector<WorkerDeploymentRow> LoadWorkerDeployments() override;
  std::vector<BuildIdVersioningRow> LoadBuildIdVersioning() override;
  grpc::Status QueryVisibility(const std::string& namespace_id, const VisibilityFilter& filter,
                               const VisibilityCursor* after, int limit, std::vector<VisibilityRow>* out) override;
  grpc::Status CountVisibility(const std::string& namespace_id, const VisibilityFilter& filter,
                               const std::string& group_column, std::vector<std::pair<SqlValue, int64_t>>* groups,
                               int64_t* count) override;
  std::vector<SearchAttributeDefinition> LoadSearchAttributes() override;
  std::vector<NexusEndpointRow> LoadNexusEndpoints() override;
  std::vector<ExecutionKey> ListClosedBefore(const std::string& namespace_id, int64_t closed_before_nanos,
                                             int limit) override;

 private:
  // A caller of Commit waiting in line. The one at the front is the leader:
  // it commits its own batch and those queued behind it in one transaction,
  // then wakes them (LevelDB's write path), so that no thread hop is paid
  // when there is no contention and batches group when there is.
  struct Writer {
    WriteBatch* batch;
    grpc::Status status;
    bool done = false;
    std::condition_variable cv;
  };

  grpc::Status Exec(const std::string& sql);
  grpc::Status Error(const std::string& what);
  sqlite3_stmt* Prepare(const char* sql);  // Cached; caller holds db_mu_.
  grpc::Status Step(sqlite3_stmt* s);      // Runs a write statement to completion and resets it.
  grpc::Status Apply(const WriteBatch& b);
  grpc::Status ApplyVisibility(const VisibilityRow& v);
  sqlite_visibility::Prepare Prepared();  // Prepare, as a function.
  grpc::Status Migrate();
  grpc::Status ReserveIdRange();
  void CommitGroup(const std::vector<Writer*>& group);
  // One transaction for all of the group's batches; on a failure none is
  // kept and the error is returned (and set on the batch that failed).
  grpc::Status CommitTogether(const std::vector<Writer*>& group);
  void RefreshPlannerStats();  // Caller holds db_mu_.
  void ReclaimFreePages();     // Caller holds db_mu_, outside a transaction.
  int64_t PragmaInt(const char* sql);  // A one-number PRAGMA (a literal: cached).
  // Schedules and batch operations are the same kind of row: a record
  // keyed by namespace and id. Upsert: caller holds db_mu_.
  grpc::Status UpsertRecord(const char* sql, const std::string& namespace_id, const std::string& id,
                            const std::string& record);
  void LoadRecords(const char* sql, const std::function<void(std::string, std::string, std::string)>& row);

  Db db_;
  const int max_batches_;
  std::mutex db_mu_;  // Guards db_ and statements_.
  std::vector<std::pair<const char*, Stmt>> statements_;

  std::mutex queue_mu_;
  std::deque<Writer*> writers_;
  RecentEvents recent_events_;  // Filled by CommitGroup; read by ReadEvents.

  metrics::Histogram* commit_latency_ = nullptr;
  metrics::Histogram* commit_batches_ = nullptr;
  metrics::Counter* commit_errors_ = nullptr;
  int64_t batches_committed_ = 0;  // Guarded by db_mu_.
  int64_t next_stats_refresh_ = 1000;
  int64_t runs_deleted_since_reclaim_ = 0;  // Guarded by db_mu_.
  bool reclaims_free_pages_ = false;         // auto_vacuum=INCREMENTAL: fixed when the file was created.
  std::mutex id_mu_;
  int64_t next_id_ = 0;
  int64_t id_limit_ = 0;
};

int CurrentSchemaVersion() { return static_cast<int>(Migrations().size()); }

bool WriteBatch::empty() const {
  return namespace_upserts.empty() && namespace_deletes.empty() && executions.empty() && events.empty() &&
         task_inserts.empty() && task_deletes.empty() && timer_inserts.empty() && timer_deletes.empty() &&
         visibility.empty() && search_attribute_upserts.empty() && search_attribute_deletes.empty() &&
         schedule_upserts.empty() && schedule_deletes.empty() && batch_operation_upserts.empty() &&
         execution_deletes.empty() && worker_deployment_upserts.empty() &&
         worker_deployment_deletes.empty() && nexus_endpoint_upserts.empty() && nexus_endpoint_deletes.empty() &&
         build_id_versioning_upserts.empty();
}

SqliteStore::~SqliteStore() {
  std::lock_guard lock(db_mu_);
  statements_.clear();
}

grpc::Status SqliteStore::Error(const std::string& what) {
  return grpc::Status(grpc::StatusCode::INTERNAL, what + ": " + sqlite3_errmsg(db_.get()));
}

grpc::Status SqliteStore::Exec(const std::string& sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_.get(), sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    return grpc::Status(grpc::StatusCode::INTERNAL, "sqlite: " + msg + " (in: " + sql.substr(0, 80) + ")");
  }
  return grpc::Status::OK;
}

sqlite3_stmt* SqliteStore::Prepare(const char* sql) {
  for (auto& [text, stmt] : statements_) {
    if (text == sql) {
      sqlite3_reset(stmt.get());
      sqlite3_clear_bindings(stmt.get());
      return stmt.get();
    }
  }
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v3(db_.get(), sql, -1, SQLITE_PREPARE_PERSISTENT, &raw, nullptr) != SQLITE_OK) {
    spdlog::critical("sqlite prepare failed: {} ({})", sqlite3_errmsg(db_.get()), sql);
    return nullptr;
  }
  statements_.emplace_back(sql, Stmt(raw));
  return raw;
}

grpc::Status SqliteStore::Step(sqlite3_stmt* s) {
  if (!s) return Error("prepare");
  int rc = sqlite3_step(s);
  sqlite3_reset(s);
  if (rc != SQLITE_DONE && rc != SQLITE_ROW) return Error("write");
  return grpc::Status::OK;
}

grpc::Status SqliteStore::Migrate() {
  auto st = Exec("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)");
  if (!st.ok()) return st;
  int version = 0;
  {
    sqlite3_stmt* s = Prepare("SELECT MAX(version) FROM schema_version");
    if (s && sqlite3_step(s) == SQLITE_ROW) version = sqlite3_column_int(s, 0);
    if (s) sqlite3_reset(s);
  }
  const auto& migrations = Migrations();
  if (version > static_cast<int>(migrations.size())) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                        "database schema version " + std::to_string(version) +
                            " was written by a newer Kairos; this build understands up to version " +
                            std::to_string(migrations.size()));
  }
  for (int v = version; v < static_cast<int>(migrations.size()); ++v) {
    if (auto s = Exec("BEGIN IMMEDIATE"); !s.ok()) return s;
    auto s1 = Exec(migrations[v]);
    auto s2 = s1.ok() ? Exec("INSERT INTO schema_version (version) VALUES (" + std::to_string(v + 1) + ")") : s1;
    if (!s2.ok()) {
      Exec("ROLLBACK");
      return s2;
    }
    if (auto s = Exec("COMMIT"); !s.ok()) return s;
    spdlog::debug("schema migrated to version {}", v + 1);
  }
  return grpc::Status::OK;
}

grpc::Status SqliteStore::ReserveIdRange() {
  // Caller holds db_mu_ (or is Init).
  int64_t range = 0;
  sqlite3_stmt* s = Prepare("SELECT value FROM meta WHERE key = 'id_range'");
  if (s && sqlite3_step(s) == SQLITE_ROW) range = sqlite3_column_int64(s, 0);
  if (s) sqlite3_reset(s);
  ++range;
  sqlite3_stmt* w = Prepare("INSERT INTO meta (key, value) VALUES ('id_range', ?) "
                            "ON CONFLICT (key) DO UPDATE SET value = excluded.value");
  if (!w) return Error("prepare");
  sqlite3_bind_int64(w, 1, range);
  if (auto st = Step(w); !st.ok()) return st;
  next_id_ = range * kIdRangeSize;
  id_limit_ = next_id_ + kIdRangeSize;
  return grpc::Status::OK;
}

grpc::Status SqliteStore::Init() {
  std::lock_guard lock(db_mu_);
  if (auto st = Migrate(); !st.ok()) return st;
  if (auto st = ReserveIdRange(); !st.ok()) return st;
  RefreshPlannerStats();
  constexpr int64_t kAutoVacuumIncremental = 2;
  reclaims_free_pages_ = PragmaInt("PRAGMA auto_vacuum") == kAutoVacuumIncremental;
  return grpc::Status::OK;
}

int64_t SqliteStore::NextId() {
  std::lock_guard lock(id_mu_);
  if (next_id_ >= id_limit_) {
    std::lock_guard db_lock(db_mu_);
    if (auto st = ReserveIdRange(); !st.ok()) {
      // Handing out ids that are not reserved would repeat them after a
      // restart; a database that cannot take this write cannot take any.
      spdlog::critical("cannot reserve ids, stopping: {}", st.error_message());
      std::abort();
    }
  }
  return next_id_++;
}

grpc::Status SqliteStore::Commit(WriteBatch batch) {
  if (batch.empty()) return grpc::Status::OK;
  Writer self;
  self.batch = &batch;
  std::unique_lock lock(queue_mu_);
  writers_.push_back(&self);
  self.cv.wait(lock, [&] { return self.done || writers_.front() == &self; });
  if (self.done) return self.status;  // A leader committed it.

  std::vector<Writer*> group;
  for (Writer* w : writers_) {
    if (static_cast<int>(group.size()) == max_batches_) break;
    group.push_back(w);
  }
  lock.unlock();
  CommitGroup(group);
  lock.lock();
  for (Writer* w : group) {
    writers_.pop_front();
    w->done = true;
    if (w != &self) w->cv.notify_one();
  }
  if (!writers_.empty()) writers_.front()->cv.notify_one();  // The next leader.
  return self.status;
}

void SqliteStore::CommitGroup(const std::vector<Writer*>& group) {
  std::lock_guard lock(db_mu_);
  auto started = std::chrono::steady_clock::now();
  grpc::Status together = CommitTogether(group);
  if (!together.ok() && group.size() > 1) {
    // A batch failed (or the commit did): each batch again in a transaction
    // of its own, so that a failing batch fails alone. Batches are checked
    // before they reach the store, so this path is for I/O errors and bugs;
    // the common path pays no savepoint, whose sub-journal would copy every
    // page a batch touches.
    for (Writer* w : group) CommitTogether({w});
  }
  for (Writer* w : group) {
    if (!w->status.ok()) {
      if (commit_errors_ != nullptr) commit_errors_->Inc();
      break;
    }
  }
  if (commit_latency_ != nullptr) {
    commit_latency_->ObserveDuration(std::chrono::steady_clock::now() - started);
    commit_batches_->Observe(group.size());
  }
  for (Writer* w : group) {
    if (!w->status.ok()) continue;
    // Before the writers are woken: an acknowledged event is in the
    // database, and from here also in memory for the next workflow task.
    recent_events_.Remember(*w->batch);
    runs_deleted_since_reclaim_ += static_cast<int64_t>(w->batch->execution_deletes.size());
  }
  if (runs_deleted_since_reclaim_ >= 200) {
    runs_deleted_since_reclaim_ = 0;
    ReclaimFreePages();
  }
  batches_committed_ += static_cast<int64_t>(group.size());
  if (batches_committed_ >= next_stats_refresh_) {
    RefreshPlannerStats();
    // Often while the database is young, then every 100k batches.
    next_stats_refresh_ = std::min(batches_committed_ * 2, batches_committed_ + 100'000);
  }
}

grpc::Status SqliteStore::CommitTogether(const std::vector<Writer*>& group) {
  grpc::Status status = Step(Prepare("BEGIN IMMEDIATE"));
  for (Writer* w : group) {
    if (!status.ok()) {
      w->status = status;
      continue;
    }
    w->status = Apply(*w->batch);
    status = w->status;
  }
  if (status.ok()) status = Step(Prepare("COMMIT"));
  if (status.ok()) return status;
  if (!sqlite3_get_autocommit(db_.get())) Step(Prepare("ROLLBACK"));
  for (Writer* w : group)
    if (w->status.ok()) w->status = status;  // Not kept either.
  return status;
}

void SqliteStore::RefreshPlannerStats() {
  // Sampled statistics (a few ms at any size) let SQLite pick the selective
  // index for a filtered list (a workflow id, a keyword's value) instead of
  // walking the list order; without them it guesses.
  if (auto st = Exec("PRAGMA analysis_limit = 1000"); !st.ok()) return;
  if (auto st = Exec("ANALYZE"); !st.ok()) spdlog::warn("refreshing planner statistics: {}", st.error_message());
}

int64_t SqliteStore::PragmaInt(const char* sql) {
  sqlite3_stmt* s = Prepare(sql);
  int64_t v = 0;
  if (s && sqlite3_step(s) == SQLITE_ROW) v = sqlite3_column_int64(s, 0);
  if (s) sqlite3_reset(s);
  return v;
}

void SqliteStore::ReclaimFreePages() {
  // Pages freed by deletes (retention, DeleteWorkflowExecution) are reused
  // by later writes, so under steady retention the file stops growing. After
  // a burst of deletes, the free pages beyond a quarter of the file are given
  // back to the file system, at most 2,000 pages (8 MiB) at a time so that
  // a pass costs milliseconds. Needs auto_vacuum=INCREMENTAL, which databases
  // created by Kairos have (an older file keeps its free pages: VACUUM it
  // offline once to convert).
  constexpr int64_t kMinFree = 256, kMaxPagesPerPass = 2'000;
  if (!reclaims_free_pages_) return;
  int64_t free_pages = PragmaInt("PRAGMA freelist_count");
  int64_t pages = PragmaInt("PRAGMA page_count");
  int64_t keep = (pages - free_pages) / 3;  // A quarter of the file once shrunk.
  if (free_pages < kMinFree || free_pages <= keep) return;
  int64_t n = std::min(free_pages - keep, kMaxPagesPerPass);
  if (auto st = Exec("PRAGMA incremental_vacuum(" + std::to_string(n) + ")"); !st.ok())
    spdlog::warn("returning free pages: {}", st.error_message());
}

grpc::Status SqliteStore::Apply(const WriteBatch& b) {
  for (const auto& ns : b.namespace_upserts) {
    sqlite3_stmt* s = Prepare(
        "INSERT INTO namespaces (id, name, record) VALUES (?, ?, ?) "
        "ON CONFLICT (id) DO UPDATE SET name = excluded.name, record = excluded.record");
    BindText(s, 1, ns.id);
    BindText(s, 2, ns.name);
    BindBlob(s, 3, ns.record);
    if (auto st = Step(s); !st.ok()) return st;
  }
  for (const auto& id : b.namespace_deletes) {
    sqlite3_stmt* s = Prepare("DELETE FROM namespaces WHERE id = ?");
    BindText(s, 1, id);
    if (auto st = Step(s); !st.ok()) return st;
  }
  for (const auto& e : b.executions) {
    sqlite3_stmt* s = Prepare(
        "INSERT INTO executions (namespace_id, workflow_id, run_id, state) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (namespace_id, workflow_id, run_id) DO UPDATE SET state = excluded.state");
    BindText(s, 1, e.key.namespace_id);
    BindText(s, 2, e.key.workflow_id);
    BindText(s, 3, e.key.run_id);
    BindBlob(s, 4, e.state);
    if (auto st = Step(s); !st.ok()) return st;
    if (e.make_current) {
      sqlite3_stmt* c = Prepare(
          "INSERT INTO current_executions (namespace_id, workflow_id, run_id, status, start_request_id) "
          "VALUES (?, ?, ?, ?, ?) ON CONFLICT (namespace_id, workflow_id) DO UPDATE SET "
          "run_id = excluded.run_id, status = excluded.status, start_request_id = excluded.start_request_id");
      BindText(c, 1, e.key.namespace_id);
      BindText(c, 2, e.key.workflow_id);
      BindText(c, 3, e.key.run_id);
      sqlite3_bind_int(c, 4, e.status);
      BindText(c, 5, e.start_request_id);
      if (auto st = Step(c); !st.ok()) return st;
    }
  }
  for (const auto& ev : b.events) {
    sqlite3_stmt* s = Prepare(
        "INSERT INTO history_events (namespace_id, workflow_id, run_id, event_id, event) VALUES (?, ?, ?, ?, ?)");
    BindText(s, 1, ev.key.namespace_id);
    BindText(s, 2, ev.key.workflow_id);
    BindText(s, 3, ev.key.run_id);
    sqlite3_bind_int64(s, 4, ev.event_id);
    BindBlob(s, 5, ev.event);
    if (auto st = Step(s); !st.ok()) return st;
  }
  for (const auto& t : b.task_inserts) {
    sqlite3_stmt* s = Prepare("INSERT INTO tasks (id, task, queue) VALUES (?, ?, ?)");
    sqlite3_bind_int64(s, 1, t.id);
    BindBlob(s, 2, t.task);
    BindText(s, 3, t.queue);
    if (auto st = Step(s); !st.ok()) return st;
  }
  for (int64_t id : b.task_deletes) {
    sqlite3_stmt* s = Prepare("DELETE FROM tasks WHERE id = ?");
    sqlite3_bind_int64(s, 1, id);
    if (auto st = Step(s); !st.ok()) return st;
  }
  for (const auto& t : b.timer_inserts) {
    sqlite3_stmt* s = Prepare("INSERT INTO timers (id, fire_time_nanos, timer) VALUES (?, ?, ?)");
    sqlite3_bind_int64(s, 1, t.id);
    sqlite3_bind_int64(s, 2, t.fire_time_nanos);
    BindBlob(s, 3, t.timer);
    if (auto st = Step(s); !st.ok()) return st;
  }
  for (int64_t id : b.timer_deletes) {
    sqlite3_stmt* s = Prepare("DELETE FROM timers WHERE id = ?");
    sqlite3_bind_int64(s, 1, id);
    if (auto st = Step(s); !st.ok()) return st;
  }
  for (const auto& v : b.visibility) {
    if (auto st = ApplyVisibility(v); !st.ok()) return st;
  }
  for (const auto& r : b.schedule_upserts) {
    if (auto st = UpsertRecord(kUpsertSchedule, r.namespace_id, r.schedule_id, r.record); !st.ok()) return st;
  }
  for (const auto& r : b.batch_operation_upserts) {
    if (auto st = UpsertRecord(kUpsertBatchOperation, r.namespace_id, r.job_id, r.record); !st.ok()) return st;
  }
  for (const auto& r : b.worker_deployment_upserts) {
    if (auto st = UpsertRecord(kUpsertWorkerDeployment, r.namespace_id, r.name, r.record); !st.ok()) return st;
  }
  for (const auto& r : b.build_id_versioning_upserts) {
    if (auto st = UpsertRecord(kUpsertBuildIdVersioning, r.namespace_id, r.task_queue, r.record); !st.ok()) return st;
  }
  for (const auto& [ns, name] : b.worker_deployment_deletes) {
    sqlite3_stmt* s = Prepare("DELETE FROM worker_deployments WHERE namespace_id = ? AND name = ?");
    BindText(s, 1, ns);
    BindText(s, 2, name);
    if (auto st = Step(s); !st.ok()) return st;
  }
  for (const auto& [ns, id] : b.schedule_deletes) {
    sqlite3_stmt* s = Prepare("DELETE FROM schedules WHERE namespace_id = ? AND schedule_id = ?");
    BindText(s, 1, ns);
    BindText(s, 2, id);
    if (auto st = Step(s); !st.ok()) return st;
  }
  for (const auto& e : b.nexus_endpoint_upserts) {
    sqlite3_stmt* s = Prepare(
        "INSERT INTO nexus_endpoints (id, record) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET record = excluded.record");
    BindText(s, 1, e.id);
    BindBlob(s, 2, e.record);
    if (auto st = Step(s); !st.ok()) return st;
  }
  for (const auto& id : b.nexus_endpoint_deletes) {
    sqlite3_stmt* s = Prepare("DELETE FROM nexus_endpoints WHERE id = ?");
    BindText(s, 1, id);
    if (auto st = Step(s); !st.ok()) return st;
  }
  if (auto st = sqlite_visibility::WriteDefinitions(db_.get(), Prepared(), b); !st.ok()) return st;
  for (const auto& key : b.execution_deletes) {
    if (auto st = sqlite_deletion::DeleteRun(db_.get(), Prepared(), key); !st.ok()) return st;
  }
  return grpc::Status::OK;
}

std::vector<ExecutionKey> SqliteStore::ListClosedBefore(const std::string& namespace_id, int64_t closed_before_nanos,
                                                        int limit) {
  std::lock_guard lock(db_mu_);
  return sqlite_deletion::ClosedBefore(Prepared(), namespace_id, closed_before_nanos, limit);
}

sqlite_visibility::Prepare SqliteStore::Prepared() {
  return [this](const char* sql) { return Prepare(sql); };
}

grpc::Status SqliteStore::ApplyVisibility(const VisibilityRow& v) {
  return sqlite_visibility::Write(db_.get(), Prepared(), v);
}

grpc::Status SqliteStore::QueryVisibility(const std::string& namespace_id, const VisibilityFilter& filter,
                                          const VisibilityCursor* after, int limit, std::vector<VisibilityRow>* out) {
  std::lock_guard lock(db_mu_);
  return sqlite_visibility::Query(db_.get(), namespace_id, filter, after, limit, out);
}

grpc::Status SqliteStore::CountVisibility(const std::string& namespace_id, const VisibilityFilter& filter,
                                          const std::string& group_column,
                                          std::vector<std::pair<SqlValue, int64_t>>* groups, int64_t* count) {
  std::lock_guard lock(db_mu_);
  return sqlite_visibility::Count(db_.get(), namespace_id, filter, group_column, groups, count);
}

std::vector<SearchAttributeDefinition> SqliteStore::LoadSearchAttributes() {
  std::lock_guard lock(db_mu_);
  return sqlite_visibility::LoadDefinitions(Prepared());
}

std::vector<NamespaceRow> SqliteStore::ListNamespaces() {
  std::lock_guard lock(db_mu_);
  std::vector<NamespaceRow> out;
  sqlite3_stmt* s = Prepare("SELECT id, name, record FROM namespaces ORDER BY name");
  while (s && sqlite3_step(s) == SQLITE_ROW) out.push_back({ColumnBytes(s, 0), ColumnBytes(s, 1), ColumnBytes(s, 2)});
  if (s) sqlite3_reset(s);
  return out;
}

std::optional<CurrentRun> SqliteStore::GetCurrentRun(const std::string& namespace_id,
                                                     const std::string& workflow_id) {
  std::lock_guard lock(db_mu_);
  sqlite3_stmt* s = Prepare(
      "SELECT run_id, status, start_request_id FROM current_executions WHERE namespace_id = ? AND workflow_id = ?");
  if (!s) return std::nullopt;
  BindText(s, 1, namespace_id);
  BindText(s, 2, workflow_id);
  std::optional<CurrentRun> out;
  if (sqlite3_step(s) == SQLITE_ROW) out = CurrentRun{ColumnBytes(s, 0), sqlite3_column_int(s, 1), ColumnBytes(s, 2)};
  sqlite3_reset(s);
  return out;
}

std::optional<std::string> SqliteStore::LoadExecution(const ExecutionKey& key) {
  std::lock_guard lock(db_mu_);
  sqlite3_stmt* s = Prepare("SELECT state FROM executions WHERE namespace_id = ? AND workflow_id = ? AND run_id = ?");
  if (!s) return std::nullopt;
  BindText(s, 1, key.namespace_id);
  BindText(s, 2, key.workflow_id);
  BindText(s, 3, key.run_id);
  std::optional<std::string> out;
  if (sqlite3_step(s) == SQLITE_ROW) out = ColumnBytes(s, 0);
  sqlite3_reset(s);
  return out;
}

std::vector<std::string> SqliteStore::ReadEvents(const ExecutionKey& key, int64_t first_event_id,
                                                 int64_t next_event_id, int max_count) {
  std::vector<std::string> out;
  if (recent_events_.Read(key, first_event_id, next_event_id, max_count, &out)) return out;
  std::lock_guard lock(db_mu_);
  sqlite3_stmt* s = Prepare(
      "SELECT event FROM history_events WHERE namespace_id = ? AND workflow_id = ? AND run_id = ? "
      "AND event_id >= ? AND event_id < ? ORDER BY event_id LIMIT ?");
  if (!s) return out;
  BindText(s, 1, key.namespace_id);
  BindText(s, 2, key.workflow_id);
  BindText(s, 3, key.run_id);
  sqlite3_bind_int64(s, 4, first_event_id);
  sqlite3_bind_int64(s, 5, next_event_id);
  sqlite3_bind_int(s, 6, max_count);
  while (sqlite3_step(s) == SQLITE_ROW) out.push_back(ColumnBytes(s, 0));
  sqlite3_reset(s);
  return out;
}

std::vector<std::string> SqliteStore::ReadEventsReverse(const ExecutionKey& key, int64_t last_event_id,
                                                        int max_count) {
  std::lock_guard lock(db_mu_);
  std::vector<std::string> out;
  sqlite3_stmt* s = Prepare(
      "SELECT event FROM history_events WHERE namespace_id = ? AND workflow_id = ? AND run_id = ? "
      "AND event_id <= ? ORDER BY event_id DESC LIMIT ?");
  if (!s) return out;
  BindText(s, 1, key.namespace_id);
  BindText(s, 2, key.workflow_id);
  BindText(s, 3, key.run_id);
  sqlite3_bind_int64(s, 4, last_event_id);
  sqlite3_bind_int(s, 5, max_count);
  while (sqlite3_step(s) == SQLITE_ROW) out.push_back(ColumnBytes(s, 0));
  sqlite3_reset(s);
  return out;
}

std::vector<TaskRow> SqliteStore::LoadTasks() {
  std::lock_guard lock(db_mu_);
  std::vector<TaskRow> out;
  sqlite3_stmt* s = Prepare("SELECT id, task, queue FROM tasks ORDER BY id");
  while (s && sqlite3_step(s) == SQLITE_ROW)
    out.push_back({sqlite3_column_int64(s, 0), ColumnBytes(s, 1), ColumnBytes(s, 2)});
  if (s) sqlite3_reset(s);
  return out;
}

std::vector<TaskBacklog> SqliteStore::CountTaskBacklogs() {
  std::lock_guard lock(db_mu_);
  std::vector<TaskBacklog> out;
  sqlite3_stmt* s = Prepare("SELECT queue, COUNT(*) FROM tasks INDEXED BY tasks_by_queue GROUP BY queue");
  while (s && sqlite3_step(s) == SQLITE_ROW) out.push_back({ColumnBytes(s, 0), sqlite3_column_int64(s, 1)});
  if (s) sqlite3_reset(s);
  return out;
}

std::vector<TaskRow> SqliteStore::LoadTaskPage(const std::string& queue, int64_t after_id, int limit) {
  std::lock_guard lock(db_mu_);
  std::vector<TaskRow> out;
  sqlite3_stmt* s =
      Prepare("SELECT id, task FROM tasks INDEXED BY tasks_by_queue WHERE queue = ? AND id > ? ORDER BY id LIMIT ?");
  if (s) {
    BindText(s, 1, queue);
    sqlite3_bind_int64(s, 2, after_id);
    sqlite3_bind_int(s, 3, limit);
  }
  while (s && sqlite3_step(s) == SQLITE_ROW) out.push_back({sqlite3_column_int64(s, 0), ColumnBytes(s, 1), queue});
  if (s) sqlite3_reset(s);
  return out;
}

std::vector<TimerRow> SqliteStore::LoadTimers(const TimerPageQuery& page) {
  std::lock_guard lock(db_mu_);
  std::vector<TimerRow> out;
  sqlite3_stmt* s = Prepare(
      "SELECT id, fire_time_nanos, timer FROM timers WHERE (fire_time_nanos, id) > (?, ?) AND fire_time_nanos < ? "
      "ORDER BY fire_time_nanos, id LIMIT ?");
  if (s) {
    sqlite3_bind_int64(s, 1, page.after_fire_time_nanos);
    sqlite3_bind_int64(s, 2, page.after_id);
    sqlite3_bind_int64(s, 3, page.before_fire_time_nanos);
    sqlite3_bind_int64(s, 4, page.limit);
  }
  while (s && sqlite3_step(s) == SQLITE_ROW)
    out.push_back({sqlite3_column_int64(s, 0), sqlite3_column_int64(s, 1), ColumnBytes(s, 2)});
  if (s) sqlite3_reset(s);
  return out;
}

namespace {
constexpr const char* kVisibilityColumns =
    "namespace_id, workflow_id, run_id, workflow_type, task_queue, status, start_time_nanos, "
    "execution_time_nanos, close_time_nanos, history_length, info";
}  // namespace

std::optional<VisibilityRow> SqliteStore::GetVisibility(const ExecutionKey& key) {
  static const std::string sql = std::string("SELECT ") + kVisibilityColumns +
                                 " FROM visibility WHERE namespace_id = ? AND workflow_id = ? AND run_id = ?";
  std::lock_guard lock(db_mu_);
  sqlite3_stmt* s = Prepare(sql.c_str());
  if (!s) return std::nullopt;
  BindText(s, 1, key.namespace_id);
  BindText(s, 2, key.workflow_id);
  BindText(s, 3, key.run_id);
  std::optional<VisibilityRow> out;
  if (sqlite3_step(s) == SQLITE_ROW) out = sqlite_visibility::ReadRow(s);
  sqlite3_reset(s);
  return out;
}

std::vector<ScheduleRow> SqliteStore::LoadSchedules() {
  std::vector<ScheduleRow> out;
  LoadRecords("SELECT namespace_id, schedule_id, record FROM schedules ORDER BY namespace_id, schedule_id",
              [&](std::string ns, std::string id, std::string record) {
                out.push_back({std::move(ns), std::move(id), std::move(record)});
              });
  return out;
}

std::vector<BatchOperationRow> SqliteStore::LoadBatchOperations() {
  std::vector<BatchOperationRow> out;
  LoadRecords("SELECT namespace_id, job_id, record FROM batch_operations ORDER BY namespace_id, job_id",
              [&](std::string ns, std::string id, std::string record) {
                out.push_back({std::move(ns), std::move(id), std::move(record)});
              });
  return out;
}

std::vector<NexusEndpointRow> SqliteStore::LoadNexusEndpoints() {
  std::vector<NexusEndpointRow> out;
  std::lock_guard lock(db_mu_);
  sqlite3_stmt* s = Prepare("SELECT id, record FROM nexus_endpoints ORDER BY id");
  if (!s) return out;
  while (sqlite3_step(s) == SQLITE_ROW) out.push_back({ColumnBytes(s, 0), ColumnBytes(s, 1)});
  sqlite3_reset(s);
  return out;
}

std::vector<WorkerDeploymentRow> SqliteStore::LoadWorkerDeployments() {
  std::vector<WorkerDeploymentRow> out;
  LoadRecords("SELECT namespace_id, name, record FROM worker_deployments ORDER BY namespace_id, name",
              [&](std::string ns, std::string name, std::string record) {
                out.push_back({std::move(ns), std::move(name), std::move(record)});
              });
  return out;
}

std::vector<BuildIdVersioningRow> SqliteStore::LoadBuildIdVersioning() {
  std::vector<BuildIdVersioningRow> out;
  LoadRecords("SELECT namespace_id, task_queue, record FROM build_id_versioning ORDER BY namespace_id, task_queue",
              [&](std::string ns, std::string queue, std::string record) {
                out.push_back({std::move(ns), std::move(queue), std::move(record)});
              });
  return out;
}

grpc::Status SqliteStore::UpsertRecord(const char* sql, const std::string& namespace_id, const std::string& id,
                                       const std::string& record) {
  sqlite3_stmt* s = Prepare(sql);
  BindText(s, 1, namespace_id);
  BindText(s, 2, id);
  BindBlob(s, 3, record);
  return Step(s);
}

void SqliteStore::LoadRecords(const char* sql,
                              const std::function<void(std::string, std::string, std::string)>& row) {
  std::lock_guard lock(db_mu_);
  sqlite3_stmt* s = Prepare(sql);
  if (!s) return;
  while (sqlite3_step(s) == SQLITE_ROW) row(ColumnBytes(s, 0), ColumnBytes(s, 1), ColumnBytes(s, 2));
  sqlite3_reset(s);
}

grpc::Status OpenSqliteStore(const SqliteOptions& options, std::unique_ptr<Store>* out) {
  sqlite3* raw = nullptr;
  const bool memory = options.path.empty();
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  int rc = sqlite3_open_v2(memory ? ":memory:" : options.path.c_str(), &raw, flags, nullptr);
  Db db(raw);
  if (rc != SQLITE_OK) {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                        "cannot open database " + options.path + ": " + (raw ? sqlite3_errmsg(raw) : "out of memory"));
  }
  // WAL with synchronous=NORMAL: a committed transaction is in the OS before
  // Commit returns, so it survives the process being killed.
  std::vector<std::pair<std::string, std::string>> pragmas = {
      {"foreign_keys", "ON"}, {"busy_timeout", "5000"}, {"synchronous", "NORMAL"}, {"temp_store", "MEMORY"}};
  if (!memory) pragmas.insert(pragmas.begin(), {"journal_mode", "WAL"});
  // Set before the first table exists (a no-op on an older file): lets
  // ReclaimFreePages shrink the file after deletes.
  pragmas.insert(pragmas.begin(), {"auto_vacuum", "INCREMENTAL"});
  // The WAL is truncated back to this size after a checkpoint, so that one
  // burst of writes does not leave a large file behind for good.
  pragmas.push_back({"journal_size_limit", "67108864"});
  for (const auto& p : options.pragmas) pragmas.push_back(p);
  for (const auto& [key, value] : pragmas) {
    std::string sql = "PRAGMA " + key + " = " + value;
    char* err = nullptr;
    if (sqlite3_exec(db.get(), sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
      std::string msg = err ? err : "";
      sqlite3_free(err);
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "sqlite pragma " + key + "=" + value + ": " + msg);
    }
  }
  auto store = std::make_unique<SqliteStore>(std::move(db), options.max_batches_per_commit,
                                             options.recent_event_bytes, options.metrics);
  if (auto st = store->Init(); !st.ok()) return st;
  *out = WithPersistenceMetrics(std::move(store), options.metrics);
  return grpc::Status::OK;
}

}  // namespace kairos::persistence
