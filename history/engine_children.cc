// Child workflows, the engine's side: the durable steps that start a child,
// report a closed child to its parent and apply a closed parent's close
// policy. Like DeliverExternal, each step locks one workflow at a time and is
// safe to repeat after a crash: a child's start is deduplicated by its create
// request id, and a parent records a child's events only while that child is
// pending in its state.
#include <spdlog/spdlog.h>

#include "history_engine.h"
#include "kairos/history/versioning.h"
#include "kairos/history/children.h"

namespace kairos::history {
namespace {

// The identity Temporal gives to what the server does on its own.
constexpr char kServerIdentity[] = "history-service";
constexpr int kMaxResetRedirects = 100;

// A run the resetter terminated and replaced keeps its children for the
// new run: Temporal skips such a parent's close policy.
bool TerminatedByReset(const records::ExecutionState& s, const hv1::HistoryEvent& close) {
  return !s.reset_run_id().empty() && close.event_type() == enums::EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED &&
         close.workflow_execution_terminated_event_attributes().identity() == kResetterIdentity;
}

wsv1::StartWorkflowExecutionRequest ChildStartRequest(const records::ChildInfo& child) {
  const auto& a = child.initiated();
  wsv1::StartWorkflowExecutionRequest req;
  req.set_namespace_(child.namespace_());
  req.set_workflow_id(child.workflow_id());
  *req.mutable_workflow_type() = a.workflow_type();
  *req.mutable_task_queue() = a.task_queue();
  if (a.has_input()) *req.mutable_input() = a.input();
  if (a.has_header()) *req.mutable_header() = a.header();
  *req.mutable_workflow_execution_timeout() = a.workflow_execution_timeout();
  *req.mutable_workflow_run_timeout() = a.workflow_run_timeout();
  *req.mutable_workflow_task_timeout() = a.workflow_task_timeout();
  req.set_request_id(child.create_request_id());
  req.set_workflow_id_reuse_policy(a.workflow_id_reuse_policy());
  req.set_workflow_id_conflict_policy(enums::WORKFLOW_ID_CONFLICT_POLICY_FAIL);
  if (a.has_retry_policy()) *req.mutable_retry_policy() = a.retry_policy();
  req.set_cron_schedule(a.cron_schedule());
  if (a.has_memo()) *req.mutable_memo() = a.memo();
  if (a.has_search_attributes()) *req.mutable_search_attributes() = a.search_attributes();
  if (a.has_priority()) *req.mutable_priority() = a.priority();
  return req;
}

}  // namespace

void HistoryEngine::RetryStepLater(int64_t row_id, const records::TimerTask& t) {
  auto again = t;
  again.set_fire_time_nanos(NowNanos() + 1'000'000'000);
  timers_.Rearm(row_id, again);
}

std::string HistoryEngine::NamespaceIdByName(const std::string& name) {
  for (const auto& row : store_->ListNamespaces())
    if (row.name == name) return row.id;
  return "";
}

void HistoryEngine::StartChild(int64_t row_id, const records::TimerTask& t) {
  ExecutionKey parent_key{t.namespace_id(), t.workflow_id(), t.run_id()};
  records::ChildInfo child;
  hv1::WorkflowExecutionStartedEventAttributes link;  // The child's parent and root.
  bool parent_running = false;
  {
    std::lock_guard lock(LockFor(parent_key.namespace_id, parent_key.workflow_id));
    auto state = Load(parent_key);
    const records::ChildInfo* pending = nullptr;
    if (state) {
      auto it = state->children().find(t.event_id());
      if (it != state->children().end()) pending = &it->second;
    }
    if (!pending || pending->timer_row_id() != row_id) {
      DropTimerRow(row_id);
      return;
    }
    child = *pending;
    parent_running = state->status() == enums::WORKFLOW_EXECUTION_STATUS_RUNNING;
    link.set_parent_workflow_namespace(state->namespace_name());
    link.set_parent_workflow_namespace_id(state->namespace_id());
    *link.mutable_parent_workflow_execution() = Execution(*state);
    link.set_parent_initiated_event_id(child.initiated_event_id());
    *link.mutable_root_workflow_execution() =
        state->start().has_root_workflow_execution() ? state->start().root_workflow_execution() : Execution(*state);
    // A child in the parent's namespace, on a task queue of the parent's
    // version, starts on it.
    if (child.namespace_id() == state->namespace_id())
      CarryVersioningToChild(*state, env_.deployments, child.initiated().task_queue().name(), &link);
  }

  std::string run_id;
  grpc::Status started;
  {
    std::lock_guard lock(LockFor(child.namespace_id(), child.workflow_id()));
    if (parent_running) {
      wsv1::StartWorkflowExecutionResponse resp;
      started = StartLocked(NamespaceRef{child.namespace_id(), child.namespace_()}, ChildStartRequest(child), nullptr,
                            &resp, &link);
      run_id = resp.run_id();
    } else {
      // Not started now that the parent has closed; but a start that
      // committed just before the parent closed must not be lost.
      auto current = Current(child.namespace_id(), child.workflow_id());
      if (current && current->start_request_id == child.create_request_id()) run_id = current->run_id;
    }
  }
  auto code = started.error_code();
  if (parent_running && code != grpc::StatusCode::OK && code != grpc::StatusCode::ALREADY_EXISTS &&
      code != grpc::StatusCode::NOT_FOUND) {
    spdlog::warn("starting child workflow {}: {}", child.workflow_id(), started.error_message());
    RetryStepLater(row_id, t);
    return;
  }

  bool apply_policy = false;
  {
    std::lock_guard lock(LockFor(parent_key.namespace_id, parent_key.workflow_id));
    auto state = Load(parent_key);
    auto it = state ? state->children().find(t.event_id()) : decltype(state->children().end()){};
    if (!state || it == state->children().end() || it->second.timer_row_id() != row_id) {
      DropTimerRow(row_id);  // Recorded meanwhile (the child's close reached the parent first).
      return;
    }
    MutableState ms(*state, env_, NowNanos());
    auto& pending = (*ms.s().mutable_children())[t.event_id()];
    if (ms.IsRunning() && parent_running) {
      if (code == grpc::StatusCode::OK) {
        RecordChildStarted(ms, pending, run_id);
      } else {
        RecordChildStartFailed(ms, t.event_id(),
                               code == grpc::StatusCode::ALREADY_EXISTS
                                   ? enums::START_CHILD_WORKFLOW_EXECUTION_FAILED_CAUSE_WORKFLOW_ALREADY_EXISTS
                                   : enums::START_CHILD_WORKFLOW_EXECUTION_FAILED_CAUSE_NAMESPACE_NOT_FOUND);
      }
    } else {
      // The parent closed before the child's start was recorded.
      ms.DeleteTimer(row_id);
      pending.set_timer_row_id(0);
      pending.clear_initiated();
      if (!run_id.empty()) {
        pending.set_started_run_id(run_id);
        apply_policy = pending.parent_close_policy() != enums::PARENT_CLOSE_POLICY_ABANDON;
      }
      child = pending;
    }
    if (auto st = Commit(ms); !st.ok()) {
      RetryStepLater(row_id, t);
      return;
    }
  }
  if (apply_policy) {
    common::WorkflowExecution parent;
    parent.set_workflow_id(parent_key.workflow_id);
    parent.set_run_id(parent_key.run_id);
    ApplyPolicyToChild(parent, child);
  }
}

StatePtr HistoryEngine::LoadClosedRun(const ExecutionKey& key, hv1::HistoryEvent* close) {
  StatePtr state;
  {
    std::lock_guard lock(LockFor(key.namespace_id, key.workflow_id));
    state = Load(key);
  }
  if (!state || state->status() == enums::WORKFLOW_EXECUTION_STATUS_RUNNING) return nullptr;
  auto rows = store_->ReadEvents(key, state->completion_event_id(), state->completion_event_id() + 1, 1);
  if (rows.empty() || !close->ParseFromString(rows.front())) return nullptr;
  return state;
}

void HistoryEngine::ReportToParent(int64_t row_id, const records::TimerTask& t) {
  ExecutionKey key{t.namespace_id(), t.workflow_id(), t.run_id()};
  hv1::HistoryEvent close;
  StatePtr state = LoadClosedRun(key, &close);
  if (!state) {
    DropTimerRow(row_id);
    return;
  }
  const auto& start = state->start();
  ExecutionKey parent_key{start.parent_workflow_namespace_id(), start.parent_workflow_execution().workflow_id(),
                          start.parent_workflow_execution().run_id()};
  {
    std::lock_guard lock(LockFor(parent_key.namespace_id, parent_key.workflow_id));
    auto parent = Load(parent_key);
    // A parent that was reset hands its children to the run the reset made
    // (following a chain of resets, at most 100 as on Temporal).
    for (int hops = 0; parent && parent->status() != enums::WORKFLOW_EXECUTION_STATUS_RUNNING &&
                       !parent->reset_run_id().empty() && hops < kMaxResetRedirects;
         ++hops)
      parent = Load({parent_key.namespace_id, parent_key.workflow_id, parent->reset_run_id()});
    const records::ChildInfo* pending = nullptr;
    if (parent && parent->status() == enums::WORKFLOW_EXECUTION_STATUS_RUNNING) {
      auto it = parent->children().find(start.parent_initiated_event_id());
      if (it != parent->children().end()) pending = &it->second;
    }
    // The pending child must be this chain of runs (its first run).
    if (pending && pending->workflow_id() == key.workflow_id &&
        (pending->started_run_id().empty() || pending->started_run_id() == state->first_execution_run_id())) {
      MutableState ms(*parent, env_, NowNanos());
      auto& child = (*ms.s().mutable_children())[start.parent_initiated_event_id()];
      // The start may not be recorded yet (the parent's step was cut short).
      if (child.started_event_id() == 0) RecordChildStarted(ms, child, state->first_execution_run_id());
      RecordChildClosed(ms, start.parent_initiated_event_id(), Execution(*state), close);
      if (auto st = Commit(ms); !st.ok()) {
        RetryStepLater(row_id, t);
        return;
      }
    }
  }
  DropTimerRow(row_id);
}

void HistoryEngine::ApplyParentClosePolicy(int64_t row_id, const records::TimerTask& t) {
  ExecutionKey key{t.namespace_id(), t.workflow_id(), t.run_id()};
  StatePtr state;
  {
    std::lock_guard lock(LockFor(key.namespace_id, key.workflow_id));
    state = Load(key);
  }
  bool done = true;
  hv1::HistoryEvent close;
  if (state && state->status() != enums::WORKFLOW_EXECUTION_STATUS_RUNNING) {
    auto rows = store_->ReadEvents(key, state->completion_event_id(), state->completion_event_id() + 1, 1);
    if (!rows.empty() && close.ParseFromString(rows.front()) && TerminatedByReset(*state, close)) state = nullptr;
  }
  if (state && state->status() != enums::WORKFLOW_EXECUTION_STATUS_RUNNING) {
    for (const auto& [id, child] : state->children()) {
      if (child.parent_close_policy() == enums::PARENT_CLOSE_POLICY_ABANDON) continue;
      done &= ApplyPolicyToChild(Execution(*state), child);
    }
  }
  if (done) {
    DropTimerRow(row_id);
  } else {
    RetryStepLater(row_id, t);
  }
}

bool HistoryEngine::ApplyPolicyToChild(const common::WorkflowExecution& parent, const records::ChildInfo& child) {
  std::lock_guard lock(LockFor(child.namespace_id(), child.workflow_id()));
  auto current = Current(child.namespace_id(), child.workflow_id());
  if (!current) return true;
  auto state = Load({child.namespace_id(), child.workflow_id(), current->run_id});
  if (!state || state->status() != enums::WORKFLOW_EXECUTION_STATUS_RUNNING) return true;
  // Only the child itself (or the runs it continued as), never another
  // workflow that took its id since.
  if (!child.started_run_id().empty() && state->first_execution_run_id() != child.started_run_id()) return true;
  const auto& start = state->start();
  if (start.parent_workflow_execution().workflow_id() != parent.workflow_id() ||
      start.parent_workflow_execution().run_id() != parent.run_id() ||
      start.parent_initiated_event_id() != child.initiated_event_id())
    return true;
  MutableState ms(*state, env_, NowNanos());
  if (child.parent_close_policy() == enums::PARENT_CLOSE_POLICY_TERMINATE) {
    TerminateRun(ms, "by parent close policy", kServerIdentity, nullptr);
  } else if (child.parent_close_policy() == enums::PARENT_CLOSE_POLICY_REQUEST_CANCEL) {
    if (state->cancel_requested()) return true;
    AddCancelRequest(ms, "", kServerIdentity, "", 0, &parent);
  } else {
    return true;
  }
  auto st = Commit(ms);
  if (!st.ok()) spdlog::warn("parent close policy for {}: {}", child.workflow_id(), st.error_message());
  return st.error_code() != grpc::StatusCode::UNAVAILABLE;
}

}  // namespace kairos::history
