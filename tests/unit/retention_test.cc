// Deleting runs and retention: the store removes every row of a run in one
// transaction and finds expired runs oldest first; the retention worker
// deletes closed runs past retention in bounded passes and leaves running
// ones alone; a deleting process killed with SIGKILL leaves a consistent
// database.
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include <catch2/catch.hpp>

#include "kairos/executor.h"
#include "kairos/history/history_service.h"
#include "kairos/history/retention.h"
#include "kairos/matching/matching_service.h"
#include "kairos/persistence/sqlite_store.h"
#include "kairos/time_util.h"

namespace fs = std::filesystem;
using namespace kairos::persistence;
namespace wsv1 = temporal::api::workflowservice::v1;

namespace {

constexpr int64_t kSecond = 1'000'000'000;

std::unique_ptr<Store> Open(const std::string& path = "") {
  std::unique_ptr<Store> store;
  SqliteOptions o;
  o.path = path;
  REQUIRE(OpenSqliteStore(o, &store).ok());
  return store;
}

// One run with `events` events; closed at `close_nanos` (0: running).
WriteBatch Run(const ExecutionKey& key, int64_t close_nanos, int events = 3) {
  WriteBatch b;
  b.executions.push_back({key, "state", true, close_nanos ? 2 : 1, "req"});
  for (int i = 1; i <= events; ++i) b.events.push_back({key, i, "event"});
  VisibilityRow v;
  v.key = key;
  v.workflow_type = "T";
  v.task_queue = "q";
  v.status = close_nanos ? 2 : 1;
  v.start_time_nanos = 1;
  v.close_time_nanos = close_nanos;
  v.info = "info";
  SearchAttributeValue a;
  a.name = "CustomKeywordField";
  a.text = "x";
  v.search_attributes.push_back(a);
  b.visibility.push_back(v);
  return b;
}

int64_t Count(sqlite3* db, const std::string& sql) {
  sqlite3_stmt* s = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &s, nullptr) == SQLITE_OK);
  int64_t n = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : -1;
  sqlite3_finalize(s);
  return n;
}

}  // namespace

TEST_CASE("Store: a deleted run leaves no row behind, other runs stay", "[retention]") {
  auto store = Open();
  ExecutionKey a{"ns", "wf-a", "run-a"}, b{"ns", "wf-b", "run-b"};
  REQUIRE(store->Commit(Run(a, 10 * kSecond)).ok());
  REQUIRE(store->Commit(Run(b, 20 * kSecond)).ok());
  WriteBatch del;
  del.execution_deletes.push_back(a);
  REQUIRE(store->Commit(std::move(del)).ok());
  CHECK_FALSE(store->LoadExecution(a));
  CHECK(store->ReadEvents(a, 1, 100, 100).empty());
  CHECK_FALSE(store->GetVisibility(a));
  CHECK_FALSE(store->GetCurrentRun("ns", "wf-a"));
  CHECK(store->LoadExecution(b));
  CHECK(store->ReadEvents(b, 1, 100, 100).size() == 3);
  CHECK(store->GetVisibility(b));
  CHECK(store->GetCurrentRun("ns", "wf-b"));
}

TEST_CASE("Store: the current-run pointer stays when it names a newer run", "[retention]") {
  auto store = Open();
  ExecutionKey old_run{"ns", "wf", "run-1"}, new_run{"ns", "wf", "run-2"};
  REQUIRE(store->Commit(Run(old_run, 10 * kSecond)).ok());
  REQUIRE(store->Commit(Run(new_run, 0)).ok());
  WriteBatch del;
  del.execution_deletes.push_back(old_run);
  REQUIRE(store->Commit(std::move(del)).ok());
  auto current = store->GetCurrentRun("ns", "wf");
  REQUIRE(current);
  CHECK(current->run_id == "run-2");
}

TEST_CASE("Store: closed runs past a time are listed oldest first, bounded, never running ones", "[retention]") {
  auto store = Open();
  for (int i = 0; i < 5; ++i) REQUIRE(store->Commit(Run({"ns", "wf-" + std::to_string(i), "r"}, (10 - i) * kSecond)).ok());
  REQUIRE(store->Commit(Run({"ns", "running", "r"}, 0)).ok());
  REQUIRE(store->Commit(Run({"other", "wf-x", "r"}, kSecond)).ok());
  auto first = store->ListClosedBefore("ns", 9 * kSecond, 2);
  REQUIRE(first.size() == 2);
  CHECK(first[0].workflow_id == "wf-4");  // Closed at 6 s.
  CHECK(first[1].workflow_id == "wf-3");
  CHECK(store->ListClosedBefore("ns", 9 * kSecond, 100).size() == 3);
  CHECK(store->ListClosedBefore("ns", INT64_MAX, 100).size() == 5);
  CHECK(store->ListClosedBefore("ns", 6 * kSecond, 100).empty());
}

TEST_CASE("Retention worker: deletes closed runs past retention in bounded passes", "[retention]") {
  auto store = Open();
  kairos::Executor executor(4);
  auto matching = kairos::matching::NewMatchingService(&executor);
  auto history = kairos::history::NewHistoryService(store.get(), matching.get(), &executor);
  history->Start();
  kairos::history::NamespaceRef ns{"ns-id", "ns"};
  for (int i = 0; i < 5; ++i) {
    wsv1::StartWorkflowExecutionRequest start;
    start.set_workflow_id("wf-" + std::to_string(i));
    start.mutable_workflow_type()->set_name("T");
    start.mutable_task_queue()->set_name("q");
    start.set_request_id("req-" + std::to_string(i));
    wsv1::StartWorkflowExecutionResponse resp;
    REQUIRE(history->StartWorkflowExecution(ns, start, &resp).ok());
    if (i == 4) continue;  // Stays running.
    wsv1::TerminateWorkflowExecutionRequest term;
    term.mutable_workflow_execution()->set_workflow_id(start.workflow_id());
    REQUIRE(history->TerminateWorkflowExecution(ns, term).ok());
  }
  kairos::history::RetentionOptions options;
  options.batch = 3;
  kairos::history::RetentionWorker worker(
      history.get(), [] { return std::vector<kairos::history::NamespaceRetention>{{"ns-id", 3600 * 1000}}; }, options);
  int64_t now = kairos::NowNanos();
  CHECK(worker.RunPass(now) == 0);  // Nothing is an hour old yet.
  int64_t later = now + 3601 * kSecond;
  CHECK(worker.RunPass(later) == 3);
  CHECK(worker.RunPass(later) == 1);
  CHECK(worker.RunPass(later) == 0);
  CHECK(store->ListClosedBefore("ns-id", INT64_MAX, 100).empty());
  CHECK_FALSE(store->GetCurrentRun("ns-id", "wf-0"));
  auto running = store->GetCurrentRun("ns-id", "wf-4");
  REQUIRE(running);
  CHECK(store->LoadExecution({"ns-id", "wf-4", running->run_id}));
  CHECK(store->ReadEvents({"ns-id", "wf-4", running->run_id}, 1, 100, 100).size() == 2);
  history->Stop();
  matching->Shutdown();
}

TEST_CASE("Deleting runs killed with SIGKILL mid-way leaves a consistent database", "[retention]") {
  std::string dir = (fs::temp_directory_path() / ("kairos-retention-" + std::to_string(getpid()))).string();
  fs::create_directories(dir);
  std::string path = dir + "/kairos.db";
  constexpr int kRuns = 3000;
  {
    auto store = Open(path);
    for (int i = 0; i < kRuns; ++i) REQUIRE(store->Commit(Run({"ns", "wf-" + std::to_string(i), "r"}, kSecond + i, 20)).ok());
  }
  pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    // Deletes one run per transaction until killed.
    auto store = Open(path);
    for (;;) {
      auto keys = store->ListClosedBefore("ns", INT64_MAX, 1);
      if (keys.empty()) _exit(0);
      WriteBatch b;
      b.execution_deletes.push_back(keys[0]);
      if (!store->Commit(std::move(b)).ok()) _exit(1);
    }
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(150));  // Let it get some way through.
  kill(child, SIGKILL);
  int status = 0;
  waitpid(child, &status, 0);
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  int64_t executions = Count(db, "SELECT COUNT(*) FROM executions");
  INFO("runs left: " << executions);
  CHECK(executions < kRuns);  // Some were deleted...
  CHECK(Count(db, "SELECT COUNT(*) FROM visibility") == executions);  // ...each one whole.
  CHECK(Count(db, "SELECT COUNT(*) FROM current_executions") == executions);
  CHECK(Count(db, "SELECT COUNT(*) FROM history_events") == executions * 20);
  CHECK(Count(db, "SELECT COUNT(*) FROM visibility_values") == executions);
  CHECK(Count(db, "SELECT COUNT(*) FROM visibility v WHERE NOT EXISTS (SELECT 1 FROM executions e WHERE "
                  "e.namespace_id = v.namespace_id AND e.workflow_id = v.workflow_id AND e.run_id = v.run_id)") == 0);
  sqlite3_close(db);
  fs::remove_all(dir);
}
