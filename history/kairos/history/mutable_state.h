// One workflow run being changed inside one transaction: a working copy of
// its ExecutionState, the events appended so far, and the task-queue rows and
// timers the change creates or removes. Nothing here touches the store; the
// engine commits the result atomically and then applies the side effects.
#pragma once

#include <memory>
#include <deque>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "kairos/history/versioning.h"
#include "kairos/records.pb.h"
#include "temporal/api/history/v1/message.pb.h"

namespace kairos::history {

namespace hv1 = temporal::api::history::v1;
namespace enums = temporal::api::enums::v1;

// Event id of events that wait in the buffer (Temporal uses the same value).
constexpr int64_t kBufferedEventId = -123;
constexpr int64_t kDefaultWorkflowTaskTimeoutMs = 10'000;
constexpr int64_t kMaxWorkflowTaskTimeoutMs = 120'000;
constexpr int64_t kDefaultStickyScheduleToStartMs = 5'000;

// A run that starts as this one closes (retry, continue-as-new): same
// workflow id, same transaction.
struct NextRun {
  std::string run_id;
  hv1::WorkflowExecutionStartedEventAttributes start;
  int64_t backoff_ms = 0;
};

struct Environment {
  std::function<int64_t()> next_id;                       // Row and task ids.
  std::function<bool(const std::string& namespace_id, const std::string& queue)> sticky_alive;
  std::function<std::string(const std::string& namespace_name)> namespace_id;  // Empty: no such namespace.
  // The id of the Nexus endpoint of this name; empty when there is none.
  std::function<std::string(const std::string& endpoint_name)> nexus_endpoint_id;
  // Why search attributes a command sets are refused (Temporal's message);
  // empty when they are fine. Unset: every attribute is accepted.
  std::function<std::string(const std::string& namespace_id, const std::string& namespace_name,
                            const temporal::api::common::v1::SearchAttributes&)>
      search_attribute_error;
  // Why a run's search attributes are too big (Temporal's per-value and
  // total limits); empty when they fit. Unset: no limit.
  std::function<std::string(const temporal::api::common::v1::SearchAttributes&)> search_attribute_size_error;
  // Worker deployments' routing, for what versioning a run hands on.
  DeploymentLookup deployments;
  // The earliest a delayed timer may fire after it is armed (Limits).
  int64_t timer_min_delay_nanos = 0;
};

// Facts a change records for the metrics, reported once it is committed.
struct ActivityOutcome {
  enum Kind { kSucceeded, kFailed, kCanceled, kTimedOut };
  Kind kind;
  bool closed;            // No attempt follows.
  const char* operation;  // Temporal's operation label.
  std::string task_queue, activity_type;
  enums::TimeoutType timeout_type = enums::TIMEOUT_TYPE_UNSPECIFIED;
  int64_t attempt_started_nanos = 0;  // 0: the attempt had not started.
  int64_t first_scheduled_nanos = 0;
};
struct TaskStart {
  bool activity;  // Else a workflow task.
  bool sticky;
  int64_t schedule_to_start_nanos;
};

// The events of a run's transient workflow task, as the worker must see
// them (none when its task is not transient or not started).
std::vector<hv1::HistoryEvent> TransientWorkflowTaskEvents(const records::ExecutionState& state);

class MutableState {
 public:
  MutableState(records::ExecutionState state, const Environment& env, int64_t now_nanos);

  // A change through s() after Publish copies the state first, so that the
  // published (cached) one stays as it was committed.
  records::ExecutionState& s() {
    if (published_) Unshare();
    return *state_;
  }
  const records::ExecutionState& s() const { return *state_; }
  // The committed state, for the cache to share without a copy.
  std::shared_ptr<const records::ExecutionState> Publish() {
    published_ = true;
    return state_;
  }
  int64_t now() const { return now_; }
  const Environment& env() const { return env_; }
  std::string SearchAttributeError(const std::string& namespace_id, const std::string& namespace_name,
                                   const temporal::api::common::v1::SearchAttributes& sa) const {
    return env_.search_attribute_error ? env_.search_attribute_error(namespace_id, namespace_name, sa) : "";
  }

  bool IsRunning() const { return s().status() == enums::WORKFLOW_EXECUTION_STATUS_RUNNING; }
  bool HasWorkflowTask() const { return s().workflow_task().attempt() > 0; }
  bool WorkflowTaskStarted() const { return s().workflow_task().started_event_id() != 0; }

  // Appends an event with the next id. The reference is valid until the
  // next event is added.
  hv1::HistoryEvent& AddEvent(enums::EventType type);
  // Appends, or buffers while a workflow task is running.
  hv1::HistoryEvent& AddOrBufferEvent(enums::EventType type);
  // Gives buffered events their ids, after whatever was appended so far.
  bool FlushBufferedEvents();
  const std::deque<hv1::HistoryEvent>& new_events() const { return events_; }
  // An event copied as it is from another run's history (a reset's new run
  // starts with the base run's events); the caller keeps the ids gapless.
  void AdoptEvent(hv1::HistoryEvent e) { events_.push_back(std::move(e)); }
  hv1::HistoryEvent& new_event(size_t i) { return events_[i]; }

  // Task-queue rows and timers created or removed by this change.
  int64_t AddQueueTask(records::QueueTask task);
  // Removing a row created by this same change simply forgets it.
  void DeleteQueueTask(int64_t id);
  int64_t AddTimer(records::TimerTask timer);
  // A run-level timer (timeouts, backoff), remembered in the state so that
  // closing the run removes it.
  void AddRunTimer(records::TimerTask::Kind kind, int64_t fire_time_nanos);
  // The run timeout, counted from `run_start_nanos`, and the execution
  // timeout at the started event's expiration time.
  void ArmRunTimeouts(int64_t run_start_nanos);
  void DeleteTimer(int64_t id);
  const std::vector<std::pair<int64_t, records::QueueTask>>& tasks() const { return tasks_; }
  const std::vector<int64_t>& task_deletes() const { return task_deletes_; }
  const std::vector<std::pair<int64_t, records::TimerTask>>& timers() const { return timers_; }
  const std::vector<int64_t>& timer_deletes() const { return timer_deletes_; }

  // --- Workflow tasks ---
  // Schedules a workflow task unless one is pending: on the sticky queue when
  // its worker is alive, else on the workflow's own queue. Attempts after the
  // first are transient (no events until they complete).
  void ScheduleWorkflowTask(int32_t attempt = 1, bool allow_sticky = true, bool speculative = false);
  // Writes the WorkflowTaskScheduled event of the pending workflow task.
  void WriteWorkflowTaskScheduled();
  // The events of a transient workflow task, as the worker must see them.
  std::vector<hv1::HistoryEvent> TransientWorkflowTaskEvents() const;
  // Writes the scheduled/started events of a transient task that completes.
  void MaterializeTransientWorkflowTask();
  void ClearWorkflowTask();
  void ClearSticky();
  int64_t WorkflowTaskTimeoutMs() const;

  // --- Closing ---
  // Marks the run closed; removes its pending timers and activities.
  void Close(enums::WorkflowExecutionStatus status, int64_t completion_event_id);
  bool closed_now() const { return closed_now_; }  // Close was called on this change.

  // For the metrics (history_metrics.h).
  void RecordActivityOutcome(ActivityOutcome o) { activity_outcomes_.push_back(std::move(o)); }
  void RecordTaskStart(TaskStart t) { task_starts_.push_back(t); }
  const std::vector<ActivityOutcome>& activity_outcomes() const { return activity_outcomes_; }
  const std::vector<TaskStart>& task_starts() const { return task_starts_; }

  // Workflow-task-completed event id the next commands refer to.
  void set_completed_event_id(int64_t id) { completed_event_id_ = id; }
  int64_t completed_event_id() const { return completed_event_id_; }

  std::optional<NextRun>& next_run() { return next_run_; }

  bool visibility_changed() const { return visibility_changed_; }
  void mark_visibility_changed() { visibility_changed_ = true; }
  // The run's search attributes of these names changed (set or removed):
  // their index rows are rewritten, the others stay.
  const std::set<std::string>& changed_search_attributes() const { return changed_search_attributes_; }
  void mark_search_attribute_changed(const std::string& name) {
    visibility_changed_ = true;
    changed_search_attributes_.insert(name);
  }

 private:
  hv1::HistoryEvent MakeEvent(enums::EventType type, int64_t id) const;
  void Unshare();

  std::shared_ptr<records::ExecutionState> state_;
  bool published_ = false;
  const Environment& env_;
  const int64_t now_;
  std::deque<hv1::HistoryEvent> events_;
  std::vector<std::pair<int64_t, records::QueueTask>> tasks_;
  std::vector<int64_t> task_deletes_;
  std::vector<std::pair<int64_t, records::TimerTask>> timers_;
  std::vector<int64_t> timer_deletes_;
  int64_t completed_event_id_ = 0;
  bool visibility_changed_ = false;
  std::set<std::string> changed_search_attributes_;
  bool closed_now_ = false;
  std::vector<ActivityOutcome> activity_outcomes_;
  std::vector<TaskStart> task_starts_;
  std::optional<NextRun> next_run_;
};

}  // namespace kairos::history
