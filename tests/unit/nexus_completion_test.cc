// Tests of Nexus with handlers outside the server: the callback token and
// URL template, the completion route's checks (with a fake dispatcher), and
// how a handler's HTTP answers read as Temporal's caller reads them.
#include <string>

#include <catch2/catch.hpp>

#include "kairos/http/nexus_client.h"
#include "kairos/http/nexus_completion_route.h"
#include "kairos/http/nexus_wire.h"
#include "kairos/nexus/callback_token.h"

namespace http = kairos::http;
namespace nexus = kairos::nexus;

namespace {

kairos::records::NexusCallbackToken Token(const std::string& ns_id = "ns-id") {
  kairos::records::NexusCallbackToken t;
  t.set_namespace_id(ns_id);
  t.set_workflow_id("wf");
  t.set_run_id("run");
  t.set_scheduled_event_id(5);
  t.set_request_id("req");
  return t;
}

// Knows one namespace ("caller", id "ns-id"); records the completion it gets.
class FakeDispatcher : public http::NexusDispatcher {
 public:
  grpc::Status EndpointTarget(const std::string&, http::NexusTarget*) override { return {grpc::StatusCode::NOT_FOUND, ""}; }
  grpc::Status QueueTarget(const std::string&, const std::string&, http::NexusTarget*) override {
    return {grpc::StatusCode::NOT_FOUND, ""};
  }
  grpc::Status Authorize(const std::string& authorization, const std::string& api, const http::NexusTarget& t) override {
    api_seen = api;
    namespace_seen = t.namespace_name;
    if (authorization == "Bearer denied") return {grpc::StatusCode::PERMISSION_DENIED, "no"};
    if (authorization == "Bearer forged") return {grpc::StatusCode::UNAUTHENTICATED, "no"};
    return grpc::Status::OK;
  }
  grpc::Status Dispatch(const http::NexusTarget&, temporal::api::nexus::v1::Request, std::chrono::steady_clock::time_point,
                        http::NexusAnswer*) override {
    return {grpc::StatusCode::INTERNAL, ""};
  }
  size_t PayloadLimit(const http::NexusTarget&) override { return 64; }
  grpc::Status NamespaceName(const std::string& id, std::string* name) override {
    if (id != "ns-id") return {grpc::StatusCode::NOT_FOUND, ""};
    *name = "caller";
    return grpc::Status::OK;
  }
  grpc::Status CompleteOperation(const nexus::InboundCompletion& c) override {
    got = c;
    return answer;
  }

  std::string api_seen, namespace_seen;
  std::optional<nexus::InboundCompletion> got;
  grpc::Status answer = grpc::Status::OK;
};

http::ApiRequest Completion(const std::string& state, const std::string& body,
                            const std::string& token = nexus::EncodeCallbackToken(Token())) {
  http::ApiRequest r;
  r.verb = "POST";
  r.raw_path = "/namespaces/caller/nexus/callback";
  r.body = body;
  r.headers.emplace("content-type", "application/json");
  r.headers.emplace("nexus-operation-state", state);
  r.headers.emplace("temporal-callback-token", token);
  return r;
}

std::string Message(const http::HttpReply& reply) {
  return nlohmann::json::parse(reply.body).value("message", "");
}

}  // namespace

TEST_CASE("callback tokens are Temporal's form and read back", "[nexus-completion]") {
  std::string encoded = nexus::EncodeCallbackToken(Token());
  CHECK(encoded.starts_with(R"({"v":1,"d":")"));
  auto back = nexus::DecodeCallbackToken(encoded);
  REQUIRE(back);
  CHECK(back->workflow_id() == "wf");
  CHECK(back->scheduled_event_id() == 5);
  CHECK(back->request_id() == "req");
  CHECK_FALSE(nexus::DecodeCallbackToken(""));
  CHECK_FALSE(nexus::DecodeCallbackToken("nope"));
  CHECK_FALSE(nexus::DecodeCallbackToken(R"({"v":2,"d":""})"));
  CHECK_FALSE(nexus::DecodeCallbackToken(R"({"v":1,"d":"!!"})"));
  CHECK_FALSE(nexus::DecodeCallbackToken(R"({"v":1,"d":""})"));  // Names no run.
}

TEST_CASE("the callback URL template is Temporal's dynamic config", "[nexus-completion]") {
  auto defaults = nexus::CallbackUrlConfig::FromDynamicConfig({}, "http://127.0.0.1:7243/namespaces/{{.NamespaceName}}/nexus/callback");
  CHECK(defaults.use_system_callback_url);
  CHECK(defaults.Url("default", "id-1") == "http://127.0.0.1:7243/namespaces/default/nexus/callback");
  auto set = nexus::CallbackUrlConfig::FromDynamicConfig(
      {{"component.nexusoperations.callback.endpoint.template", "\"https://cb.example/{{ .NamespaceID }}/{{.NamespaceName}}\""},
       {"component.nexusoperations.useSystemCallbackURL", "false"}},
      "unused");
  CHECK_FALSE(set.use_system_callback_url);
  CHECK(set.Url("ns", "id-2") == "https://cb.example/id-2/ns");
  CHECK_FALSE(nexus::CallbackUrlConfig::FromDynamicConfig({}, "unset").Url("ns", "id"));
  CHECK_FALSE(nexus::CallbackUrlConfig::FromDynamicConfig(
                  {{"component.nexusoperations.callback.endpoint.template", "unset"}}, "http://x/{{.NamespaceName}}")
                  .Url("ns", "id"));
}

TEST_CASE("the completion route records outcomes and refuses as Temporal does", "[nexus-completion]") {
  CHECK(http::IsNexusCompletionPath("/namespaces/caller/nexus/callback"));
  CHECK(http::IsNexusCompletionPath("/nexus/callback"));
  CHECK_FALSE(http::IsNexusCompletionPath("/namespaces/a/b/nexus/callback"));
  CHECK_FALSE(http::IsNexusCompletionPath("/namespaces//nexus/callback"));
  CHECK_FALSE(http::IsNexusCompletionPath("/api/v1/namespaces/caller"));

  SECTION("a result") {
    FakeDispatcher d;
    auto r = Completion("succeeded", "\"done\"");
    r.headers.emplace("nexus-operation-token", "tok");
    r.headers.emplace("nexus-link", "<temporal:///namespaces/h/workflows/w/r/history?eventID=1>; type=\"x.Y\"");
    auto reply = http::ServeNexusCompletion(d, r);
    CHECK(reply.status == 200);
    CHECK(reply.body.empty());
    REQUIRE(d.got);
    CHECK(d.got->state == "succeeded");
    CHECK(d.got->result->data() == "\"done\"");
    CHECK(d.got->result->metadata().at("encoding") == "json/plain");
    CHECK(d.got->operation_token == "tok");
    CHECK(d.got->links.size() == 1);
    CHECK(d.got->token.run_id() == "run");
    CHECK(d.api_seen == "/temporal.api.nexusservice.v1.NexusService/CompleteNexusOperation");
    CHECK(d.namespace_seen == "caller");
  }
  SECTION("failures: a plain one, a Temporal wrapper's cause, a canceled one") {
    FakeDispatcher d;
    CHECK(http::ServeNexusCompletion(d, Completion("failed", R"({"message":"it failed"})")).status == 200);
    CHECK(d.got->state == "failed");
    CHECK(d.got->failure.message() == "it failed");
    CHECK_FALSE(d.got->failure.has_canceled_failure_info());
    std::string wrapped =
        R"({"message":"operation error","metadata":{"type":"nexus.OperationError","unwrap-error":"true"},)"
        R"("details":{"state":"canceled"},"cause":{"message":"stop","metadata":{"type":"temporal.api.failure.v1.Failure"},)"
        R"("details":{"canceledFailureInfo":{}}}})";
    CHECK(http::ServeNexusCompletion(d, Completion("failed", wrapped)).status == 200);
    CHECK(d.got->state == "canceled");  // The operation error's own state.
    CHECK(d.got->failure.message() == "stop");
    CHECK(d.got->failure.has_canceled_failure_info());
    CHECK(http::ServeNexusCompletion(d, Completion("canceled", R"({"message":"gave up"})")).status == 200);
    CHECK(d.got->failure.message() == "gave up");
    CHECK(d.got->failure.has_canceled_failure_info());
  }
  SECTION("refusals") {
    FakeDispatcher d;
    auto check = [&](http::ApiRequest r, int status, const std::string& message) {
      auto reply = http::ServeNexusCompletion(d, r);
      CHECK(reply.status == status);
      CHECK(Message(reply) == message);
    };
    check(Completion("succeeded", "1", ""), 400, "invalid callback token");
    check(Completion("succeeded", "1", "{}"), 400, "invalid callback token");
    check(Completion("weird", "1"), 400, "invalid request operation state: \"weird\"");
    auto text = Completion("failed", "x");
    text.headers.find("content-type")->second = "text/plain";
    check(text, 400, "invalid request content type: \"text/plain\"");
    check(Completion("failed", "[1"), 400, "failed to decode Failure from request body");
    check(Completion("succeeded", "1", nexus::EncodeCallbackToken(Token("gone"))), 404, "namespace \"gone\" not found");
    auto other = Completion("succeeded", "1");
    other.raw_path = "/namespaces/other/nexus/callback";
    check(other, 400, "invalid callback token");
    auto denied = Completion("succeeded", "1");
    denied.headers.emplace("authorization", "Bearer denied");
    check(denied, 403, "permission denied");
    auto forged = Completion("succeeded", "1");
    forged.headers.emplace("authorization", "Bearer forged");
    check(forged, 401, "unauthorized");
    check(Completion("succeeded", "\"" + std::string(100, 'x') + "\""), 400, "result exceeds size limit");
    auto start = Completion("succeeded", "1");
    start.headers.emplace("nexus-operation-start-time", "yesterday");
    check(start, 400, "failed to parse operation start time header");
    auto link = Completion("succeeded", "1");
    link.headers.emplace("nexus-link", "nope");
    check(link, 400, "failed to decode links from request headers");
    CHECK_FALSE(d.got);  // None reached history.
    d.answer = {grpc::StatusCode::NOT_FOUND, "stale reference"};
    check(Completion("succeeded", "1"), 404, "stale reference");
    d.answer = {grpc::StatusCode::INTERNAL, "secret"};
    check(Completion("succeeded", "1"), 500, "internal error");
  }
}

TEST_CASE("a handler's HTTP answers read as Temporal's caller reads them", "[nexus-completion]") {
  auto answer = [](bool start, int status, std::string body, std::multimap<std::string, std::string> headers) {
    http::NexusHttpResponse r{status, std::move(body), std::move(headers)};
    http::NexusAnswer a;
    auto st = http::ParseNexusHandlerResponse(start, r, &a);
    return std::make_pair(st, a);
  };
  const std::multimap<std::string, std::string> json{{"content-type", "application/json"}};

  auto [sync_st, sync] = answer(true, 200, "\"hi\"", {{"content-type", "application/json"}, {"nexus-link", "<x:y>; type=\"a.B\""}});
  REQUIRE(sync_st.ok());
  CHECK(sync.response.start_operation().sync_success().payload().data() == "\"hi\"");
  CHECK(sync.response.start_operation().sync_success().links(0).type() == "a.B");

  auto [async_st, async] = answer(true, 201, R"({"token":"t1","state":"running"})", json);
  REQUIRE(async_st.ok());
  CHECK(async.response.start_operation().async_success().operation_token() == "t1");
  CHECK(answer(true, 201, R"({"token":"","state":"running"})", json).first.error_code() == grpc::StatusCode::UNAVAILABLE);

  auto with_state = json;
  with_state.emplace("nexus-operation-state", "canceled");
  auto [op_st, op] = answer(true, 424, R"({"message":"no"})", with_state);
  REQUIRE(op_st.ok());
  CHECK(op.response.start_operation().failure().message() == "no");
  CHECK(op.response.start_operation().failure().has_canceled_failure_info());

  auto [bad_st, bad] = answer(true, 400, R"({"message":"bad input"})", json);
  REQUIRE(bad_st.ok());
  REQUIRE(bad.handler_failed);
  CHECK(bad.handler_failure.nexus_handler_failure_info().type() == "BAD_REQUEST");
  CHECK(bad.handler_failure.cause().message() == "bad input");

  auto retry = json;
  retry.emplace("nexus-request-retryable", "false");
  auto [busy_st, busy] = answer(true, 503, "", retry);
  REQUIRE(busy_st.ok());
  CHECK(busy.handler_failure.nexus_handler_failure_info().type() == "UNAVAILABLE");
  CHECK(busy.handler_failure.nexus_handler_failure_info().retry_behavior() ==
        temporal::api::enums::v1::NEXUS_HANDLER_ERROR_RETRY_BEHAVIOR_NON_RETRYABLE);

  auto [typed_st, typed] = answer(false, 500,
                                  R"({"message":"m","metadata":{"type":"nexus.HandlerError"},"details":{"type":"NOT_FOUND"}})", json);
  REQUIRE(typed_st.ok());
  CHECK(typed.handler_failure.nexus_handler_failure_info().type() == "NOT_FOUND");
  CHECK(typed.handler_failure.message() == "m");

  CHECK(answer(false, 202, "", {}).first.ok());
  auto odd = answer(true, 418, "", {});
  CHECK(odd.first.error_code() == grpc::StatusCode::UNAVAILABLE);
  CHECK(odd.first.error_message() == "unexpected response status: \"418 I'm a teapot\"");
}
