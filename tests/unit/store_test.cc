// Tests of the SQLite store: schema versioning, durability across reopen and
// an unclean stop, batch atomicity under group commit, ids, reads.
#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "kairos/persistence/sqlite_store.h"
#include "kairos/persistence/store.h"
#include "schema.h"

namespace fs = std::filesystem;
using namespace kairos::persistence;

namespace {

VisibilityRow Vis(const ExecutionKey& key, const std::string& type, const std::string& queue, int status,
                  int64_t start, int64_t execution, int64_t close, int64_t length, const std::string& info) {
  VisibilityRow v;
  v.key = key;
  v.workflow_type = type;
  v.task_queue = queue;
  v.status = status;
  v.start_time_nanos = start;
  v.execution_time_nanos = execution;
  v.close_time_nanos = close;
  v.history_length = length;
  v.info = info;
  return v;
}

// A fresh directory under the system temp dir, removed afterwards.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "kairos-store-test-XXXXXX").string();
    char* made = mkdtemp(tmpl.data());
    REQUIRE(made != nullptr);
    path_ = made;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

std::unique_ptr<Store> OpenOrFail(const SqliteOptions& options) {
  std::unique_ptr<Store> store;
  grpc::Status st = OpenSqliteStore(options, &store);
  INFO("open: " << st.error_message());
  REQUIRE(st.ok());
  REQUIRE(store != nullptr);
  return store;
}

std::unique_ptr<Store> OpenPath(const std::string& path) {
  SqliteOptions o;
  o.path = path;
  return OpenOrFail(o);
}

// Runs one SQL statement on a raw connection and returns the first column of
// the first row as text ("" when there is no row).
std::string QueryText(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK);
  sqlite3_stmt* s = nullptr;
  int rc = sqlite3_prepare_v2(db, sql.c_str(), -1, &s, nullptr);
  INFO(sql << ": " << sqlite3_errmsg(db));
  REQUIRE(rc == SQLITE_OK);
  std::string out;
  if (sqlite3_step(s) == SQLITE_ROW) {
    const unsigned char* t = sqlite3_column_text(s, 0);
    if (t) out = reinterpret_cast<const char*>(t);
  }
  sqlite3_finalize(s);
  sqlite3_close(db);
  return out;
}

void ExecSql(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK);
  char* err = nullptr;
  int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
  std::string msg = err ? err : "";
  sqlite3_free(err);
  sqlite3_close(db);
  INFO(sql << ": " << msg);
  REQUIRE(rc == SQLITE_OK);
}

// A database file as schema version `version` left it.
void CreateAtSchemaVersion(const std::string& path, int version) {
  {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);  // Creates the file.
    sqlite3_close(db);
  }
  ExecSql(path, "CREATE TABLE schema_version (version INTEGER NOT NULL)");
  for (int v = 0; v < version; ++v) {
    ExecSql(path, Migrations()[v]);
    ExecSql(path, "INSERT INTO schema_version (version) VALUES (" + std::to_string(v + 1) + ")");
  }
}

ExecutionKey Key(const std::string& wf, const std::string& run = "run-1") { return {"ns-1", wf, run}; }

// Event payloads contain a NUL byte so that blob round-tripping is checked.
std::string EventBlob(const ExecutionKey& k, int64_t id) {
  return std::string("ev\0", 3) + k.workflow_id + "/" + k.run_id + "#" + std::to_string(id);
}

ExecutionWrite Execution(const ExecutionKey& k, const std::string& state = "state", bool current = true) {
  ExecutionWrite e;
  e.key = k;
  e.state = state;
  e.make_current = current;
  e.status = 1;
  e.start_request_id = "req-" + k.workflow_id;
  return e;
}

EventWrite Event(const ExecutionKey& k, int64_t id) { return EventWrite{k, id, EventBlob(k, id)}; }

// A batch that creates an execution with events 1..n.
WriteBatch NewExecution(const ExecutionKey& k, int n) {
  WriteBatch b;
  b.executions.push_back(Execution(k));
  for (int i = 1; i <= n; ++i) b.events.push_back(Event(k, i));
  return b;
}

std::vector<std::string> Blobs(const ExecutionKey& k, std::vector<int64_t> ids) {
  std::vector<std::string> out;
  for (int64_t id : ids) out.push_back(EventBlob(k, id));
  return out;
}

}  // namespace

TEST_CASE("Store: a fresh file database is migrated to the current schema version", "[store]") {
  TempDir dir;
  const std::string path = dir.file("kairos.db");
  REQUIRE(CurrentSchemaVersion() >= 1);
  { auto store = OpenPath(path); }
  CHECK(QueryText(path, "SELECT MAX(version) FROM schema_version") == std::to_string(CurrentSchemaVersion()));
  // Each migration leaves one row; no version is recorded twice.
  CHECK(QueryText(path, "SELECT COUNT(*) FROM schema_version") == std::to_string(CurrentSchemaVersion()));
  CHECK(QueryText(path, "PRAGMA journal_mode") == "wal");

  // Reopening does not migrate again.
  { auto store = OpenPath(path); }
  CHECK(QueryText(path, "SELECT COUNT(*) FROM schema_version") == std::to_string(CurrentSchemaVersion()));
}

TEST_CASE("Store: reopening keeps committed data", "[store]") {
  TempDir dir;
  const std::string path = dir.file("kairos.db");
  const ExecutionKey k = Key("wf-reopen");
  {
    auto store = OpenPath(path);
    WriteBatch b = NewExecution(k, 3);
    b.namespace_upserts.push_back({"ns-1", "default", "record-bytes"});
    b.task_inserts.push_back({store->NextId(), "task", ""});
    b.timer_inserts.push_back({store->NextId(), 12345, "timer"});
    REQUIRE(store->Commit(std::move(b)).ok());
  }
  auto store = OpenPath(path);
  auto ns = store->ListNamespaces();
  REQUIRE(ns.size() == 1);
  CHECK(ns[0].id == "ns-1");
  CHECK(ns[0].name == "default");
  CHECK(ns[0].record == "record-bytes");
  CHECK(store->LoadExecution(k) == std::optional<std::string>("state"));
  CHECK(store->ReadEvents(k, 1, 100, 100) == Blobs(k, {1, 2, 3}));
  auto current = store->GetCurrentRun("ns-1", "wf-reopen");
  REQUIRE(current.has_value());
  CHECK(current->run_id == "run-1");
  CHECK(current->status == 1);
  CHECK(current->start_request_id == "req-wf-reopen");
  REQUIRE(store->LoadTasks().size() == 1);
  CHECK(store->LoadTasks()[0].task == "task");
  REQUIRE(store->LoadTimers().size() == 1);
  CHECK(store->LoadTimers()[0].fire_time_nanos == 12345);
}

TEST_CASE("Store: a database written by a newer schema version is refused", "[store]") {
  TempDir dir;
  const std::string path = dir.file("kairos.db");
  { auto store = OpenPath(path); }
  const int newer = CurrentSchemaVersion() + 1;
  ExecSql(path, "INSERT INTO schema_version (version) VALUES (" + std::to_string(newer) + ")");

  std::unique_ptr<Store> store;
  grpc::Status st = OpenSqliteStore(SqliteOptions{path, {}, 256}, &store);
  CHECK(st.error_code() == grpc::StatusCode::FAILED_PRECONDITION);
  CHECK_THAT(st.error_message(), Catch::Contains("newer"));
  CHECK_THAT(st.error_message(), Catch::Contains(std::to_string(newer)));
  CHECK(store == nullptr);
  // The refusal does not touch the file.
  CHECK(QueryText(path, "SELECT MAX(version) FROM schema_version") == std::to_string(newer));
}

TEST_CASE("Store: a file that is not a database is refused", "[store]") {
  TempDir dir;
  const std::string path = dir.file("garbage.db");
  {
    FILE* f = fopen(path.c_str(), "wb");
    REQUIRE(f != nullptr);
    std::string junk(8192, 'x');
    fwrite(junk.data(), 1, junk.size(), f);
    fclose(f);
  }
  std::unique_ptr<Store> store;
  CHECK_FALSE(OpenSqliteStore(SqliteOptions{path, {}, 256}, &store).ok());
  CHECK(store == nullptr);
}

TEST_CASE("Store: a failing batch leaves nothing written", "[store]") {
  auto store = OpenOrFail(SqliteOptions{});
  const ExecutionKey k = Key("wf-atomic");

  SECTION("duplicate event id inside one batch") {
    WriteBatch b = NewExecution(k, 2);
    b.events.push_back(Event(k, 2));  // (ns, wf, run, 2) twice.
    b.namespace_upserts.push_back({"ns-1", "default", "r"});
    b.visibility.push_back(Vis(k, "type", "tq", 1, 1, 1, 0, 2, "info"));
    CHECK_FALSE(store->Commit(std::move(b)).ok());
  }
  SECTION("event of an execution that does not exist (foreign key)") {
    WriteBatch b;
    b.namespace_upserts.push_back({"ns-1", "default", "r"});
    b.executions.push_back(Execution(Key("wf-other")));
    b.events.push_back(Event(k, 1));  // No execution row for k.
    b.task_inserts.push_back({store->NextId(), "t", ""});
    CHECK_FALSE(store->Commit(std::move(b)).ok());
    CHECK_FALSE(store->LoadExecution(Key("wf-other")).has_value());
    CHECK_FALSE(store->GetCurrentRun("ns-1", "wf-other").has_value());
  }
  SECTION("event id already committed by an earlier batch") {
    REQUIRE(store->Commit(NewExecution(k, 2)).ok());
    WriteBatch b;
    b.executions.push_back(Execution(k, "changed-state"));
    b.events.push_back(Event(k, 3));
    b.events.push_back(Event(k, 2));  // Conflicts with the stored event 2.
    b.timer_inserts.push_back({store->NextId(), 1, "timer"});
    b.namespace_upserts.push_back({"ns-1", "default", "r"});
    CHECK_FALSE(store->Commit(std::move(b)).ok());
    // The first batch is intact, the second left no trace.
    CHECK(store->LoadExecution(k) == std::optional<std::string>("state"));
    CHECK(store->ReadEvents(k, 1, 100, 100) == Blobs(k, {1, 2}));
    CHECK(store->LoadTimers().empty());
    CHECK(store->ListNamespaces().empty());
    return;
  }
  CHECK_FALSE(store->LoadExecution(k).has_value());
  CHECK(store->ReadEvents(k, 0, 100, 100).empty());
  CHECK_FALSE(store->GetCurrentRun("ns-1", "wf-atomic").has_value());
  CHECK(store->ListNamespaces().empty());
  CHECK(store->LoadTasks().empty());
  CHECK_FALSE(store->GetVisibility(k).has_value());

  // The store keeps working after a failed batch.
  REQUIRE(store->Commit(NewExecution(k, 1)).ok());
  CHECK(store->ReadEvents(k, 1, 100, 100) == Blobs(k, {1}));
}

TEST_CASE("Store: a bad batch grouped with good ones fails alone", "[store]") {
  TempDir dir;
  const std::string path = dir.file("kairos.db");
  auto store = OpenPath(path);

  // Hold the database's write lock from another connection so that the
  // writer thread stalls on its first group; the batches submitted meanwhile
  // pile up and are then committed together as one group.
  sqlite3* blocker = nullptr;
  REQUIRE(sqlite3_open_v2(path.c_str(), &blocker, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_exec(blocker, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK);

  auto first = std::async(std::launch::async, [&] { return store->Commit(NewExecution(Key("wf-first"), 1)); });
  std::vector<std::future<grpc::Status>> good, bad;
  for (int i = 0; i < 6; ++i) {
    good.push_back(std::async(std::launch::async, [&, i] {
      return store->Commit(NewExecution(Key("wf-good-" + std::to_string(i)), 3));
    }));
    bad.push_back(std::async(std::launch::async, [&, i] {
      const ExecutionKey k = Key("wf-bad-" + std::to_string(i));
      WriteBatch b = NewExecution(k, 3);
      b.events.push_back(Event(k, 3));  // Duplicate (ns, wf, run, 3).
      return store->Commit(std::move(b));
    }));
  }
  // Not a synchronisation: only makes it likely that every batch is queued
  // before the lock is released. The assertions hold either way.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  REQUIRE(sqlite3_exec(blocker, "COMMIT", nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(blocker);

  CHECK(first.get().ok());
  for (auto& f : good) CHECK(f.get().ok());
  for (auto& f : bad) CHECK_FALSE(f.get().ok());
  for (int i = 0; i < 6; ++i) {
    const ExecutionKey g = Key("wf-good-" + std::to_string(i));
    CHECK(store->LoadExecution(g).has_value());
    CHECK(store->ReadEvents(g, 1, 100, 100) == Blobs(g, {1, 2, 3}));
    const ExecutionKey b = Key("wf-bad-" + std::to_string(i));
    CHECK_FALSE(store->LoadExecution(b).has_value());
    CHECK(store->ReadEvents(b, 0, 100, 100).empty());
  }
  CHECK(store->LoadExecution(Key("wf-first")).has_value());
}

TEST_CASE("Store: group commit of 8 threads x 200 batches", "[store]") {
  TempDir dir;
  const std::string path = dir.file("kairos.db");
  constexpr int kThreads = 8;
  constexpr int kPerThread = 200;
  std::vector<std::vector<int64_t>> task_ids(kThreads);
  {
    auto store = OpenPath(path);
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kPerThread; ++i) {
          const ExecutionKey k = Key("wf-" + std::to_string(t) + "-" + std::to_string(i));
          WriteBatch b = NewExecution(k, 2);
          int64_t id = store->NextId();
          b.task_inserts.push_back({id, "task-" + std::to_string(t) + "-" + std::to_string(i), ""});
          if (!store->Commit(std::move(b)).ok()) failures++;
          task_ids[t].push_back(id);
        }
      });
    }
    for (auto& th : threads) th.join();
    CHECK(failures == 0);
    // Everything is readable at once...
    CHECK(store->LoadTasks().size() == kThreads * kPerThread);
  }
  // ...and after reopening.
  auto store = OpenPath(path);
  auto tasks = store->LoadTasks();
  REQUIRE(tasks.size() == kThreads * kPerThread);
  bool ordered = true;
  for (size_t i = 1; i < tasks.size(); ++i) ordered = ordered && tasks[i - 1].id < tasks[i].id;
  CHECK(ordered);  // By id.
  std::set<int64_t> loaded;
  for (const auto& t : tasks) loaded.insert(t.id);
  int missing = 0;
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kPerThread; ++i) {
      if (!loaded.count(task_ids[t][i])) ++missing;
      const ExecutionKey k = Key("wf-" + std::to_string(t) + "-" + std::to_string(i));
      if (store->ReadEvents(k, 1, 10, 10) != Blobs(k, {1, 2})) ++missing;
      if (!store->GetCurrentRun("ns-1", k.workflow_id)) ++missing;
    }
  }
  CHECK(missing == 0);
}

TEST_CASE("Store: NextId is unique and increasing, also across reopen", "[store]") {
  TempDir dir;
  const std::string path = dir.file("kairos.db");
  int64_t last = 0;
  {
    auto store = OpenPath(path);
    last = store->NextId();
    CHECK(last > 0);
    // Enough ids to cross any reasonably sized reserved range.
    for (int i = 0; i < (1 << 21) + 10; ++i) {
      int64_t id = store->NextId();
      if (id <= last) FAIL("NextId went from " << last << " to " << id);
      last = id;
    }
  }
  {
    auto store = OpenPath(path);
    int64_t id = store->NextId();
    CHECK(id > last);
    last = id;
  }
  {
    auto store = OpenPath(path);
    CHECK(store->NextId() > last);
  }
}

TEST_CASE("Store: NextId from many threads never repeats", "[store]") {
  auto store = OpenOrFail(SqliteOptions{});
  constexpr int kThreads = 4, kEach = 20000;
  std::vector<std::vector<int64_t>> ids(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) ids[t].push_back(store->NextId());
    });
  for (auto& th : threads) th.join();
  std::set<int64_t> all;
  bool increasing = true;
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 1; i < kEach; ++i) increasing = increasing && ids[t][i - 1] < ids[t][i];
    all.insert(ids[t].begin(), ids[t].end());
  }
  CHECK(increasing);  // Within each thread.
  CHECK(all.size() == static_cast<size_t>(kThreads * kEach));
}

TEST_CASE("Store: data acknowledged by Commit survives an unclean stop", "[store]") {
  TempDir dir;
  const std::string path = dir.file("kairos.db");
  const std::string copy = dir.file("copy.db");
  const ExecutionKey k = Key("wf-crash");
  auto store = OpenPath(path);
  REQUIRE(store->Commit(NewExecution(k, 5)).ok());
  int64_t task_id = store->NextId();
  WriteBatch b;
  b.task_inserts.push_back({task_id, "task", ""});
  b.executions.push_back(Execution(k, "state-after-5"));
  REQUIRE(store->Commit(std::move(b)).ok());
  int64_t last_id = store->NextId();

  // Copy the files as they are while the store is still open: what a
  // process killed right now leaves on disk (the -shm index is rebuilt).
  REQUIRE(fs::exists(path + "-wal"));
  fs::copy_file(path, copy);
  fs::copy_file(path + "-wal", copy + "-wal");

  auto recovered = OpenPath(copy);
  CHECK(recovered->LoadExecution(k) == std::optional<std::string>("state-after-5"));
  CHECK(recovered->ReadEvents(k, 1, 100, 100) == Blobs(k, {1, 2, 3, 4, 5}));
  auto tasks = recovered->LoadTasks();
  REQUIRE(tasks.size() == 1);
  CHECK(tasks[0].id == task_id);
  CHECK(recovered->NextId() > last_id);
}

TEST_CASE("Store: ReadEvents ranges and paging, ReadEventsReverse order", "[store]") {
  auto store = OpenOrFail(SqliteOptions{});
  const ExecutionKey k = Key("wf-read");
  const ExecutionKey other_run = Key("wf-read", "run-2");
  REQUIRE(store->Commit(NewExecution(k, 10)).ok());
  REQUIRE(store->Commit(NewExecution(other_run, 4)).ok());

  CHECK(store->ReadEvents(k, 1, 11, 100) == Blobs(k, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10}));
  CHECK(store->ReadEvents(k, 3, 6, 100) == Blobs(k, {3, 4, 5}));  // next_event_id is exclusive.
  CHECK(store->ReadEvents(k, 11, 20, 100).empty());
  CHECK(store->ReadEvents(k, 5, 5, 100).empty());
  CHECK(store->ReadEvents(Key("wf-none"), 1, 100, 100).empty());

  // Paging: pages of 3 walk every event exactly once, in order.
  std::vector<std::string> paged;
  int64_t next = 1;
  int pages = 0;
  for (;;) {
    auto page = store->ReadEvents(k, next, 11, 3);
    if (page.empty()) break;
    CHECK(page.size() <= 3);
    paged.insert(paged.end(), page.begin(), page.end());
    next += static_cast<int64_t>(page.size());
    ++pages;
  }
  CHECK(pages == 4);
  CHECK(paged == Blobs(k, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10}));

  CHECK(store->ReadEventsReverse(k, 10, 3) == Blobs(k, {10, 9, 8}));
  CHECK(store->ReadEventsReverse(k, 5, 100) == Blobs(k, {5, 4, 3, 2, 1}));
  CHECK(store->ReadEventsReverse(k, 100, 2) == Blobs(k, {10, 9}));
  CHECK(store->ReadEventsReverse(k, 0, 100).empty());
  CHECK(store->ReadEventsReverse(other_run, 100, 100) == Blobs(other_run, {4, 3, 2, 1}));
}

TEST_CASE("Store: LoadTasks and LoadTimers reflect inserts and deletes", "[store]") {
  auto store = OpenOrFail(SqliteOptions{});
  std::vector<int64_t> ids;
  for (int i = 0; i < 6; ++i) ids.push_back(store->NextId());

  WriteBatch b;
  for (int i = 0; i < 3; ++i) b.task_inserts.push_back({ids[i], "task-" + std::to_string(i), ""});
  b.timer_inserts.push_back({ids[3], 3000, "timer-late"});
  b.timer_inserts.push_back({ids[4], 1000, "timer-early"});
  b.timer_inserts.push_back({ids[5], 2000, "timer-mid"});
  REQUIRE(store->Commit(std::move(b)).ok());

  auto tasks = store->LoadTasks();
  REQUIRE(tasks.size() == 3);
  for (int i = 0; i < 3; ++i) {
    CHECK(tasks[i].id == ids[i]);
    CHECK(tasks[i].task == "task-" + std::to_string(i));
  }
  auto timers = store->LoadTimers();
  REQUIRE(timers.size() == 3);
  CHECK(timers[0].timer == "timer-early");  // By fire time.
  CHECK(timers[0].id == ids[4]);
  CHECK(timers[0].fire_time_nanos == 1000);
  CHECK(timers[1].timer == "timer-mid");
  CHECK(timers[2].timer == "timer-late");

  WriteBatch d;
  d.task_deletes.push_back(ids[1]);
  d.timer_deletes.push_back(ids[5]);
  d.task_deletes.push_back(987654321);  // Deleting a missing row is not an error.
  REQUIRE(store->Commit(std::move(d)).ok());
  tasks = store->LoadTasks();
  REQUIRE(tasks.size() == 2);
  CHECK(tasks[0].id == ids[0]);
  CHECK(tasks[1].id == ids[2]);
  timers = store->LoadTimers();
  REQUIRE(timers.size() == 2);
  CHECK(timers[0].id == ids[4]);
  CHECK(timers[1].id == ids[3]);

  // A task id that exists already makes the batch fail.
  WriteBatch dup;
  dup.task_inserts.push_back({ids[0], "again", ""});
  CHECK_FALSE(store->Commit(std::move(dup)).ok());
  CHECK(store->LoadTasks()[0].task == "task-0");
}

TEST_CASE("Store: current run and visibility rows", "[store]") {
  auto store = OpenOrFail(SqliteOptions{});
  const ExecutionKey r1 = Key("wf-vis", "run-1");
  const ExecutionKey r2 = Key("wf-vis", "run-2");
  REQUIRE(store->Commit(NewExecution(r1, 1)).ok());
  WriteBatch b = NewExecution(r2, 1);
  b.executions[0].status = 2;
  b.executions[0].start_request_id = "req-2";
  b.visibility.push_back(Vis(r1, "T", "tq", 1, 100, 100, 0, 1, "i1"));
  b.visibility.push_back(Vis(r2, "T", "tq", 2, 200, 200, 300, 5, "i2"));
  REQUIRE(store->Commit(std::move(b)).ok());

  auto current = store->GetCurrentRun("ns-1", "wf-vis");
  REQUIRE(current.has_value());
  CHECK(current->run_id == "run-2");
  CHECK(current->status == 2);
  CHECK(current->start_request_id == "req-2");

  // A run that is not made current leaves the pointer alone.
  WriteBatch c;
  c.executions.push_back(Execution(Key("wf-vis", "run-3"), "s", /*current=*/false));
  REQUIRE(store->Commit(std::move(c)).ok());
  CHECK(store->GetCurrentRun("ns-1", "wf-vis")->run_id == "run-2");

  CHECK(store->GetVisibility(r1).has_value());
  CHECK_FALSE(store->GetVisibility({"ns-other", r1.workflow_id, r1.run_id}).has_value());
  auto v = store->GetVisibility(r2);
  REQUIRE(v.has_value());
  CHECK(v->close_time_nanos == 300);
  CHECK(v->history_length == 5);
  CHECK(v->info == "i2");

  // Upsert replaces.
  WriteBatch u;
  u.visibility.push_back(Vis(r1, "T", "tq", 3, 100, 100, 400, 9, "i1b"));
  REQUIRE(store->Commit(std::move(u)).ok());
  CHECK(store->GetVisibility(r1)->status == 3);
  CHECK(store->GetVisibility(r1)->close_time_nanos == 400);
}

TEST_CASE("Store: namespace upsert and delete", "[store]") {
  auto store = OpenOrFail(SqliteOptions{});
  WriteBatch a;
  a.namespace_upserts.push_back({"id-b", "bravo", "rb"});
  a.namespace_upserts.push_back({"id-a", "alpha", "ra"});
  REQUIRE(store->Commit(std::move(a)).ok());
  auto ns = store->ListNamespaces();
  REQUIRE(ns.size() == 2);
  CHECK(ns[0].name == "alpha");  // By name.
  CHECK(ns[1].name == "bravo");

  WriteBatch u;
  u.namespace_upserts.push_back({"id-b", "bravo", "rb2"});
  u.namespace_deletes.push_back("id-a");
  REQUIRE(store->Commit(std::move(u)).ok());
  ns = store->ListNamespaces();
  REQUIRE(ns.size() == 1);
  CHECK(ns[0].record == "rb2");

  // Names are unique.
  WriteBatch dup;
  dup.namespace_upserts.push_back({"id-c", "bravo", "rc"});
  CHECK_FALSE(store->Commit(std::move(dup)).ok());
  CHECK(store->ListNamespaces().size() == 1);
}

TEST_CASE("Store: in-memory mode", "[store]") {
  auto store = OpenOrFail(SqliteOptions{});
  const ExecutionKey k = Key("wf-mem");
  CHECK(store->Commit(WriteBatch{}).ok());  // Empty batch.
  REQUIRE(store->Commit(NewExecution(k, 2)).ok());
  CHECK(store->ReadEvents(k, 1, 10, 10) == Blobs(k, {1, 2}));
  int64_t a = store->NextId();
  CHECK(store->NextId() > a);

  // Two in-memory stores are independent.
  auto other = OpenOrFail(SqliteOptions{});
  CHECK_FALSE(other->LoadExecution(k).has_value());
}

TEST_CASE("Store: pragmas from the options are applied after the defaults", "[store]") {
  TempDir dir;
  const std::string path = dir.file("kairos.db");

  SECTION("accepted pragmas take effect") {
    SqliteOptions o;
    o.path = path;
    o.pragmas = {{"cache_size", "-4000"}, {"user_version", "42"}};
    { auto store = OpenOrFail(o); }
    CHECK(QueryText(path, "PRAGMA user_version") == "42");
  }
  SECTION("a user pragma overrides a default (foreign_keys)") {
    SqliteOptions o;
    o.pragmas = {{"foreign_keys", "OFF"}};
    auto store = OpenOrFail(o);
    WriteBatch b;
    b.events.push_back(Event(Key("wf-orphan"), 1));  // No execution row.
    CHECK(store->Commit(std::move(b)).ok());
  }
  SECTION("defaults alone enforce foreign keys") {
    auto store = OpenOrFail(SqliteOptions{});
    WriteBatch b;
    b.events.push_back(Event(Key("wf-orphan"), 1));
    CHECK_FALSE(store->Commit(std::move(b)).ok());
  }
  SECTION("a value SQLite rejects fails the open") {
    SqliteOptions o;
    o.path = path;
    o.pragmas = {{"cache_size", "'unterminated"}};
    std::unique_ptr<Store> store;
    grpc::Status st = OpenSqliteStore(o, &store);
    CHECK(st.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
    CHECK_THAT(st.error_message(), Catch::Contains("cache_size"));
    CHECK(store == nullptr);
  }
}

TEST_CASE("Store: one batch per transaction (max_batches_per_commit = 1)", "[store]") {
  SqliteOptions o;
  o.max_batches_per_commit = 1;
  auto store = OpenOrFail(o);
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        const ExecutionKey k = Key("wf-single-" + std::to_string(t) + "-" + std::to_string(i));
        WriteBatch b = NewExecution(k, 1);
        if (i % 10 == 0) b.events.push_back(Event(k, 1));  // Every tenth batch is bad.
        bool ok = store->Commit(std::move(b)).ok();
        if (ok == (i % 10 == 0)) failures++;
      }
    });
  for (auto& th : threads) th.join();
  CHECK(failures == 0);
  int present = 0;
  for (int t = 0; t < 4; ++t)
    for (int i = 0; i < 50; ++i)
      if (store->LoadExecution(Key("wf-single-" + std::to_string(t) + "-" + std::to_string(i)))) ++present;
  CHECK(present == 4 * 45);
}

TEST_CASE("Store: a path that cannot be created is refused", "[store]") {
  TempDir dir;
  std::unique_ptr<Store> store;
  grpc::Status st = OpenSqliteStore(SqliteOptions{dir.file("no/such/dir/kairos.db"), {}, 256}, &store);
  CHECK_FALSE(st.ok());
  CHECK(store == nullptr);
}

TEST_CASE("Store: deleted runs' pages go back to the file system past a quarter of the file", "[store]") {
  TempDir dir;
  const std::string path = dir.file("kairos.db");
  auto store = OpenPath(path);
  CHECK(QueryText(path, "PRAGMA auto_vacuum") == "2");  // Incremental.
  const std::string big(3000, 'x');
  for (int i = 0; i < 400; ++i) {
    const ExecutionKey k = Key("wf-big-" + std::to_string(i));
    WriteBatch b = NewExecution(k, 1);
    for (int id = 2; id <= 6; ++id) b.events.push_back({k, id, big});
    REQUIRE(store->Commit(std::move(b)).ok());
  }
  const int64_t peak = std::stoll(QueryText(path, "PRAGMA page_count"));
  for (int i = 0; i < 400; i += 50) {
    WriteBatch b;
    for (int j = i; j < i + 50; ++j) b.execution_deletes.push_back(Key("wf-big-" + std::to_string(j)));
    REQUIRE(store->Commit(std::move(b)).ok());
  }
  const int64_t pages = std::stoll(QueryText(path, "PRAGMA page_count"));
  const int64_t free_pages = std::stoll(QueryText(path, "PRAGMA freelist_count"));
  CHECK(pages < peak / 2);
  CHECK(free_pages <= std::max<int64_t>(256, pages / 4));
}

TEST_CASE("Store: migration 10 moves a run's search-attribute rows into its JSON column and the value table",
          "[store]") {
  TempDir dir;
  const std::string path = dir.file("kairos.db");
  // A database as version 9 left it, with rows in every form its writers used.
  CreateAtSchemaVersion(path, 9);
  ExecSql(path,
          "INSERT INTO search_attributes VALUES ('ns-1', 'CustomerId', 2), ('ns-1', 'Amount', 3), "
          "('ns-1', 'Notes', 1), ('ns-1', 'Vip', 5), ('ns-1', 'DueAt', 6), ('ns-1', 'Tags', 7);"
          "INSERT INTO visibility (namespace_id, workflow_id, run_id, workflow_type, task_queue, status, "
          "start_time_nanos, execution_time_nanos, close_time_nanos, history_length, info) VALUES "
          "('ns-1', 'wf', 'r1', 'T', 'tq', 1, 1, 1, 0, 1, x''), ('ns-1', 'bare', 'r2', 'T', 'tq', 1, 2, 2, 0, 1, x'');"
          "INSERT INTO visibility_search_attributes (namespace_id, workflow_id, run_id, name, seq, text_value, words, "
          "int_value, double_value, bool_value, time_value) VALUES "
          "('ns-1', 'wf', 'r1', 'CustomerId', 0, 'c1', NULL, NULL, NULL, NULL, NULL), "
          "('ns-1', 'wf', 'r1', 'Amount', 0, NULL, NULL, 42, 42.0, NULL, NULL), "
          "('ns-1', 'wf', 'r1', 'Notes', 0, 'Fragile Glass', ' fragile glass ', NULL, NULL, NULL, NULL), "
          "('ns-1', 'wf', 'r1', 'Vip', 0, NULL, NULL, NULL, NULL, 1, NULL), "
          "('ns-1', 'wf', 'r1', 'DueAt', 0, '2030-01-01T00:00:00Z', ' 2030 ', NULL, NULL, NULL, 1893456000000000000), "
          "('ns-1', 'wf', 'r1', 'Tags', 0, 'b', NULL, NULL, NULL, NULL, NULL), "
          "('ns-1', 'wf', 'r1', 'Tags', 1, 'a', NULL, NULL, NULL, NULL, NULL), "
          "('ns-1', 'wf', 'r1', 'TemporalChangeVersion', 0, 'fix-1', NULL, NULL, NULL, NULL, NULL)");
  { auto store = OpenPath(path); }
  CHECK(QueryText(path, "SELECT MAX(version) FROM schema_version") == std::to_string(CurrentSchemaVersion()));
  auto json = [&](const std::string& p) {
    return QueryText(path, "SELECT json_extract(search_attributes, '" + p + "') FROM visibility WHERE run_id = 'r1'");
  };
  CHECK(json("$.CustomerId") == "[\"c1\"]");
  CHECK(json("$.Amount") == "[42]");
  CHECK(json("$.Notes") == "[\" fragile glass \"]");  // Its words, which a Text query matches.
  CHECK(json("$.Vip") == "[1]");
  CHECK(json("$.DueAt") == "[1893456000000000000]");
  CHECK(json("$.Tags") == "[\"b\",\"a\"]");  // In the list's order.
  CHECK(json("$.TemporalChangeVersion") == "[\"fix-1\"]");
  CHECK(QueryText(path, "SELECT search_attributes IS NULL FROM visibility WHERE run_id = 'r2'") == "1");
  // The values a query starts from, clustered by value; not Text words nor booleans.
  CHECK(QueryText(path, "SELECT group_concat(name || '=' || value, ' ') FROM (SELECT name, value FROM "
                        "visibility_values WHERE run = (SELECT id FROM visibility WHERE run_id = 'r1') "
                        "ORDER BY name, value)") ==
        "Amount=42 CustomerId=c1 DueAt=1893456000000000000 Tags=a Tags=b TemporalChangeVersion=fix-1");
  CHECK(QueryText(path, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'visibility_search_attributes'") == "0");
}

TEST_CASE("Store: migration 12 keeps every visibility row, its indexes and its values, which name the run by its id", "[store]") {
  TempDir dir;
  const std::string path = dir.file("kairos.db");
  CreateAtSchemaVersion(path, 11);
  ExecSql(path,
          "INSERT INTO visibility (namespace_id, workflow_id, run_id, workflow_type, task_queue, status, "
          "start_time_nanos, execution_time_nanos, close_time_nanos, history_length, info, close_order, "
          "execution_duration, history_size_bytes, state_transition_count, parent_workflow_id, parent_run_id, "
          "root_workflow_id, root_run_id, namespace_division, search_attributes) VALUES "
          "('ns-1', 'open', 'r1', 'T', 'tq', 1, 10, 10, 0, 3, x'0102', 9223372036854775807, NULL, 100, 4, NULL, NULL, "
          "'open', 'r1', NULL, '{\"CustomerId\":[\"c1\"]}'), "
          "('ns-1', 'closed', 'r2', 'T', 'tq', 2, 5, 5, 20, 9, x'03', 20, 15, 300, 8, 'p', 'pr', 'p', 'pr', 'd', NULL);"
          "INSERT INTO visibility_values (namespace_id, name, value, workflow_id, run_id) VALUES "
          "('ns-1', 'CustomerId', 'c1', 'open', 'r1'), ('ns-1', 'Amount', 7, 'closed', 'r2')");
  { auto store = OpenPath(path); }
  CHECK(QueryText(path, "SELECT MAX(version) FROM schema_version") == std::to_string(CurrentSchemaVersion()));
  CHECK(QueryText(path, "SELECT group_concat(workflow_id || ':' || status || ':' || close_order || ':' || "
                        "hex(info) || ':' || IFNULL(search_attributes, '-') || ':' || IFNULL(parent_run_id, '-') || "
                        "':' || IFNULL(namespace_division, '-'), ' ') FROM "
                        "(SELECT * FROM visibility ORDER BY workflow_id)") ==
        "closed:2:20:03:-:pr:d open:1:9223372036854775807:0102:{\"CustomerId\":[\"c1\"]}:-:-");
  CHECK(QueryText(path, "SELECT COUNT(*) FROM visibility WHERE id IS NOT NULL") == "2");
  // Each value row names its run by the run's id.
  CHECK(QueryText(path, "SELECT group_concat(v.workflow_id || ':' || a.name || '=' || a.value, ' ') FROM "
                        "(SELECT * FROM visibility_values ORDER BY name) a JOIN visibility v ON v.id = a.run") ==
        "closed:Amount=7 open:CustomerId=c1");
  CHECK(QueryText(path, "SELECT group_concat(name, ' ') FROM (SELECT name FROM sqlite_master WHERE type = 'index' "
                        "AND tbl_name = 'visibility' AND sql IS NOT NULL ORDER BY name)") ==
        "visibility_by_start visibility_by_status visibility_by_type visibility_in_order");
  // The run's key stays unique: the upsert's ON CONFLICT needs it.
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK);
  int rc = sqlite3_exec(db,
                        "INSERT INTO visibility (namespace_id, workflow_id, run_id, workflow_type, task_queue, status, "
                        "start_time_nanos, execution_time_nanos, close_time_nanos, history_length, info) "
                        "VALUES ('ns-1', 'open', 'r1', 'T', 'tq', 1, 1, 1, 0, 1, x'')",
                        nullptr, nullptr, nullptr);
  sqlite3_close(db);
  CHECK(rc == SQLITE_CONSTRAINT);
}
