// The authorization layer in front of the frontend's services: every RPC of
// WorkflowService, OperatorService and Health (each one, generated from the
// RPC lists of the protos) asks the authorizer before the service's handler
// runs, so no handler can be reached without the check. Internal to the
// frontend library.
#pragma once

#include <memory>

#include <grpcpp/generic/async_generic_service.h>

#include "grpc/health/v1/health.grpc.pb.h"
#include "temporal/api/operatorservice/v1/service.grpc.pb.h"
#include "temporal/api/workflowservice/v1/service.grpc.pb.h"

namespace kairos::auth {
class Authorizer;
}

namespace kairos::frontend {

std::unique_ptr<grpc::Service> AuthorizeWorkflowService(
    std::unique_ptr<temporal::api::workflowservice::v1::WorkflowService::CallbackService> inner,
    const auth::Authorizer* authorizer);
std::unique_ptr<grpc::Service> AuthorizeOperatorService(
    std::unique_ptr<temporal::api::operatorservice::v1::OperatorService::CallbackService> inner,
    const auth::Authorizer* authorizer);
std::unique_ptr<grpc::Service> AuthorizeHealthService(std::unique_ptr<grpc::health::v1::Health::CallbackService> inner,
                                                      const auth::Authorizer* authorizer);

}  // namespace kairos::frontend
