// The persistence contract. Every state change of a workflow (events, mutable
// state, task-queue rows, timers, visibility) is one WriteBatch, committed
// atomically; Commit returns only once the batch is durable. A second backend
// implements this interface.
#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include <grpcpp/support/status.h>

namespace kairos::persistence {

struct NamespaceRow {
  std::string id;
  std::string name;
  std::string record;  // Serialized records::NamespaceRecord.
};

struct ExecutionKey {
  std::string namespace_id;
  std::string workflow_id;
  std::string run_id;
};

struct CurrentRun {
  std::string run_id;
  int status = 0;  // temporal.api.enums.v1.WorkflowExecutionStatus
  std::string start_request_id;
};

struct ExecutionWrite {
  ExecutionKey key;
  std::string state;            // Serialized records::ExecutionState.
  bool make_current = false;    // Point the workflow id at this run.
  int status = 0;
  std::string start_request_id;
};

struct EventWrite {
  ExecutionKey key;
  int64_t event_id = 0;
  std::string event;  // Serialized temporal.api.history.v1.HistoryEvent.
};

struct TaskRow {
  int64_t id = 0;
  std::string task;   // Serialized records::QueueTask.
  std::string queue;  // The key its rows are paged by (matching's queue key); empty: none.
};

// How many rows wait under one queue key.
struct TaskBacklog {
  std::string queue;
  int64_t count = 0;
};

struct TimerRow {
  int64_t id = 0;
  int64_t fire_time_nanos = 0;
  std::string timer;  // Serialized records::TimerTask.
};

// A page of timers in (fire time, id) order: the rows after the key
// (after_fire_time_nanos, after_id) that are due before before_fire_time_nanos,
// at most `limit`. The defaults ask for every row.
struct TimerPageQuery {
  int64_t after_fire_time_nanos = std::numeric_limits<int64_t>::min();
  int64_t after_id = std::numeric_limits<int64_t>::min();
  int64_t before_fire_time_nanos = std::numeric_limits<int64_t>::max();
  int limit = std::numeric_limits<int>::max();
};

// One value of a run's search attribute, in each form a query may compare
// it as (filled by kairos_visibility; a KeywordList gives one per item).
struct SearchAttributeValue {
  std::string name;
  std::optional<std::string> text;        // A string.
  std::string words;                      // Its words, lower case, " a b ".
  std::optional<int64_t> int_value;       // An integral number.
  std::optional<double> double_value;     // Any number.
  std::optional<int64_t> bool_value;      // A boolean, 0 or 1.
  std::optional<int64_t> time_nanos;      // A string in RFC 3339.
};

struct VisibilityRow {
  ExecutionKey key;
  std::string workflow_type;
  std::string task_queue;
  int status = 0;
  int64_t start_time_nanos = 0;
  int64_t execution_time_nanos = 0;
  int64_t close_time_nanos = 0;
  int64_t history_length = 0;
  std::string info;  // Serialized temporal.api.workflow.v1.WorkflowExecutionInfo.
  // Written, not read back (queries compare them in SQL).
  int64_t history_size_bytes = 0;
  int64_t state_transition_count = 0;
  std::optional<int64_t> execution_duration_nanos;  // Closed runs.
  std::string parent_workflow_id, parent_run_id;    // Empty: none.
  std::string root_workflow_id, root_run_id;
  std::string namespace_division;                   // Empty: none.
  std::vector<SearchAttributeValue> search_attributes;
  // False: the run's attribute rows stay as they are (search_attributes unset).
  bool search_attributes_changed = true;
  // The run's first write: it has no attribute rows to replace yet.
  bool new_run = false;
  // Not a new run: the attributes whose rows are replaced (by those of
  // search_attributes with these names); empty: all of the run's rows.
  std::vector<std::string> replaced_search_attributes;
};

// A bound SQL value; monostate is NULL.
using SqlValue = std::variant<std::monostate, int64_t, double, std::string>;

// A condition over the visibility table (alias `v`) built by
// kairos_visibility; values are bound, never spliced. The namespace id is
// bound as ?1, and the condition may refer to it; `params` bind the plain
// `?` placeholders that follow, in order.
struct VisibilityFilter {
  std::string where;  // Empty: every run.
  std::vector<SqlValue> params;
};

// Where a page ended, in list order: close time (running runs first),
// then start time, newest first, then run id.
struct VisibilityCursor {
  int64_t close_order = 0;  // Close time, or INT64_MAX while running.
  int64_t start_time_nanos = 0;
  std::string run_id;
};

struct SearchAttributeDefinition {
  std::string namespace_id;
  std::string name;
  int type = 0;  // temporal.api.enums.v1.IndexedValueType
};

struct ScheduleRow {
  std::string namespace_id;
  std::string schedule_id;
  std::string record;  // Serialized records::ScheduleRecord.
};

struct BatchOperationRow {
  std::string namespace_id;
  std::string job_id;
  std::string record;  // Serialized records::BatchOperationRecord.
};

// A Nexus endpoint (global, not per namespace).
struct NexusEndpointRow {
  std::string id;
  std::string record;  // Serialized records::NexusEndpointRecord.
};

struct WorkerDeploymentRow {
  std::string namespace_id;
  std::string name;
  std::string record;  // Serialized records::WorkerDeploymentRecord.
};

// A task queue's compatible version sets (deployments/build_id_versioning.h).
struct BuildIdVersioningRow {
  std::string namespace_id;
  std::string task_queue;
  std::string record;  // deployments::VersionSets::Serialize().
};

// One atomic state change.
struct WriteBatch {
  std::vector<NamespaceRow> namespace_upserts;
  std::vector<std::string> namespace_deletes;  // By id.
  std::vector<ExecutionWrite> executions;
  std::vector<EventWrite> events;
  std::vector<TaskRow> task_inserts;
  std::vector<int64_t> task_deletes;
  std::vector<TimerRow> timer_inserts;
  std::vector<int64_t> timer_deletes;
  std::vector<VisibilityRow> visibility;
  std::vector<ScheduleRow> schedule_upserts;
  std::vector<std::pair<std::string, std::string>> schedule_deletes;  // (namespace id, schedule id)
  std::vector<BatchOperationRow> batch_operation_upserts;
  std::vector<WorkerDeploymentRow> worker_deployment_upserts;
  std::vector<std::pair<std::string, std::string>> worker_deployment_deletes;  // (namespace id, name)
  std::vector<BuildIdVersioningRow> build_id_versioning_upserts;
  std::vector<SearchAttributeDefinition> search_attribute_upserts;
  std::vector<SearchAttributeDefinition> search_attribute_deletes;  // By namespace and name.
  std::vector<NexusEndpointRow> nexus_endpoint_upserts;
  std::vector<std::string> nexus_endpoint_deletes;  // By id.
  // Runs removed for good, after everything above: the mutable state, the
  // history events, the visibility row and its search-attribute values, and
  // the current-run pointer when it names the run. Task and timer rows are
  // the caller's (task_deletes, timer_deletes).
  std::vector<ExecutionKey> execution_deletes;

  bool empty() const;
};

class Store {
 public:
  virtual ~Store() = default;

  // Blocks until the batch is committed (or failed); safe from many threads,
  // concurrent batches share one transaction.
  virtual grpc::Status Commit(WriteBatch batch) = 0;

  // A fresh id for task rows, timer rows and event task ids; unique and
  // increasing across restarts.
  virtual int64_t NextId() = 0;

  virtual std::vector<NamespaceRow> ListNamespaces() = 0;

  virtual std::optional<CurrentRun> GetCurrentRun(const std::string& namespace_id,
                                                  const std::string& workflow_id) = 0;
  virtual std::optional<std::string> LoadExecution(const ExecutionKey& key) = 0;

  // Events with first_event_id <= id < next_event_id, at most max_count, in order.
  virtual std::vector<std::string> ReadEvents(const ExecutionKey& key, int64_t first_event_id,
                                              int64_t next_event_id, int max_count) = 0;
  // Events with id <= last_event_id, newest first, at most max_count.
  virtual std::vector<std::string> ReadEventsReverse(const ExecutionKey& key, int64_t last_event_id,
                                                     int max_count) = 0;

  virtual std::vector<TaskRow> LoadTasks() = 0;
  // The rows of each queue key (one pass over an index, not the rows).
  virtual std::vector<TaskBacklog> CountTaskBacklogs() = 0;
  // A page of one queue's rows: ids after `after_id`, ascending, at most
  // `limit`; read through an index on the queue, so that a page costs the
  // same however many rows wait.
  virtual std::vector<TaskRow> LoadTaskPage(const std::string& queue, int64_t after_id, int limit) = 0;
  // Read through an index on the due time, so that a page costs the same
  // however many timers wait further out.
  virtual std::vector<TimerRow> LoadTimers(const TimerPageQuery& page = {}) = 0;

  virtual std::optional<VisibilityRow> GetVisibility(const ExecutionKey& key) = 0;

  // Every schedule of every namespace (the scheduler keeps them in memory).
  virtual std::vector<ScheduleRow> LoadSchedules() = 0;
  // Every batch operation of every namespace, running or finished.
  virtual std::vector<BatchOperationRow> LoadBatchOperations() = 0;
  // Every worker deployment (deployments/), loaded at start.
  virtual std::vector<WorkerDeploymentRow> LoadWorkerDeployments() = 0;
  virtual std::vector<BuildIdVersioningRow> LoadBuildIdVersioning() = 0;
  // Visibility rows of a namespace matching `filter`, in list order,
  // after `after` when given.
  virtual grpc::Status QueryVisibility(const std::string& namespace_id, const VisibilityFilter& filter,
                                       const VisibilityCursor* after, int limit, std::vector<VisibilityRow>* out) = 0;
  // Counts matching rows; with a group column (a trusted column expression),
  // one count per value of it.
  virtual grpc::Status CountVisibility(const std::string& namespace_id, const VisibilityFilter& filter,
                                       const std::string& group_column,
                                       std::vector<std::pair<SqlValue, int64_t>>* groups, int64_t* count) = 0;

  virtual std::vector<SearchAttributeDefinition> LoadSearchAttributes() = 0;

  // Every Nexus endpoint (the registry keeps them in memory).
  virtual std::vector<NexusEndpointRow> LoadNexusEndpoints() = 0;

  // Closed runs of a namespace whose close time is before `closed_before_nanos`,
  // oldest first, at most `limit` (retention: what may be deleted now).
  virtual std::vector<ExecutionKey> ListClosedBefore(const std::string& namespace_id, int64_t closed_before_nanos,
                                                     int limit) = 0;
};

}  // namespace kairos::persistence
