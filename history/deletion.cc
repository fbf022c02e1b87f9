// Deleting runs: DeleteWorkflowExecution (a running run is terminated
// first, as on Temporal) and retention's removal of closed runs. A run goes
// in one transaction with every row keyed by it (state, events, visibility,
// current-run pointer) and the task and timer rows it still owns, so a
// `kill -9` leaves either the whole run or nothing of it.
#include <spdlog/spdlog.h>

#include "history_engine.h"

namespace kairos::history {
namespace {

// Temporal's wording for the termination that precedes a delete.
constexpr const char* kDeleteReason = "Delete workflow execution";
constexpr const char* kHistoryServiceIdentity = "history-service";
// A terminated run's close steps (reporting to its parent, its parent close
// policy) run from timers armed at its close; its delete waits this long so
// that they find the run.
constexpr int64_t kDeleteAfterCloseNanos = 1'000'000'000;

// The task and timer rows a run still owns.
void OwnedRows(const State& s, std::vector<int64_t>* tasks, std::vector<int64_t>* timers) {
  const auto& w = s.workflow_task();
  if (w.task_id()) tasks->push_back(w.task_id());
  if (w.timer_row_id()) timers->push_back(w.timer_row_id());
  for (const auto& [id, a] : s.activities()) {
    if (a.task_id()) tasks->push_back(a.task_id());
    for (int64_t row : a.timer_row_ids()) timers->push_back(row);
  }
  for (const auto& [id, t] : s.timers()) timers->push_back(t.timer_row_id());
  for (int64_t row : s.timer_row_ids()) timers->push_back(row);
  for (const auto& [id, c] : s.children())
    if (c.timer_row_id()) timers->push_back(c.timer_row_id());
  for (const auto& [id, r] : s.external_requests())
    if (r.timer_row_id()) timers->push_back(r.timer_row_id());
}

}  // namespace

grpc::Status HistoryEngine::DeleteWorkflowExecution(const NamespaceRef& ns, const wsv1::DeleteWorkflowExecutionRequest& req) {
  std::lock_guard wf_lock(LockFor(ns.id, req.workflow_execution().workflow_id()));
  StatePtr state;
  if (auto st = Resolve(ns.id, req.workflow_execution(), &state); !st.ok()) return st;
  if (state->status() != enums::WORKFLOW_EXECUTION_STATUS_RUNNING) return DeleteRunLocked(*state, 0);
  // Terminated now, deleted once its close steps had their turn (Temporal
  // deletes asynchronously too: the caller sees the run go shortly after).
  MutableState ms(*state, env_, NowNanos());
  TerminateRun(ms, kDeleteReason, kHistoryServiceIdentity, nullptr);
  records::TimerTask t;
  t.set_kind(records::TimerTask::DELETE_HISTORY);
  t.set_namespace_id(ns.id);
  t.set_workflow_id(state->workflow_id());
  t.set_run_id(state->run_id());
  t.set_fire_time_nanos(ms.now() + kDeleteAfterCloseNanos);
  ms.AddTimer(std::move(t));
  return Commit(ms);
}

void HistoryEngine::DeleteOnTimer(int64_t row_id, const records::TimerTask& t) {
  ExecutionKey key{t.namespace_id(), t.workflow_id(), t.run_id()};
  std::lock_guard wf_lock(LockFor(key.namespace_id, key.workflow_id));
  auto state = Load(key);
  if (!state || state->status() == enums::WORKFLOW_EXECUTION_STATUS_RUNNING) {
    DropTimerRow(row_id);
    return;
  }
  if (auto st = DeleteRunLocked(*state, row_id); !st.ok()) {
    spdlog::warn("deleting {}/{} failed, retrying: {}", key.workflow_id, key.run_id, st.error_message());
    auto again = t;
    again.set_fire_time_nanos(NowNanos() + kDeleteAfterCloseNanos);
    timers_.Rearm(row_id, again);
  }
}

grpc::Status HistoryEngine::DeleteRunLocked(const State& s, int64_t timer_row_id) {
  ExecutionKey key{s.namespace_id(), s.workflow_id(), s.run_id()};
  persistence::WriteBatch b;
  OwnedRows(s, &b.task_deletes, &b.timer_deletes);
  if (timer_row_id) b.timer_deletes.push_back(timer_row_id);
  b.execution_deletes.push_back(key);
  auto timers = b.timer_deletes;
  if (auto st = store_->Commit(std::move(b)); !st.ok()) return errors::Unavailable("persistence failure: " + st.error_message());
  states_.Erase(RunKey(key));
  // The store dropped the current-run pointer if it named this run.
  current_runs_.Erase(WorkflowKey(key.namespace_id, key.workflow_id));
  for (int64_t id : timers) timers_.Disarm(id);
  // Whoever waits on the run (history long polls) wakes to find it gone.
  NotifyWaiters(RunKey(key));
  spdlog::debug("deleted workflow_id={} run_id={}", key.workflow_id, key.run_id);
  return grpc::Status::OK;
}

int HistoryEngine::DeleteClosedRunsBefore(const std::string& namespace_id, int64_t closed_before_nanos, int limit) {
  int deleted = 0;
  for (const auto& key : store_->ListClosedBefore(namespace_id, closed_before_nanos, limit)) {
    std::lock_guard wf_lock(LockFor(key.namespace_id, key.workflow_id));
    auto state = Load(key);
    // Checked again under the lock: the list was read without it.
    if (!state || state->status() == enums::WORKFLOW_EXECUTION_STATUS_RUNNING ||
        state->close_time_nanos() >= closed_before_nanos)
      continue;
    if (auto st = DeleteRunLocked(*state, 0); !st.ok()) {
      spdlog::warn("retention: deleting {}/{} failed: {}", key.workflow_id, key.run_id, st.error_message());
      break;
    }
    ++deleted;
  }
  return deleted;
}

}  // namespace kairos::history
