// The persistence contract. Every state change of a workflow (events, mutable
// state, task-queue rows, timers, visibility) is one WriteBatch, committed
// atomically; Commit returns only once the batch is durable. A second backend
// implements this interface.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
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
  std::string task;  // Serialized records::QueueTask.
};

struct TimerRow {
  int64_t id = 0;
  int64_t fire_time_nanos = 0;
  std::string timer;  // Serialized records::TimerTask.
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
};

struct ScheduleRow {
  std::string namespace_id;
  std::string schedule_id;
  std::string record;  // Serialized records::ScheduleRecord.
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
  virtual std::vector<TimerRow> LoadTimers() = 0;

  // Visibility rows of a namespace, newest start first.
  virtual std::vector<VisibilityRow> ListVisibility(const std::string& namespace_id, int64_t offset,
                                                    int limit) = 0;
  virtual std::optional<VisibilityRow> GetVisibility(const ExecutionKey& key) = 0;

  // Every schedule of every namespace (the scheduler keeps them in memory).
  virtual std::vector<ScheduleRow> LoadSchedules() = 0;
};

}  // namespace kairos::persistence
