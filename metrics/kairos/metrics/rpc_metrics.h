// Per-RPC metrics of the gRPC services, under Temporal's names and labels
// (service_requests, service_latency, service_errors, service_error_with_type,
// service_pending_requests; labels operation, namespace, service_name), taken
// by a server interceptor so that no handler has to report anything.
#pragma once

#include <grpcpp/support/server_interceptor.h>

#include "kairos/metrics/registry.h"

namespace kairos::metrics {

// Temporal's error_type value for a status: "serviceerror_" and the typed
// failure in its details (NotFoundFailure -> NotFound), else the code's name.
std::string ErrorType(const grpc::Status& status);
// Whether an error counts in service_errors: a failure of the server, not one
// the caller caused (an invalid argument, a missing workflow, ...).
bool IsServerError(grpc::StatusCode code);

class RpcMetricsFactory : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit RpcMetricsFactory(Registry* registry);
  grpc::experimental::Interceptor* CreateServerInterceptor(grpc::experimental::ServerRpcInfo* info) override;

  struct Instruments {
    Family<Counter>* requests;
    Family<Counter>* errors;
    Family<Counter>* errors_with_type;
    Family<Histogram>* latency;
    Family<Gauge>* pending;
  };

 private:
  Instruments instruments_;
};

}  // namespace kairos::metrics
