// Pausing and unpausing pending activities (PauseActivity, UnpauseActivity),
// as Temporal 1.32 does: a paused activity is not dispatched and its retry
// is not scheduled; an attempt already running goes on, and learns of the
// pause from its next heartbeat response. Unpausing dispatches it again.
#include <random>

#include "activity_targets.h"
#include "history_engine.h"
#include "kairos/history/commands.h"

namespace kairos::history {
grpc::Status ActivityNotFound() {
  return errors::NotFound("Can't find pending activity with such ID. Invalid activityID or activity already completed");
}

std::vector<int64_t> NamedActivities(const records::ExecutionState& s, const std::string& id, const std::string& type,
                                     bool all) {
  std::vector<int64_t> out;
  for (const auto& [scheduled, a] : s.activities())
    if (all || (id.empty() ? a.activity_type().name() == type : a.activity_id() == id)) out.push_back(scheduled);
  return out;
}

int64_t JitterNanos(int64_t jitter_ms) {
  if (jitter_ms <= 0) return 0;
  std::uniform_int_distribution<int64_t> pick(0, jitter_ms - 1);
  std::random_device rd;
  return pick(rd) * 1'000'000;
}

grpc::Status HistoryEngine::PauseActivity(const NamespaceRef& ns, const wsv1::PauseActivityRequest& req) {
  std::lock_guard wf_lock(LockFor(ns.id, req.execution().workflow_id()));
  StatePtr state;
  if (auto st = Resolve(ns.id, req.execution(), &state); !st.ok()) return st;
  if (state->status() != enums::WORKFLOW_EXECUTION_STATUS_RUNNING) return AlreadyCompleted();
  auto named = NamedActivities(*state, req.id(), req.type());
  if (named.empty()) return ActivityNotFound();
  MutableState ms(*state, env_, NowNanos());
  for (int64_t scheduled : named) {
    auto& a = (*ms.s().mutable_activities())[scheduled];
    if (a.paused()) continue;
    a.set_paused(true);
    auto* info = a.mutable_pause_info();
    *info->mutable_pause_time() = NanosToTimestamp(ms.now());
    info->mutable_manual()->set_identity(req.identity());
    info->mutable_manual()->set_reason(req.reason());
    if (!a.started() && a.task_id() != 0) {
      // Waiting in its queue: taken out until unpaused.
      ms.DeleteQueueTask(a.task_id());
      a.set_task_id(0);
    }
  }
  return Commit(ms);
}

grpc::Status HistoryEngine::UnpauseActivity(const NamespaceRef& ns, const wsv1::UnpauseActivityRequest& req) {
  std::lock_guard wf_lock(LockFor(ns.id, req.execution().workflow_id()));
  StatePtr state;
  if (auto st = Resolve(ns.id, req.execution(), &state); !st.ok()) return st;
  if (state->status() != enums::WORKFLOW_EXECUTION_STATUS_RUNNING) return AlreadyCompleted();
  auto named = NamedActivities(*state, req.id(), req.type(), req.unpause_all());
  if (named.empty()) return ActivityNotFound();
  MutableState ms(*state, env_, NowNanos());
  const int64_t jitter_ms = DurationToMs(req.jitter());
  for (int64_t scheduled : named) {
    auto& a = (*ms.s().mutable_activities())[scheduled];
    if (!a.paused()) continue;
    a.set_paused(false);
    a.clear_pause_info();
    if (req.reset_attempts()) a.set_attempt(1);
    if (req.reset_heartbeat()) {
      a.clear_heartbeat_details();
      a.set_last_heartbeat_time_nanos(0);
    }
    if (a.started() || a.task_id() != 0) continue;
    // Not running: dispatched now (or within the jitter), in place of any
    // retry the pause held back.
    if (jitter_ms > 0) {
      ArmActivityRetry(ms, a, ms.now() + JitterNanos(jitter_ms));
      continue;
    }
    a.set_next_attempt_time_nanos(0);
    a.set_attempt_scheduled_time_nanos(ms.now());
    EnqueueActivityTask(ms, a);
  }
  return Commit(ms);
}

}  // namespace kairos::history
