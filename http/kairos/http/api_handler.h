// Serves Temporal's HTTP API by calling Kairos's own gRPC services through an
// in-process channel: an HTTP request goes through exactly the validation,
// handlers and errors of the gRPC path, and nothing is implemented twice.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <grpcpp/channel.h>
#include <grpcpp/generic/generic_stub.h>

#include "kairos/http/json_codec.h"
#include "kairos/http/routes.h"

namespace kairos::http {

struct HttpReply {
  HttpReply() = default;
  HttpReply(int status_code, std::string content, std::string type = "application/json")
      : status(status_code), body(std::move(content)), content_type(std::move(type)) {}
  int status = 200;
  std::string body;
  std::string content_type = "application/json";  // Empty: no Content-Type header.
  std::vector<std::pair<std::string, std::string>> headers;
};

struct ApiRequest {
  std::string verb;
  std::string raw_path;  // Percent-encoded, without the query string.
  std::string body;
  std::multimap<std::string, std::string> query;
  std::multimap<std::string, std::string> metadata;  // Forwarded as gRPC metadata.
  std::multimap<std::string, std::string> headers;   // Every header, names lower-cased.
  std::string accept_encoding;
};

class ApiHandler {
 public:
  // `channel` reaches the WorkflowService and OperatorService (in process).
  explicit ApiHandler(std::shared_ptr<grpc::Channel> channel);

  // Routes, calls and answers; blocks the calling thread until the RPC ends
  // (long polls included).
  HttpReply Handle(const ApiRequest& request, JsonOptions options) const;

  // One unary call by full method name ("/pkg.Service/Method"); the caller
  // owns the request and response messages. `metadata` is the HTTP
  // request's (its authorization header): always passed on, so that the
  // call is authorized as the caller.
  grpc::Status Call(const std::string& method, const google::protobuf::Message& request,
                    google::protobuf::Message* response,
                    const std::multimap<std::string, std::string>& metadata) const;

  const RouteTable& routes() const { return routes_; }

 private:
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<grpc::GenericStub> stub_;
  RouteTable routes_;
};

// The JSON options a request asks for: ?pretty indents, ?noPayloadShorthand
// turns the shorthand off (as on Temporal's HTTP API).
JsonOptions OptionsFromQuery(const std::multimap<std::string, std::string>& query, bool shorthand_default);

// The --http-port site: Temporal's HTTP API, payload shorthand on by default.
HttpReply ServeApi(const ApiHandler& api, const ApiRequest& request);

}  // namespace kairos::http
