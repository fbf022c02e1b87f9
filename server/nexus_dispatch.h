// The Nexus HTTP endpoint's view of the server: endpoints from the registry,
// namespaces from the frontend's registry, callers checked by the authorizer,
// and each request handed to matching as a Nexus task.
#pragma once

#include "kairos/auth/authorizer.h"
#include "kairos/frontend/namespace_registry.h"
#include "kairos/history/history_service.h"
#include "kairos/history/limits.h"
#include "kairos/http/nexus_endpoint.h"
#include "kairos/matching/matching_service.h"
#include "kairos/nexus/endpoint_registry.h"

namespace kairos {

class NexusTaskDispatcher : public http::NexusDispatcher {
 public:
  // None owned; `authorizer` null: every caller may dispatch.
  NexusTaskDispatcher(nexus::EndpointRegistry* endpoints, frontend::NamespaceRegistry* namespaces,
                      const auth::Authorizer* authorizer, matching::MatchingService* matching,
                      const history::Limits* limits, history::HistoryService* history)
      : endpoints_(endpoints), namespaces_(namespaces), authorizer_(authorizer), matching_(matching),
        limits_(limits), history_(history) {}

  grpc::Status EndpointTarget(const std::string& endpoint_id, http::NexusTarget* target) override;
  grpc::Status QueueTarget(const std::string& namespace_name, const std::string& task_queue,
                           http::NexusTarget* target) override;
  grpc::Status Authorize(const std::string& authorization, const std::string& api,
                         const http::NexusTarget& target) override;
  grpc::Status Dispatch(const http::NexusTarget& target, temporal::api::nexus::v1::Request request,
                        std::chrono::steady_clock::time_point deadline, http::NexusAnswer* answer) override;
  size_t PayloadLimit(const http::NexusTarget& target) override;
  grpc::Status NamespaceName(const std::string& namespace_id, std::string* name) override;
  grpc::Status CompleteOperation(const nexus::InboundCompletion& completion) override;

 private:
  nexus::EndpointRegistry* endpoints_;
  frontend::NamespaceRegistry* namespaces_;
  const auth::Authorizer* authorizer_;
  matching::MatchingService* matching_;
  const history::Limits* limits_;
  history::HistoryService* history_;
};

}  // namespace kairos
