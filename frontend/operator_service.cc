#include "authorized_services.h"
#include "kairos/errors.h"
#include "kairos/executor.h"
#include "kairos/frontend/frontend.h"
#include "kairos/frontend/namespace_registry.h"
#include "kairos/frontend/reactors.h"
#include "kairos/nexus/endpoint_registry.h"
#include "kairos/operator_service_rpcs.inc"
#include "kairos/visibility/search_attributes.h"
#include "temporal/api/operatorservice/v1/service.grpc.pb.h"

namespace kairos::frontend {
namespace {

namespace osv1 = temporal::api::operatorservice::v1;
namespace enums = temporal::api::enums::v1;

class UnimplementedOperatorService : public osv1::OperatorService::CallbackService {
 public:
#define KAIROS_UNIMPLEMENTED(Name, Req, Resp)                                                              \
  grpc::ServerUnaryReactor* Name(grpc::CallbackServerContext* ctx, const osv1::Req*, osv1::Resp*) override { \
    auto* reactor = ctx->DefaultReactor();                                                                 \
    reactor->Finish(errors::Unimplemented(#Name));                                                         \
    return reactor;                                                                                        \
  }
  KAIROS_OPERATOR_SERVICE_RPCS(KAIROS_UNIMPLEMENTED)
#undef KAIROS_UNIMPLEMENTED
};

class OperatorServiceImpl final : public UnimplementedOperatorService {
 public:
  OperatorServiceImpl(const Dependencies& deps, FrontendOptions options) : d_(deps), options_(std::move(options)) {}

  grpc::ServerUnaryReactor* DeleteNamespace(grpc::CallbackServerContext* ctx, const osv1::DeleteNamespaceRequest* req,
                                            osv1::DeleteNamespaceResponse* resp) override {
    return RunOnExecutor(ctx, d_.executor, [this, req, resp]() -> grpc::Status {
      if (req->namespace_().empty() && req->namespace_id().empty())
        return errors::InvalidArgument("Namespace not set on request.");
      std::string deleted;
      auto st = d_.namespaces->Delete(req->namespace_(), req->namespace_id(), &deleted);
      if (st.ok()) resp->set_deleted_namespace(deleted);
      return st;
    });
  }

  // Search attributes are per namespace, as on Temporal's SQL visibility.
  grpc::ServerUnaryReactor* AddSearchAttributes(grpc::CallbackServerContext* ctx, const osv1::AddSearchAttributesRequest* req,
                                                osv1::AddSearchAttributesResponse*) override {
    return RunOnExecutor(ctx, d_.executor, [this, req]() -> grpc::Status {
      if (req->search_attributes().empty()) return errors::InvalidArgument("SearchAttributes are not set on request.");
      std::string ns_id;
      if (auto st = ResolveNamespace(req->namespace_(), &ns_id); !st.ok()) return st;
      visibility::TypeMap attributes(req->search_attributes().begin(), req->search_attributes().end());
      return d_.search_attributes->Add(ns_id, attributes);
    });
  }

  grpc::ServerUnaryReactor* RemoveSearchAttributes(grpc::CallbackServerContext* ctx,
                                                   const osv1::RemoveSearchAttributesRequest* req,
                                                   osv1::RemoveSearchAttributesResponse*) override {
    return RunOnExecutor(ctx, d_.executor, [this, req]() -> grpc::Status {
      if (req->search_attributes().empty()) return errors::InvalidArgument("SearchAttributes are not set on request.");
      std::string ns_id;
      if (auto st = ResolveNamespace(req->namespace_(), &ns_id); !st.ok()) return st;
      std::vector<std::string> names(req->search_attributes().begin(), req->search_attributes().end());
      return d_.search_attributes->Remove(ns_id, names);
    });
  }

  grpc::ServerUnaryReactor* ListSearchAttributes(grpc::CallbackServerContext* ctx,
                                                 const osv1::ListSearchAttributesRequest* req,
                                                 osv1::ListSearchAttributesResponse* resp) override {
    std::string ns_id;
    auto st = ResolveNamespace(req->namespace_(), &ns_id);
    if (st.ok()) {
      auto& system = *resp->mutable_system_attributes();
      for (const auto& [name, type] : visibility::SystemAttributes()) system[name] = type;
      for (const auto& [name, type] : visibility::PredefinedAttributes()) system[name] = type;
      for (const auto& [name, type] : d_.search_attributes->Custom(ns_id)) (*resp->mutable_custom_attributes())[name] = type;
    }
    auto* reactor = ctx->DefaultReactor();
    reactor->Finish(st);
    return reactor;
  }

  // Nexus endpoints: the registry validates, answers and persists.
  grpc::ServerUnaryReactor* CreateNexusEndpoint(grpc::CallbackServerContext* ctx,
                                                const osv1::CreateNexusEndpointRequest* req,
                                                osv1::CreateNexusEndpointResponse* resp) override {
    return RunOnExecutor(ctx, d_.executor, [this, req, resp] { return d_.nexus_endpoints->Create(*req, resp); });
  }
  grpc::ServerUnaryReactor* UpdateNexusEndpoint(grpc::CallbackServerContext* ctx,
                                                const osv1::UpdateNexusEndpointRequest* req,
                                                osv1::UpdateNexusEndpointResponse* resp) override {
    return RunOnExecutor(ctx, d_.executor, [this, req, resp] { return d_.nexus_endpoints->Update(*req, resp); });
  }
  grpc::ServerUnaryReactor* DeleteNexusEndpoint(grpc::CallbackServerContext* ctx,
                                                const osv1::DeleteNexusEndpointRequest* req,
                                                osv1::DeleteNexusEndpointResponse*) override {
    return RunOnExecutor(ctx, d_.executor, [this, req] { return d_.nexus_endpoints->Delete(*req); });
  }
  grpc::ServerUnaryReactor* GetNexusEndpoint(grpc::CallbackServerContext* ctx, const osv1::GetNexusEndpointRequest* req,
                                             osv1::GetNexusEndpointResponse* resp) override {
    auto* reactor = ctx->DefaultReactor();
    reactor->Finish(d_.nexus_endpoints->Get(*req, resp));
    return reactor;
  }
  grpc::ServerUnaryReactor* ListNexusEndpoints(grpc::CallbackServerContext* ctx,
                                               const osv1::ListNexusEndpointsRequest* req,
                                               osv1::ListNexusEndpointsResponse* resp) override {
    auto* reactor = ctx->DefaultReactor();
    reactor->Finish(d_.nexus_endpoints->List(*req, resp));
    return reactor;
  }

 private:
  grpc::Status ResolveNamespace(const std::string& name, std::string* id) {
    if (name.empty()) return errors::InvalidArgument("Namespace is not set on request.");
    return d_.namespaces->Resolve(name, id);
  }

  Dependencies d_;
  FrontendOptions options_;
};

}  // namespace

std::unique_ptr<grpc::Service> NewOperatorService(const Dependencies& deps, const FrontendOptions& options) {
  auto service = std::make_unique<OperatorServiceImpl>(deps, options);
  if (!deps.authorizer) return service;
  return AuthorizeOperatorService(std::move(service), deps.authorizer);
}

}  // namespace kairos::frontend
