// Tests of the HTTP API's routing (from the protos' google.api.http
// annotations) and of building requests from path, query and body.
#include <map>
#include <string>

#include <catch2/catch.hpp>

#include "kairos/http/json_codec.h"
#include "kairos/http/routes.h"
#include "temporal/api/workflowservice/v1/request_response.pb.h"

namespace http = kairos::http;
namespace wf = temporal::api::workflowservice::v1;

namespace {

const http::RouteTable& Table() {
  static const http::RouteTable table = http::RouteTable::TemporalApi();
  return table;
}

http::RouteMatch MustMatch(const std::string& verb, const std::string& path) {
  bool path_matched = false;
  auto m = Table().Match(verb, path, &path_matched);
  REQUIRE(m.has_value());
  return *m;
}

}  // namespace

TEST_CASE("http routes: every annotated method of both services has its bindings", "[http]") {
  // Each annotated RPC has a /namespaces/... (or /cluster...) binding and its /api/v1 twin.
  CHECK(Table().routes().size() >= 228);
  bool operator_route = false;
  for (const auto& r : Table().routes())
    operator_route |= r.method->service()->name() == "OperatorService";
  CHECK(operator_route);
}

TEST_CASE("http routes: variables are percent-decoded, literals win over variables", "[http]") {
  auto m = MustMatch("GET", "/api/v1/namespaces/default/workflows/order%2F42");
  CHECK(m.route->method->name() == "DescribeWorkflowExecution");
  REQUIRE(m.variables.size() == 2);
  CHECK(m.variables[0] == std::pair<std::string, std::string>{"namespace", "default"});
  CHECK(m.variables[1] == std::pair<std::string, std::string>{"execution.workflow_id", "order/42"});

  auto q = MustMatch("POST", "/namespaces/ns/workflows/w/query/status");
  CHECK(q.route->method->name() == "QueryWorkflow");
  CHECK(q.route->body == "*");
  CHECK(q.variables.back() == std::pair<std::string, std::string>{"query.query_type", "status"});

  CHECK(MustMatch("GET", "/api/v1/namespaces/default/workflows").route->method->name() == "ListWorkflowExecutions");
  CHECK(MustMatch("GET", "/api/v1/system-info").route->method->name() == "GetSystemInfo");
}

TEST_CASE("http routes: unknown paths and wrong verbs", "[http]") {
  bool path_matched = true;
  CHECK_FALSE(Table().Match("GET", "/api/v1/nothing/here", &path_matched));
  CHECK_FALSE(path_matched);
  CHECK_FALSE(Table().Match("DELETE", "/api/v1/namespaces/default/workflows/w/history", &path_matched));
  CHECK(path_matched);
}

TEST_CASE("http requests: query parameters by JSON or proto name, path variables win", "[http]") {
  auto m = MustMatch("GET", "/api/v1/namespaces/default/workflows/w1/history");
  std::multimap<std::string, std::string> query{{"execution.runId", "r1"},
                                                {"maximum_page_size", "5"},
                                                {"waitNewEvent", "true"},
                                                {"nextPageToken", "AQI="},
                                                {"historyEventFilterType", "HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT"},
                                                {"namespace", "ignored"},
                                                {"noSuchField", "x"}};
  wf::GetWorkflowExecutionHistoryRequest req;
  REQUIRE(http::BuildRequest(m, "", query, {}, &req).ok());
  CHECK(req.namespace_() == "default");
  CHECK(req.execution().workflow_id() == "w1");
  CHECK(req.execution().run_id() == "r1");
  CHECK(req.maximum_page_size() == 5);
  CHECK(req.wait_new_event());
  CHECK(req.next_page_token() == std::string("\x01\x02"));
  CHECK(req.history_event_filter_type() == temporal::api::enums::v1::HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT);
}

TEST_CASE("http requests: body with payload shorthand, bad JSON is INVALID_ARGUMENT", "[http]") {
  auto m = MustMatch("POST", "/api/v1/namespaces/default/workflows/w1");
  wf::StartWorkflowExecutionRequest req;
  std::string body = R"({"workflowType":{"name":"T"},"taskQueue":{"name":"q"},"input":[{"a":1},"s",null],"unknownField":1})";
  REQUIRE(http::BuildRequest(m, body, {}, {}, &req).ok());
  CHECK(req.workflow_id() == "w1");
  REQUIRE(req.input().payloads_size() == 3);
  CHECK(req.input().payloads(0).metadata().at("encoding") == "json/plain");
  CHECK(req.input().payloads(0).data() == R"({"a":1})");
  CHECK(req.input().payloads(1).data() == R"("s")");
  CHECK(req.input().payloads(2).metadata().at("encoding") == "binary/null");

  wf::StartWorkflowExecutionRequest bad;
  auto st = http::BuildRequest(m, "{", {}, {}, &bad);
  CHECK(st.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_CASE("http errors: gRPC codes map to grpc-gateway's HTTP statuses", "[http]") {
  CHECK(http::HttpStatusOf(grpc::StatusCode::NOT_FOUND) == 404);
  CHECK(http::HttpStatusOf(grpc::StatusCode::INVALID_ARGUMENT) == 400);
  CHECK(http::HttpStatusOf(grpc::StatusCode::FAILED_PRECONDITION) == 400);
  CHECK(http::HttpStatusOf(grpc::StatusCode::ALREADY_EXISTS) == 409);
  CHECK(http::HttpStatusOf(grpc::StatusCode::RESOURCE_EXHAUSTED) == 429);
  CHECK(http::HttpStatusOf(grpc::StatusCode::UNIMPLEMENTED) == 501);
  CHECK(http::HttpStatusOf(grpc::StatusCode::UNAVAILABLE) == 503);
  CHECK(http::HttpStatusOf(grpc::StatusCode::DEADLINE_EXCEEDED) == 504);
  CHECK(http::HttpStatusOf(grpc::StatusCode::INTERNAL) == 500);
}
