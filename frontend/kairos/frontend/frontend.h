// The frontend: Temporal's gRPC services (WorkflowService, OperatorService,
// grpc.health.v1.Health) on gRPC's callback API. It validates requests,
// resolves namespaces, and hands the work to history and matching. Handlers
// never block a gRPC thread: work runs on the executor, long polls park.
#pragma once

#include <memory>
#include <string>

#include <grpcpp/impl/service_type.h>

namespace grpc {
class CallbackGenericService;
}

namespace kairos {
class Executor;
namespace auth {
class Authorizer;
}
namespace history {
class HistoryService;
}
namespace matching {
class MatchingService;
}
namespace nexus {
class EndpointRegistry;
}
namespace deployments {
class DeploymentRegistry;
class BuildIdVersioning;
}
namespace scheduler {
class SchedulerService;
}
namespace batcher {
class BatchService;
}
namespace visibility {
class VisibilityService;
class SearchAttributeRegistry;
class SearchAttributeValidator;
}  // namespace visibility
}  // namespace kairos

namespace kairos::frontend {

class CallbackRules;
class NamespaceRegistry;

struct FrontendOptions {
  std::string server_version;
};

struct Dependencies {
  NamespaceRegistry* namespaces;
  history::HistoryService* history;
  matching::MatchingService* matching;
  Executor* executor;
  visibility::VisibilityService* visibility;
  visibility::SearchAttributeRegistry* search_attributes;
  scheduler::SchedulerService* scheduler;
  const visibility::SearchAttributeValidator* search_attribute_validator;
  batcher::BatchService* batcher;
  // When set, every RPC is authorized before its handler runs.
  const auth::Authorizer* authorizer = nullptr;
  nexus::EndpointRegistry* nexus_endpoints = nullptr;
  // Worker deployments (null: their RPCs answer UNIMPLEMENTED).
  deployments::DeploymentRegistry* deployments = nullptr;
  // The deprecated build-id versioning with version sets (null: dynamic
  // config frontend.workerVersioningDataAPIs is off, and its RPCs answer
  // PERMISSION_DENIED as Temporal's).
  deployments::BuildIdVersioning* build_ids = nullptr;
  // The completion callbacks requests may attach (null: Temporal's defaults,
  // which allow none but its own).
  const CallbackRules* callback_rules = nullptr;
};

std::unique_ptr<grpc::Service> NewWorkflowService(const Dependencies& deps, const FrontendOptions& options);
std::unique_ptr<grpc::Service> NewOperatorService(const Dependencies& deps, const FrontendOptions& options);
std::unique_ptr<grpc::Service> NewHealthService(const auth::Authorizer* authorizer = nullptr);
// With authorization on: answers the methods no service has (PERMISSION_DENIED
// for callers without rights, else UNIMPLEMENTED), so that no method escapes it.
std::unique_ptr<grpc::CallbackGenericService> NewUnknownMethodsService(const auth::Authorizer* authorizer);

}  // namespace kairos::frontend
