// The batcher: Temporal's batch operations (terminate, cancel, signal or
// delete every workflow a List Filter query or a list of executions names).
// A batch is a durable record; one thread works through the running ones at
// the rate each asks for (Temporal's default 50 per second), through the
// same history calls a client would make, and commits its progress after
// every execution, so a restarted server resumes a batch where it stopped.
#pragma once

#include <memory>

#include <grpcpp/support/status.h>

#include "kairos/history/history_service.h"
#include "temporal/api/workflowservice/v1/request_response.pb.h"

namespace kairos {
namespace persistence {
class Store;
}
namespace visibility {
class VisibilityService;
}
}  // namespace kairos

namespace kairos::batcher {

namespace wsv1 = temporal::api::workflowservice::v1;
using history::NamespaceRef;

class BatchService {
 public:
  virtual ~BatchService() = default;

  // Loads the batches and resumes the running ones.
  virtual void Start() = 0;
  virtual void Stop() = 0;

  virtual grpc::Status StartBatchOperation(const NamespaceRef& ns, const wsv1::StartBatchOperationRequest& req,
                                           wsv1::StartBatchOperationResponse* resp) = 0;
  virtual grpc::Status DescribeBatchOperation(const NamespaceRef& ns, const wsv1::DescribeBatchOperationRequest& req,
                                              wsv1::DescribeBatchOperationResponse* resp) = 0;
  virtual grpc::Status ListBatchOperations(const NamespaceRef& ns, const wsv1::ListBatchOperationsRequest& req,
                                           wsv1::ListBatchOperationsResponse* resp) = 0;
  virtual grpc::Status StopBatchOperation(const NamespaceRef& ns, const wsv1::StopBatchOperationRequest& req,
                                          wsv1::StopBatchOperationResponse* resp) = 0;
};

std::unique_ptr<BatchService> NewBatchService(persistence::Store* store, history::HistoryService* history,
                                              visibility::VisibilityService* visibility);

}  // namespace kairos::batcher
