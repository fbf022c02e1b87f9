#include "kairos/http/nexus_completion_route.h"

#include <ctime>

#include <google/protobuf/util/time_util.h>

#include "kairos/http/nexus_wire.h"
#include "kairos/http/routes.h"
#include "kairos/nexus/callback_token.h"

namespace kairos::http {
namespace {

constexpr char kCompleteApi[] = "/temporal.api.nexusservice.v1.NexusService/CompleteNexusOperation";
constexpr size_t kMaxOperationTokenLength = 4096;  // Temporal's limit.maxNexusOperationTokenLength.

std::string Header(const ApiRequest& r, const std::string& name) {
  auto it = r.headers.find(name);
  return it == r.headers.end() ? "" : it->second;
}

HttpReply Bad(const std::string& message) { return NexusErrorReply(NexusServerError("BAD_REQUEST", message)); }

// Go's http.ParseTime: RFC 1123 (GMT), RFC 850 and ANSI C dates.
bool ParseHttpDate(const std::string& value) {
  for (const char* format : {"%a, %d %b %Y %H:%M:%S GMT", "%A, %d-%b-%y %H:%M:%S GMT", "%a %b %e %H:%M:%S %Y"}) {
    std::tm tm{};
    const char* end = strptime(value.c_str(), format, &tm);
    if (end && *end == '\0') return true;
  }
  return false;
}

// "/namespaces/{ns}/nexus/callback" (namespace set) or "/nexus/callback".
bool ParsePath(const std::string& raw_path, std::optional<std::string>* ns) {
  if (raw_path == "/nexus/callback") return true;
  static const std::string prefix = "/namespaces/", suffix = "/nexus/callback";
  if (raw_path.size() <= prefix.size() + suffix.size() || !raw_path.starts_with(prefix) || !raw_path.ends_with(suffix))
    return false;
  std::string segment = raw_path.substr(prefix.size(), raw_path.size() - prefix.size() - suffix.size());
  if (segment.find('/') != std::string::npos) return false;
  *ns = PercentDecode(segment);
  return true;
}

// A service error of history, as Temporal's ConvertGRPCError hides it
// (NOT_FOUND's message is shown).
HttpReply HistoryError(const grpc::Status& st) {
  switch (st.error_code()) {
    case grpc::StatusCode::NOT_FOUND:
      return NexusErrorReply(NexusServerError("NOT_FOUND", st.error_message()));
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::FAILED_PRECONDITION:
    case grpc::StatusCode::ALREADY_EXISTS:
    case grpc::StatusCode::OUT_OF_RANGE:
      return Bad("bad request");
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::ABORTED:
      return NexusErrorReply(NexusServerError("UNAVAILABLE", "service unavailable"));
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return NexusErrorReply(NexusServerError("RESOURCE_EXHAUSTED", "resource exhausted"));
    default:
      return NexusErrorReply(NexusServerError("INTERNAL", "internal error"));
  }
}

}  // namespace

grpc::Status NexusDispatcher::NamespaceName(const std::string&, std::string*) {
  return {grpc::StatusCode::NOT_FOUND, "namespace not found"};
}

grpc::Status NexusDispatcher::CompleteOperation(const nexus::InboundCompletion&) {
  return {grpc::StatusCode::UNIMPLEMENTED, "completions are not served"};
}

bool IsNexusCompletionPath(const std::string& raw_path) {
  std::optional<std::string> ns;
  return ParsePath(raw_path, &ns);
}

HttpReply ServeNexusCompletion(NexusDispatcher& d, const ApiRequest& r) {
  std::optional<std::string> url_namespace;
  if (!ParsePath(r.raw_path, &url_namespace)) return NexusErrorReply(NexusServerError("NOT_FOUND", "not found"));
  nexus::InboundCompletion c;
  // The protocol's checks first (Temporal's nexusrpc completion handler).
  if (std::string start = Header(r, "nexus-operation-start-time"); !start.empty() && !ParseHttpDate(start))
    return Bad("failed to parse operation start time header");
  if (std::string close = Header(r, "nexus-operation-close-time"); !close.empty()) {
    google::protobuf::Timestamp ts;
    if (!google::protobuf::util::TimeUtil::FromString(close, &ts))
      return Bad("failed to parse operation close time header");
  }
  for (auto [it, end] = r.headers.equal_range("nexus-link"); it != end; ++it)
    for (const auto& one : SplitNexusHeader(it->second, ','))
      if (!ParseNexusLink(one, &c.links.emplace_back())) return Bad("failed to decode links from request headers");
  c.state = Header(r, "nexus-operation-state");
  NexusJson failure;
  if (c.state == "failed" || c.state == "canceled") {
    std::string type = Header(r, "content-type");
    std::string media = type.substr(0, type.find(';'));
    while (!media.empty() && media.back() == ' ') media.pop_back();
    for (auto& ch : media) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (media != "application/json") return Bad("invalid request content type: \"" + type + "\"");
    failure = NexusJson::parse(r.body, nullptr, false);
    if (failure.is_discarded() || !(failure.is_object() || failure.is_null()))
      return Bad("failed to decode Failure from request body");
    if (failure.is_null()) failure = NexusJson::object();
  } else if (c.state != "succeeded") {
    return Bad("invalid request operation state: \"" + c.state + "\"");
  }
  c.operation_token = Header(r, "nexus-operation-token");
  if (c.operation_token.empty()) c.operation_token = Header(r, "nexus-operation-id");

  // Then Temporal's frontend: the token, its namespace, authorization.
  auto token = nexus::DecodeCallbackToken(Header(r, "temporal-callback-token"));
  if (!token) return Bad("invalid callback token");
  c.token = *token;
  NexusTarget target;
  target.namespace_id = token->namespace_id();
  if (!d.NamespaceName(token->namespace_id(), &target.namespace_name).ok())
    return NexusErrorReply(NexusServerError("NOT_FOUND", "namespace \"" + token->namespace_id() + "\" not found"));
  if (url_namespace && *url_namespace != target.namespace_name) return Bad("invalid callback token");
  auto admitted = d.Authorize(Header(r, "authorization"), kCompleteApi, target);
  if (admitted.error_code() == grpc::StatusCode::UNAUTHENTICATED)
    return NexusErrorReply(NexusServerError("UNAUTHENTICATED", "unauthorized"));
  if (!admitted.ok()) return NexusErrorReply(NexusServerError("UNAUTHORIZED", "permission denied"));
  if (c.operation_token.size() > kMaxOperationTokenLength)
    return Bad("operation token length exceeds allowed limit (" + std::to_string(c.operation_token.size()) + "/" +
               std::to_string(kMaxOperationTokenLength) + ")");
  if (c.state == "succeeded") {
    NexusContent content;
    content.data = r.body;
    for (const auto& [k, v] : r.headers)
      if (k.starts_with("content-")) content.header.try_emplace(k.substr(8), v);
    c.result = PayloadFromContent(content);
    if (c.result->ByteSizeLong() > d.PayloadLimit(target)) return Bad("result exceeds size limit");
  } else {
    std::string state;
    // History refuses a failure it cannot read (Temporal: "Malformed failure").
    if (!OperationFailureFromNexus(failure, c.state, &state, &c.failure)) return Bad("bad request");
    c.state = state;
  }
  if (auto st = d.CompleteOperation(c); !st.ok()) return HistoryError(st);
  return HttpReply(200, "", "");
}

}  // namespace kairos::http
