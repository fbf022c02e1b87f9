// Resetting pending activities (ResetActivity) and changing their options
// (UpdateActivityOptions), as Temporal 1.32 does.
//
// A reset starts an activity over at attempt 1: one waiting (queued or in
// retry backoff) is dispatched now, or within the jitter; one running goes
// on and learns of the reset from its heartbeat response, and its retry is
// attempt 2. Heartbeat details stay unless asked otherwise; a paused activity
// is unpaused unless `keep_paused`; `reset_options` restores the options it
// was scheduled with.
//
// An options update merges the fields its mask names into the activity's
// current options (normalised as a schedule command's are) and applies them
// to what is pending: a queued attempt moves to the new task queue, and the
// timeouts of the attempt running or waiting run from their start again.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <set>

#include "activity_targets.h"
#include "history_engine.h"
#include "kairos/history/commands.h"
#include "kairos/history/retry_policy.h"

namespace kairos::history {
namespace {

using ActivityOptions = temporal::api::activity::v1::ActivityOptions;

int64_t Ms(const google::protobuf::Duration& d) { return DurationToMs(d); }

// The options an activity has now, as Temporal reports them.
ActivityOptions CurrentOptions(const records::ActivityInfo& a) {
  ActivityOptions o;
  o.mutable_task_queue()->set_name(a.task_queue());
  *o.mutable_schedule_to_close_timeout() = a.schedule_to_close_timeout();
  *o.mutable_schedule_to_start_timeout() = a.schedule_to_start_timeout();
  *o.mutable_start_to_close_timeout() = a.start_to_close_timeout();
  *o.mutable_heartbeat_timeout() = a.heartbeat_timeout();
  *o.mutable_retry_policy() = a.retry_policy();
  if (a.has_priority()) *o.mutable_priority() = a.priority();
  return o;
}

// "retry_policy.maximum_attempts" and "retryPolicy.maximumAttempts" alike.
std::string CamelPath(const std::string& path) {
  std::string out;
  bool upper = false;
  for (char c : path) {
    if (c == '_') {
      upper = true;
      continue;
    }
    out += upper ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c;
    upper = false;
  }
  return out;
}

// Temporal's merge of the masked fields of `from` into `into`.
grpc::Status MergeOptions(const std::set<std::string>& paths, const ActivityOptions& from, ActivityOptions& into) {
  auto named = [&](const char* p) { return paths.contains(p); };
  if (named("taskQueue.name")) {
    if (!from.has_task_queue()) return errors::InvalidArgument("TaskQueue is not provided");
    into.mutable_task_queue()->set_name(from.task_queue().name());
  }
  if (named("scheduleToCloseTimeout")) *into.mutable_schedule_to_close_timeout() = from.schedule_to_close_timeout();
  if (named("scheduleToStartTimeout")) *into.mutable_schedule_to_start_timeout() = from.schedule_to_start_timeout();
  if (named("startToCloseTimeout")) *into.mutable_start_to_close_timeout() = from.start_to_close_timeout();
  if (named("heartbeatTimeout")) *into.mutable_heartbeat_timeout() = from.heartbeat_timeout();
  if (named("priority")) *into.mutable_priority() = from.priority();
  for (const char* sub : {"priority.priorityKey", "priority.fairnessKey", "priority.fairnessWeight"}) {
    if (!named(sub)) continue;
    if (!from.has_priority()) return errors::InvalidArgument("Priority is not provided");
    auto* p = into.mutable_priority();
    if (std::string(sub) == "priority.priorityKey") p->set_priority_key(from.priority().priority_key());
    else if (std::string(sub) == "priority.fairnessKey") p->set_fairness_key(from.priority().fairness_key());
    else p->set_fairness_weight(from.priority().fairness_weight());
  }
  if (named("retryPolicy")) {
    if (!from.has_retry_policy()) return errors::InvalidArgument("RetryPolicy is not provided");
    *into.mutable_retry_policy() = from.retry_policy();
  }
  const auto& rp = from.retry_policy();
  auto* to = into.mutable_retry_policy();
  for (const char* sub : {"retryPolicy.initialInterval", "retryPolicy.backoffCoefficient", "retryPolicy.maximumInterval",
                          "retryPolicy.maximumAttempts"}) {
    if (!named(sub)) continue;
    if (!from.has_retry_policy()) return errors::InvalidArgument("RetryPolicy is not provided");
    std::string f = sub;
    if (f == "retryPolicy.initialInterval") *to->mutable_initial_interval() = rp.initial_interval();
    else if (f == "retryPolicy.backoffCoefficient") to->set_backoff_coefficient(rp.backoff_coefficient());
    else if (f == "retryPolicy.maximumInterval") *to->mutable_maximum_interval() = rp.maximum_interval();
    else to->set_maximum_attempts(rp.maximum_attempts());
  }
  return grpc::Status::OK;
}

// Checks and normalises the timeouts as a schedule command's.
grpc::Status NormalizeOptions(const records::ExecutionState& s, int64_t scheduled, ActivityOptions& o) {
  ActivityTimeoutsMs t{Ms(o.schedule_to_close_timeout()), Ms(o.schedule_to_start_timeout()),
                       Ms(o.start_to_close_timeout()), Ms(o.heartbeat_timeout())};
  const auto& a = s.activities().at(scheduled);
  switch (NormalizeActivityTimeouts(Ms(s.start().workflow_run_timeout()), t)) {
    case ActivityTimeoutProblem::kNone:
      break;
    case ActivityTimeoutProblem::kNegative:
      return errors::InvalidArgument("A valid timeout may not be negative.");
    case ActivityTimeoutProblem::kNoCloseTimeout:
      return errors::InvalidArgument(
          "a valid StartToCloseTimeout or ScheduleToCloseTimeout must be set on the activity. ActivityId=" +
          a.activity_id() + " ActivityType=" + a.activity_type().name());
  }
  *o.mutable_schedule_to_close_timeout() = MsToDuration(t.schedule_to_close);
  *o.mutable_schedule_to_start_timeout() = MsToDuration(t.schedule_to_start);
  *o.mutable_start_to_close_timeout() = MsToDuration(t.start_to_close);
  *o.mutable_heartbeat_timeout() = MsToDuration(std::max<int64_t>(t.heartbeat, 0));
  return grpc::Status::OK;
}

// The wait before the activity's current attempt under its retry policy, as
// Temporal recomputes it after an options update.
int64_t RetryIntervalNanos(const records::ActivityInfo& a) {
  const auto& p = a.retry_policy();
  double interval = static_cast<double>(Ms(p.initial_interval())) * 1e6 *
                    std::pow(p.backoff_coefficient(), static_cast<double>(a.attempt() - 1));
  const double max = static_cast<double>(Ms(p.maximum_interval())) * 1e6;
  if (max > 0 && (interval <= 0 || interval > max)) interval = max;
  return interval >= 9e18 ? std::numeric_limits<int64_t>::max() / 2 : static_cast<int64_t>(std::max(0.0, interval));
}

// Drops every timer of `a` and arms those its state needs under its current
// options and attempt: schedule-to-close from the first schedule, then
// start-to-close and heartbeat for a running attempt, schedule-to-start for
// a queued one, or the retry of one waiting in backoff.
void RearmActivityTimers(MutableState& ms, records::ActivityInfo& a) {
  DropActivityTimers(ms, a);
  a.clear_timer_row_ids();
  auto arm = [&](records::TimerTask::Kind kind, enums::TimeoutType type, int32_t attempt, int64_t fire) {
    records::TimerTask t;
    t.set_kind(kind);
    t.set_event_id(a.scheduled_event_id());
    t.set_attempt(attempt);
    t.set_timeout_type(type);
    t.set_fire_time_nanos(fire);
    a.add_timer_row_ids(ms.AddTimer(std::move(t)));
  };
  constexpr auto kTimeout = records::TimerTask::ACTIVITY_TIMEOUT;
  // Schedule-to-close first: a retry keeps the first row (see FailActivity).
  if (int64_t s2c = Ms(a.schedule_to_close_timeout()); s2c > 0)
    arm(kTimeout, enums::TIMEOUT_TYPE_SCHEDULE_TO_CLOSE, 0, a.scheduled_time_nanos() + s2c * 1'000'000);
  if (a.started()) {
    if (int64_t st2c = Ms(a.start_to_close_timeout()); st2c > 0)
      arm(kTimeout, enums::TIMEOUT_TYPE_START_TO_CLOSE, a.attempt(), a.started_time_nanos() + st2c * 1'000'000);
    if (int64_t hb = Ms(a.heartbeat_timeout()); hb > 0)
      arm(kTimeout, enums::TIMEOUT_TYPE_HEARTBEAT, a.attempt(),
          std::max(a.last_heartbeat_time_nanos(), a.started_time_nanos()) + hb * 1'000'000);
  } else if (a.task_id() != 0) {
    if (int64_t s2s = Ms(a.schedule_to_start_timeout()); s2s > 0)
      arm(kTimeout, enums::TIMEOUT_TYPE_SCHEDULE_TO_START, a.attempt(), a.attempt_scheduled_time_nanos() + s2s * 1'000'000);
  } else if (a.next_attempt_time_nanos() != 0) {
    arm(records::TimerTask::ACTIVITY_RETRY, enums::TIMEOUT_TYPE_UNSPECIFIED, a.attempt(), a.next_attempt_time_nanos());
  }
}

// Sends a waiting, unpaused activity to its queue at once, or arms its
// dispatch `delay_nanos` from now.
void DispatchActivityNow(MutableState& ms, records::ActivityInfo& a, int64_t delay_nanos) {
  if (a.task_id() != 0) {
    ms.DeleteQueueTask(a.task_id());
    a.set_task_id(0);
  }
  if (delay_nanos > 0) {
    a.set_next_attempt_time_nanos(ms.now() + delay_nanos);
  } else {
    a.set_next_attempt_time_nanos(0);
    a.set_attempt_scheduled_time_nanos(ms.now());
    EnqueueActivityTask(ms, a);
  }
  RearmActivityTimers(ms, a);
}

void ApplyOptions(records::ActivityInfo& a, const ActivityOptions& o) {
  a.set_task_queue(o.task_queue().name());
  *a.mutable_schedule_to_close_timeout() = o.schedule_to_close_timeout();
  *a.mutable_schedule_to_start_timeout() = o.schedule_to_start_timeout();
  *a.mutable_start_to_close_timeout() = o.start_to_close_timeout();
  *a.mutable_heartbeat_timeout() = o.heartbeat_timeout();
  *a.mutable_retry_policy() = o.retry_policy();
  ApplyRetryDefaults(a.mutable_retry_policy());
  if (o.has_priority()) *a.mutable_priority() = o.priority();
  else a.clear_priority();
}

// The options the activities were scheduled with, from their scheduled events.
grpc::Status ScheduledOptions(persistence::Store& store, const records::ExecutionState& s, const std::vector<int64_t>& scheduled,
                                             std::map<int64_t, ActivityOptions>* out) {
  ExecutionKey key{s.namespace_id(), s.workflow_id(), s.run_id()};
  for (int64_t id : scheduled) {
    auto rows = store.ReadEvents(key, id, id + 1, 1);
    temporal::api::history::v1::HistoryEvent e;
    if (rows.empty() || !e.ParseFromString(rows[0]) || !e.has_activity_task_scheduled_event_attributes())
      return errors::InvalidArgument("ActivityTaskScheduledEvent is invalid");
    const auto& attrs = e.activity_task_scheduled_event_attributes();
    ActivityOptions& o = (*out)[id];
    o.mutable_task_queue()->set_name(attrs.task_queue().name());
    *o.mutable_schedule_to_close_timeout() = attrs.schedule_to_close_timeout();
    *o.mutable_schedule_to_start_timeout() = attrs.schedule_to_start_timeout();
    *o.mutable_start_to_close_timeout() = attrs.start_to_close_timeout();
    *o.mutable_heartbeat_timeout() = attrs.heartbeat_timeout();
    *o.mutable_retry_policy() = attrs.retry_policy();
    if (attrs.has_priority()) *o.mutable_priority() = attrs.priority();
  }
  return grpc::Status::OK;
}

}  // namespace

grpc::Status HistoryEngine::ResetActivity(const NamespaceRef& ns, const wsv1::ResetActivityRequest& req) {
  std::lock_guard wf_lock(LockFor(ns.id, req.execution().workflow_id()));
  StatePtr state;
  if (auto st = Resolve(ns.id, req.execution(), &state); !st.ok()) return st;
  auto named = NamedActivities(*state, req.id(), req.type(), req.match_all());
  if (state->status() != enums::WORKFLOW_EXECUTION_STATUS_RUNNING) return AlreadyCompleted();
  if (named.empty()) return ActivityNotFound();
  std::map<int64_t, ActivityOptions> original;
  if (req.restore_original_options()) {
    if (auto st = ScheduledOptions(*store_, *state, named, &original); !st.ok()) return st;
  }
  MutableState ms(*state, env_, NowNanos());
  const int64_t jitter_ms = DurationToMs(req.jitter());
  for (int64_t scheduled : named) {
    auto& a = (*ms.s().mutable_activities())[scheduled];
    a.set_attempt(1);
    if (req.restore_original_options()) ApplyOptions(a, original.at(scheduled));
    if (a.paused() && !req.keep_paused()) {
      a.set_paused(false);
      a.clear_pause_info();
    }
    if (a.started()) {
      // Goes on; told by its heartbeat response. Its timers follow the new
      // attempt number (and options).
      a.set_reset_requested(true);
      if (req.reset_heartbeat()) a.set_reset_heartbeat(true);
      RearmActivityTimers(ms, a);
      continue;
    }
    if (req.reset_heartbeat()) {
      a.clear_heartbeat_details();
      a.set_last_heartbeat_time_nanos(0);
    }
    if (a.paused()) {
      // Stays paused, at attempt 1: dispatched when unpaused.
      if (a.task_id() != 0) ms.DeleteQueueTask(a.task_id());
      a.set_task_id(0);
      a.set_next_attempt_time_nanos(0);
      RearmActivityTimers(ms, a);
      continue;
    }
    DispatchActivityNow(ms, a, JitterNanos(jitter_ms));
  }
  return Commit(ms);
}

grpc::Status HistoryEngine::UpdateActivityOptions(const NamespaceRef& ns, const wsv1::UpdateActivityOptionsRequest& req,
                                                  wsv1::UpdateActivityOptionsResponse* resp) {
  if (req.restore_original() && req.update_mask().paths_size() > 0)
    return errors::InvalidArgument("Both UpdateMask and RestoreOriginal are provided");
  std::lock_guard wf_lock(LockFor(ns.id, req.execution().workflow_id()));
  StatePtr state;
  if (auto st = Resolve(ns.id, req.execution(), &state); !st.ok()) return st;
  auto named = NamedActivities(*state, req.id(), req.type(), req.match_all());
  std::map<int64_t, ActivityOptions> updated;
  if (state->status() != enums::WORKFLOW_EXECUTION_STATUS_RUNNING) return AlreadyCompleted();
  if (req.restore_original()) {
    if (named.empty()) return ActivityNotFound();
    if (auto st = ScheduledOptions(*store_, *state, named, &updated); !st.ok()) return st;
  } else {
    if (!req.has_activity_options()) return errors::InvalidArgument("ActivityOptions are not provided");
    // Named by id, the activity is looked for after the mask is checked (as on Temporal).
    if (named.empty() && req.id().empty()) return ActivityNotFound();
    if (!req.has_update_mask()) return errors::InvalidArgument("UpdateMask is not provided");
    if (named.empty()) return ActivityNotFound();
    std::set<std::string> paths;
    for (const auto& p : req.update_mask().paths()) paths.insert(CamelPath(p));
    for (int64_t scheduled : named) {
      ActivityOptions merged = CurrentOptions(state->activities().at(scheduled));
      if (auto st = MergeOptions(paths, req.activity_options(), merged); !st.ok()) return st;
      if (auto st = NormalizeOptions(*state, scheduled, merged); !st.ok()) return st;
      updated[scheduled] = std::move(merged);
    }
  }
  MutableState ms(*state, env_, NowNanos());
  for (int64_t scheduled : named) {
    auto& a = (*ms.s().mutable_activities())[scheduled];
    ApplyOptions(a, updated.at(scheduled));
    if (!a.started() && a.task_id() != 0) {
      // Queued: sent again, to the queue the options name now.
      ms.DeleteQueueTask(a.task_id());
      EnqueueActivityTask(ms, a);
    } else if (!a.started() && a.next_attempt_time_nanos() != 0 && a.last_attempt_complete_time_nanos() != 0) {
      // In retry backoff: the wait follows the new policy, from when the last attempt failed.
      a.set_next_attempt_time_nanos(a.last_attempt_complete_time_nanos() + RetryIntervalNanos(a));
    }
    RearmActivityTimers(ms, a);
    *resp->mutable_activity_options() = updated.at(scheduled);
  }
  return Commit(ms);
}

}  // namespace kairos::history
