#include "kairos/persistence/metered_store.h"

#include <chrono>

#include "kairos/metrics/registry.h"

namespace kairos::persistence {
namespace {

class MeteredStore final : public Store {
 public:
  MeteredStore(std::unique_ptr<Store> inner, metrics::Registry* r) : inner_(std::move(inner)) {
    std::vector<std::string> labels = {"operation", "service_name"};
    requests_ = r->AddCounter("persistence_requests", "Persistence operations", labels);
    errors_ = r->AddCounter("persistence_errors", "Persistence operations that failed", labels);
    latency_ = r->AddHistogram("persistence_latency", "Time of a persistence operation, in seconds", labels,
                               metrics::LatencyBuckets());
  }

 private:
  // Runs `op`, counting it, timing it and, when it returns a failed status,
  // counting the failure. Series are looked up lock-free (registry.h).
  template <class Fn>
  auto Timed(std::string_view operation, Fn&& op) {
    auto started = std::chrono::steady_clock::now();
    auto result = op();
    std::string_view labels[] = {operation, "history"};
    requests_->Get(labels, 2)->Inc();
    latency_->Get(labels, 2)->ObserveDuration(std::chrono::steady_clock::now() - started);
    if constexpr (std::is_same_v<decltype(result), grpc::Status>) {
      if (!result.ok()) errors_->Get(labels, 2)->Inc();
    }
    return result;
  }

 public:
  grpc::Status Commit(WriteBatch batch) override {
    return Timed("Commit", [&] { return inner_->Commit(std::move(batch)); });
  }
  int64_t NextId() override { return inner_->NextId(); }  // A counter in memory, not a database operation.
  std::vector<NamespaceRow> ListNamespaces() override {
    return Timed("ListNamespaces", [&] { return inner_->ListNamespaces(); });
  }
  std::optional<CurrentRun> GetCurrentRun(const std::string& namespace_id, const std::string& workflow_id) override {
    return Timed("GetCurrentExecution", [&] { return inner_->GetCurrentRun(namespace_id, workflow_id); });
  }
  std::optional<std::string> LoadExecution(const ExecutionKey& key) override {
    return Timed("GetWorkflowExecution", [&] { return inner_->LoadExecution(key); });
  }
  std::vector<std::string> ReadEvents(const ExecutionKey& key, int64_t first_event_id, int64_t next_event_id,
                                      int max_count) override {
    return Timed("ReadHistoryBranch",
                 [&] { return inner_->ReadEvents(key, first_event_id, next_event_id, max_count); });
  }
  std::vector<std::string> ReadEventsReverse(const ExecutionKey& key, int64_t last_event_id, int max_count) override {
    return Timed("ReadHistoryBranchReverse", [&] { return inner_->ReadEventsReverse(key, last_event_id, max_count); });
  }
  std::vector<TaskRow> LoadTasks() override {
    return Timed("GetTasks", [&] { return inner_->LoadTasks(); });
  }
  std::vector<TaskBacklog> CountTaskBacklogs() override {
    return Timed("CountTaskBacklogs", [&] { return inner_->CountTaskBacklogs(); });
  }
  std::vector<TaskRow> LoadTaskPage(const std::string& queue, int64_t after_id, int limit) override {
    return Timed("GetTasks", [&] { return inner_->LoadTaskPage(queue, after_id, limit); });
  }
  std::vector<TimerRow> LoadTimers(const TimerPageQuery& page) override {
    return Timed("GetTimerTasks", [&] { return inner_->LoadTimers(page); });
  }
  std::optional<VisibilityRow> GetVisibility(const ExecutionKey& key) override {
    return Timed("GetVisibilityRecord", [&] { return inner_->GetVisibility(key); });
  }
  std::vector<ScheduleRow> LoadSchedules() override {
    return Timed("LoadSchedules", [&] { return inner_->LoadSchedules(); });
  }
  std::vector<NexusEndpointRow> LoadNexusEndpoints() override {
    return Timed("ListNexusEndpoints", [&] { return inner_->LoadNexusEndpoints(); });
  }
  std::vector<BatchOperationRow> LoadBatchOperations() override {
    return Timed("LoadBatchOperations", [&] { return inner_->LoadBatchOperations(); });
  }
  std::vector<WorkerDeploymentRow> LoadWorkerDeployments() override {
    return Timed("LoadWorkerDeployments", [&] { return inner_->LoadWorkerDeployments(); });
  }
  std::vector<BuildIdVersioningRow> LoadBuildIdVersioning() override {
    return Timed("LoadBuildIdVersioning", [&] { return inner_->LoadBuildIdVersioning(); });
  }
  grpc::Status QueryVisibility(const std::string& namespace_id, const VisibilityFilter& filter,
                               const VisibilityCursor* after, int limit, std::vector<VisibilityRow>* out) override {
    return Timed("ListWorkflowExecutions",
                 [&] { return inner_->QueryVisibility(namespace_id, filter, after, limit, out); });
  }
  grpc::Status CountVisibility(const std::string& namespace_id, const VisibilityFilter& filter,
                               const std::string& group_column, std::vector<std::pair<SqlValue, int64_t>>* groups,
                               int64_t* count) override {
    return Timed("CountWorkflowExecutions",
                 [&] { return inner_->CountVisibility(namespace_id, filter, group_column, groups, count); });
  }
  std::vector<SearchAttributeDefinition> LoadSearchAttributes() override {
    return Timed("GetSearchAttributes", [&] { return inner_->LoadSearchAttributes(); });
  }
  std::vector<ExecutionKey> ListClosedBefore(const std::string& namespace_id, int64_t closed_before_nanos,
                                             int limit) override {
    return Timed("ListClosedBefore", [&] { return inner_->ListClosedBefore(namespace_id, closed_before_nanos, limit); });
  }

 private:
  std::unique_ptr<Store> inner_;
  metrics::Family<metrics::Counter>* requests_;
  metrics::Family<metrics::Counter>* errors_;
  metrics::Family<metrics::Histogram>* latency_;
};

}  // namespace

std::unique_ptr<Store> WithPersistenceMetrics(std::unique_ptr<Store> inner, metrics::Registry* registry) {
  if (registry == nullptr) return inner;
  return std::make_unique<MeteredStore>(std::move(inner), registry);
}

}  // namespace kairos::persistence
