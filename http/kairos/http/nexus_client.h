// Calls a Nexus handler over HTTP, as Temporal's history calls an endpoint
// whose target is an external URL: a start request is
//   POST {url}/{service}/{operation}?callback={callback URL}
// with the input as content, Nexus-Request-Id, Nexus-Callback-* headers,
// Nexus-Link, Request-Timeout and the operation's Nexus header; a cancel
// request is POST {url}/{service}/{operation}/cancel with Nexus-Operation-Token.
// The answer becomes the form a handler worker's answer takes, so that the
// caller's history records it the same way.
#pragma once

#include <chrono>
#include <string>

#include <grpcpp/support/status.h>

#include "kairos/http/nexus_endpoint.h"
#include "temporal/api/nexus/v1/message.pb.h"

namespace kairos::http {

// Blocks for at most `timeout`. OK with the handler's answer in `answer`:
// 200 (a synchronous result, with its Nexus-Link links), 201 (an
// asynchronous start: {"token","state":"running"}), 202 (cancel accepted),
// 424 (the operation failed or was canceled: a `failure` response), another
// status (a handler error: `handler_failed` with NexusHandlerFailureInfo,
// typed by status as Temporal's client types them, retry behaviour from
// Nexus-Request-Retryable, the body's failure as its cause). UNAVAILABLE:
// the handler could not be reached or its answer did not read;
// DEADLINE_EXCEEDED: it did not answer in time.
grpc::Status CallNexusHandler(const std::string& base_url, const temporal::api::nexus::v1::Request& request,
                              std::chrono::milliseconds timeout, NexusAnswer* answer);

// The answer to one HTTP exchange, parsed as CallNexusHandler does; split out
// for tests. `start`: a start request (else a cancel).
struct NexusHttpResponse {
  int status = 0;
  std::string body;
  std::multimap<std::string, std::string> headers;  // Names lower-cased.
};
grpc::Status ParseNexusHandlerResponse(bool start, const NexusHttpResponse& response, NexusAnswer* answer);

}  // namespace kairos::http
