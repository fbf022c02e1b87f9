// Temporal's JSON mapping for the HTTP API: requests built from the path
// variables, the query string and the body of a route; responses and errors
// written as proto3 JSON (camelCase names, enums by name, 64-bit integers as
// strings, bytes as base64), optionally with Temporal's payload shorthand.
#pragma once

#include <map>
#include <string>

#include <google/protobuf/message.h>
#include <grpcpp/support/status.h>

#include "kairos/http/routes.h"

namespace kairos::http {

struct JsonOptions {
  bool payload_shorthand = true;  // Temporal's HTTP API default; the UI's API has it off.
  bool pretty = false;            // Two-space indentation.
};

// Fills `request` (of the route's input type) from the route's path
// variables, the body (as the route's `body` says) and, when the body is not
// "*", the query parameters (by proto or JSON name, dotted for nested
// fields, repeated keys for repeated fields). Unknown fields are ignored, so
// a newer UI's extra fields do not fail older RPCs. INVALID_ARGUMENT when the
// body is not JSON or does not fit the message.
grpc::Status BuildRequest(const RouteMatch& match, const std::string& body,
                          const std::multimap<std::string, std::string>& query, const JsonOptions& options,
                          google::protobuf::Message* request);

std::string MessageToJson(const google::protobuf::Message& message, const JsonOptions& options);

// A google.rpc.Status as JSON: code, message and the typed details.
std::string StatusToJson(const grpc::Status& status, const JsonOptions& options);

// The HTTP status for a gRPC code, as grpc-gateway maps them.
int HttpStatusOf(grpc::StatusCode code);

}  // namespace kairos::http
