#include "kairos/http/nexus_endpoint.h"

#include <cctype>
#include <optional>
#include <regex>
#include <set>
#include <vector>

#include <google/protobuf/util/time_util.h>

#include "kairos/http/nexus_wire.h"
#include "kairos/http/routes.h"

namespace kairos::http {
namespace {

namespace nexusv1 = temporal::api::nexus::v1;

constexpr char kByEndpointApi[] = "/temporal.api.nexusservice.v1.NexusService/DispatchByEndpoint";
constexpr char kByQueueApi[] = "/temporal.api.nexusservice.v1.NexusService/DispatchByNamespaceAndTaskQueue";
constexpr char kFailureSupportHeader[] = "temporal-nexus-failure-support";
// Temporal's matching gives a Nexus request a minute when the caller sets no
// Request-Timeout.
constexpr auto kDefaultRequestTimeout = std::chrono::seconds(60);
constexpr int kStatusOperationUnsuccessful = 424;
constexpr int kStatusUpstreamTimeout = 520;

// Headers a handler worker never sees (Temporal's default
// frontend.nexusRequestHeadersBlacklist), and what the HTTP server adds of
// its own.
const std::set<std::string>& DroppedHeaders() {
  static const std::set<std::string> names{"accept-encoding", "x-forwarded-for",     "xdc-redirection",
                                           "xdc-redirection-api", kFailureSupportHeader, "host",
                                           "remote_addr",     "remote_port",         "local_addr",
                                           "local_port"};
  return names;
}

std::string Header(const ApiRequest& r, const std::string& name) {
  auto it = r.headers.find(name);
  return it == r.headers.end() ? "" : it->second;
}

// A worker's handler error. Callers without Temporal's failure support get
// its cause alone, as Temporal answers them.
NexusError WorkerHandlerError(const temporal::api::failure::v1::Failure& f, bool failure_support) {
  const auto& info = f.nexus_handler_failure_info();
  NexusError e;
  e.status = StatusOfHandlerError(info.type());
  e.failure = NexusFailure(f);
  if (!failure_support && f.has_cause()) e.failure = NexusFailure(f.cause());
  using enum temporal::api::enums::v1::NexusHandlerErrorRetryBehavior;
  if (info.retry_behavior() == NEXUS_HANDLER_ERROR_RETRY_BEHAVIOR_RETRYABLE) e.retryable = true;
  if (info.retry_behavior() == NEXUS_HANDLER_ERROR_RETRY_BEHAVIOR_NON_RETRYABLE) e.retryable = false;
  e.from_worker = true;
  return e;
}

NexusError OperationError(const std::string& state, NexusJson cause, bool failure_support) {
  NexusError e;
  e.status = kStatusOperationUnsuccessful;
  e.operation_state = state;
  e.failure = failure_support ? OperationErrorFailure(state, std::move(cause)) : std::move(cause);
  e.from_worker = true;
  return e;
}

// Request-Timeout as the protocol writes durations ("10ms", "1.5s", "2m").
std::optional<std::chrono::milliseconds> ParseTimeout(const std::string& value) {
  static const std::regex form(R"(^(\d+(?:\.\d+)?)(ms|s|m)$)");
  std::smatch m;
  if (!std::regex_match(value, m, form)) return std::nullopt;
  double v = std::stod(m[1].str());
  double scale = m[2] == "ms" ? 1 : m[2] == "s" ? 1e3 : 60e3;
  return std::chrono::milliseconds(static_cast<int64_t>(v * scale));
}

// Where a path goes: the target's address and what follows "services".
struct ParsedPath {
  bool by_endpoint = false;
  std::string endpoint_id, namespace_name, task_queue;
  std::vector<std::string> rest;  // Raw segments after the prefix.
};

std::optional<ParsedPath> ParsePath(const std::string& raw_path) {
  auto parts = SplitNexusHeader(raw_path, '/');
  ParsedPath p;
  size_t rest_at = 0;
  if (parts.size() >= 6 && parts[0].empty() && parts[1] == "nexus" && parts[2] == "endpoints" && parts[4] == "services") {
    p.by_endpoint = true;
    p.endpoint_id = parts[3];
    rest_at = 5;
  } else if (parts.size() >= 7 && parts[0].empty() && parts[1] == "namespaces" && parts[3] == "task-queues" &&
             parts[5] == "nexus-services") {
    p.namespace_name = parts[2];
    p.task_queue = parts[4];
    rest_at = 6;
  } else {
    return std::nullopt;
  }
  p.rest.assign(parts.begin() + static_cast<std::ptrdiff_t>(rest_at), parts.end());
  return p;
}

// The header a worker sees: every request header but the content, callback
// and dropped ones, names lower-cased, the first value of each.
google::protobuf::Map<std::string, std::string> WorkerHeader(const ApiRequest& r, bool keep_token) {
  google::protobuf::Map<std::string, std::string> header;
  for (const auto& [k, v] : r.headers) {
    if (k.starts_with("content-") || k.starts_with("nexus-callback-") || DroppedHeaders().contains(k)) continue;
    if (!keep_token && k == "nexus-operation-token") continue;
    header.try_emplace(k, v);
  }
  return header;
}

class NexusCall {
 public:
  NexusCall(NexusDispatcher& d, const ApiRequest& r) : d_(d), r_(r) {
    failure_support_ = Header(r, kFailureSupportHeader) == "true";
  }

  HttpReply Serve() {
    auto path = ParsePath(r_.raw_path);
    if (!path) return NexusErrorReply(NexusServerError("NOT_FOUND", "not found"));
    NexusTarget target;
    std::string api = path->by_endpoint ? kByEndpointApi : kByQueueApi;
    if (path->by_endpoint) {
      auto st = d_.EndpointTarget(PercentDecode(path->endpoint_id), &target);
      if (st.error_code() == grpc::StatusCode::NOT_FOUND)
        return NexusErrorReply(NexusServerError("NOT_FOUND", "nexus endpoint not found", false));
      if (st.error_code() == grpc::StatusCode::FAILED_PRECONDITION)
        return NexusErrorReply(NexusServerError("BAD_REQUEST", "invalid endpoint target"));
      if (st.error_code() == grpc::StatusCode::UNAVAILABLE)
        return NexusErrorReply(NexusServerError("NOT_FOUND", "invalid endpoint target", true));
      if (!st.ok()) return NexusErrorReply(NexusServerError("INTERNAL", "internal error"));
    } else {
      target.namespace_name = PercentDecode(path->namespace_name);
      target.task_queue = PercentDecode(path->task_queue);
    }
    if (r_.verb != "POST")
      return NexusErrorReply(NexusServerError("BAD_REQUEST", "invalid request method: expected POST, got \"" + r_.verb + "\""));
    const auto& rest = path->rest;
    bool start = rest.size() == 2;
    bool cancel = (rest.size() == 3 && rest[2] == "cancel") || (rest.size() == 4 && rest[3] == "cancel");
    if (!start && !cancel) return NexusErrorReply(NexusServerError("NOT_FOUND", "not found"));
    if (!path->by_endpoint) {
      if (!d_.QueueTarget(target.namespace_name, target.task_queue, &target).ok())
        return NexusErrorReply(NexusServerError("NOT_FOUND", "namespace not found: \"" + target.namespace_name + "\""));
    }
    service_ = PercentDecode(rest[0]);
    operation_ = PercentDecode(rest[1]);
    if (auto e = Admit(target, api)) return NexusErrorReply(*e);
    auto deadline = Deadline();
    if (!deadline) return NexusErrorReply(NexusServerError("BAD_REQUEST", "invalid request timeout header"));
    if (start) return Start(target, *deadline);
    std::string token = rest.size() == 4 ? PercentDecode(rest[2]) : Header(r_, "nexus-operation-token");
    if (token.empty()) {
      auto q = r_.query.find("token");
      if (q != r_.query.end()) token = q->second;
    }
    if (token.empty()) return NexusErrorReply(NexusServerError("BAD_REQUEST", "missing operation token"));
    return Cancel(target, token, *deadline);
  }

 private:
  std::optional<NexusError> Admit(const NexusTarget& target, const std::string& api) {
    auto st = d_.Authorize(Header(r_, "authorization"), api, target);
    if (st.error_code() == grpc::StatusCode::UNAUTHENTICATED) return NexusServerError("UNAUTHENTICATED", "unauthorized");
    if (!st.ok()) return NexusServerError("UNAUTHORIZED", "permission denied");
    return std::nullopt;
  }

  std::optional<std::chrono::steady_clock::time_point> Deadline() {
    auto now = std::chrono::steady_clock::now();
    std::string value = Header(r_, "request-timeout");
    if (value.empty()) return now + kDefaultRequestTimeout;
    auto timeout = ParseTimeout(value);
    if (!timeout) return std::nullopt;
    return now + (timeout->count() > 0 ? *timeout : std::chrono::milliseconds(kDefaultRequestTimeout));
  }

  nexusv1::Request BaseRequest(const NexusTarget& target, bool keep_token) {
    nexusv1::Request req;
    *req.mutable_header() = WorkerHeader(r_, keep_token);
    *req.mutable_scheduled_time() = google::protobuf::util::TimeUtil::GetCurrentTime();
    req.mutable_capabilities()->set_temporal_failure_responses(failure_support_);
    req.set_endpoint(target.endpoint_name);
    return req;
  }

  // Older workers answer with the deprecated operation id and operation
  // error; Temporal still reads them, and cancels carry the id as well.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  HttpReply Start(const NexusTarget& target, std::chrono::steady_clock::time_point deadline) {
    nexusv1::Request req = BaseRequest(target, true);
    auto* start = req.mutable_start_operation();
    start->set_service(service_);
    start->set_operation(operation_);
    start->set_request_id(Header(r_, "nexus-request-id"));
    if (auto q = r_.query.find("callback"); q != r_.query.end()) start->set_callback(q->second);
    NexusContent content;
    content.data = r_.body;
    for (const auto& [k, v] : r_.headers) {
      if (k.starts_with("nexus-callback-")) (*start->mutable_callback_header()).try_emplace(k.substr(15), v);
      if (k.starts_with("content-")) content.header.try_emplace(k.substr(8), v);
      if (k != "nexus-link") continue;
      for (const auto& one : SplitNexusHeader(v, ',')) {
        if (!ParseNexusLink(one, start->add_links()))
          return NexusErrorReply(NexusServerError("BAD_REQUEST", "invalid \"nexus-link\" header"));
      }
    }
    *start->mutable_payload() = PayloadFromContent(content);
    if (start->payload().ByteSizeLong() > d_.PayloadLimit(target))
      return NexusErrorReply(NexusServerError("BAD_REQUEST", "input exceeds size limit"));
    NexusAnswer answer;
    if (auto e = Send(target, std::move(req), deadline, &answer)) return NexusErrorReply(*e);
    const auto& resp = answer.response.start_operation();
    HttpReply reply;
    const google::protobuf::RepeatedPtrField<nexusv1::Link>* links = nullptr;
    if (resp.has_sync_success()) {
      NexusContent out = ContentFromPayload(resp.sync_success().payload());
      reply = HttpReply(200, out.data, "");
      for (const auto& [k, v] : out.header) {
        if (k == "type") reply.content_type = v;
        else if (k != "length") reply.headers.emplace_back("Content-" + k, v);
      }
      links = &resp.sync_success().links();
    } else if (resp.has_async_success()) {
      const auto& async = resp.async_success();
      NexusJson info = NexusJson::object();
      info["token"] = async.operation_token().empty() ? async.operation_id() : async.operation_token();
      info["state"] = "running";
      reply = HttpReply(201, info.dump());
      links = &async.links();
    } else if (resp.has_operation_error()) {
      const auto& op = resp.operation_error();
      return NexusErrorReply(OperationError(op.operation_state(), NexusFailure(op.failure()), failure_support_));
    } else if (resp.has_failure()) {
      const auto& f = resp.failure();
      return NexusErrorReply(OperationError(f.has_canceled_failure_info() ? "canceled" : "failed", NexusFailure(f),
                                  failure_support_));
    } else {
      NexusError e = NexusServerError("INTERNAL", "empty outcome");
      e.from_worker = true;
      return NexusErrorReply(e);
    }
    for (const auto& l : *links) reply.headers.emplace_back("Nexus-Link", "<" + l.url() + ">; type=\"" + l.type() + "\"");
    return reply;
  }

  HttpReply Cancel(const NexusTarget& target, const std::string& token,
                   std::chrono::steady_clock::time_point deadline) {
    nexusv1::Request req = BaseRequest(target, false);
    auto* cancel = req.mutable_cancel_operation();
    cancel->set_service(service_);
    cancel->set_operation(operation_);
    cancel->set_operation_token(token);
    cancel->set_operation_id(token);
    NexusAnswer answer;
    if (auto e = Send(target, std::move(req), deadline, &answer)) return NexusErrorReply(*e);
    return HttpReply(202, "", "");
  }
#pragma GCC diagnostic pop

  // The worker's answer, or the error that replaces it.
  std::optional<NexusError> Send(const NexusTarget& target, nexusv1::Request req,
                                 std::chrono::steady_clock::time_point deadline, NexusAnswer* answer) {
    auto st = d_.Dispatch(target, std::move(req), deadline, answer);
    if (st.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
      // As Temporal, whether or not a worker took the request.
      NexusError e = NexusServerError("UPSTREAM_TIMEOUT", "upstream timeout");
      e.from_worker = true;
      return e;
    }
    if (!st.ok()) return NexusServerError("INTERNAL", "internal error");
    if (answer->handler_failed) return WorkerHandlerError(answer->handler_failure, failure_support_);
    return std::nullopt;
  }

  NexusDispatcher& d_;
  const ApiRequest& r_;
  bool failure_support_ = false;
  std::string service_, operation_;
};

}  // namespace

int StatusOfHandlerError(const std::string& type) {
  static const std::map<std::string, int> statuses{
      {"BAD_REQUEST", 400},        {"REQUEST_TIMEOUT", 408}, {"CONFLICT", 409},          {"UNAUTHENTICATED", 401},
      {"UNAUTHORIZED", 403},       {"NOT_FOUND", 404},       {"RESOURCE_EXHAUSTED", 429}, {"INTERNAL", 500},
      {"NOT_IMPLEMENTED", 501},    {"UNAVAILABLE", 503},     {"UPSTREAM_TIMEOUT", kStatusUpstreamTimeout}};
  auto it = statuses.find(type);
  return it == statuses.end() ? 500 : it->second;
}

NexusError NexusServerError(const std::string& type, const std::string& message, std::optional<bool> retryable) {
  return {StatusOfHandlerError(type), HandlerErrorFailure(type, message, retryable), retryable, "", false};
}

HttpReply NexusErrorReply(const NexusError& e) {
  HttpReply r(e.status, e.failure.dump());
  if (e.retryable) r.headers.emplace_back("Nexus-Request-Retryable", *e.retryable ? "true" : "false");
  if (!e.operation_state.empty()) r.headers.emplace_back("Nexus-Operation-State", e.operation_state);
  if (e.from_worker) r.headers.emplace_back("Temporal-Nexus-Failure-Source", "worker");
  return r;
}

bool IsNexusPath(const std::string& raw_path) { return ParsePath(raw_path).has_value(); }

HttpReply ServeNexus(NexusDispatcher& dispatcher, const ApiRequest& request) {
  return NexusCall(dispatcher, request).Serve();
}

}  // namespace kairos::http
