// Visibility queries end to end over an in-memory SQLite store: the
// translation's SQL runs, matches what Temporal's SQL visibility matches,
// and pages by keyset.
#include <set>
#include <string>

#include <catch2/catch.hpp>

#include "kairos/persistence/sqlite_store.h"
#include "kairos/visibility/search_attributes.h"
#include "kairos/visibility/values.h"
#include "kairos/visibility/visibility_service.h"
#include "temporal/api/workflow/v1/message.pb.h"
#include "visibility_fixtures.h"

using namespace kairos;
using namespace kairos::visibility;

namespace {

constexpr const char* kNs = "ns-1";
constexpr int64_t kSecond = 1'000'000'000;

struct Fixture : testing::VisibilityStack {
  Fixture()
      : VisibilityStack(kNs, {{"CustomerId", enums::INDEXED_VALUE_TYPE_KEYWORD},
                              {"Amount", enums::INDEXED_VALUE_TYPE_INT},
                              {"Notes", enums::INDEXED_VALUE_TYPE_TEXT},
                              {"Tags", enums::INDEXED_VALUE_TYPE_KEYWORD_LIST}}) {}

  // A run started at `start` seconds, closed at `close` (0: running).
  // `replaced`: a later write of the run that rewrites only these
  // attributes' rows (with `attributes` holding their new values).
  void Add(const std::string& id, const std::string& type, int status, int64_t start, int64_t close,
           const std::map<std::string, std::string>& attributes = {}, const std::vector<std::string>& replaced = {}) {
    persistence::VisibilityRow v;
    v.key = {kNs, id, "run-" + id};
    v.workflow_type = type;
    v.task_queue = "tq";
    v.status = status;
    v.start_time_nanos = start * kSecond;
    v.execution_time_nanos = start * kSecond;
    v.close_time_nanos = close * kSecond;
    if (close) v.execution_duration_nanos = (close - start) * kSecond;
    v.root_workflow_id = id;
    temporal::api::common::v1::SearchAttributes sa;
    for (const auto& [name, json] : attributes) {
      auto& p = (*sa.mutable_indexed_fields())[name];
      (*p.mutable_metadata())["encoding"] = "json/plain";
      p.set_data(json);
    }
    v.search_attributes = IndexValues(sa, [this](const std::string& name) { return registry->TypeOf(kNs, name); });
    v.replaced_search_attributes = replaced;
    temporal::api::workflow::v1::WorkflowExecutionInfo info;
    info.mutable_execution()->set_workflow_id(id);
    info.mutable_execution()->set_run_id(v.key.run_id);
    *info.mutable_search_attributes() = sa;
    v.info = info.SerializeAsString();
    persistence::WriteBatch b;
    b.visibility.push_back(v);
    REQUIRE(store->Commit(std::move(b)).ok());
  }

  std::vector<std::string> List(const std::string& query, int page_size = 0, std::string* token = nullptr) {
    wsv1::ListWorkflowExecutionsRequest req;
    req.set_query(query);
    req.set_page_size(page_size);
    if (token) req.set_next_page_token(*token);
    wsv1::ListWorkflowExecutionsResponse resp;
    auto st = service->List(kNs, req, &resp);
    INFO(query << ": " << st.error_message());
    REQUIRE(st.ok());
    if (token) *token = resp.next_page_token();
    std::vector<std::string> ids;
    for (const auto& e : resp.executions()) ids.push_back(e.execution().workflow_id());
    return ids;
  }

  std::set<std::string> Set(const std::string& query) {
    auto ids = List(query);
    return {ids.begin(), ids.end()};
  }
};

using Ids = std::set<std::string>;

}  // namespace

TEST_CASE("visibility store: filters match as Temporal's SQL visibility does", "[visibility]") {
  Fixture f;
  f.Add("a", "Invoice", 1, 10, 0, {{"CustomerId", "\"c1\""}, {"Amount", "5"}, {"Tags", "[\"red\",\"blue\"]"}});
  f.Add("b", "Invoice", 2, 20, 30, {{"CustomerId", "\"c2\""}, {"Amount", "50"}, {"Notes", "\"Rush order, fragile\""}});
  f.Add("c", "Refund", 3, 40, 45, {{"Tags", "[\"blue\"]"}});
  f.Add("d", "Refund", 1, 50, 0);

  CHECK(f.Set("") == Ids{"a", "b", "c", "d"});
  CHECK(f.Set("WorkflowType = 'Invoice' AND ExecutionStatus = 'Running'") == Ids{"a"});
  CHECK(f.Set("CustomerId = 'c1' OR CustomerId = 'c2'") == Ids{"a", "b"});
  CHECK(f.Set("CustomerId != 'c1'") == Ids{"b"});  // Runs without the attribute never match.
  CHECK(f.Set("NOT CustomerId = 'c1'") == Ids{"b"});
  CHECK(f.Set("CustomerId IS NULL") == Ids{"c", "d"});
  CHECK(f.Set("Amount > 10") == Ids{"b"});
  CHECK(f.Set("Amount BETWEEN 1 AND 5") == Ids{"a"});
  CHECK(f.Set("Tags = 'blue'") == Ids{"a", "c"});
  CHECK(f.Set("Tags != 'red'") == Ids{"b", "c", "d"});
  CHECK(f.Set("Tags IN ('red', 'green')") == Ids{"a"});
  CHECK(f.Set("Notes = 'FRAGILE'") == Ids{"b"});
  CHECK(f.Set("Notes = 'fragile glass'") == Ids{"b"});
  CHECK(f.Set("Notes != 'rush'") == Ids{"a", "c", "d"});
  CHECK(f.Set("CloseTime IS NULL") == Ids{"a", "d"});
  CHECK(f.Set("CloseTime < '1970-01-01T00:00:40Z'") == Ids{"b"});
  CHECK(f.Set("CloseTime > '1970-01-01T00:00:40Z'") == Ids{"a", "c", "d"});  // Open runs close at the end of time.
  CHECK(f.Set("StartTime >= '1970-01-01T00:00:20Z' AND StartTime < '1970-01-01T00:00:50Z'") == Ids{"b", "c"});
  CHECK(f.Set("ExecutionDuration > '9s'") == Ids{"b"});
  CHECK(f.Set("ExecutionStatus IN ('Completed', 'Failed')") == Ids{"b", "c"});
  CHECK(f.Set("WorkflowId STARTS_WITH 'b'") == Ids{"b"});
  CHECK(f.Set("RootWorkflowId = 'c'") == Ids{"c"});
  CHECK(f.Set("ParentWorkflowId IS NULL") == Ids{"a", "b", "c", "d"});
}

TEST_CASE("visibility store: a write replaces the rows of the attributes it names, the others stay", "[visibility]") {
  Fixture f;
  f.Add("a", "Invoice", 1, 10, 0, {{"CustomerId", "\"c1\""}, {"Tags", "[\"red\"]"}});
  f.Add("a", "Invoice", 1, 10, 0, {{"Tags", "[\"blue\",\"green\"]"}}, {"Tags"});
  CHECK(f.Set("Tags = 'blue'") == Ids{"a"});
  CHECK(f.Set("Tags = 'red'").empty());
  CHECK(f.Set("CustomerId = 'c1'") == Ids{"a"});
  f.Add("a", "Invoice", 1, 10, 0, {}, {"CustomerId"});  // Removed.
  CHECK(f.Set("CustomerId IS NULL") == Ids{"a"});
  CHECK(f.Set("Tags = 'green'") == Ids{"a"});
}

TEST_CASE("visibility store: list order and keyset pages", "[visibility]") {
  Fixture f;
  f.Add("closed-early", "T", 2, 1, 5);
  f.Add("closed-late", "T", 2, 2, 9);
  f.Add("open-old", "T", 1, 3, 0);
  f.Add("open-new", "T", 1, 7, 0);
  // Running first (newest start first), then closed by close time, newest first.
  CHECK(f.List("") == std::vector<std::string>{"open-new", "open-old", "closed-late", "closed-early"});

  std::string token;
  CHECK(f.List("", 2, &token) == std::vector<std::string>{"open-new", "open-old"});
  REQUIRE_FALSE(token.empty());
  f.Add("started-meanwhile", "T", 1, 100, 0);  // Sorts before the cursor: not seen again on this walk.
  CHECK(f.List("", 2, &token) == std::vector<std::string>{"closed-late", "closed-early"});
  CHECK(token.empty());
}

TEST_CASE("visibility store: counts, grouped by status", "[visibility]") {
  Fixture f;
  f.Add("a", "T", 1, 1, 0);
  f.Add("b", "T", 2, 1, 2);
  f.Add("c", "T", 2, 1, 3);
  wsv1::CountWorkflowExecutionsRequest req;
  wsv1::CountWorkflowExecutionsResponse resp;
  req.set_query("ExecutionStatus = 'Completed'");
  REQUIRE(f.service->Count(kNs, req, &resp).ok());
  CHECK(resp.count() == 2);
  resp.Clear();
  req.set_query("GROUP BY ExecutionStatus");
  REQUIRE(f.service->Count(kNs, req, &resp).ok());
  CHECK(resp.count() == 3);
  REQUIRE(resp.groups_size() == 2);
  CHECK(resp.groups(0).count() == 2);
  CHECK(resp.groups(0).group_values(0).data() == "\"Completed\"");
  CHECK(resp.groups(0).group_values(0).metadata().at("type") == "Keyword");
}

TEST_CASE("search attributes: per namespace, persisted, Temporal's refusals", "[visibility]") {
  Fixture f;
  CHECK(f.registry->Custom(kNs).size() == 4);
  CHECK(f.registry->Custom("other").empty());
  auto reserved = f.registry->Add(kNs, {{"WorkflowId", enums::INDEXED_VALUE_TYPE_KEYWORD}});
  CHECK(reserved.error_message() == "Search attribute WorkflowId is reserved by system.");
  CHECK(f.registry->Add(kNs, {{"TemporalX", enums::INDEXED_VALUE_TYPE_KEYWORD}}).error_code() ==
        grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(f.registry->Remove(kNs, {"ExecutionStatus"}).error_message() ==
        "Unable to remove non-custom search attributes: ExecutionStatus.");
  REQUIRE(f.registry->Remove(kNs, {"Amount", "NotThere"}).ok());
  SearchAttributeRegistry reloaded(f.store.get());
  REQUIRE(reloaded.Load().ok());
  CHECK(reloaded.Custom(kNs).size() == 3);
  CHECK_FALSE(reloaded.Custom(kNs).contains("Amount"));
  CHECK(ParseTypeName("keywordlist") == enums::INDEXED_VALUE_TYPE_KEYWORD_LIST);
  CHECK(ParseTypeName("KEYWORD_LIST") == enums::INDEXED_VALUE_TYPE_KEYWORD_LIST);
  CHECK(ParseTypeName("Datetime") == enums::INDEXED_VALUE_TYPE_DATETIME);
  CHECK_FALSE(ParseTypeName("Float"));
}

TEST_CASE("visibility store: a list longer than one insert statement's rows is found by each item", "[visibility]") {
  Fixture f;
  std::string tags = "[";
  for (int i = 0; i < 19; ++i) tags += (i ? ",\"t" : "\"t") + std::to_string(i) + "\"";
  tags += ",\"t3\"]";  // A repeated item.
  f.Add("a", "Invoice", 1, 10, 0, {{"CustomerId", "\"c1\""}, {"Tags", tags}});
  f.Add("b", "Invoice", 1, 20, 0, {{"Tags", "[\"t18\"]"}});
  for (int i = 0; i < 18; ++i) CHECK(f.Set("Tags = 't" + std::to_string(i) + "' AND WorkflowType = 'Invoice'") == Ids{"a"});
  CHECK(f.Set("Tags = 't18' AND WorkflowType = 'Invoice'") == Ids{"a", "b"});
  CHECK(f.Set("CustomerId = 'c1' AND Tags = 't18'") == Ids{"a"});
  // A later write replacing the list leaves none of the old items' rows behind.
  f.Add("a", "Invoice", 1, 10, 0, {{"Tags", "[\"new\"]"}}, {"Tags"});
  CHECK(f.Set("Tags = 't5' AND WorkflowType = 'Invoice'").empty());
  CHECK(f.Set("Tags = 'new' AND WorkflowType = 'Invoice'") == Ids{"a"});
  CHECK(f.Set("CustomerId = 'c1'") == Ids{"a"});
}
