#include "kairos/persistence/recent_events.h"

#include <catch2/catch.hpp>

#include "kairos/persistence/sqlite_store.h"

using kairos::persistence::ExecutionKey;
using kairos::persistence::RecentEvents;
using kairos::persistence::WriteBatch;

namespace {

const ExecutionKey kRun{"ns", "wf", "run-1"};
const ExecutionKey kOther{"ns", "wf", "run-2"};

WriteBatch Events(const ExecutionKey& key, int64_t first, int64_t last, size_t size = 10) {
  WriteBatch b;
  for (int64_t id = first; id <= last; ++id) b.events.push_back({key, id, std::string(size, static_cast<char>('a' + id % 26))});
  return b;
}

}  // namespace

TEST_CASE("recent events serve a range only when they hold all of it", "[recent_events]") {
  RecentEvents cache(1 << 20);
  cache.Remember(Events(kRun, 1, 3));
  cache.Remember(Events(kRun, 4, 6));
  std::vector<std::string> out;
  REQUIRE(cache.Read(kRun, 1, 7, 100, &out));
  REQUIRE(out.size() == 6);
  CHECK(out[3] == std::string(10, 'e'));
  REQUIRE(cache.Read(kRun, 5, 7, 100, &out));
  CHECK(out.size() == 2);
  REQUIRE(cache.Read(kRun, 2, 7, 2, &out));  // max_count bounds the page
  CHECK(out == std::vector<std::string>{std::string(10, 'c'), std::string(10, 'd')});
  CHECK_FALSE(cache.Read(kRun, 1, 8, 100, &out));  // event 7 not held
  CHECK_FALSE(cache.Read(kOther, 1, 2, 100, &out));
  CHECK_FALSE(cache.Read(kRun, 3, 3, 100, &out));  // empty range: the store answers
}

TEST_CASE("recent events start over at a gap and forget deleted runs", "[recent_events]") {
  RecentEvents cache(1 << 20);
  cache.Remember(Events(kRun, 1, 3));
  cache.Remember(Events(kRun, 9, 10));  // not 4: held range restarts at 9
  std::vector<std::string> out;
  CHECK_FALSE(cache.Read(kRun, 1, 4, 100, &out));
  REQUIRE(cache.Read(kRun, 9, 11, 100, &out));
  CHECK(out.size() == 2);
  WriteBatch del;
  del.execution_deletes.push_back(kRun);
  cache.Remember(del);
  CHECK_FALSE(cache.Read(kRun, 9, 11, 100, &out));
  CHECK(cache.bytes() == 0);
}

TEST_CASE("recent events stay within their byte budget", "[recent_events]") {
  RecentEvents cache(1600);  // a run may hold 100 bytes: ten 10-byte events
  cache.Remember(Events(kRun, 1, 30));
  std::vector<std::string> out;
  CHECK_FALSE(cache.Read(kRun, 20, 31, 100, &out));
  REQUIRE(cache.Read(kRun, 21, 31, 100, &out));  // the newest ten
  CHECK(out.size() == 10);
  for (int run = 0; run < 40; ++run) cache.Remember(Events({"ns", "wf", "r" + std::to_string(run)}, 1, 5));
  CHECK(cache.bytes() <= 1600);
  CHECK_FALSE(cache.Read(kRun, 21, 31, 100, &out));          // written least recently: dropped
  CHECK(cache.Read({"ns", "wf", "r39"}, 1, 6, 100, &out));  // the newest stay
  RecentEvents none(0);
  none.Remember(Events(kRun, 1, 3));
  CHECK_FALSE(none.Read(kRun, 1, 4, 100, &out));
}

TEST_CASE("the store reads the same events with and without recent events", "[recent_events][store]") {
  for (size_t bytes : {size_t{0}, size_t{1} << 20}) {
    kairos::persistence::SqliteOptions options;
    options.recent_event_bytes = bytes;
    std::unique_ptr<kairos::persistence::Store> store;
    REQUIRE(kairos::persistence::OpenSqliteStore(options, &store).ok());
    WriteBatch first = Events(kRun, 1, 4);
    kairos::persistence::ExecutionWrite run;  // events belong to a stored run
    run.key = kRun;
    run.state = "state";
    first.executions.push_back(run);
    auto st = store->Commit(std::move(first));
    INFO(st.error_message());
    REQUIRE(st.ok());
    REQUIRE(store->Commit(Events(kRun, 5, 8)).ok());
    auto all = store->ReadEvents(kRun, 1, 9, 100);
    REQUIRE(all.size() == 8);
    CHECK(all[7] == std::string(10, 'i'));
    CHECK(store->ReadEvents(kRun, 6, 9, 2).size() == 2);
    WriteBatch del;
    del.execution_deletes.push_back(kRun);
    REQUIRE(store->Commit(std::move(del)).ok());
    CHECK(store->ReadEvents(kRun, 1, 9, 100).empty());
  }
}
