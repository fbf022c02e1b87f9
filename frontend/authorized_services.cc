#include "authorized_services.h"

#include "kairos/auth/authorizer.h"
#include "kairos/frontend/frontend.h"
#include "kairos/operator_service_rpcs.inc"
#include "kairos/workflow_service_rpcs.inc"

namespace kairos::frontend {
namespace {

namespace wsv1 = temporal::api::workflowservice::v1;
namespace osv1 = temporal::api::operatorservice::v1;
namespace hv1 = grpc::health::v1;
namespace cmdv1 = temporal::api::command::v1;
namespace enums = temporal::api::enums::v1;

std::string_view AuthorizationOf(const grpc::CallbackServerContext* ctx) {
  const auto& md = ctx->client_metadata();
  auto it = md.find("authorization");
  return it == md.end() ? std::string_view() : std::string_view(it->second.data(), it->second.size());
}

template <class Request>
std::string_view NamespaceOf(const Request& req) {
  if constexpr (requires { req.namespace_(); }) return req.namespace_();
  else return {};
}

grpc::ServerUnaryReactor* Refuse(grpc::CallbackServerContext* ctx, const grpc::Status& status) {
  auto* reactor = ctx->DefaultReactor();
  reactor->Finish(status);
  return reactor;
}

// As Temporal: commands of a workflow task that reach into another namespace
// (signal, child, cancel) need the caller's rights there too. The commands'
// namespace fields are deprecated in the API but SDKs still fill them.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
grpc::Status CheckTargetNamespaces(const auth::Authorizer& a, std::string_view authorization,
                                   const wsv1::RespondWorkflowTaskCompletedRequest& req) {
  constexpr std::string_view kPrefix = "/temporal.api.workflowservice.v1.WorkflowService/";
  for (const cmdv1::Command& cmd : req.commands()) {
    std::string_view target, rpc;
    switch (cmd.command_type()) {
      case enums::COMMAND_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION:
        target = cmd.signal_external_workflow_execution_command_attributes().namespace_();
        rpc = "SignalWorkflowExecution";
        break;
      case enums::COMMAND_TYPE_START_CHILD_WORKFLOW_EXECUTION:
        target = cmd.start_child_workflow_execution_command_attributes().namespace_();
        rpc = "StartWorkflowExecution";
        break;
      case enums::COMMAND_TYPE_REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION:
        target = cmd.request_cancel_external_workflow_execution_command_attributes().namespace_();
        rpc = "RequestCancelWorkflowExecution";
        break;
      default:
        continue;
    }
    if (target.empty() || target == req.namespace_()) continue;
    if (auto st = a.Authorize(authorization, std::string(kPrefix) + std::string(rpc), target); !st.ok()) return st;
  }
  return grpc::Status::OK;
}
#pragma GCC diagnostic pop

template <class Request>
grpc::Status Check(const auth::Authorizer& a, grpc::CallbackServerContext* ctx, std::string_view full_method,
                   const Request& req) {
  auto authorization = AuthorizationOf(ctx);
  auto st = a.Authorize(authorization, full_method, NamespaceOf(req));
  if constexpr (std::is_same_v<Request, wsv1::RespondWorkflowTaskCompletedRequest>) {
    if (st.ok()) st = CheckTargetNamespaces(a, authorization, req);
  }
  return st;
}

class AuthorizedWorkflowService final : public wsv1::WorkflowService::CallbackService {
 public:
  AuthorizedWorkflowService(std::unique_ptr<wsv1::WorkflowService::CallbackService> inner, const auth::Authorizer* a)
      : inner_(std::move(inner)), a_(*a) {}

#define KAIROS_AUTHORIZED(Name, Req, Resp)                                                                         \
  grpc::ServerUnaryReactor* Name(grpc::CallbackServerContext* ctx, const wsv1::Req* req, wsv1::Resp* resp) override { \
    if (auto st = Check(a_, ctx, "/temporal.api.workflowservice.v1.WorkflowService/" #Name, *req); !st.ok())        \
      return Refuse(ctx, st);                                                                                      \
    return inner_->Name(ctx, req, resp);                                                                           \
  }
  KAIROS_WORKFLOW_SERVICE_RPCS(KAIROS_AUTHORIZED)
#undef KAIROS_AUTHORIZED

 private:
  std::unique_ptr<wsv1::WorkflowService::CallbackService> inner_;
  const auth::Authorizer& a_;
};

class AuthorizedOperatorService final : public osv1::OperatorService::CallbackService {
 public:
  AuthorizedOperatorService(std::unique_ptr<osv1::OperatorService::CallbackService> inner, const auth::Authorizer* a)
      : inner_(std::move(inner)), a_(*a) {}

#define KAIROS_AUTHORIZED(Name, Req, Resp)                                                                         \
  grpc::ServerUnaryReactor* Name(grpc::CallbackServerContext* ctx, const osv1::Req* req, osv1::Resp* resp) override { \
    if (auto st = Check(a_, ctx, "/temporal.api.operatorservice.v1.OperatorService/" #Name, *req); !st.ok())        \
      return Refuse(ctx, st);                                                                                      \
    return inner_->Name(ctx, req, resp);                                                                           \
  }
  KAIROS_OPERATOR_SERVICE_RPCS(KAIROS_AUTHORIZED)
#undef KAIROS_AUTHORIZED

 private:
  std::unique_ptr<osv1::OperatorService::CallbackService> inner_;
  const auth::Authorizer& a_;
};

class RefusedWatch final : public grpc::ServerWriteReactor<hv1::HealthCheckResponse> {
 public:
  explicit RefusedWatch(const grpc::Status& status) { Finish(status); }
  void OnDone() override { delete this; }  // gRPC's ownership model for reactors.
};

class AuthorizedHealthService final : public hv1::Health::CallbackService {
 public:
  AuthorizedHealthService(std::unique_ptr<hv1::Health::CallbackService> inner, const auth::Authorizer* a)
      : inner_(std::move(inner)), a_(*a) {}

  grpc::ServerUnaryReactor* Check(grpc::CallbackServerContext* ctx, const hv1::HealthCheckRequest* req,
                                  hv1::HealthCheckResponse* resp) override {
    if (auto st = a_.Authorize(AuthorizationOf(ctx), "/grpc.health.v1.Health/Check", ""); !st.ok())
      return Refuse(ctx, st);
    return inner_->Check(ctx, req, resp);
  }

  grpc::ServerWriteReactor<hv1::HealthCheckResponse>* Watch(grpc::CallbackServerContext* ctx,
                                                             const hv1::HealthCheckRequest* req) override {
    if (auto st = a_.Authorize(AuthorizationOf(ctx), "/grpc.health.v1.Health/Watch", ""); !st.ok())
      return new RefusedWatch(st);  // Deletes itself in OnDone.
    return inner_->Watch(ctx, req);
  }

 private:
  std::unique_ptr<hv1::Health::CallbackService> inner_;
  const auth::Authorizer& a_;
};

// Methods no registered service has: refused like any other call the caller
// has no rights for, UNIMPLEMENTED only for callers allowed to make it.
class UnknownMethods final : public grpc::CallbackGenericService {
 public:
  explicit UnknownMethods(const auth::Authorizer* a) : a_(*a) {}

  grpc::ServerGenericBidiReactor* CreateReactor(grpc::GenericCallbackServerContext* ctx) override {
    auto st = a_.Authorize(AuthorizationOf(ctx), ctx->method(), "");
    if (st.ok()) st = grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "unknown method " + ctx->method());
    return new Finished(st);
  }

 private:
  class Finished final : public grpc::ServerGenericBidiReactor {
   public:
    explicit Finished(const grpc::Status& status) { Finish(status); }
    void OnDone() override { delete this; }
  };
  const auth::Authorizer& a_;
};

}  // namespace

std::unique_ptr<grpc::Service> AuthorizeWorkflowService(std::unique_ptr<wsv1::WorkflowService::CallbackService> inner,
                                                        const auth::Authorizer* authorizer) {
  return std::make_unique<AuthorizedWorkflowService>(std::move(inner), authorizer);
}
std::unique_ptr<grpc::Service> AuthorizeOperatorService(std::unique_ptr<osv1::OperatorService::CallbackService> inner,
                                                        const auth::Authorizer* authorizer) {
  return std::make_unique<AuthorizedOperatorService>(std::move(inner), authorizer);
}
std::unique_ptr<grpc::Service> AuthorizeHealthService(std::unique_ptr<hv1::Health::CallbackService> inner,
                                                      const auth::Authorizer* authorizer) {
  return std::make_unique<AuthorizedHealthService>(std::move(inner), authorizer);
}
std::unique_ptr<grpc::CallbackGenericService> NewUnknownMethodsService(const auth::Authorizer* authorizer) {
  return std::make_unique<UnknownMethods>(authorizer);
}

}  // namespace kairos::frontend
