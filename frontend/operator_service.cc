#include "kairos/errors.h"
#include "kairos/executor.h"
#include "kairos/frontend/frontend.h"
#include "kairos/frontend/namespace_registry.h"
#include "kairos/frontend/reactors.h"
#include "kairos/operator_service_rpcs.inc"
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

  grpc::ServerUnaryReactor* ListSearchAttributes(grpc::CallbackServerContext* ctx,
                                                 const osv1::ListSearchAttributesRequest*,
                                                 osv1::ListSearchAttributesResponse* resp) override {
    auto& system = *resp->mutable_system_attributes();
    system["WorkflowId"] = enums::INDEXED_VALUE_TYPE_KEYWORD;
    system["RunId"] = enums::INDEXED_VALUE_TYPE_KEYWORD;
    system["WorkflowType"] = enums::INDEXED_VALUE_TYPE_KEYWORD;
    system["TaskQueue"] = enums::INDEXED_VALUE_TYPE_KEYWORD;
    system["ExecutionStatus"] = enums::INDEXED_VALUE_TYPE_KEYWORD;
    system["StartTime"] = enums::INDEXED_VALUE_TYPE_DATETIME;
    system["CloseTime"] = enums::INDEXED_VALUE_TYPE_DATETIME;
    system["ExecutionTime"] = enums::INDEXED_VALUE_TYPE_DATETIME;
    system["HistoryLength"] = enums::INDEXED_VALUE_TYPE_INT;
    for (const auto& [name, type] : options_.search_attributes) {
      enums::IndexedValueType t;
      if (enums::IndexedValueType_Parse("INDEXED_VALUE_TYPE_" + type, &t)) (*resp->mutable_custom_attributes())[name] = t;
    }
    auto* reactor = ctx->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

 private:
  Dependencies d_;
  FrontendOptions options_;
};

}  // namespace

std::unique_ptr<grpc::Service> NewOperatorService(const Dependencies& deps, const FrontendOptions& options) {
  return std::make_unique<OperatorServiceImpl>(deps, options);
}

}  // namespace kairos::frontend
