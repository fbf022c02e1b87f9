#include "kairos/history/workflow_close.h"

#include "kairos/cron.h"
#include "kairos/history/retry_policy.h"
#include "kairos/ids.h"
#include "kairos/time_util.h"
#include "kairos/history/run_search_attributes.h"
#include "kairos/history/versioning.h"

namespace kairos::history {
namespace {

// The started event of the next run, inheriting what carries over.
NextRun NextRunFrom(const MutableState& ms, enums::ContinueAsNewInitiator initiator, int64_t backoff_ms) {
  const auto& s = ms.s();
  NextRun next;
  next.run_id = NewUuidV7();
  next.backoff_ms = backoff_ms;
  auto& a = next.start;
  a = s.start();
  a.set_continued_execution_run_id(s.run_id());
  a.set_initiator(initiator);
  a.set_original_execution_run_id(next.run_id);
  a.clear_continued_failure();
  a.clear_last_completion_result();
  a.clear_first_workflow_task_backoff();
  if (backoff_ms > 0) *a.mutable_first_workflow_task_backoff() = MsToDuration(backoff_ms);
  if (s.has_memo()) *a.mutable_memo() = s.memo();
  if (!s.search_attributes().empty()) {
    *a.mutable_search_attributes() = SearchAttributesOf(s);
    // The builds that ran this run are this run's; the next files its own.
    a.mutable_search_attributes()->mutable_indexed_fields()->erase("BuildIds");
    if (a.search_attributes().indexed_fields().empty()) a.clear_search_attributes();
  }
  return next;
}

// Decides whether the workflow's retry policy starts another run.
enums::RetryState MaybeRetry(MutableState& ms, const temporal::api::failure::v1::Failure* failure, bool is_timeout) {
  const auto& start = ms.s().start();
  if (!start.has_retry_policy()) return enums::RETRY_STATE_RETRY_POLICY_NOT_SET;
  int64_t expiration = start.has_workflow_execution_expiration_time()
                           ? TimestampToNanos(start.workflow_execution_expiration_time())
                           : 0;
  auto d = DecideRetry(start.retry_policy(), start.attempt(), failure, is_timeout, ms.now(), expiration);
  if (d.state != enums::RETRY_STATE_IN_PROGRESS) return d.state;
  NextRun next = NextRunFrom(ms, enums::CONTINUE_AS_NEW_INITIATOR_RETRY, d.delay_ms);
  next.start.set_attempt(start.attempt() + 1);
  CarryVersioningToNextRun(ms.s(), ms.env().deployments, enums::CONTINUE_AS_NEW_INITIATOR_RETRY,
                           enums::CONTINUE_AS_NEW_VERSIONING_BEHAVIOR_UNSPECIFIED, &next.start);
  if (failure) *next.start.mutable_continued_failure() = *failure;
  ms.next_run() = std::move(next);
  return d.state;
}

// A cron workflow's run that closed (completed, or failed or timed out with
// no retry left) hands over to the run of the next scheduled time, carrying
// the last completion result (a failed run keeps the one it was given) and
// the failure.
void MaybeCron(MutableState& ms, const temporal::api::common::v1::Payloads* result,
               const temporal::api::failure::v1::Failure* failure) {
  const auto& s = ms.s();
  if (s.start().cron_schedule().empty() || ms.next_run()) return;
  int64_t backoff = cron::BackoffForNextScheduleMs(s.start().cron_schedule(), s.execution_time_nanos(), ms.now());
  if (backoff < 0) return;
  NextRun next = NextRunFrom(ms, enums::CONTINUE_AS_NEW_INITIATOR_CRON_SCHEDULE, backoff);
  next.start.set_attempt(1);
  CarryVersioningToNextRun(s, ms.env().deployments, enums::CONTINUE_AS_NEW_INITIATOR_CRON_SCHEDULE,
                           enums::CONTINUE_AS_NEW_VERSIONING_BEHAVIOR_UNSPECIFIED, &next.start);
  next.start.clear_completion_callbacks();  // This run's close reports to them (Temporal's rule).
  *next.start.mutable_first_workflow_task_backoff() = MsToDuration(backoff);
  if (result) {
    *next.start.mutable_last_completion_result() = *result;
  } else if (s.start().has_last_completion_result()) {
    *next.start.mutable_last_completion_result() = s.start().last_completion_result();
  }
  if (failure) *next.start.mutable_continued_failure() = *failure;
  ms.next_run() = std::move(next);
}

}  // namespace

void CompleteWorkflow(MutableState& ms, const temporal::api::common::v1::Payloads& result) {
  MaybeCron(ms, &result, nullptr);
  auto& e = ms.AddEvent(enums::EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED);
  auto* a = e.mutable_workflow_execution_completed_event_attributes();
  *a->mutable_result() = result;
  a->set_workflow_task_completed_event_id(ms.completed_event_id());
  if (ms.next_run()) a->set_new_execution_run_id(ms.next_run()->run_id);
  ms.Close(enums::WORKFLOW_EXECUTION_STATUS_COMPLETED, e.event_id());
}

void FailWorkflow(MutableState& ms, const temporal::api::failure::v1::Failure& failure) {
  auto state = MaybeRetry(ms, &failure, false);
  MaybeCron(ms, nullptr, &failure);
  auto& e = ms.AddEvent(enums::EVENT_TYPE_WORKFLOW_EXECUTION_FAILED);
  auto* a = e.mutable_workflow_execution_failed_event_attributes();
  *a->mutable_failure() = failure;
  a->set_retry_state(state);
  a->set_workflow_task_completed_event_id(ms.completed_event_id());
  if (ms.next_run()) a->set_new_execution_run_id(ms.next_run()->run_id);
  ms.Close(enums::WORKFLOW_EXECUTION_STATUS_FAILED, e.event_id());
}

void TimeOutWorkflow(MutableState& ms, bool run_timeout) {
  // A run timeout may be retried; the execution timeout bounds every run.
  temporal::api::failure::v1::Failure failure;
  failure.set_message("workflow timeout");
  failure.mutable_timeout_failure_info()->set_timeout_type(enums::TIMEOUT_TYPE_START_TO_CLOSE);
  const auto& start = ms.s().start();
  bool expired = start.has_workflow_execution_expiration_time() &&
                 ms.now() >= TimestampToNanos(start.workflow_execution_expiration_time());
  auto state = run_timeout && !expired ? MaybeRetry(ms, &failure, true) : enums::RETRY_STATE_TIMEOUT;
  if (run_timeout && !expired) MaybeCron(ms, nullptr, &failure);
  if (ms.WorkflowTaskStarted()) ms.MaterializeTransientWorkflowTask();
  ms.FlushBufferedEvents();
  auto& e = ms.AddEvent(enums::EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT);
  auto* a = e.mutable_workflow_execution_timed_out_event_attributes();
  a->set_retry_state(state);
  if (ms.next_run()) a->set_new_execution_run_id(ms.next_run()->run_id);
  ms.Close(enums::WORKFLOW_EXECUTION_STATUS_TIMED_OUT, e.event_id());
}

void CancelWorkflow(MutableState& ms, const temporal::api::common::v1::Payloads& details) {
  auto& e = ms.AddEvent(enums::EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED);
  auto* a = e.mutable_workflow_execution_canceled_event_attributes();
  a->set_workflow_task_completed_event_id(ms.completed_event_id());
  *a->mutable_details() = details;
  ms.Close(enums::WORKFLOW_EXECUTION_STATUS_CANCELED, e.event_id());
}

void ContinueAsNew(MutableState& ms, const temporal::api::command::v1::ContinueAsNewWorkflowExecutionCommandAttributes& c) {
  const auto& s = ms.s();
  int64_t backoff = DurationToMs(c.backoff_start_interval());
  NextRun next = NextRunFrom(ms, enums::CONTINUE_AS_NEW_INITIATOR_WORKFLOW, backoff);
  auto& a = next.start;
  if (!c.workflow_type().name().empty()) *a.mutable_workflow_type() = c.workflow_type();
  if (!c.task_queue().name().empty()) {
    *a.mutable_task_queue() = c.task_queue();
    a.mutable_task_queue()->set_kind(enums::TASK_QUEUE_KIND_NORMAL);
  }
  if (c.has_input()) *a.mutable_input() = c.input(); else a.clear_input();
  if (DurationToMs(c.workflow_run_timeout()) > 0) *a.mutable_workflow_run_timeout() = c.workflow_run_timeout();
  if (DurationToMs(c.workflow_task_timeout()) > 0) *a.mutable_workflow_task_timeout() = c.workflow_task_timeout();
  if (c.has_retry_policy()) *a.mutable_retry_policy() = c.retry_policy();
  a.set_attempt(1);
  if (c.has_header()) *a.mutable_header() = c.header(); else a.clear_header();
  if (c.has_memo()) *a.mutable_memo() = c.memo();
  if (c.has_search_attributes()) *a.mutable_search_attributes() = c.search_attributes();
  if (c.has_last_completion_result()) *a.mutable_last_completion_result() = c.last_completion_result();
  if (c.has_failure()) *a.mutable_continued_failure() = c.failure();
  a.set_cron_schedule(c.cron_schedule());  // As Temporal: the command's, not inherited.
  CarryVersioningToNextRun(s, ms.env().deployments, enums::CONTINUE_AS_NEW_INITIATOR_WORKFLOW,
                           c.initial_versioning_behavior(), &a);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  CarryCompatibleBuild(s, c.inherit_build_id(), &a);
#pragma GCC diagnostic pop

  auto& e = ms.AddEvent(enums::EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW);
  auto* ev = e.mutable_workflow_execution_continued_as_new_event_attributes();
  ev->set_new_execution_run_id(next.run_id);
  *ev->mutable_workflow_type() = a.workflow_type();
  *ev->mutable_task_queue() = a.task_queue();
  if (a.has_input()) *ev->mutable_input() = a.input();
  *ev->mutable_workflow_run_timeout() = a.workflow_run_timeout();
  *ev->mutable_workflow_task_timeout() = a.workflow_task_timeout();
  ev->set_workflow_task_completed_event_id(ms.completed_event_id());
  if (backoff > 0) *ev->mutable_backoff_start_interval() = c.backoff_start_interval();
  ev->set_initiator(c.initiator() == enums::CONTINUE_AS_NEW_INITIATOR_UNSPECIFIED ? enums::CONTINUE_AS_NEW_INITIATOR_WORKFLOW
                                                                                  : c.initiator());
  if (c.has_last_completion_result()) *ev->mutable_last_completion_result() = c.last_completion_result();
  if (c.has_header()) *ev->mutable_header() = c.header();
  if (c.has_memo()) *ev->mutable_memo() = c.memo();
  if (c.has_search_attributes()) *ev->mutable_search_attributes() = c.search_attributes();
  ms.next_run() = std::move(next);
  ms.Close(enums::WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW, e.event_id());
}

}  // namespace kairos::history
