// Tests of task paging: a queue keeps a bounded part of its tasks in
// memory and reads the rest from the store a page at a time, oldest first;
// every task is dispatched once across page boundaries, across commits that
// race a read, and across a restart (a new matching service over the same
// SQLite file, as after kill -9).
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <future>
#include <limits>
#include <map>
#include <mutex>
#include <set>
#include <vector>

#include <catch2/catch.hpp>

#include "kairos/executor.h"
#include "kairos/matching/matching_service.h"
#include "kairos/matching/task_backlog.h"
#include "kairos/persistence/sqlite_store.h"

namespace fs = std::filesystem;
using kairos::matching::QueuedTask;
using kairos::matching::TaskBacklog;
using kairos::records::QueueTask;

namespace {

QueueTask Activity(const std::string& queue, int64_t created = 1) {
  QueueTask t;
  t.set_kind(QueueTask::ACTIVITY);
  t.set_namespace_id("ns");
  t.set_task_queue(queue);
  t.set_workflow_id("wf");
  t.set_created_time_nanos(created);
  return t;
}

// Rows of one queue, standing for the store: what FinishRead is given.
std::vector<QueuedTask> Page(const std::set<int64_t>& rows, const TaskBacklog::PageRequest& r) {
  std::vector<QueuedTask> out;
  for (auto it = rows.upper_bound(r.after_id); it != rows.end() && static_cast<int>(out.size()) < r.limit; ++it)
    out.push_back({*it, Activity("q")});
  return out;
}

// Takes the oldest task in memory (as a poll does) and removes its row.
int64_t TakeFirst(TaskBacklog& b, std::set<int64_t>& rows) {
  REQUIRE(!b.empty_in_memory());
  int64_t id = b.Take(b.begin()).id;
  rows.erase(id);
  return id;
}

}  // namespace

TEST_CASE("TaskBacklog: past the in-memory bound tasks stay in the store and come back in pages, oldest first",
          "[backlog]") {
  TaskBacklog b(4);
  std::set<int64_t> rows;  // The store.
  for (int64_t id = 1; id <= 10; ++id) {
    rows.insert(id);
    bool in_memory = b.Add({id, Activity("q")}, /*stored=*/true);
    CHECK(in_memory == (id <= 4));
  }
  CHECK(b.InMemory() == 4);
  CHECK(b.Count() == 10);
  CHECK(b.spilled());
  CHECK_FALSE(b.MaySyncMatch(11, true));  // Older ones wait in the store.
  CHECK(b.MaySyncMatch(11, false));       // A query task is never stored.
  CHECK_FALSE(b.NextRead());              // Still half full.

  std::vector<int64_t> taken;
  while (!rows.empty()) {
    if (auto r = b.NextRead()) b.FinishRead(*r, Page(rows, *r));
    taken.push_back(TakeFirst(b, rows));
    CHECK(b.InMemory() <= 4);
  }
  CHECK(taken == std::vector<int64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10});
  CHECK(b.Count() == 0);
  CHECK_FALSE(b.spilled());  // A short page ended the spill.
  CHECK(b.MaySyncMatch(11, true));
}

TEST_CASE("TaskBacklog: commits racing a read are queued once, whether or not the read saw them", "[backlog]") {
  TaskBacklog b(6);
  std::set<int64_t> rows;
  for (int64_t id = 1; id <= 8; ++id) {
    rows.insert(id);
    b.Add({id, Activity("q")}, true);
  }
  for (int i = 0; i < 4; ++i) TakeFirst(b, rows);
  auto r = b.NextRead();
  REQUIRE(r);
  CHECK(r->after_id == 6);
  CHECK(r->limit == 4);
  // The read sees row 9; rows 10 and 0 (an id handed out before the
  // cursor, committed late) commit after it, and all three arrive meanwhile.
  rows.insert(9);
  auto page = Page(rows, *r);
  rows.insert(10);
  rows.insert(0);
  CHECK_FALSE(b.Add({9, Activity("q")}, true));
  CHECK_FALSE(b.Add({10, Activity("q")}, true));
  CHECK_FALSE(b.Add({0, Activity("q")}, true));
  CHECK(b.Count() == 7);
  b.FinishRead(*r, std::move(page));
  // The page was short: nothing is left behind in the store but what
  // arrived, and everything is in memory exactly once.
  CHECK_FALSE(b.spilled());
  std::vector<int64_t> ids;
  for (auto it = b.begin(); it != b.end(); ++it) ids.push_back(it->id);
  std::sort(ids.begin(), ids.end());
  CHECK(ids == std::vector<int64_t>{0, 5, 6, 7, 8, 9, 10});
  CHECK(b.Count() == 7);
  // A late hand-over of a row the page brought is not queued again.
  CHECK_FALSE(b.Add({8, Activity("q")}, true));
  CHECK_FALSE(b.MaySyncMatch(8, true));
}

TEST_CASE("TaskBacklog: a full page leaves newer arrivals in the store for the next one", "[backlog]") {
  TaskBacklog b(4);
  std::set<int64_t> rows;
  for (int64_t id = 1; id <= 20; ++id) {
    rows.insert(id);
    b.Add({id, Activity("q")}, true);
  }
  for (int i = 0; i < 3; ++i) TakeFirst(b, rows);
  auto r = b.NextRead();
  REQUIRE(r);
  auto page = Page(rows, *r);  // Rows 5..7 of 5..20: full.
  rows.insert(21);
  b.Add({21, Activity("q")}, true);
  b.FinishRead(*r, std::move(page));
  CHECK(b.spilled());
  CHECK(b.Count() == 18);  // 4..21.
  std::vector<int64_t> taken;
  while (!rows.empty()) {
    if (auto next = b.NextRead()) b.FinishRead(*next, Page(rows, *next));
    taken.push_back(TakeFirst(b, rows));
  }
  std::vector<int64_t> want;
  for (int64_t id = 4; id <= 21; ++id) want.push_back(id);
  CHECK(taken == want);
}

namespace wsv1 = temporal::api::workflowservice::v1;

namespace {

// Starts every task (records it, deletes its row), as history does.
class RecordingStarter final : public kairos::matching::TaskStarter {
 public:
  explicit RecordingStarter(kairos::persistence::Store* store) : store_(store) {}
  grpc::Status StartWorkflowTask(int64_t, const QueueTask&, const wsv1::PollWorkflowTaskQueueRequest&,
                                 wsv1::PollWorkflowTaskQueueResponse*) override {
    return grpc::Status(grpc::StatusCode::INTERNAL, "no workflow tasks here");
  }
  grpc::Status StartActivityTask(int64_t task_id, const QueueTask&, const wsv1::PollActivityTaskQueueRequest&,
                                 wsv1::PollActivityTaskQueueResponse* resp) override {
    kairos::persistence::WriteBatch b;
    b.task_deletes.push_back(task_id);
    if (auto st = store_->Commit(std::move(b)); !st.ok()) return st;
    resp->set_activity_id(std::to_string(task_id));
    return grpc::Status::OK;
  }

 private:
  kairos::persistence::Store* store_;
};

// One activity poll of queue "q": the id of the task it got, 0 if none.
int64_t PollOnce(kairos::matching::MatchingService& m) {
  wsv1::PollActivityTaskQueueRequest req;
  req.set_namespace_("ns");
  req.mutable_task_queue()->set_name("q");
  req.set_identity("worker");
  wsv1::PollActivityTaskQueueResponse resp;
  std::promise<grpc::Status> done;
  auto f = done.get_future();
  m.PollActivityTasks("ns", &req, &resp, std::chrono::steady_clock::now() + std::chrono::milliseconds(500),
                      [&done](grpc::Status st) { done.set_value(st); });
  REQUIRE(f.get().ok());
  return resp.activity_id().empty() ? 0 : std::stoll(resp.activity_id());
}

// Matching over a store, its stored backlog counted as at start-up.
// Destroyed in the server's order: the executor runs what is queued first.
struct Server {
  RecordingStarter starter;
  std::unique_ptr<kairos::matching::MatchingService> matching;
  kairos::Executor executor{4};

  Server(kairos::persistence::Store* store, int max_in_memory) : starter(store) {
    kairos::matching::MatchingOptions options;
    options.max_tasks_in_memory_per_queue = max_in_memory;
    matching = kairos::matching::NewMatchingService(&executor, nullptr, options);
    matching->SetTaskStarter(&starter);
    matching->SetBacklogReader([store](const std::string& queue, int64_t after, int limit) {
      std::vector<kairos::matching::StoredTask> out;
      for (auto& row : store->LoadTaskPage(queue, after, limit)) {
        kairos::matching::StoredTask t;
        t.id = row.id;
        REQUIRE(t.task.ParseFromString(row.task));
        out.push_back(std::move(t));
      }
      return out;
    });
    for (const auto& b : store->CountTaskBacklogs())
      if (!b.queue.empty()) matching->AddStoredBacklog(b.queue, b.count);
  }
  ~Server() { matching->Shutdown(); }
};

// Commits a task row and hands it to matching, as history does.
int64_t Queue(kairos::persistence::Store& store, kairos::matching::MatchingService* m) {
  int64_t id = store.NextId();
  QueueTask t = Activity("q", id);
  kairos::persistence::WriteBatch b;
  b.task_inserts.push_back({id, t.SerializeAsString(), kairos::matching::TaskQueueKey(t)});
  REQUIRE(store.Commit(std::move(b)).ok());
  if (m != nullptr) m->AddTask(id, std::move(t));
  return id;
}

}  // namespace

TEST_CASE("Matching: a backlog larger than memory is dispatched once, oldest first, across pages and a restart",
          "[backlog]") {
  char tmpl[] = "/tmp/kairos-backlog-test-XXXXXX";
  REQUIRE(mkdtemp(tmpl) != nullptr);
  fs::path dir = tmpl;
  std::string path = (dir / "db.sqlite").string();
  std::vector<int64_t> queued, dispatched;
  {
    kairos::persistence::SqliteOptions o;
    o.path = path;
    std::unique_ptr<kairos::persistence::Store> store;
    REQUIRE(kairos::persistence::OpenSqliteStore(o, &store).ok());
    {
      Server first(store.get(), 10);
      for (int i = 0; i < 35; ++i) queued.push_back(Queue(*store, first.matching.get()));
      auto stats = first.matching->Stats("ns", "q", QueueTask::ACTIVITY);
      CHECK(stats.backlog_count == 35);
      CHECK(stats.oldest_task_created_nanos == queued.front());
      for (int i = 0; i < 12; ++i) dispatched.push_back(PollOnce(*first.matching));
    }  // "kill -9": whatever was not dispatched is only in the store.
  }
  {
    kairos::persistence::SqliteOptions o;
    o.path = path;
    std::unique_ptr<kairos::persistence::Store> store;
    REQUIRE(kairos::persistence::OpenSqliteStore(o, &store).ok());
    Server second(store.get(), 10);
    CHECK(second.matching->Stats("ns", "q", QueueTask::ACTIVITY).backlog_count == 23);
    for (int i = 0; i < 11; ++i) dispatched.push_back(PollOnce(*second.matching));
    // New tasks while the queue is spilled go behind the stored ones.
    for (int i = 0; i < 5; ++i) queued.push_back(Queue(*store, second.matching.get()));
    for (int64_t id = PollOnce(*second.matching); id != 0; id = PollOnce(*second.matching)) dispatched.push_back(id);
    CHECK(store->LoadTasks().empty());
    CHECK(second.matching->Stats("ns", "q", QueueTask::ACTIVITY).backlog_count == 0);
    // Drained: a task queued now goes to a poll at once (straight to it if
    // it is parked already).
    std::future<int64_t> poll = std::async(std::launch::async, [&] { return PollOnce(*second.matching); });
    queued.push_back(Queue(*store, second.matching.get()));
    dispatched.push_back(poll.get());
  }
  CHECK(dispatched == queued);
  std::error_code ec;
  fs::remove_all(dir, ec);
}

TEST_CASE("Store: task rows are counted and paged by queue key, rows without a key apart", "[backlog]") {
  std::unique_ptr<kairos::persistence::Store> store;
  REQUIRE(kairos::persistence::OpenSqliteStore({}, &store).ok());
  kairos::persistence::WriteBatch b;
  for (int i = 0; i < 5; ++i) b.task_inserts.push_back({store->NextId(), "a" + std::to_string(i), "queue-a"});
  for (int i = 0; i < 3; ++i) b.task_inserts.push_back({store->NextId(), "old" + std::to_string(i), ""});
  for (int i = 0; i < 2; ++i) b.task_inserts.push_back({store->NextId(), "b" + std::to_string(i), "queue-b"});
  REQUIRE(store->Commit(std::move(b)).ok());
  std::map<std::string, int64_t> counts;
  for (const auto& c : store->CountTaskBacklogs()) counts[c.queue] = c.count;
  CHECK(counts == std::map<std::string, int64_t>{{"", 3}, {"queue-a", 5}, {"queue-b", 2}});
  auto first = store->LoadTaskPage("queue-a", std::numeric_limits<int64_t>::min(), 3);
  REQUIRE(first.size() == 3);
  CHECK(first[0].task == "a0");
  CHECK(first[2].task == "a2");
  auto rest = store->LoadTaskPage("queue-a", first.back().id, 3);
  REQUIRE(rest.size() == 2);
  CHECK(rest[0].task == "a3");
  CHECK(rest[1].queue == "queue-a");
  CHECK(store->LoadTaskPage("", std::numeric_limits<int64_t>::min(), 10).size() == 3);
  CHECK(store->LoadTaskPage("queue-c", std::numeric_limits<int64_t>::min(), 10).empty());
}
