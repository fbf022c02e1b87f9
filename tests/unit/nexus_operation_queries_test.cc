// Standalone Nexus operations' list filter (QueryTarget::kNexusOperations):
// the attributes Temporal's CHASM visibility gives operations, translated
// over their carrier runs' rows, and run against an in-memory store.
#include <set>
#include <string>

#include <catch2/catch.hpp>

#include "kairos/persistence/sqlite_store.h"
#include "kairos/visibility/query_sql.h"
#include "kairos/visibility/search_attributes.h"
#include "kairos/visibility/values.h"
#include "kairos/visibility/visibility_service.h"
#include "temporal/api/workflow/v1/message.pb.h"
#include "visibility_fixtures.h"

using namespace kairos;
using namespace kairos::visibility;
using kairos::persistence::SqlValue;

namespace {

const TypeMap kCustom = {{"Color", enums::INDEXED_VALUE_TYPE_KEYWORD}, {"Size", enums::INDEXED_VALUE_TYPE_INT}};

TranslatedQuery Nexus(const std::string& q, QueryUse use = QueryUse::kList) {
  TranslatedQuery out;
  auto st = TranslateQuery(q, kCustom, use, &out, QueryTarget::kNexusOperations);
  INFO(q << " -> " << st.error_message());
  REQUIRE(st.ok());
  return out;
}

std::string NexusError(const std::string& q, QueryUse use = QueryUse::kList) {
  TranslatedQuery out;
  auto st = TranslateQuery(q, kCustom, use, &out, QueryTarget::kNexusOperations);
  INFO(q);
  REQUIRE_FALSE(st.ok());
  CHECK(st.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  return st.error_message();
}

bool Binds(const TranslatedQuery& q, const std::string& value) {
  for (const auto& p : q.filter.params)
    if (p == SqlValue(value)) return true;
  return false;
}

}  // namespace

TEST_CASE("nexus operations filter: id, endpoint and operation are the carrier's columns", "[visibility][nexus]") {
  CHECK(Nexus("OperationId = 'op'").filter.where == "(v.workflow_id = ?) AND v.namespace_division IS NULL");
  CHECK(Nexus("WorkflowId = 'op'").filter.where == "(v.workflow_id = ?) AND v.namespace_division IS NULL");
  CHECK(Nexus("Endpoint = 'ep'").filter.where == "(v.task_queue = ?) AND v.namespace_division IS NULL");
  CHECK(Nexus("Operation = 'echo'").filter.where == "(v.workflow_type = ?) AND v.namespace_division IS NULL");
  // A workflow's names that an operation has not: accepted, match nothing.
  CHECK(Nexus("WorkflowType = 'echo'").filter.where == "('' = ?) AND v.namespace_division IS NULL");
  CHECK(Nexus("TaskQueue = 'ep'").filter.where == "('' = ?) AND v.namespace_division IS NULL");
  CHECK(Nexus("HistoryLength > 0").filter.where == "(0 > ?) AND v.namespace_division IS NULL");
}

TEST_CASE("nexus operations filter: service and request id are kept with the search attributes",
          "[visibility][nexus]") {
  auto service = Nexus("Service = 'greeting'");
  CHECK(service.filter.where.find("json_extract(v.search_attributes, ?)") != std::string::npos);
  CHECK(Binds(service, std::string("$.\"") + kNexusServiceAttribute + "\"[0]"));
  CHECK(Binds(service, kNexusServiceAttribute));  // The value index drives the whole query's match.
  auto request = Nexus("RequestId IN ('a', 'b')");
  CHECK(Binds(request, std::string("$.\"") + kNexusRequestIdAttribute + "\"[0]"));
  CHECK(NexusError("Service = 3") ==
        "invalid query: invalid expression: invalid value type for search attribute Service of type Keyword: 3 (type: "
        "int64)");
  CHECK(NexusError("GROUP BY Service", QueryUse::kCount) ==
        "invalid query: operation is not supported: 'GROUP BY' clause is not supported for search attribute Service");
  // The names they are kept under are no attributes of a query.
  CHECK(NexusError(std::string(kNexusServiceAttribute) + " = 'x'") ==
        std::string("invalid query: invalid search attribute: ") + kNexusServiceAttribute);
}

TEST_CASE("nexus operations filter: ExecutionStatus is a Keyword of the operation's status names",
          "[visibility][nexus]") {
  auto running = Nexus("ExecutionStatus = 'Running'");
  CHECK(running.filter.where.find("CASE v.status") != std::string::npos);
  CHECK(Binds(running, "Running"));
  CHECK(Binds(Nexus("ExecutionStatus = 'Bogus'"), "Bogus"));  // Any keyword: it matches nothing.
  CHECK(Nexus("ExecutionStatus STARTS_WITH 'Run'").filter.where.find("substr(") != std::string::npos);
  CHECK(NexusError("ExecutionStatus = 1") ==
        "invalid query: invalid expression: invalid value type for search attribute ExecutionStatus of type Keyword: "
        "1 (type: int64)");
  auto grouped = Nexus("GROUP BY ExecutionStatus", QueryUse::kCount);
  CHECK(grouped.group_by == "ExecutionStatus");
  CHECK(grouped.group_column.find("CASE v.status") != std::string::npos);
  // A list takes the grouping and lists (as Temporal's does).
  CHECK(Nexus("GROUP BY ExecutionStatus").group_by == "ExecutionStatus");
}

TEST_CASE("nexus operations filter: custom attributes, times, unknown names", "[visibility][nexus]") {
  CHECK(Binds(Nexus("Color = 'red'"), "$.\"Color\"[0]"));
  CHECK(Nexus("Size > 3").filter.params.size() >= 2);
  CHECK(Nexus("StartTime > '2026-01-01T00:00:00Z'").filter.where.find("v.start_time_nanos > ?") != std::string::npos);
  CHECK(Nexus("CloseTime IS NULL").filter.where.find("v.close_time_nanos = 0") != std::string::npos);
  CHECK(NexusError("NoSuch = 'x'") == "invalid query: invalid search attribute: NoSuch");
  CHECK(NexusError("Size = 'a'") ==
        "invalid query: invalid expression: invalid value type for search attribute Size of type Int: \"a\" (type: "
        "string)");
  // The workflows' target keeps its own words.
  TranslatedQuery out;
  auto st = TranslateQuery("NoSuch = 'x'", kCustom, QueryUse::kList, &out);
  CHECK(st.error_message() == "invalid query: invalid expression: column name 'NoSuch' is not a valid search attribute");
}

namespace {

constexpr const char* kNs = "ns-1";
constexpr const char* kRows = "ns-1/nexus-operations";

// Carrier rows as history writes them (see HistoryEngine::VisibilityOf).
struct CarrierFixture : testing::VisibilityStack {
  CarrierFixture() : VisibilityStack(kNs, kCustom) {}

  void Add(const std::string& id, const std::string& operation, const std::string& service_name, int status,
           const std::map<std::string, std::string>& custom = {}) {
    persistence::VisibilityRow v;
    v.key = {kRows, id, "run-" + id};
    v.workflow_type = operation;
    v.task_queue = "ep";
    v.status = status;
    v.start_time_nanos = v.execution_time_nanos = 1'000'000'000;
    v.close_time_nanos = status == 1 ? 0 : 2'000'000'000;
    temporal::api::common::v1::SearchAttributes sa;
    auto put = [&](const std::string& name, const std::string& json) {
      auto& p = (*sa.mutable_indexed_fields())[name];
      (*p.mutable_metadata())["encoding"] = "json/plain";
      p.set_data(json);
    };
    for (const auto& [name, json] : custom) put(name, json);
    put(kNexusServiceAttribute, "\"" + service_name + "\"");
    put(kNexusRequestIdAttribute, "\"req-" + id + "\"");
    v.search_attributes = IndexValues(sa, [this](const std::string& name) -> std::optional<enums::IndexedValueType> {
      if (name == kNexusServiceAttribute || name == kNexusRequestIdAttribute) return enums::INDEXED_VALUE_TYPE_KEYWORD;
      return registry->TypeOf(kNs, name);
    });
    temporal::api::workflow::v1::WorkflowExecutionInfo info;
    info.mutable_execution()->set_workflow_id(id);
    info.mutable_execution()->set_run_id(v.key.run_id);
    *info.mutable_search_attributes() = sa;
    v.info = info.SerializeAsString();
    persistence::WriteBatch b;
    b.visibility.push_back(v);
    REQUIRE(store->Commit(std::move(b)).ok());
  }

  std::set<std::string> List(const std::string& query) {
    wsv1::ListWorkflowExecutionsResponse resp;
    auto st = service->ListNexusOperations(kNs, kRows, query, 0, "", &resp);
    INFO(query << ": " << st.error_message());
    REQUIRE(st.ok());
    std::set<std::string> ids;
    for (const auto& e : resp.executions()) ids.insert(e.execution().workflow_id());
    return ids;
  }
};

using Ids = std::set<std::string>;

}  // namespace

TEST_CASE("nexus operations store: queries match the carrier rows", "[visibility][nexus]") {
  CarrierFixture f;
  f.Add("a", "echo", "greeting", 1, {{"Color", "\"red\""}, {"Size", "5"}});
  f.Add("b", "greet", "greeting", 2, {{"Color", "\"blue\""}});
  f.Add("c", "echo", "other", 7);
  CHECK(f.List("Service = 'greeting'") == Ids{"a", "b"});
  CHECK(f.List("Service = 'greeting' AND Operation = 'echo'") == Ids{"a"});
  CHECK(f.List("RequestId = 'req-c'") == Ids{"c"});
  CHECK(f.List("ExecutionStatus = 'Running'") == Ids{"a"});
  CHECK(f.List("ExecutionStatus IN ('Completed', 'TimedOut')") == Ids{"b", "c"});
  CHECK(f.List("ExecutionStatus = 'Bogus'").empty());
  CHECK(f.List("Color = 'red'") == Ids{"a"});
  CHECK(f.List("Size > 3") == Ids{"a"});
  CHECK(f.List("Endpoint = 'ep' AND CloseTime IS NOT NULL") == Ids{"b", "c"});
  CHECK(f.List("WorkflowType = 'echo'").empty());
  // Lists give the search attributes their types, the namespace's.
  wsv1::ListWorkflowExecutionsResponse resp;
  REQUIRE(f.service->ListNexusOperations(kNs, kRows, "OperationId = 'a'", 0, "", &resp).ok());
  REQUIRE(resp.executions_size() == 1);
  CHECK(resp.executions(0).search_attributes().indexed_fields().at("Size").metadata().at("type") == "Int");
}

TEST_CASE("nexus operations store: counts, grouped by the operation's status", "[visibility][nexus]") {
  CarrierFixture f;
  f.Add("a", "echo", "greeting", 1);
  f.Add("b", "echo", "greeting", 2);
  f.Add("c", "echo", "greeting", 2);
  wsv1::CountWorkflowExecutionsResponse resp;
  REQUIRE(f.service->CountNexusOperations(kNs, kRows, "Service = 'greeting'", &resp).ok());
  CHECK(resp.count() == 3);
  resp.Clear();
  REQUIRE(f.service->CountNexusOperations(kNs, kRows, "GROUP BY ExecutionStatus", &resp).ok());
  CHECK(resp.count() == 3);
  REQUIRE(resp.groups_size() == 2);
  CHECK(resp.groups(0).count() == 2);
  CHECK(resp.groups(0).group_values(0).data() == "\"Completed\"");
  CHECK(resp.groups(0).group_values(0).metadata().at("type") == "Keyword");
  CHECK(resp.groups(1).group_values(0).data() == "\"Running\"");
}
