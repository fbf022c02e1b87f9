#include "authorized_services.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "kairos/frontend/frontend.h"

namespace kairos::frontend {
namespace {

namespace hv1 = grpc::health::v1;

// Finishes a Watch stream at once: Kairos answers Check only.
class UnimplementedWatch final : public grpc::ServerWriteReactor<hv1::HealthCheckResponse> {
 public:
  UnimplementedWatch() { Finish(grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "Watch is not implemented by Kairos")); }
  void OnDone() override { delete this; }  // gRPC's ownership model for reactors.
};

class HealthServiceImpl final : public hv1::Health::CallbackService {
 public:
  grpc::ServerUnaryReactor* Check(grpc::CallbackServerContext* ctx, const hv1::HealthCheckRequest* req,
                                  hv1::HealthCheckResponse* resp) override {
    auto* reactor = ctx->DefaultReactor();
    const std::string& service = req->service();
    if (service.empty() || service == "temporal.api.workflowservice.v1.WorkflowService" ||
        service == "temporal.api.operatorservice.v1.OperatorService") {
      resp->set_status(hv1::HealthCheckResponse::SERVING);
      reactor->Finish(grpc::Status::OK);
    } else {
      reactor->Finish(grpc::Status(grpc::StatusCode::NOT_FOUND, "unknown service " + service));
    }
    return reactor;
  }

  grpc::ServerWriteReactor<hv1::HealthCheckResponse>* Watch(grpc::CallbackServerContext*,
                                                             const hv1::HealthCheckRequest*) override {
    return new UnimplementedWatch();  // Deletes itself in OnDone.
  }
};

}  // namespace

std::unique_ptr<grpc::Service> NewHealthService(const auth::Authorizer* authorizer) {
  auto service = std::make_unique<HealthServiceImpl>();
  if (!authorizer) return service;
  return AuthorizeHealthService(std::move(service), authorizer);
}

}  // namespace kairos::frontend
