// The HTTP routes of Temporal's HTTP API, read at start-up from the
// google.api.http annotations of the WorkflowService and OperatorService
// methods in the compiled-in descriptors: nothing is listed by hand, so a new
// pin of the API protos brings its routes with it.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <google/protobuf/descriptor.h>

namespace kairos::http {

// One binding of a method: verb, path template and where the body goes.
struct Route {
  struct Segment {
    std::string literal;     // Matched as is when field_path is empty.
    std::string field_path;  // Proto field path ("execution.workflow_id") of a {variable}.
  };
  std::string verb;  // "GET", "POST", ...
  std::string pattern;
  std::vector<Segment> segments;
  std::string body;  // "", "*", or a top-level field name.
  const google::protobuf::MethodDescriptor* method = nullptr;
  int literals = 0;  // Literal segment count: the more, the more specific.
};

// A request's route and the decoded values of its path variables.
struct RouteMatch {
  const Route* route = nullptr;
  std::vector<std::pair<std::string, std::string>> variables;  // (field path, value)
};

class RouteTable {
 public:
  // Routes of every annotated method of the named services.
  static RouteTable FromServices(const std::vector<std::string>& service_names);
  // Routes of Temporal's WorkflowService and OperatorService.
  static RouteTable TemporalApi();

  // The most specific route for the verb and the raw (still percent-encoded)
  // path; nullopt when none matches. *path_matched tells whether some route
  // matched the path with another verb (405 rather than 404).
  std::optional<RouteMatch> Match(const std::string& verb, const std::string& raw_path, bool* path_matched) const;

  const std::vector<Route>& routes() const { return routes_; }

 private:
  std::vector<Route> routes_;
};

// Percent-decoding of one path segment or query component ('+' kept).
std::string PercentDecode(const std::string& s);

}  // namespace kairos::http
