// ResetWorkflowExecution, as Temporal's resetter does it: a new run whose
// history is the base run's up to the reset point (the end of a workflow
// task), followed by that task failed with cause RESET_WORKFLOW, what is
// re-applied from after the point (signals and updates, unless excluded,
// and the events of children pending at the point) and a new workflow
// task. Re-applied events come from the base run after the point and from
// every later run of its continue-as-new chain. The current run, if
// running, is terminated by "history-resetter"; the base run points at the
// new one (reset_run_id). All in one transaction.
#include <spdlog/spdlog.h>

#include "history_engine.h"
#include "kairos/history/children.h"
#include "kairos/history/nexus_operations.h"
#include "kairos/history/reset_operations.h"
#include "kairos/history/state_rebuild.h"

namespace kairos::history {
namespace {

constexpr const char* kHistoryServiceIdentity = "history-service";

bool IsWorkflowTaskFinish(enums::EventType t) {
  return t == enums::EVENT_TYPE_WORKFLOW_TASK_COMPLETED || t == enums::EVENT_TYPE_WORKFLOW_TASK_FAILED ||
         t == enums::EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT || t == enums::EVENT_TYPE_WORKFLOW_TASK_STARTED;
}

// Whether signals (or updates) after the reset point are applied again to
// the new run: by default both (ALL_ELIGIBLE); SIGNAL means signals only.
bool Reapply(const wsv1::ResetWorkflowExecutionRequest& req, enums::ResetReapplyExcludeType kind) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  auto type = req.reset_reapply_type();
#pragma GCC diagnostic pop
  if (type == enums::RESET_REAPPLY_TYPE_NONE) return false;
  if (type == enums::RESET_REAPPLY_TYPE_SIGNAL && kind != enums::RESET_REAPPLY_EXCLUDE_TYPE_SIGNAL) return false;
  for (int t : req.reset_reapply_exclude_types())
    if (t == kind) return false;
  return true;
}

// Every kind excluded: Temporal then re-applies nothing at all, not even
// the events of pending children.
bool ReapplyNothing(const wsv1::ResetWorkflowExecutionRequest& req) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"  // CANCEL_REQUEST: deprecated, still counted by Temporal.
  constexpr auto kCancelRequest = enums::RESET_REAPPLY_EXCLUDE_TYPE_CANCEL_REQUEST;
#pragma GCC diagnostic pop
  for (auto kind : {enums::RESET_REAPPLY_EXCLUDE_TYPE_SIGNAL, enums::RESET_REAPPLY_EXCLUDE_TYPE_UPDATE,
                    enums::RESET_REAPPLY_EXCLUDE_TYPE_NEXUS, kCancelRequest}) {
    bool excluded = false;
    for (int t : req.reset_reapply_exclude_types()) excluded |= t == kind;
    if (!excluded) return false;
  }
  return true;
}

// A run's whole history, in order; NOT_FOUND when the run is gone.
grpc::Status ReadRunEvents(persistence::Store& store, const ExecutionKey& key, std::vector<hv1::HistoryEvent>* out) {
  for (const auto& bytes :
       store.ReadEvents(key, 1, std::numeric_limits<int64_t>::max(), std::numeric_limits<int>::max())) {
    if (!out->emplace_back().ParseFromString(bytes)) return errors::Internal("corrupt history event");
  }
  return out->empty() ? WorkflowNotFound(key) : grpc::Status::OK;
}

// The run a history continued as new into, or "".
std::string NextRunOf(const std::vector<hv1::HistoryEvent>& events) {
  if (events.empty() || events.back().event_type() != enums::EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW) return "";
  return events.back().workflow_execution_continued_as_new_event_attributes().new_execution_run_id();
}

// As Temporal cherry-picks them: the outcome of an operation pending at the
// point that the base run recorded after it (its start, result, failure,
// cancellation, timeout) is recorded on the new run too, since its handler
// will not report again. Cancel requests and their outcomes are not: the
// workflow asks again if its code does.
void ReapplyNexusOutcome(MutableState& ms, const hv1::HistoryEvent& ev) {
  auto& ops = *ms.s().mutable_nexus_operations();
  auto pending = [&](int64_t scheduled_event_id) {
    auto it = ops.find(scheduled_event_id);
    return it == ops.end() ? nullptr : &it->second;
  };
  switch (ev.event_type()) {
    case enums::EVENT_TYPE_NEXUS_OPERATION_STARTED: {
      const auto& a = ev.nexus_operation_started_event_attributes();
      if (auto* op = pending(a.scheduled_event_id()); op && op->started_event_id() == 0)
        RecordNexusStarted(ms, *op, a.operation_token(), ev.links());
      break;
    }
    case enums::EVENT_TYPE_NEXUS_OPERATION_COMPLETED: {
      const auto& a = ev.nexus_operation_completed_event_attributes();
      if (pending(a.scheduled_event_id()))
        RecordNexusCompleted(ms, a.scheduled_event_id(), a.has_result() ? &a.result() : nullptr, &ev.links());
      break;
    }
    case enums::EVENT_TYPE_NEXUS_OPERATION_FAILED: {
      const auto& a = ev.nexus_operation_failed_event_attributes();
      if (pending(a.scheduled_event_id())) RecordNexusEnded(ms, a.scheduled_event_id(), NexusEnd::kFailed, a.failure().cause());
      break;
    }
    case enums::EVENT_TYPE_NEXUS_OPERATION_CANCELED: {
      const auto& a = ev.nexus_operation_canceled_event_attributes();
      if (pending(a.scheduled_event_id()))
        RecordNexusEnded(ms, a.scheduled_event_id(), NexusEnd::kCanceled, a.failure().cause());
      break;
    }
    case enums::EVENT_TYPE_NEXUS_OPERATION_TIMED_OUT: {
      const auto& a = ev.nexus_operation_timed_out_event_attributes();
      if (pending(a.scheduled_event_id()))
        RecordNexusEnded(ms, a.scheduled_event_id(), NexusEnd::kTimedOut, a.failure().cause());
      break;
    }
    default:
      break;
  }
}

temporal::api::failure::v1::Failure ResetFailure(const std::string& reason) {
  temporal::api::failure::v1::Failure f;
  f.set_message(reason);
  f.mutable_reset_workflow_failure_info();
  return f;
}

}  // namespace

grpc::Status HistoryEngine::ResetWorkflowExecution(const NamespaceRef& ns, const wsv1::ResetWorkflowExecutionRequest& req,
                                                   wsv1::ResetWorkflowExecutionResponse* resp) {
  const std::string& workflow_id = req.workflow_execution().workflow_id();
  std::lock_guard wf_lock(LockFor(ns.id, workflow_id));
  StatePtr base;
  if (auto st = Resolve(ns.id, req.workflow_execution(), &base); !st.ok()) return st;
  int64_t finish_id = req.workflow_task_finish_event_id();
  if (finish_id <= 1 || finish_id >= base->next_event_id())
    return errors::InvalidArgument("Workflow task finish ID must be > 1 && <= workflow last event ID.");
  if (auto st = CheckPostResetOperations(req); !st.ok()) return st;

  auto current = Current(ns.id, workflow_id);
  StatePtr current_state = current ? (current->run_id == base->run_id() ? base : Load({ns.id, workflow_id, current->run_id}))
                                   : nullptr;
  // Temporal's duplicate check: the current run's create request id. A
  // reset run takes the original start's, so a repeated reset makes
  // another run, and only the start's own request id answers the current
  // run without resetting.
  if (current_state && current_state->start_request_id() == req.request_id()) {
    resp->set_run_id(current_state->run_id());
    return grpc::Status::OK;
  }

  std::vector<hv1::HistoryEvent> prefix, after;
  if (auto st = ReadRunEvents(*store_, {ns.id, workflow_id, base->run_id()}, &prefix); !st.ok()) return st;
  auto split = std::find_if(prefix.begin(), prefix.end(), [&](const auto& e) { return e.event_id() >= finish_id; });
  after.assign(std::make_move_iterator(split), std::make_move_iterator(prefix.end()));
  prefix.erase(split, prefix.end());
  if (after.empty() || !IsWorkflowTaskFinish(after.front().event_type()))
    return errors::InvalidArgument("Can only reset workflow to event ID in range [WorkflowTaskScheduled +1, WorkflowTaskStarted + 1]: " +
                                   std::to_string(finish_id));

  int64_t now = NowNanos();
  std::string new_run_id = NewUuidV7();
  State fresh = FreshState(ns.id, ns.name, workflow_id, new_run_id, base->first_execution_run_id(),
                           base->start_request_id());
  if (auto err = RebuildState(prefix, &fresh); !err.empty()) return errors::InvalidArgument(err);
  if (!fresh.workflow_task().scheduled_event_id())
    return errors::InvalidArgument("Can only reset workflow to event ID in range [WorkflowTaskScheduled +1, WorkflowTaskStarted + 1]: " +
                                   std::to_string(finish_id));
  fresh.set_original_start_time_nanos(base->original_start_time_nanos() ? base->original_start_time_nanos()
                                                                        : base->start_time_nanos());
  fresh.set_last_reset_time_nanos(now);
  fresh.set_start_time_nanos(now);
  *fresh.mutable_auto_reset_points() = base->auto_reset_points();

  std::vector<std::unique_ptr<MutableState>> changes;
  // The current run, if it still runs, ends first (it may be the base).
  if (current_state && current_state->status() == enums::WORKFLOW_EXECUTION_STATUS_RUNNING) {
    auto& ms = *changes.emplace_back(std::make_unique<MutableState>(*current_state, env_, now));
    TerminateRun(ms, req.reason(), kResetterIdentity, nullptr);
    if (current_state->run_id() == base->run_id()) ms.s().set_reset_run_id(new_run_id);
  }
  if (changes.empty() || changes.front()->s().run_id() != base->run_id()) {
    auto& ms = *changes.emplace_back(std::make_unique<MutableState>(*base, env_, now));
    ms.s().set_reset_run_id(new_run_id);
  }

  // The later runs of the chain the base run continued as new into, read
  // before anything changes; a deleted run ends the chain, as on Temporal.
  for (std::string next = NextRunOf(after); !next.empty();) {
    std::vector<hv1::HistoryEvent> events;
    if (auto st = ReadRunEvents(*store_, {ns.id, workflow_id, next}, &events); !st.ok()) {
      if (st.error_code() == grpc::StatusCode::NOT_FOUND) break;
      return st;
    }
    next = NextRunOf(events);
    for (auto& e : events) after.push_back(std::move(e));
  }

  auto& nm = *changes.emplace_back(std::make_unique<MutableState>(std::move(fresh), env_, now));
  for (auto& e : prefix) nm.AdoptEvent(std::move(e));
  BuildResetRun(nm, req, base->run_id(), after);
  if (auto st = CommitAll(changes, &nm); !st.ok()) return st;
  spdlog::info("reset workflow_id={} base_run_id={} new_run_id={} finish_event_id={}", workflow_id, base->run_id(),
               new_run_id, finish_id);
  resp->set_run_id(new_run_id);
  return grpc::Status::OK;
}

void HistoryEngine::BuildResetRun(MutableState& ms, const wsv1::ResetWorkflowExecutionRequest& req,
                                  const std::string& base_run_id, const std::vector<hv1::HistoryEvent>& after) {
  auto& s = ms.s();
  // The workflow task at the reset point fails (started first if it was
  // only scheduled), as the worker would see a task that went wrong.
  auto* w = s.mutable_workflow_task();
  if (!w->started_event_id()) {
    auto& e = ms.AddEvent(enums::EVENT_TYPE_WORKFLOW_TASK_STARTED);
    auto* a = e.mutable_workflow_task_started_event_attributes();
    a->set_scheduled_event_id(w->scheduled_event_id());
    a->set_identity(kHistoryServiceIdentity);
    a->set_request_id(NewUuid());
    w->set_started_event_id(e.event_id());
  }
  auto& e = ms.AddEvent(enums::EVENT_TYPE_WORKFLOW_TASK_FAILED);
  auto* a = e.mutable_workflow_task_failed_event_attributes();
  a->set_scheduled_event_id(w->scheduled_event_id());
  a->set_started_event_id(w->started_event_id());
  a->set_cause(enums::WORKFLOW_TASK_FAILED_CAUSE_RESET_WORKFLOW);
  *a->mutable_failure() = ResetFailure(req.reason());
  a->set_identity(kHistoryServiceIdentity);
  a->set_base_run_id(base_run_id);
  a->set_new_run_id(s.run_id());
  s.clear_workflow_task();

  // Pending activities are scheduled again from now; pending timers keep
  // their fire times; children not started by the point are started, and
  // signals and cancellations to other workflows without an outcome by the
  // point are sent, by the new run (as Temporal's rebuilt run does, a
  // second time if the base run sent them after the point); the run's
  // timeout counts from now.
  for (auto& [id, info] : *s.mutable_activities()) {
    info.set_attempt(1);
    info.set_scheduled_time_nanos(ms.now());
    info.set_attempt_scheduled_time_nanos(ms.now());
    ArmActivityScheduleTimers(ms, info);
    EnqueueActivityTask(ms, info);
  }
  for (auto& [id, t] : *s.mutable_timers()) {
    records::TimerTask timer;
    timer.set_kind(records::TimerTask::USER_TIMER);
    timer.set_event_id(t.started_event_id());
    timer.set_timer_id(t.timer_id());
    timer.set_fire_time_nanos(t.fire_time_nanos());
    t.set_timer_row_id(ms.AddTimer(std::move(timer)));
  }
  auto step = [&](records::TimerTask::Kind kind, int64_t event_id) {
    records::TimerTask t;
    t.set_kind(kind);
    t.set_event_id(event_id);
    t.set_fire_time_nanos(ms.now());
    return ms.AddTimer(std::move(t));
  };
  for (auto& [id, child] : *s.mutable_children())
    if (child.started_event_id() == 0) child.set_timer_row_id(step(records::TimerTask::START_CHILD, id));
  for (auto& [id, r] : *s.mutable_external_requests())
    r.set_timer_row_id(step(r.kind() == records::ExternalRequest::SIGNAL ? records::TimerTask::SIGNAL_EXTERNAL
                                                                          : records::TimerTask::CANCEL_EXTERNAL,
                            id));
  // Nexus operations pending at the point send their start again (the
  // same request id: the handler finds what it started) or their cancel.
  for (auto& [id, op] : *s.mutable_nexus_operations()) RearmNexusSteps(ms, op, op.last_attempt_complete_time_nanos());
  ms.ArmRunTimeouts(ms.now());

  // What is re-applied comes before the one new workflow task: a
  // placeholder task keeps each re-applied event from scheduling its own.
  s.mutable_workflow_task()->set_attempt(1);
  bool nothing = ReapplyNothing(req);
  bool signals = !nothing && Reapply(req, enums::RESET_REAPPLY_EXCLUDE_TYPE_SIGNAL);
  bool updates = !nothing && Reapply(req, enums::RESET_REAPPLY_EXCLUDE_TYPE_UPDATE);
  bool nexus = !nothing && Reapply(req, enums::RESET_REAPPLY_EXCLUDE_TYPE_NEXUS);
  bool base_run = true;  // `after` goes on with the runs the base continued as new into.
  for (const auto& ev : after) {
    base_run &= ev.event_type() != enums::EVENT_TYPE_WORKFLOW_EXECUTION_STARTED;
    if (nexus && base_run) ReapplyNexusOutcome(ms, ev);
    if (signals && ev.event_type() == enums::EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED) {
      const auto& sig = ev.workflow_execution_signaled_event_attributes();
      SignalInput in{sig.signal_name(), sig.input(), sig.header(), sig.identity(), sig.request_id(), nullptr, {}};
      AddSignal(ms, in);
    }
    // Updates the base run accepted after the point reach the new run's
    // first task again, as newly admitted ones (the worker runs them anew).
    if (updates && ev.event_type() == enums::EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED) {
      const auto& request = ev.workflow_execution_update_accepted_event_attributes().accepted_request();
      const std::string& id = request.meta().update_id();
      if (id.empty() || s.updates().contains(id)) continue;
      records::UpdateInfo u;
      u.set_state(records::UpdateInfo::ADMITTED);
      *u.mutable_request() = request;
      u.set_admitted_time_nanos(ms.now());
      for (const auto& cb : request.completion_callbacks()) {  // The Nexus operations it backs.
        *u.add_completion_callbacks() = cb;
        u.add_callback_request_ids(request.request_id());
      }
      (*s.mutable_updates())[id] = std::move(u);
    }
    if (!nothing) ReapplyChildEvent(ms, ev);
  }
  ApplyPostResetOperations(ms, req);
  s.clear_workflow_task();
  ms.ScheduleWorkflowTask(1, /*allow_sticky=*/false);
  ms.mark_visibility_changed();
}

}  // namespace kairos::history
