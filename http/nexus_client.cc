#include "kairos/http/nexus_client.h"

#include <cctype>
#include <map>

#include <httplib.h>
#include <spdlog/spdlog.h>

#include "kairos/http/nexus_wire.h"

namespace kairos::http {
namespace {

namespace nexusv1 = temporal::api::nexus::v1;
namespace fv1 = temporal::api::failure::v1;

constexpr char kUserAgent[] = "temporalio/server";  // Temporal's caller's User-Agent.

std::string Lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Go's url.PathEscape (a path segment) and url.QueryEscape.
std::string Escape(const std::string& s, bool query) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    bool keep = std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~';
    if (!query && (c == ':' || c == '@' || c == '&' || c == '=' || c == '+' || c == '$')) keep = true;
    if (keep) {
      out += static_cast<char>(c);
    } else if (query && c == ' ') {
      out += '+';
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

std::string Header(const NexusHttpResponse& r, const std::string& name) {
  auto it = r.headers.find(name);
  return it == r.headers.end() ? "" : it->second;
}

bool IsJson(const std::string& content_type) {
  std::string type = Lower(content_type.substr(0, content_type.find(';')));
  while (!type.empty() && type.back() == ' ') type.pop_back();
  return type == "application/json";
}

// An answer Temporal's client does not accept (it retries the request).
grpc::Status Unexpected(const std::string& message, const NexusHttpResponse& r) {
  std::string m = message;
  if (IsJson(Header(r, "content-type"))) {
    auto f = NexusJson::parse(r.body, nullptr, false);
    if (f.is_object() && f.contains("message") && f["message"].is_string() && !f["message"].get<std::string>().empty())
      m += ": " + f["message"].get<std::string>();
  }
  return {grpc::StatusCode::UNAVAILABLE, m};
}

// Go's response.Status for the statuses a handler may answer besides the protocol's.
std::string StatusText(int status) {
  static const std::map<int, std::string> texts{
      {201, "Created"},        {202, "Accepted"},          {204, "No Content"},         {301, "Moved Permanently"},
      {302, "Found"},          {304, "Not Modified"},      {402, "Payment Required"},   {405, "Method Not Allowed"},
      {406, "Not Acceptable"}, {410, "Gone"},              {411, "Length Required"},    {413, "Request Entity Too Large"},
      {415, "Unsupported Media Type"},                     {418, "I'm a teapot"},       {422, "Unprocessable Entity"},
      {502, "Bad Gateway"},    {504, "Gateway Timeout"},   {505, "HTTP Version Not Supported"}};
  auto it = texts.find(status);
  return std::to_string(status) + (it == texts.end() ? "" : " " + it->second);
}

// The handler error type of a status, as Temporal's client reads it.
std::optional<std::string> HandlerErrorType(int status) {
  switch (status) {
    case 400: return "BAD_REQUEST";
    case 401: return "UNAUTHENTICATED";
    case 403: return "UNAUTHORIZED";
    case 404: return "NOT_FOUND";
    case 408: return "REQUEST_TIMEOUT";
    case 409: return "CONFLICT";
    case 429: return "RESOURCE_EXHAUSTED";
    case 500: return "INTERNAL";
    case 501: return "NOT_IMPLEMENTED";
    case 503: return "UNAVAILABLE";
    case 520: return "UPSTREAM_TIMEOUT";
    default: return std::nullopt;
  }
}

// Any other status: a handler error, the body's failure itself when it is
// one, else typed by the status with the body's failure as its cause.
grpc::Status HandlerError(const NexusHttpResponse& r, NexusAnswer* answer) {
  NexusJson failure;
  if (IsJson(Header(r, "content-type"))) failure = NexusJson::parse(r.body, nullptr, false);
  if (!failure.is_object()) failure = NexusJson();
  fv1::Failure converted;
  if (failure.is_object() && failure.contains("metadata") && failure["metadata"].is_object() &&
      failure["metadata"].value("type", "") == "nexus.HandlerError") {
    if (!TemporalFailureFromNexus(failure, &converted))
      return Unexpected("failed to convert Failure to error", r);
    answer->handler_failed = true;
    answer->handler_failure = std::move(converted);
    return grpc::Status::OK;
  }
  auto type = HandlerErrorType(r.status);
  if (!type) return Unexpected("unexpected response status: \"" + StatusText(r.status) + "\"", r);
  auto* info = converted.mutable_nexus_handler_failure_info();
  info->set_type(*type);
  std::string retryable = Lower(Header(r, "nexus-request-retryable"));
  using enum temporal::api::enums::v1::NexusHandlerErrorRetryBehavior;
  if (retryable == "true") info->set_retry_behavior(NEXUS_HANDLER_ERROR_RETRY_BEHAVIOR_RETRYABLE);
  if (retryable == "false") info->set_retry_behavior(NEXUS_HANDLER_ERROR_RETRY_BEHAVIOR_NON_RETRYABLE);
  if (failure.is_object() && !TemporalFailureFromNexus(failure, converted.mutable_cause()))
    return Unexpected("failed to convert Failure to error", r);
  answer->handler_failed = true;
  answer->handler_failure = std::move(converted);
  return grpc::Status::OK;
}

grpc::Status StartAnswer(const NexusHttpResponse& r, NexusAnswer* answer) {
  google::protobuf::RepeatedPtrField<nexusv1::Link> links;
  for (auto [it, end] = r.headers.equal_range("nexus-link"); it != end; ++it)
    for (const auto& one : SplitNexusHeader(it->second, ','))
      if (!ParseNexusLink(one, links.Add())) return Unexpected("invalid links header", r);
  auto* start = answer->response.mutable_start_operation();
  if (r.status == 200) {
    NexusContent content;
    content.data = r.body;
    for (const auto& [k, v] : r.headers)
      if (k.starts_with("content-")) content.header.try_emplace(k.substr(8), v);
    auto* sync = start->mutable_sync_success();
    *sync->mutable_payload() = PayloadFromContent(content);
    *sync->mutable_links() = std::move(links);
    return grpc::Status::OK;
  }
  if (r.status == 201) {
    if (!IsJson(Header(r, "content-type")))
      return Unexpected("invalid response content type: \"" + Header(r, "content-type") + "\"", r);
    auto info = NexusJson::parse(r.body, nullptr, false);
    if (!info.is_object()) return Unexpected("failed to deserialize operation info", r);
    std::string state = info.value("state", ""), token = info.value("token", "");
    if (state != "running") return Unexpected("invalid operation state in response info: \"" + state + "\"", r);
    if (token.empty()) return Unexpected("empty operation token in response", r);
    auto* async = start->mutable_async_success();
    async->set_operation_token(token);
    *async->mutable_links() = std::move(links);
    return grpc::Status::OK;
  }
  if (r.status == 424) {
    if (!IsJson(Header(r, "content-type")))
      return Unexpected("invalid response content type: \"" + Header(r, "content-type") + "\"", r);
    auto failure = NexusJson::parse(r.body, nullptr, false);
    if (!failure.is_object()) return Unexpected("failed to deserialize failure", r);
    std::string state;
    fv1::Failure cause;
    if (!OperationFailureFromNexus(failure, Header(r, "nexus-operation-state"), &state, &cause))
      return Unexpected("invalid operation state header: \"" + Header(r, "nexus-operation-state") + "\"", r);
    *start->mutable_failure() = std::move(cause);
    return grpc::Status::OK;
  }
  start->Clear();
  answer->response.Clear();
  return HandlerError(r, answer);
}

}  // namespace

grpc::Status ParseNexusHandlerResponse(bool start, const NexusHttpResponse& response, NexusAnswer* answer) {
  *answer = NexusAnswer{};
  if (start) return StartAnswer(response, answer);
  if (response.status == 202) {
    answer->response.mutable_cancel_operation();
    return grpc::Status::OK;
  }
  return HandlerError(response, answer);
}

grpc::Status CallNexusHandler(const std::string& base_url, const nexusv1::Request& request,
                              std::chrono::milliseconds timeout, NexusAnswer* answer) {
  size_t scheme_end = base_url.find("://");
  if (scheme_end == std::string::npos) return {grpc::StatusCode::UNAVAILABLE, "invalid URL: " + base_url};
  size_t path_at = base_url.find('/', scheme_end + 3);
  std::string origin = base_url.substr(0, path_at);
  std::string path = path_at == std::string::npos ? "" : base_url.substr(path_at);
  while (!path.empty() && path.back() == '/') path.pop_back();

  const bool start = request.has_start_operation();
  const auto& service = start ? request.start_operation().service() : request.cancel_operation().service();
  const auto& operation = start ? request.start_operation().operation() : request.cancel_operation().operation();
  path += "/" + Escape(service, false) + "/" + Escape(operation, false);
  httplib::Headers headers;
  std::string body, content_type;
  if (start) {
    const auto& so = request.start_operation();
    if (!so.callback().empty()) path += "?callback=" + Escape(so.callback(), true);
    headers.emplace("Nexus-Request-Id", so.request_id());
    NexusContent content = ContentFromPayload(so.payload());
    body = content.data;
    for (const auto& [k, v] : content.header) {
      if (k == "type") content_type = v;
      else if (k != "length") headers.emplace("Content-" + k, v);
    }
    for (const auto& [k, v] : so.callback_header()) headers.emplace("Nexus-Callback-" + k, v);
    for (const auto& l : so.links()) headers.emplace("Nexus-Link", "<" + l.url() + ">; type=\"" + l.type() + "\"");
  } else {
    path += "/cancel";
    headers.emplace("Nexus-Operation-Token", request.cancel_operation().operation_token());
  }
  headers.emplace("User-Agent", kUserAgent);
  headers.emplace("Request-Timeout", std::to_string(timeout.count()) + "ms");
  for (const auto& [k, v] : request.header())
    if (Lower(k) != "request-timeout") headers.emplace(k, v);
  // As Temporal 1.32 (its new failure wire format): the handler may answer
  // with Temporal's failures.
  headers.emplace("Temporal-Nexus-Failure-Support", "true");

  httplib::Client client(origin);
  if (!client.is_valid()) return {grpc::StatusCode::UNAVAILABLE, "invalid URL: " + base_url};
  auto secs = std::chrono::duration_cast<std::chrono::seconds>(timeout);
  auto usecs = std::chrono::duration_cast<std::chrono::microseconds>(timeout - secs);
  client.set_connection_timeout(secs.count(), usecs.count());
  client.set_read_timeout(secs.count(), usecs.count());
  client.set_write_timeout(secs.count(), usecs.count());
  auto res = start ? client.Post(path, headers, body, content_type) : client.Post(path, headers, "", "");
  if (!res) {
    if (res.error() == httplib::Error::Read || res.error() == httplib::Error::ConnectionTimeout)
      return {grpc::StatusCode::UNAVAILABLE, "request timed out"};
    return {grpc::StatusCode::UNAVAILABLE,
            "Post \"" + origin + path + "\": " + httplib::to_string(res.error())};
  }
  NexusHttpResponse r;
  r.status = res->status;
  r.body = res->body;
  for (const auto& [k, v] : res->headers) r.headers.emplace(Lower(k), v);
  auto st = ParseNexusHandlerResponse(start, r, answer);
  if (!st.ok()) spdlog::warn("Nexus handler at {} answered {}: {}", base_url, r.status, st.error_message());
  return st;
}

}  // namespace kairos::http
