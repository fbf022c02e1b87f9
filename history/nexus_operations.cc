#include "kairos/history/nexus_operations.h"

#include <algorithm>
#include <cctype>

#include "kairos/history/system_nexus.h"
#include "kairos/ids.h"
#include "kairos/time_util.h"

namespace kairos::history {
namespace {

namespace fv1 = temporal::api::failure::v1;
namespace common = temporal::api::common::v1;

std::optional<CommandError> Bad(enums::WorkflowTaskFailedCause cause, std::string message) {
  return CommandError{cause, std::move(message)};
}

int64_t NexusBackoffMs(int32_t attempt) {
  // Temporal's policy for Nexus requests: 1 s, doubling, at most an hour.
  int64_t ms = 1000;
  for (int i = 1; i < attempt && ms < 3'600'000; ++i) ms *= 2;
  return std::min<int64_t>(ms, 3'600'000);
}

records::TimerTask NexusStep(records::TimerTask::Kind kind, int64_t scheduled_event_id, int64_t fire_nanos) {
  records::TimerTask t;
  t.set_kind(kind);
  t.set_event_id(scheduled_event_id);
  t.set_fire_time_nanos(fire_nanos);
  return t;
}

void DropNexusTimers(MutableState& ms, const records::NexusOperationInfo& op) {
  for (int64_t row : {op.start_row_id(), op.timeout_row_id(), op.cancel_row_id(), op.schedule_to_start_row_id(),
                      op.start_to_close_row_id()})
    if (row != 0) ms.DeleteTimer(row);
}

// A workflow caller hears of its operation's progress in a workflow task; a
// standalone operation's carrier run has no workflow.
void WakeCaller(MutableState& ms) {
  if (!ms.s().has_standalone_nexus()) ms.ScheduleWorkflowTask();
}

// A standalone operation's end: its outcome and status, and its carrier run
// closes (the operation is kept on the standalone record).
void CloseStandalone(MutableState& ms, const records::NexusOperationInfo& op,
                     temporal::api::enums::v1::NexusOperationExecutionStatus status, const common::Payload* result,
                     const fv1::Failure* failure) {
  auto* sn = ms.s().mutable_standalone_nexus();
  *sn->mutable_operation() = op;
  sn->set_status(status);
  if (result) *sn->mutable_result() = *result;
  else if (failure) *sn->mutable_failure() = *failure;
  else sn->mutable_result();
  sn->set_last_attempt_complete_time_nanos(ms.now());
  enums::WorkflowExecutionStatus run_status = enums::WORKFLOW_EXECUTION_STATUS_COMPLETED;
  switch (status) {
    case temporal::api::enums::v1::NEXUS_OPERATION_EXECUTION_STATUS_FAILED: run_status = enums::WORKFLOW_EXECUTION_STATUS_FAILED; break;
    case temporal::api::enums::v1::NEXUS_OPERATION_EXECUTION_STATUS_CANCELED: run_status = enums::WORKFLOW_EXECUTION_STATUS_CANCELED; break;
    case temporal::api::enums::v1::NEXUS_OPERATION_EXECUTION_STATUS_TERMINATED: run_status = enums::WORKFLOW_EXECUTION_STATUS_TERMINATED; break;
    case temporal::api::enums::v1::NEXUS_OPERATION_EXECUTION_STATUS_TIMED_OUT: run_status = enums::WORKFLOW_EXECUTION_STATUS_TIMED_OUT; break;
    default: break;
  }
  ms.Close(run_status, ms.s().next_event_id() - 1);
}

std::string UpperSnake(const std::string& camel) {
  std::string out;
  for (size_t i = 0; i < camel.size(); ++i) {
    char c = camel[i];
    if (std::isupper(static_cast<unsigned char>(c)) && i > 0) out += '_';
    out += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return out;
}

std::string PercentDecode(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      out += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::string PercentEncode(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

}  // namespace

std::string HexEncode(const std::string& bytes) {
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += hex[c >> 4];
    out += hex[c & 15];
  }
  return out;
}

std::string HexDecode(const std::string& hex) {
  std::string out;
  auto val = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  if (hex.size() % 2 != 0) return "";
  for (size_t i = 0; i < hex.size(); i += 2) {
    int hi = val(hex[i]), lo = val(hex[i + 1]);
    if (hi < 0 || lo < 0) return "";
    out += static_cast<char>(hi * 16 + lo);
  }
  return out;
}

std::optional<CommandError> ScheduleNexusOperation(MutableState& ms,
                                                   const temporal::api::command::v1::ScheduleNexusOperationCommandAttributes& a) {
  constexpr auto kBad = enums::WORKFLOW_TASK_FAILED_CAUSE_BAD_SCHEDULE_NEXUS_OPERATION_ATTRIBUTES;
  if (a.endpoint().empty()) return Bad(kBad, "endpoint name is not set on command");
  if (a.service().empty()) return Bad(kBad, "service name is not set on command");
  if (a.operation().empty()) return Bad(kBad, "operation name is not set on command");
  std::string endpoint_id;
  if (a.endpoint() == kSystemNexusEndpoint) {
    // No endpoint to look up: the server answers it (its id stays empty).
    if (auto why = CheckSystemNexusCommand(a, ms.s().namespace_name())) return Bad(kBad, *why);
  } else {
    endpoint_id = ms.env().nexus_endpoint_id ? ms.env().nexus_endpoint_id(a.endpoint()) : "";
    if (endpoint_id.empty()) return Bad(kBad, "endpoint \"" + a.endpoint() + "\" not found");
  }
  auto negative = [](const google::protobuf::Duration& d) { return d.seconds() < 0 || d.nanos() < 0; };
  if (negative(a.schedule_to_close_timeout()))
    return Bad(kBad, "ScheduleNexusOperationCommandAttributes.ScheduleToCloseTimeout is invalid: negative duration");
  if (negative(a.schedule_to_start_timeout()))
    return Bad(kBad, "ScheduleNexusOperationCommandAttributes.ScheduleToStartTimeout is invalid: negative duration");
  if (negative(a.start_to_close_timeout()))
    return Bad(kBad, "ScheduleNexusOperationCommandAttributes.StartToCloseTimeout is invalid: negative duration");
  // As Temporal: schedule-to-close at most the run timeout, the other two at
  // most schedule-to-close.
  int64_t schedule_to_close = DurationToMs(a.schedule_to_close_timeout());
  int64_t run_timeout = DurationToMs(ms.s().start().workflow_run_timeout());
  if (run_timeout > 0 && (schedule_to_close == 0 || schedule_to_close > run_timeout)) schedule_to_close = run_timeout;
  int64_t schedule_to_start = DurationToMs(a.schedule_to_start_timeout());
  int64_t start_to_close = DurationToMs(a.start_to_close_timeout());
  if (schedule_to_close > 0) {
    schedule_to_start = std::min(schedule_to_start, schedule_to_close);
    start_to_close = std::min(start_to_close, schedule_to_close);
  }
  auto given = [](const google::protobuf::Duration& requested, int64_t ms) {
    return DurationToMs(requested) == ms ? requested : MsToDuration(ms);
  };

  auto& e = ms.AddEvent(enums::EVENT_TYPE_NEXUS_OPERATION_SCHEDULED);
  auto* ev = e.mutable_nexus_operation_scheduled_event_attributes();
  ev->set_endpoint(a.endpoint());
  ev->set_service(a.service());
  ev->set_operation(a.operation());
  if (a.has_input()) *ev->mutable_input() = a.input();
  *ev->mutable_schedule_to_close_timeout() = given(a.schedule_to_close_timeout(), schedule_to_close);
  if (a.has_schedule_to_start_timeout())
    *ev->mutable_schedule_to_start_timeout() = given(a.schedule_to_start_timeout(), schedule_to_start);
  if (a.has_start_to_close_timeout())
    *ev->mutable_start_to_close_timeout() = given(a.start_to_close_timeout(), start_to_close);
  *ev->mutable_nexus_header() = a.nexus_header();
  ev->set_workflow_task_completed_event_id(ms.completed_event_id());
  ev->set_request_id(NewUuid());
  ev->set_endpoint_id(endpoint_id);

  records::NexusOperationInfo op;
  op.set_scheduled_event_id(e.event_id());
  op.set_endpoint(a.endpoint());
  op.set_endpoint_id(endpoint_id);
  op.set_service(a.service());
  op.set_operation(a.operation());
  if (a.has_input()) *op.mutable_input() = a.input();
  *op.mutable_header() = a.nexus_header();
  op.set_request_id(ev->request_id());
  op.set_schedule_to_close_ms(schedule_to_close);
  op.set_schedule_to_start_ms(schedule_to_start);
  op.set_start_to_close_ms(start_to_close);
  op.set_scheduled_time_nanos(ms.now());
  op.set_start_row_id(ms.AddTimer(NexusStep(records::TimerTask::NEXUS_START, e.event_id(), ms.now())));
  if (op.schedule_to_close_ms() > 0)
    op.set_timeout_row_id(ms.AddTimer(NexusStep(records::TimerTask::NEXUS_TIMEOUT, e.event_id(),
                                                ms.now() + op.schedule_to_close_ms() * 1'000'000)));
  if (op.schedule_to_start_ms() > 0)
    op.set_schedule_to_start_row_id(ms.AddTimer(NexusStep(records::TimerTask::NEXUS_TIMEOUT, e.event_id(),
                                                          ms.now() + op.schedule_to_start_ms() * 1'000'000)));
  (*ms.s().mutable_nexus_operations())[e.event_id()] = std::move(op);
  return std::nullopt;
}

std::optional<CommandError> RequestCancelNexusOperation(
    MutableState& ms, const temporal::api::command::v1::RequestCancelNexusOperationCommandAttributes& a) {
  constexpr auto kBad = enums::WORKFLOW_TASK_FAILED_CAUSE_BAD_REQUEST_CANCEL_NEXUS_OPERATION_ATTRIBUTES;
  auto& ops = *ms.s().mutable_nexus_operations();
  auto it = ops.find(a.scheduled_event_id());
  if (it == ops.end())
    return Bad(kBad, "requested cancelation for a non-existing or already completed operation with scheduled event ID of " +
                         std::to_string(a.scheduled_event_id()));
  auto& op = it->second;
  if (op.cancel_requested_event_id() != 0)
    return Bad(kBad, "cancelation was already requested for an operation with scheduled event ID " +
                         std::to_string(a.scheduled_event_id()));
  auto& e = ms.AddEvent(enums::EVENT_TYPE_NEXUS_OPERATION_CANCEL_REQUESTED);
  auto* ev = e.mutable_nexus_operation_cancel_requested_event_attributes();
  ev->set_scheduled_event_id(a.scheduled_event_id());
  ev->set_workflow_task_completed_event_id(ms.completed_event_id());
  op.set_cancel_requested_event_id(e.event_id());
  op.mutable_cancellation();
  // As on Temporal, an operation not started yet stays pending: its cancel
  // request goes to the handler once it has started (RecordNexusStarted).
  if (op.started_event_id() != 0) ScheduleNexusCancel(ms, op);
  return std::nullopt;
}

fv1::Failure NexusOperationFailure(const records::NexusOperationInfo& op, fv1::Failure cause) {
  fv1::Failure f;
  f.set_message("nexus operation completed unsuccessfully");
  auto* info = f.mutable_nexus_operation_execution_failure_info();
  info->set_scheduled_event_id(op.scheduled_event_id());
  info->set_endpoint(op.endpoint());
  info->set_service(op.service());
  info->set_operation(op.operation());
  SetOperationToken(info, op.operation_token());
  *f.mutable_cause() = std::move(cause);
  return f;
}

bool NexusHandlerErrorRetryable(const fv1::Failure& f) {
  const auto& info = f.nexus_handler_failure_info();
  if (info.retry_behavior() == enums::NEXUS_HANDLER_ERROR_RETRY_BEHAVIOR_RETRYABLE) return true;
  if (info.retry_behavior() == enums::NEXUS_HANDLER_ERROR_RETRY_BEHAVIOR_NON_RETRYABLE) return false;
  // The Nexus spec's defaults by error type.
  static const char* kRetryable[] = {"INTERNAL", "UNAVAILABLE", "UPSTREAM_TIMEOUT", "RESOURCE_EXHAUSTED", "REQUEST_TIMEOUT"};
  for (const char* t : kRetryable)
    if (info.type() == t) return true;
  return false;
}

void RecordNexusStarted(MutableState& ms, records::NexusOperationInfo& op, const std::string& token,
                        const google::protobuf::RepeatedPtrField<common::Link>& links) {
  auto& e = ms.AddOrBufferEvent(enums::EVENT_TYPE_NEXUS_OPERATION_STARTED);
  auto* ev = e.mutable_nexus_operation_started_event_attributes();
  ev->set_scheduled_event_id(op.scheduled_event_id());
  SetOperationToken(ev, token);
  ev->set_request_id(op.request_id());
  *e.mutable_links() = links;
  op.set_operation_token(token);
  op.set_started_event_id(e.event_id());
  if (op.start_row_id() != 0) ms.DeleteTimer(op.start_row_id());
  op.set_start_row_id(0);
  if (op.schedule_to_start_row_id() != 0) ms.DeleteTimer(op.schedule_to_start_row_id());
  op.set_schedule_to_start_row_id(0);
  if (op.start_to_close_ms() > 0)
    op.set_start_to_close_row_id(ms.AddTimer(NexusStep(records::TimerTask::NEXUS_TIMEOUT, op.scheduled_event_id(),
                                                       ms.now() + op.start_to_close_ms() * 1'000'000)));
  op.set_last_attempt_complete_time_nanos(ms.now());
  op.set_next_attempt_time_nanos(0);
  if (op.cancel_requested_event_id() != 0 && op.cancel_row_id() == 0) ScheduleNexusCancel(ms, op);
  if (ms.s().has_standalone_nexus()) {
    *ms.s().mutable_standalone_nexus()->mutable_links() = links;
    ms.s().mutable_standalone_nexus()->set_last_attempt_complete_time_nanos(ms.now());
  }
  WakeCaller(ms);
}

void RecordNexusCompleted(MutableState& ms, int64_t scheduled_event_id, const common::Payload* result,
                          const google::protobuf::RepeatedPtrField<common::Link>* links) {
  auto& ops = *ms.s().mutable_nexus_operations();
  auto it = ops.find(scheduled_event_id);
  if (it == ops.end()) return;
  auto& e = ms.AddOrBufferEvent(enums::EVENT_TYPE_NEXUS_OPERATION_COMPLETED);
  auto* ev = e.mutable_nexus_operation_completed_event_attributes();
  ev->set_scheduled_event_id(scheduled_event_id);
  if (result) *ev->mutable_result() = *result;
  ev->set_request_id(it->second.request_id());
  if (links) *e.mutable_links() = *links;
  DropNexusTimers(ms, it->second);
  if (ms.s().has_standalone_nexus()) {
    if (links) *ms.s().mutable_standalone_nexus()->mutable_links() = *links;
    common::Payload empty;
    CloseStandalone(ms, it->second, temporal::api::enums::v1::NEXUS_OPERATION_EXECUTION_STATUS_COMPLETED,
                    result ? result : &empty, nullptr);
  }
  ops.erase(it);
  WakeCaller(ms);
}

void RecordNexusTimedOut(MutableState& ms, int64_t scheduled_event_id, enums::TimeoutType type) {
  fv1::Failure cause;
  cause.set_message("operation timed out");
  cause.mutable_timeout_failure_info()->set_timeout_type(type);
  RecordNexusEnded(ms, scheduled_event_id, NexusEnd::kTimedOut, std::move(cause));
}

void RecordNexusEnded(MutableState& ms, int64_t scheduled_event_id, NexusEnd end, fv1::Failure cause) {
  auto& ops = *ms.s().mutable_nexus_operations();
  auto it = ops.find(scheduled_event_id);
  if (it == ops.end()) return;
  const auto& op = it->second;
  if (ms.s().has_standalone_nexus()) {
    // A standalone operation's outcome is the handler's failure itself.
    namespace ev1 = temporal::api::enums::v1;
    auto status = end == NexusEnd::kCanceled   ? ev1::NEXUS_OPERATION_EXECUTION_STATUS_CANCELED
                  : end == NexusEnd::kTimedOut ? ev1::NEXUS_OPERATION_EXECUTION_STATUS_TIMED_OUT
                                               : ev1::NEXUS_OPERATION_EXECUTION_STATUS_FAILED;
    DropNexusTimers(ms, op);
    CloseStandalone(ms, op, status, nullptr, &cause);
    ops.erase(it);
    return;
  }
  auto failure = NexusOperationFailure(op, std::move(cause));
  switch (end) {
    case NexusEnd::kFailed: {
      auto& e = ms.AddOrBufferEvent(enums::EVENT_TYPE_NEXUS_OPERATION_FAILED);
      auto* ev = e.mutable_nexus_operation_failed_event_attributes();
      ev->set_scheduled_event_id(scheduled_event_id);
      *ev->mutable_failure() = std::move(failure);
      ev->set_request_id(op.request_id());
      break;
    }
    case NexusEnd::kCanceled: {
      auto& e = ms.AddOrBufferEvent(enums::EVENT_TYPE_NEXUS_OPERATION_CANCELED);
      auto* ev = e.mutable_nexus_operation_canceled_event_attributes();
      ev->set_scheduled_event_id(scheduled_event_id);
      *ev->mutable_failure() = std::move(failure);
      ev->set_request_id(op.request_id());
      break;
    }
    case NexusEnd::kTimedOut: {
      auto& e = ms.AddOrBufferEvent(enums::EVENT_TYPE_NEXUS_OPERATION_TIMED_OUT);
      auto* ev = e.mutable_nexus_operation_timed_out_event_attributes();
      ev->set_scheduled_event_id(scheduled_event_id);
      *ev->mutable_failure() = std::move(failure);
      ev->set_request_id(op.request_id());
      break;
    }
  }
  DropNexusTimers(ms, op);
  ops.erase(it);
  ms.ScheduleWorkflowTask();
}

void TerminateStandaloneNexus(MutableState& ms, const std::string& reason) {
  fv1::Failure failure;
  failure.set_message(reason);
  failure.mutable_terminated_failure_info();
  auto& ops = *ms.s().mutable_nexus_operations();
  auto it = ops.find(1);
  if (it == ops.end()) return;
  DropNexusTimers(ms, it->second);
  CloseStandalone(ms, it->second, temporal::api::enums::v1::NEXUS_OPERATION_EXECUTION_STATUS_TERMINATED, nullptr,
                  &failure);
  ops.erase(it);
}

void RetryNexusStart(MutableState& ms, records::NexusOperationInfo& op, fv1::Failure failure) {
  op.set_attempt(op.attempt() + 1);
  if (ms.s().has_standalone_nexus()) ms.s().mutable_standalone_nexus()->set_last_attempt_complete_time_nanos(ms.now());
  *op.mutable_last_attempt_failure() = std::move(failure);
  op.set_last_attempt_complete_time_nanos(ms.now());
  op.set_next_attempt_time_nanos(ms.now() + NexusBackoffMs(op.attempt()) * 1'000'000);
  if (op.start_row_id() != 0) ms.DeleteTimer(op.start_row_id());
  op.set_start_row_id(
      ms.AddTimer(NexusStep(records::TimerTask::NEXUS_START, op.scheduled_event_id(), op.next_attempt_time_nanos())));
}

void RearmNexusSteps(MutableState& ms, records::NexusOperationInfo& op, int64_t started_time_nanos) {
  auto timeout = [&](int64_t from, int64_t timeout_ms) {
    return ms.AddTimer(NexusStep(records::TimerTask::NEXUS_TIMEOUT, op.scheduled_event_id(),
                                 std::max(ms.now(), from + timeout_ms * 1'000'000)));
  };
  if (op.schedule_to_close_ms() > 0) op.set_timeout_row_id(timeout(op.scheduled_time_nanos(), op.schedule_to_close_ms()));
  if (op.started_event_id() == 0) {
    op.set_start_row_id(ms.AddTimer(NexusStep(records::TimerTask::NEXUS_START, op.scheduled_event_id(), ms.now())));
    if (op.schedule_to_start_ms() > 0)
      op.set_schedule_to_start_row_id(timeout(op.scheduled_time_nanos(), op.schedule_to_start_ms()));
    return;
  }
  if (op.start_to_close_ms() > 0) op.set_start_to_close_row_id(timeout(started_time_nanos, op.start_to_close_ms()));
  if (op.cancel_requested_event_id() != 0 &&
      op.cancellation().state() == temporal::api::enums::v1::NEXUS_OPERATION_CANCELLATION_STATE_SCHEDULED)
    op.set_cancel_row_id(ms.AddTimer(NexusStep(records::TimerTask::NEXUS_CANCEL, op.scheduled_event_id(), ms.now())));
}

void ScheduleNexusCancel(MutableState& ms, records::NexusOperationInfo& op) {
  auto* c = op.mutable_cancellation();
  c->set_requested_time_nanos(ms.now());
  c->set_state(temporal::api::enums::v1::NEXUS_OPERATION_CANCELLATION_STATE_SCHEDULED);
  op.set_cancel_row_id(ms.AddTimer(NexusStep(records::TimerTask::NEXUS_CANCEL, op.scheduled_event_id(), ms.now())));
}

void RetryNexusCancel(MutableState& ms, records::NexusOperationInfo& op, fv1::Failure failure) {
  auto* c = op.mutable_cancellation();
  c->set_attempt(c->attempt() + 1);
  c->set_last_attempt_complete_time_nanos(ms.now());
  *c->mutable_last_attempt_failure() = std::move(failure);
  c->set_next_attempt_time_nanos(ms.now() + NexusBackoffMs(c->attempt()) * 1'000'000);
  c->set_state(temporal::api::enums::v1::NEXUS_OPERATION_CANCELLATION_STATE_BACKING_OFF);
  if (op.cancel_row_id() != 0) ms.DeleteTimer(op.cancel_row_id());
  op.set_cancel_row_id(
      ms.AddTimer(NexusStep(records::TimerTask::NEXUS_CANCEL, op.scheduled_event_id(), c->next_attempt_time_nanos())));
}

void RecordNexusCancelRequestOutcome(MutableState& ms, records::NexusOperationInfo& op, const fv1::Failure* failure) {
  if (op.cancel_row_id() != 0) ms.DeleteTimer(op.cancel_row_id());
  op.set_cancel_row_id(0);
  auto* c = op.mutable_cancellation();
  c->set_attempt(c->attempt() + 1);
  c->set_last_attempt_complete_time_nanos(ms.now());
  c->set_next_attempt_time_nanos(0);
  c->set_state(failure ? temporal::api::enums::v1::NEXUS_OPERATION_CANCELLATION_STATE_FAILED
                       : temporal::api::enums::v1::NEXUS_OPERATION_CANCELLATION_STATE_SUCCEEDED);
  if (failure) *c->mutable_last_attempt_failure() = *failure;
  else c->clear_last_attempt_failure();
  if (failure) {
    auto& e = ms.AddOrBufferEvent(enums::EVENT_TYPE_NEXUS_OPERATION_CANCEL_REQUEST_FAILED);
    auto* ev = e.mutable_nexus_operation_cancel_request_failed_event_attributes();
    ev->set_requested_event_id(op.cancel_requested_event_id());
    ev->set_scheduled_event_id(op.scheduled_event_id());
    *ev->mutable_failure() = *failure;
  } else {
    auto& e = ms.AddOrBufferEvent(enums::EVENT_TYPE_NEXUS_OPERATION_CANCEL_REQUEST_COMPLETED);
    auto* ev = e.mutable_nexus_operation_cancel_request_completed_event_attributes();
    ev->set_requested_event_id(op.cancel_requested_event_id());
    ev->set_scheduled_event_id(op.scheduled_event_id());
  }
  if (ms.s().has_standalone_nexus()) {
    auto* sn = ms.s().mutable_standalone_nexus();
    sn->set_cancel_state(failure ? temporal::api::enums::v1::NEXUS_OPERATION_CANCELLATION_STATE_FAILED
                                 : temporal::api::enums::v1::NEXUS_OPERATION_CANCELLATION_STATE_SUCCEEDED);
    sn->set_cancel_completed_time_nanos(ms.now());
  }
  WakeCaller(ms);
}

std::string NexusWorkflowEventLinkUrl(const std::string& ns, const std::string& workflow_id, const std::string& run_id,
                                      int64_t event_id, const std::string& event_type) {
  return "temporal:///namespaces/" + PercentEncode(ns) + "/workflows/" + PercentEncode(workflow_id) + "/" +
         PercentEncode(run_id) + "/history?eventID=" + std::to_string(event_id) + "&eventType=" + event_type +
         "&referenceType=EventReference";
}

std::string NexusRequestIdLinkUrl(const std::string& ns, const std::string& workflow_id, const std::string& run_id,
                                  const std::string& request_id, const std::string& event_type) {
  return "temporal:///namespaces/" + PercentEncode(ns) + "/workflows/" + PercentEncode(workflow_id) + "/" +
         PercentEncode(run_id) + "/history?eventType=" + event_type + "&referenceType=RequestIdReference&requestID=" +
         PercentEncode(request_id);
}

std::string NexusOperationLinkUrl(const std::string& ns, const std::string& operation_id, const std::string& run_id) {
  return "temporal:///namespaces/" + PercentEncode(ns) + "/nexus-operations/" + PercentEncode(operation_id) + "/" +
         PercentEncode(run_id) + "/details";
}

std::optional<common::Link> WorkflowEventLinkFromUrl(const std::string& url) {
  static const std::string kPrefix = "temporal:///namespaces/";
  if (url.rfind(kPrefix, 0) != 0) return std::nullopt;
  auto q = url.find('?');
  std::string path = url.substr(kPrefix.size(), q == std::string::npos ? std::string::npos : q - kPrefix.size());
  std::vector<std::string> parts;
  size_t start = 0;
  for (size_t i = 0; i <= path.size(); ++i) {
    if (i == path.size() || path[i] == '/') {
      parts.push_back(PercentDecode(path.substr(start, i - start)));
      start = i + 1;
    }
  }
  if (parts.size() != 5 || parts[1] != "workflows" || parts[4] != "history") return std::nullopt;
  common::Link link;
  auto* we = link.mutable_workflow_event();
  we->set_namespace_(parts[0]);
  we->set_workflow_id(parts[2]);
  we->set_run_id(parts[3]);
  std::string query = q == std::string::npos ? "" : url.substr(q + 1);
  std::string ref_type, event_type, request_id;
  int64_t event_id = 0;
  start = 0;
  for (size_t i = 0; i <= query.size(); ++i) {
    if (i != query.size() && query[i] != '&') continue;
    std::string kv = query.substr(start, i - start);
    start = i + 1;
    auto eq = kv.find('=');
    if (eq == std::string::npos) continue;
    std::string k = kv.substr(0, eq), v = PercentDecode(kv.substr(eq + 1));
    if (k == "referenceType") ref_type = v;
    else if (k == "eventType") event_type = v;
    else if (k == "eventID") event_id = std::atoll(v.c_str());
    else if (k == "requestID") request_id = v;
  }
  enums::EventType type = enums::EVENT_TYPE_UNSPECIFIED;
  if (!enums::EventType_Parse(event_type, &type)) enums::EventType_Parse("EVENT_TYPE_" + UpperSnake(event_type), &type);
  if (ref_type == "RequestIdReference") {
    auto* r = we->mutable_request_id_ref();
    r->set_request_id(request_id);
    r->set_event_type(type);
  } else {
    auto* r = we->mutable_event_ref();
    r->set_event_id(event_id);
    r->set_event_type(type);
  }
  return link;
}

common::Link StartedEventLink(const std::string& ns, const std::string& workflow_id, const std::string& run_id) {
  common::Link link;
  auto* we = link.mutable_workflow_event();
  we->set_namespace_(ns);
  we->set_workflow_id(workflow_id);
  we->set_run_id(run_id);
  we->mutable_event_ref()->set_event_id(1);
  we->mutable_event_ref()->set_event_type(enums::EVENT_TYPE_WORKFLOW_EXECUTION_STARTED);
  return link;
}

common::Link RequestIdLink(const std::string& ns, const std::string& workflow_id, const std::string& run_id,
                           const std::string& request_id, enums::EventType event_type) {
  common::Link link;
  auto* we = link.mutable_workflow_event();
  we->set_namespace_(ns);
  we->set_workflow_id(workflow_id);
  we->set_run_id(run_id);
  we->mutable_request_id_ref()->set_request_id(request_id);
  we->mutable_request_id_ref()->set_event_type(event_type);
  return link;
}

}  // namespace kairos::history
