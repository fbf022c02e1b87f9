#include "kairos/http/nexus_callbacks.h"

#include <ctime>

#include <google/protobuf/util/time_util.h>
#include <httplib.h>
#include <spdlog/spdlog.h>

#include "kairos/http/nexus_wire.h"

namespace kairos::http {
namespace {

constexpr time_t kTimeoutSeconds = 10;  // Temporal's component.callbacks.request.timeout.

// RFC 7231's date (Go's http.TimeFormat), which Nexus-Operation-Start-Time carries.
std::string HttpDate(int64_t nanos) {
  time_t secs = static_cast<time_t>(nanos / 1'000'000'000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return buf;
}

std::string Rfc3339(int64_t nanos) {
  return google::protobuf::util::TimeUtil::ToString(google::protobuf::util::TimeUtil::NanosecondsToTimestamp(nanos));
}

bool HasHeader(const httplib::Headers& headers, const std::string& name) {
  return headers.find(name) != headers.end();  // httplib compares names case-insensitively.
}

}  // namespace

grpc::Status PostNexusCompletion(const nexus::Completion& c) {
  size_t scheme_end = c.url.find("://");
  if (scheme_end == std::string::npos) return {grpc::StatusCode::FAILED_PRECONDITION, "invalid callback url"};
  size_t path_at = c.url.find('/', scheme_end + 3);
  std::string origin = c.url.substr(0, path_at);
  std::string path = path_at == std::string::npos ? "/" : c.url.substr(path_at);

  httplib::Headers headers;
  std::string body, content_type;
  if (c.state == "succeeded") {
    NexusContent content = c.result ? ContentFromPayload(*c.result) : NexusContent{};
    body = content.data;
    for (const auto& [k, v] : content.header) {
      if (k == "type") content_type = v;
      else if (k != "length") headers.emplace("Content-" + k, v);
    }
  } else {
    body = NexusFailure(c.failure ? *c.failure : temporal::api::failure::v1::Failure()).dump();
    content_type = "application/json";
  }
  headers.emplace("Nexus-Operation-State", c.state);
  for (const auto& [k, v] : c.header) headers.emplace(k, v);
  if (!HasHeader(headers, "User-Agent")) headers.emplace("User-Agent", "kairos");
  if (c.start_time_nanos > 0 && !HasHeader(headers, "Nexus-Operation-Start-Time"))
    headers.emplace("Nexus-Operation-Start-Time", HttpDate(c.start_time_nanos));
  if (c.close_time_nanos > 0 && !HasHeader(headers, "Nexus-Operation-Close-Time"))
    headers.emplace("Nexus-Operation-Close-Time", Rfc3339(c.close_time_nanos));
  if (!c.start_link_url.empty() && !HasHeader(headers, "Nexus-Link"))
    headers.emplace("Nexus-Link", "<" + c.start_link_url + ">; type=\"temporal.api.common.v1.Link.WorkflowEvent\"");

  httplib::Client client(origin);
  if (!client.is_valid()) return {grpc::StatusCode::FAILED_PRECONDITION, "invalid callback url"};
  client.set_connection_timeout(kTimeoutSeconds);
  client.set_read_timeout(kTimeoutSeconds);
  client.set_write_timeout(kTimeoutSeconds);
  // An empty content type sends none (a completion without a result).
  auto res = client.Post(path, headers, body, content_type);
  if (!res) {
    spdlog::warn("Nexus completion to {} not delivered: {}", c.url, httplib::to_string(res.error()));
    return {grpc::StatusCode::UNAVAILABLE, "callback not reachable"};
  }
  if (res->status >= 200 && res->status < 300) return grpc::Status::OK;
  spdlog::warn("Nexus completion to {} answered {}: {}", c.url, res->status, res->body.substr(0, 200));
  if (res->status == 408 || res->status == 429 || res->status >= 500)
    return {grpc::StatusCode::UNAVAILABLE, "callback answered " + std::to_string(res->status)};
  return {grpc::StatusCode::FAILED_PRECONDITION, "callback answered " + std::to_string(res->status)};
}

}  // namespace kairos::http
