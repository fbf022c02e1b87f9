// The batcher's implementation, private to kairos_batcher: the RPCs and the
// table of batches (batch_service.cc), and the thread that applies each
// running batch's operation to its executions (batch_runner.cc).
#pragma once

#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "kairos/batcher/batch_service.h"
#include "kairos/persistence/store.h"
#include "kairos/records.pb.h"
#include "kairos/visibility/visibility_service.h"

namespace kairos::batcher {

namespace enums = temporal::api::enums::v1;
namespace common = temporal::api::common::v1;

// Temporal's default rate of a batch (worker.batcherRPS).
inline constexpr double kDefaultOperationsPerSecond = 50;
// Temporal's frontend.MaxConcurrentBatchOperationPerNamespace default.
inline constexpr int kMaxConcurrentPerNamespace = 1;
// Executions read from visibility at a time.
inline constexpr int kPageSize = 100;

class BatchEngine final : public BatchService {
 public:
  BatchEngine(persistence::Store* store, history::HistoryService* history, visibility::VisibilityService* visibility);
  ~BatchEngine() override;

  void Start() override;
  void Stop() override;

  grpc::Status StartBatchOperation(const NamespaceRef& ns, const wsv1::StartBatchOperationRequest& req,
                                   wsv1::StartBatchOperationResponse* resp) override;
  grpc::Status DescribeBatchOperation(const NamespaceRef& ns, const wsv1::DescribeBatchOperationRequest& req,
                                      wsv1::DescribeBatchOperationResponse* resp) override;
  grpc::Status ListBatchOperations(const NamespaceRef& ns, const wsv1::ListBatchOperationsRequest& req,
                                   wsv1::ListBatchOperationsResponse* resp) override;
  grpc::Status StopBatchOperation(const NamespaceRef& ns, const wsv1::StopBatchOperationRequest& req,
                                  wsv1::StopBatchOperationResponse* resp) override;

 private:
  using Key = std::pair<std::string, std::string>;  // (namespace id, job id)

  // ------------------------------------------------- batch_service.cc
  grpc::Status Persist(const records::BatchOperationRecord& rec);

  // -------------------------------------------------- batch_runner.cc
  void Loop();
  // Applies the batch's operation to its next execution, or moves on to
  // its next page, or closes it. False when it has nothing left to do.
  bool Step(const Key& key);
  // The next executions of a query batch (the page its cursor names).
  grpc::Status FetchPage(const records::BatchOperationRecord& rec, std::vector<common::WorkflowExecution>* page,
                         std::string* next_token);
  grpc::Status Apply(const records::BatchOperationRecord& rec, const common::WorkflowExecution& execution);
  // Waits for the batch's next slot under its rate; false when stopping.
  bool Pace(const Key& key);

  persistence::Store* store_;
  history::HistoryService* history_;
  visibility::VisibilityService* visibility_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::map<Key, records::BatchOperationRecord> batches_;
  // The page of executions each running query batch works through (not
  // durable: re-read from its cursor after a restart).
  std::map<Key, std::vector<common::WorkflowExecution>> pages_;
  std::map<Key, std::string> page_next_tokens_;
  std::map<Key, std::chrono::steady_clock::time_point> next_slot_;
  std::thread thread_;
};

}  // namespace kairos::batcher
