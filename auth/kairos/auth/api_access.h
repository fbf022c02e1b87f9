// What each RPC needs, in the categories of Temporal's API metadata: its
// scope (a namespace's or the cluster's) and the access it takes (read-only,
// write, admin). RPCs Kairos does not know have no scope and are refused.
#pragma once

#include <string_view>

namespace kairos::auth {

enum class Scope { kUnknown, kNamespace, kCluster };
enum class Access { kUnknown, kReadOnly, kWrite, kAdmin };

struct ApiAccess {
  Scope scope = Scope::kUnknown;
  Access access = Access::kUnknown;
};

// `full_method` as gRPC names it: "/temporal.api.workflowservice.v1.WorkflowService/StartWorkflowExecution".
ApiAccess AccessOf(std::string_view full_method);

// Health checks every caller may make, with or without a token (Temporal:
// grpc.health.v1.Health/Check and WorkflowService/GetSystemInfo).
bool IsHealthCheck(std::string_view full_method);

}  // namespace kairos::auth
