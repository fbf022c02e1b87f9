// Tests of the HTTP API's JSON: payload shorthand both ways, the standard
// form when a payload has no shorthand, errors as google.rpc.Status.
#include <string>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "kairos/errors.h"
#include "kairos/http/json_codec.h"
#include "kairos/http/ui_site.h"
#include "temporal/api/history/v1/message.pb.h"
#include "temporal/api/workflowservice/v1/request_response.pb.h"

namespace http = kairos::http;
namespace wf = temporal::api::workflowservice::v1;
using nlohmann::json;

namespace {

void AddPayload(temporal::api::common::v1::Payloads* p, const std::string& encoding, const std::string& data) {
  auto* payload = p->add_payloads();
  (*payload->mutable_metadata())["encoding"] = encoding;
  payload->set_data(data);
}

}  // namespace

TEST_CASE("http json: payloads in shorthand, int64 as strings, enums by name", "[http]") {
  wf::QueryWorkflowResponse resp;
  AddPayload(resp.mutable_query_result(), "json/plain", R"({"x":[1,2]})");
  AddPayload(resp.mutable_query_result(), "json/plain", "12345678901234567");
  auto doc = json::parse(http::MessageToJson(resp, {}));
  CHECK(doc["queryResult"] == json::parse(R"([{"x":[1,2]}, 12345678901234567])"));

  http::JsonOptions standard;
  standard.payload_shorthand = false;
  auto plain = json::parse(http::MessageToJson(resp, standard));
  CHECK(plain["queryResult"]["payloads"][0]["metadata"]["encoding"] == "anNvbi9wbGFpbg==");

  temporal::api::history::v1::HistoryEvent event;
  event.set_event_id(7);
  event.set_event_type(temporal::api::enums::v1::EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED);
  auto e = json::parse(http::MessageToJson(event, {}));
  CHECK(e["eventId"] == "7");
  CHECK(e["eventType"] == "EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED");
}

TEST_CASE("http json: a payload without a shorthand keeps the standard form", "[http]") {
  wf::QueryWorkflowResponse resp;
  AddPayload(resp.mutable_query_result(), "json/plain", "1");
  AddPayload(resp.mutable_query_result(), "binary/encrypted", "\x01\x02");
  auto doc = json::parse(http::MessageToJson(resp, {}));
  REQUIRE(doc["queryResult"].is_object());
  CHECK(doc["queryResult"]["payloads"].size() == 2);
}

TEST_CASE("http json: errors as google.rpc.Status with typed details", "[http]") {
  auto doc = json::parse(http::StatusToJson(kairos::errors::NamespaceNotFound("nope"), {}));
  CHECK(doc["code"] == 5);
  CHECK(doc["message"].get<std::string>().find("nope") != std::string::npos);
  CHECK(doc["details"][0]["@type"] == "type.googleapis.com/temporal.api.errordetails.v1.NamespaceNotFoundFailure");
  CHECK(doc["details"][0]["namespace"] == "nope");

  auto bare = json::parse(http::StatusToJson(grpc::Status(grpc::StatusCode::NOT_FOUND, "Not Found"), {}));
  CHECK(bare == json::parse(R"({"code":5,"message":"Not Found"})"));
}

TEST_CASE("http json: raw history events as Go's encoding/json writes them", "[http]") {
  temporal::api::history::v1::HistoryEvent event;
  event.set_event_id(1);
  event.set_event_type(temporal::api::enums::v1::EVENT_TYPE_WORKFLOW_EXECUTION_STARTED);
  event.mutable_event_time()->set_seconds(100);
  auto* attrs = event.mutable_workflow_execution_started_event_attributes();
  attrs->mutable_workflow_type()->set_name("T");
  attrs->set_attempt(1);
  auto doc = json::parse(http::GoStructJson(event));
  CHECK(doc["event_id"] == 1);
  CHECK(doc["event_type"] == 1);
  CHECK(doc["event_time"] == json::parse(R"({"seconds":100})"));
  CHECK(doc["Attributes"]["WorkflowExecutionStartedEventAttributes"]["workflow_type"]["name"] == "T");
  CHECK(doc["Attributes"]["WorkflowExecutionStartedEventAttributes"]["attempt"] == 1);
}
