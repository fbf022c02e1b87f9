// Tests of Nexus's HTTP forms (payloads as content, failures as the
// protocol's JSON, as Temporal converts them), of the endpoint's answers to a
// fake dispatcher, and of the completion-callback address rules.
#include <string>

#include <catch2/catch.hpp>

#include "kairos/frontend/callback_rules.h"
#include "kairos/http/nexus_endpoint.h"
#include "kairos/http/nexus_wire.h"

namespace http = kairos::http;
namespace common = temporal::api::common::v1;

namespace {

common::Payload Json(const std::string& data) {
  common::Payload p;
  (*p.mutable_metadata())["encoding"] = "json/plain";
  p.set_data(data);
  return p;
}

// A dispatcher whose one endpoint's worker answers what the test says.
class FakeDispatcher : public http::NexusDispatcher {
 public:
  grpc::Status EndpointTarget(const std::string& id, http::NexusTarget* target) override {
    if (id != kEndpoint) return {grpc::StatusCode::NOT_FOUND, "no"};
    *target = {"handler-ns", "ns-id", "queue", "ep"};
    return grpc::Status::OK;
  }
  grpc::Status QueueTarget(const std::string& ns, const std::string& queue, http::NexusTarget* target) override {
    if (ns != "handler-ns") return {grpc::StatusCode::NOT_FOUND, "no"};
    *target = {ns, "ns-id", queue, ""};
    return grpc::Status::OK;
  }
  grpc::Status Authorize(const std::string& authorization, const std::string&, const http::NexusTarget&) override {
    return authorization == "Bearer bad" ? grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "no") : grpc::Status::OK;
  }
  grpc::Status Dispatch(const http::NexusTarget&, temporal::api::nexus::v1::Request request,
                        std::chrono::steady_clock::time_point, http::NexusAnswer* answer) override {
    seen = std::move(request);
    if (timeout) return {grpc::StatusCode::DEADLINE_EXCEEDED, "late"};
    *answer = next;
    return grpc::Status::OK;
  }
  size_t PayloadLimit(const http::NexusTarget&) override { return 64; }

  static constexpr char kEndpoint[] = "6f1e0c35-8c7d-4d2a-9b51-0a4b2c9d7e11";
  temporal::api::nexus::v1::Request seen;
  http::NexusAnswer next;
  bool timeout = false;
};

http::ApiRequest Post(const std::string& path, const std::string& body) {
  http::ApiRequest r;
  r.verb = "POST";
  r.raw_path = path;
  r.body = body;
  r.headers.emplace("content-type", "application/json");
  r.headers.emplace("content-length", std::to_string(body.size()));
  r.headers.emplace("nexus-request-id", "req-1");
  r.headers.emplace("host", "127.0.0.1");
  r.headers.emplace("accept-encoding", "gzip");
  r.headers.emplace("x-custom", "kept");
  return r;
}

std::string Header(const http::HttpReply& reply, const std::string& name) {
  for (const auto& [k, v] : reply.headers)
    if (k == name) return v;
  return "";
}

const std::string kBase = std::string("/nexus/endpoints/") + FakeDispatcher::kEndpoint + "/services/svc/";

}  // namespace

TEST_CASE("nexus content and payloads convert as Temporal converts them", "[nexus-http]") {
  http::NexusContent json{{{"type", "application/json"}, {"length", "4"}}, "\"hi\""};
  auto p = http::PayloadFromContent(json);
  CHECK(p.metadata().at("encoding") == "json/plain");
  CHECK(p.metadata().size() == 1);
  CHECK(p.data() == "\"hi\"");
  auto back = http::ContentFromPayload(p);
  CHECK(back.header.at("type") == "application/json");
  CHECK(back.data == "\"hi\"");

  CHECK(http::PayloadFromContent({}).metadata().at("encoding") == "binary/null");
  auto proto = http::PayloadFromContent({{{"type", "application/json; format=protobuf; message-type=\"a.B\""}}, "{}"});
  CHECK(proto.metadata().at("encoding") == "json/protobuf");
  CHECK(proto.metadata().at("messageType") == "a.B");
  auto odd = http::PayloadFromContent({{{"type", "text/plain"}}, "x"});
  CHECK(odd.metadata().at("encoding") == "unknown/nexus-content");
  CHECK(odd.metadata().at("type") == "text/plain");
  CHECK(http::ContentFromPayload(odd).header.at("type") == "text/plain");

  // Metadata the content form cannot carry travels as the payload itself.
  auto rich = Json("1");
  (*rich.mutable_metadata())["extra"] = "x";
  auto as_payload = http::ContentFromPayload(rich);
  CHECK(as_payload.header.at("type") == "application/x-temporal-payload");
  auto round = http::PayloadFromContent(as_payload);
  CHECK(round.metadata().at("extra") == "x");
}

TEST_CASE("nexus failures are the protocol's JSON", "[nexus-http]") {
  temporal::api::failure::v1::Failure f;
  f.set_message("boom");
  f.mutable_application_failure_info()->set_type("T");
  f.mutable_cause()->set_message("root");
  auto j = http::NexusFailure(f);
  CHECK(j["message"] == "boom");
  CHECK(j["metadata"]["type"] == "temporal.api.failure.v1.Failure");
  CHECK(j["details"]["applicationFailureInfo"]["type"] == "T");
  CHECK_FALSE(j["details"].contains("message"));
  CHECK(j["cause"]["message"] == "root");

  temporal::api::failure::v1::Failure handler;
  handler.set_message("bad");
  handler.mutable_nexus_handler_failure_info()->set_type("BAD_REQUEST");
  handler.mutable_nexus_handler_failure_info()->set_retry_behavior(
      temporal::api::enums::v1::NEXUS_HANDLER_ERROR_RETRY_BEHAVIOR_NON_RETRYABLE);
  auto h = http::NexusFailure(handler);
  CHECK(h.dump() ==
        R"({"message":"bad","metadata":{"type":"nexus.HandlerError"},"details":{"type":"BAD_REQUEST","retryableOverride":false}})");
}

TEST_CASE("the nexus endpoint answers as Temporal's frontend", "[nexus-http]") {
  FakeDispatcher d;

  SECTION("a synchronous result, with the request the worker saw") {
    d.next.response.mutable_start_operation()->mutable_sync_success()->mutable_payload()->CopyFrom(Json("\"out\""));
    auto reply = http::ServeNexus(d, Post(kBase + "echo", "\"in\""));
    CHECK(reply.status == 200);
    CHECK(reply.body == "\"out\"");
    CHECK(reply.content_type == "application/json");
    const auto& start = d.seen.start_operation();
    CHECK(start.service() == "svc");
    CHECK(start.operation() == "echo");
    CHECK(start.request_id() == "req-1");
    CHECK(start.payload().metadata().at("encoding") == "json/plain");
    CHECK(d.seen.endpoint() == "ep");
    CHECK(d.seen.header().contains("x-custom"));
    CHECK_FALSE(d.seen.header().contains("host"));
    CHECK_FALSE(d.seen.header().contains("accept-encoding"));
    CHECK_FALSE(d.seen.header().contains("content-type"));
  }
  SECTION("an asynchronous start") {
    auto* async = d.next.response.mutable_start_operation()->mutable_async_success();
    async->set_operation_token("tok");
    auto* link = async->add_links();
    link->set_url("temporal:///x");
    link->set_type("t.T");
    auto reply = http::ServeNexus(d, Post(kBase + "op", "1"));
    CHECK(reply.status == 201);
    CHECK(reply.body == R"({"token":"tok","state":"running"})");
    CHECK(Header(reply, "Nexus-Link") == "<temporal:///x>; type=\"t.T\"");
  }
  SECTION("cancel") {
    auto r = Post(kBase + "op/cancel", "");
    r.headers.emplace("nexus-operation-token", "tok");
    auto reply = http::ServeNexus(d, r);
    CHECK(reply.status == 202);
    CHECK(d.seen.cancel_operation().operation_token() == "tok");
    CHECK_FALSE(d.seen.header().contains("nexus-operation-token"));
    CHECK(http::ServeNexus(d, Post(kBase + "op/cancel", "")).status == 400);
  }
  SECTION("a handler error keeps its type's status and retry header") {
    d.next.handler_failed = true;
    d.next.handler_failure.set_message("later");
    d.next.handler_failure.mutable_nexus_handler_failure_info()->set_type("UNAVAILABLE");
    d.next.handler_failure.mutable_nexus_handler_failure_info()->set_retry_behavior(
        temporal::api::enums::v1::NEXUS_HANDLER_ERROR_RETRY_BEHAVIOR_RETRYABLE);
    auto reply = http::ServeNexus(d, Post(kBase + "op", "1"));
    CHECK(reply.status == 503);
    CHECK(Header(reply, "Nexus-Request-Retryable") == "true");
    CHECK(Header(reply, "Temporal-Nexus-Failure-Source") == "worker");
  }
  SECTION("refusals before any worker") {
    CHECK(http::ServeNexus(d, Post("/nexus/endpoints/other/services/svc/op", "1")).status == 404);
    CHECK(http::ServeNexus(d, Post(kBase + "op", std::string(100, 'x'))).status == 400);  // Over the limit.
    auto get = Post(kBase + "op", "");
    get.verb = "GET";
    CHECK(http::ServeNexus(d, get).status == 400);
    auto denied = Post(kBase + "op", "1");
    denied.headers.emplace("authorization", "Bearer bad");
    CHECK(http::ServeNexus(d, denied).status == 403);
    auto bad_link = Post(kBase + "op", "1");
    bad_link.headers.emplace("nexus-link", "no-brackets");
    CHECK(http::ServeNexus(d, bad_link).status == 400);
    CHECK(http::ServeNexus(d, Post("/namespaces/other/task-queues/q/nexus-services/svc/op", "1")).status == 404);
  }
  SECTION("no answer in time") {
    d.timeout = true;
    auto reply = http::ServeNexus(d, Post(kBase + "op", "1"));
    CHECK(reply.status == 520);
    CHECK(reply.body.find("upstream timeout") != std::string::npos);
  }
  CHECK(http::IsNexusPath(kBase + "op"));
  CHECK(http::IsNexusPath("/namespaces/n/task-queues/q/nexus-services/s/o"));
  CHECK_FALSE(http::IsNexusPath("/api/v1/namespaces/default/workflows"));
}

TEST_CASE("completion callbacks go only to allowed addresses", "[nexus-http]") {
  google::protobuf::RepeatedPtrField<common::Callback> cbs;
  auto* nexus = cbs.Add()->mutable_nexus();
  nexus->set_url("http://127.0.0.1:8080/cb");
  (*nexus->mutable_header())["Caller-Ref"] = "x";

  auto none = kairos::frontend::CallbackRules::FromDynamicConfig({});
  auto st = none.Validate(&cbs);
  CHECK(st.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(st.error_message() ==
        "invalid url: url does not match any configured callback address: http://127.0.0.1:8080/cb");

  auto secure_only = kairos::frontend::CallbackRules::FromDynamicConfig(
      {{"callback.allowedAddresses", R"([{"Pattern":"127.0.0.1:*"}])"}});
  CHECK(secure_only.Validate(&cbs).error_message() ==
        "invalid url: callback address does not allow insecure connections: http://127.0.0.1:8080/cb");

  auto any = kairos::frontend::CallbackRules::FromDynamicConfig(
      {{"callback.allowedAddresses", R"([{"Pattern":"*","AllowInsecure":true}])"}});
  CHECK(any.Validate(&cbs).ok());
  CHECK(cbs[0].nexus().header().contains("caller-ref"));  // Names lower-cased, as Temporal keeps them.

  google::protobuf::RepeatedPtrField<common::Callback> system;
  system.Add()->mutable_nexus()->set_url("temporal://system");
  CHECK(none.Validate(&system).ok());
  google::protobuf::RepeatedPtrField<common::Callback> ftp;
  ftp.Add()->mutable_nexus()->set_url("ftp://host/x");
  CHECK(none.Validate(&ftp).error_message() == "invalid url: unknown scheme: ftp://host/x");
}
