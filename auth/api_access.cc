#include "kairos/auth/api_access.h"

#include <set>
#include <string>

namespace kairos::auth {
namespace {

constexpr std::string_view kWorkflowService = "/temporal.api.workflowservice.v1.WorkflowService/";
constexpr std::string_view kOperatorService = "/temporal.api.operatorservice.v1.OperatorService/";
// Not a gRPC service: the API names under which Nexus's HTTP endpoint
// authorizes its callers, as Temporal names them.
constexpr std::string_view kNexusService = "/temporal.api.nexusservice.v1.NexusService/";

using NameSet = std::set<std::string_view, std::less<>>;

// WorkflowService: every RPC not listed here changes a namespace's state
// (write access in that namespace).
const NameSet kClusterReads = {"ListNamespaces", "GetSearchAttributes", "GetClusterInfo", "GetSystemInfo"};
const NameSet kNamespaceAdmin = {"RegisterNamespace", "UpdateNamespace", "DeprecateNamespace"};
const NameSet kNamespaceReads = {
    "DescribeNamespace", "GetWorkflowExecutionHistory", "GetWorkflowExecutionHistoryReverse",
    "ListOpenWorkflowExecutions", "ListClosedWorkflowExecutions", "ListWorkflowExecutions",
    "ListArchivedWorkflowExecutions", "ScanWorkflowExecutions", "CountWorkflowExecutions", "QueryWorkflow",
    "DescribeWorkflowExecution", "DescribeTaskQueue", "ListTaskQueuePartitions", "DescribeSchedule",
    "ListScheduleMatchingTimes", "ListSchedules", "CountSchedules", "GetWorkerBuildIdCompatibility",
    "GetWorkerVersioningRules", "GetWorkerTaskReachability", "PollWorkflowExecutionUpdate",
    "PollWorkflowExecutionTimeSkipping", "DescribeBatchOperation", "ListBatchOperations", "DescribeDeployment",
    "ListDeployments", "GetDeploymentReachability", "GetCurrentDeployment", "DescribeWorkerDeploymentVersion",
    "DescribeWorkerDeployment", "ValidateWorkerDeploymentVersionComputeConfig", "ListWorkerDeployments",
    "DescribeWorkflowRule", "ListWorkflowRules", "ListWorkers", "CountWorkers", "DescribeWorker",
    "FetchWorkerConfig", "CountActivityExecutions", "DescribeActivityExecution", "PollActivityExecution",
    "ListActivityExecutions", "CountNexusOperationExecutions", "DescribeNexusOperationExecution",
    "PollNexusOperationExecution", "ListNexusOperationExecutions"};

// OperatorService: cluster administration unless listed here.
const NameSet kOperatorNamespaceAdmin = {"AddSearchAttributes", "RemoveSearchAttributes", "DeleteNamespace"};
const NameSet kOperatorNamespaceReads = {"ListSearchAttributes"};

ApiAccess WorkflowServiceAccess(std::string_view rpc) {
  if (rpc.empty()) return {};
  if (kClusterReads.contains(rpc)) return {Scope::kCluster, Access::kReadOnly};
  if (kNamespaceAdmin.contains(rpc)) return {Scope::kNamespace, Access::kAdmin};
  if (kNamespaceReads.contains(rpc)) return {Scope::kNamespace, Access::kReadOnly};
  return {Scope::kNamespace, Access::kWrite};
}

ApiAccess OperatorServiceAccess(std::string_view rpc) {
  if (rpc.empty()) return {};
  if (kOperatorNamespaceAdmin.contains(rpc)) return {Scope::kNamespace, Access::kAdmin};
  if (kOperatorNamespaceReads.contains(rpc)) return {Scope::kNamespace, Access::kReadOnly};
  return {Scope::kCluster, Access::kAdmin};
}

}  // namespace

ApiAccess AccessOf(std::string_view full_method) {
  if (full_method.starts_with(kWorkflowService)) return WorkflowServiceAccess(full_method.substr(kWorkflowService.size()));
  if (full_method.starts_with(kOperatorService)) return OperatorServiceAccess(full_method.substr(kOperatorService.size()));
  if (full_method.starts_with(kNexusService)) {
    // The completion route's API (CompleteNexusOperation) writes in the token's namespace.
    static const NameSet dispatches = {"DispatchNexusTask", "DispatchByNamespaceAndTaskQueue", "DispatchByEndpoint",
                                       "CompleteNexusOperation"};
    if (dispatches.contains(full_method.substr(kNexusService.size()))) return {Scope::kNamespace, Access::kWrite};
  }
  return {};
}

bool IsHealthCheck(std::string_view full_method) {
  return full_method == "/grpc.health.v1.Health/Check" ||
         full_method == "/temporal.api.workflowservice.v1.WorkflowService/GetSystemInfo";
}

}  // namespace kairos::auth
