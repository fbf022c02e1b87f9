// Nexus operations, the engine's side: the durable steps that send an
// operation's start and cancel requests to its handler (through matching, as
// Nexus tasks), its schedule-to-close timeout, and the delivery of a handler
// run's outcome to the caller that started it. Like the child workflow steps,
// each step locks one workflow at a time and is safe to repeat after a crash:
// a start is deduplicated by the operation's request id, and a caller records
// an outcome only while the operation is pending in its state.
#include <spdlog/spdlog.h>

#include "history_engine.h"
#include "kairos/history/nexus_operations.h"
#include "kairos/history/system_nexus.h"

namespace kairos::history {
namespace {

namespace fv1 = temporal::api::failure::v1;
namespace nexusv1 = temporal::api::nexus::v1;

constexpr char kWorkflowEventLinkType[] = "temporal.api.common.v1.Link.WorkflowEvent";
constexpr char kNexusOperationLinkType[] = "temporal.api.common.v1.Link.NexusOperation";

fv1::Failure HandlerFailure(const std::string& type, const std::string& message) {
  fv1::Failure f;
  f.set_message(message);
  f.mutable_nexus_handler_failure_info()->set_type(type);
  return f;
}

// The Nexus handler error type a gRPC status answers as (Temporal's mapping
// of its service errors).
std::string HandlerErrorType(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::FAILED_PRECONDITION:
    case grpc::StatusCode::OUT_OF_RANGE:
      return "BAD_REQUEST";
    case grpc::StatusCode::NOT_FOUND:
      return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS:
      return "CONFLICT";
    case grpc::StatusCode::PERMISSION_DENIED:
      return "UNAUTHORIZED";
    case grpc::StatusCode::UNAUTHENTICATED:
      return "UNAUTHENTICATED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::UNIMPLEMENTED:
      return "NOT_IMPLEMENTED";
    case grpc::StatusCode::UNAVAILABLE:
      return "UNAVAILABLE";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "UPSTREAM_TIMEOUT";
    default:
      return "INTERNAL";
  }
}

// A request that got no answer (the handler's worker did not take or answer
// it in time), as the attempt's failure.
fv1::Failure RequestFailure(const grpc::Status& status) {
  fv1::Failure f;
  f.set_message(status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED ? "request timed out"
                                                                            : status.error_message());
  f.mutable_application_failure_info();
  // An external handler's unreachable or unreadable answer, as Temporal
  // records its HTTP client's errors.
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE) f.mutable_application_failure_info()->set_type("CallError");
  return f;
}

// An operation error in the deprecated Nexus form, as a Temporal failure.
fv1::Failure FromNexusFailure(const nexusv1::Failure& nf, bool canceled) {
  fv1::Failure f;
  f.set_message(nf.message());
  f.set_stack_trace(nf.stack_trace());
  if (canceled) f.mutable_canceled_failure_info();
  else f.mutable_application_failure_info()->set_non_retryable(true);
  return f;
}

const records::NexusOperationInfo* PendingOperation(const StatePtr& state, int64_t scheduled_event_id) {
  if (!state || state->status() != enums::WORKFLOW_EXECUTION_STATUS_RUNNING) return nullptr;
  auto it = state->nexus_operations().find(scheduled_event_id);
  return it == state->nexus_operations().end() ? nullptr : &it->second;
}

std::string HeaderValue(const google::protobuf::Map<std::string, std::string>& header, const std::string& name) {
  for (const auto& [k, v] : header) {
    if (k.size() != name.size()) continue;
    bool same = true;
    for (size_t i = 0; i < k.size() && same; ++i)
      same = std::tolower(static_cast<unsigned char>(k[i])) == std::tolower(static_cast<unsigned char>(name[i]));
    if (same) return v;
  }
  return "";
}

std::string Millis(int64_t ms) { return std::to_string(ms) + "ms"; }

// A handler's answer's Nexus links, those that name workflow events.
google::protobuf::RepeatedPtrField<common::Link> WorkflowEventLinks(
    const google::protobuf::RepeatedPtrField<nexusv1::Link>& nexus_links) {
  google::protobuf::RepeatedPtrField<common::Link> links;
  for (const auto& l : nexus_links)
    if (auto link = WorkflowEventLinkFromUrl(l.url())) *links.Add() = *link;
  return links;
}

}  // namespace

std::optional<std::pair<records::NexusOperationInfo, std::string>> HistoryEngine::NexusStepOperation(
    int64_t row_id, const records::TimerTask& t, int64_t (records::NexusOperationInfo::*row_of)() const) {
  ExecutionKey key{t.namespace_id(), t.workflow_id(), t.run_id()};
  std::lock_guard lock(LockFor(key.namespace_id, key.workflow_id));
  auto state = Load(key);
  const auto* pending = PendingOperation(state, t.event_id());
  if (!pending || (pending->*row_of)() != row_id) {
    DropTimerRow(row_id);
    return std::nullopt;
  }
  return std::make_pair(*pending, state->namespace_name());
}

void HistoryEngine::SendNexusRequest(const records::NexusOperationInfo& op, nexusv1::Request req, int64_t timeout_ms,
                                     matching::NexusReply reply) {
  auto route = nexus_endpoints_ ? nexus_endpoints_(op.endpoint()) : std::nullopt;
  const bool external = route && route->namespace_id.empty() && !route->external_url.empty() && external_caller_;
  if (!route || (route->namespace_id.empty() && !external)) {
    matching::NexusTaskResult unknown;
    unknown.handler_failed = true;
    unknown.handler_failure = HandlerFailure("NOT_FOUND", "endpoint not registered");
    reply(grpc::Status::OK, unknown);
    return;
  }
  auto& header = *req.mutable_header();
  for (const auto& [k, v] : op.header())
    if (!header.contains(k)) header[k] = v;
  header["request-timeout"] = Millis(timeout_ms);
  *req.mutable_scheduled_time() = NanosToTimestamp(NowNanos());
  req.mutable_capabilities()->set_temporal_failure_responses(true);
  req.set_endpoint(op.endpoint());
  if (external) return external_caller_(route->external_url, std::move(req), timeout_ms, std::move(reply));
  matching_->AddNexusTask(route->namespace_id, route->task_queue, std::move(req),
                          std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms), std::move(reply));
}

void HistoryEngine::StartNexusOperation(int64_t row_id, const records::TimerTask& t) {
  auto step = NexusStepOperation(row_id, t, &records::NexusOperationInfo::start_row_id);
  if (!step) return;
  const auto& [op, ns_name] = *step;
  int64_t timeout_ms = kNexusRequestTimeoutMs;
  nexusv1::Request req;
  // As Temporal: the request waits at most what is left of schedule-to-start
  // (or else schedule-to-close); the handler is told the operation's timeout,
  // start-to-close bounded by what is left of schedule-to-close.
  const int64_t elapsed_ms = (NowNanos() - op.scheduled_time_nanos()) / 1'000'000;
  const int64_t bound_ms = op.schedule_to_start_ms() > 0 ? op.schedule_to_start_ms() : op.schedule_to_close_ms();
  if (bound_ms > 0) {
    if (bound_ms - elapsed_ms <= 0) return;  // The timeout step ends the operation.
    timeout_ms = std::min(timeout_ms, bound_ms - elapsed_ms);
  }
  if (timeout_ms * 1'000'000 < limits_.nexus_min_request_timeout_nanos) {
    // Too little time left for a request: Temporal times the operation out
    // now rather than send one.
    return TimeOutNexusStart(row_id, t, op.schedule_to_start_ms() > 0 ? enums::TIMEOUT_TYPE_SCHEDULE_TO_START
                                                                      : enums::TIMEOUT_TYPE_SCHEDULE_TO_CLOSE);
  }
  int64_t operation_timeout_ms = op.start_to_close_ms();
  if (op.schedule_to_close_ms() > 0) {
    int64_t left_ms = op.schedule_to_close_ms() - elapsed_ms;
    operation_timeout_ms = operation_timeout_ms > 0 ? std::min(operation_timeout_ms, left_ms) : left_ms;
  }
  if (operation_timeout_ms > 0 && HeaderValue(op.header(), "operation-timeout").empty())
    (*req.mutable_header())["operation-timeout"] = Millis(operation_timeout_ms);
  auto* start = req.mutable_start_operation();
  start->set_service(op.service());
  start->set_operation(op.operation());
  start->set_request_id(op.request_id());
  if (op.has_input()) *start->mutable_payload() = op.input();
  records::NexusCallbackToken token;
  token.set_namespace_id(t.namespace_id());
  token.set_workflow_id(t.workflow_id());
  token.set_run_id(t.run_id());
  token.set_scheduled_event_id(op.scheduled_event_id());
  token.set_request_id(op.request_id());
  // As Temporal (component.nexusoperations.useSystemCallbackURL): worker
  // targets complete through temporal://system; external targets (and all,
  // with the flag off) get the callback URL template's URL and Temporal's
  // token form, which the completion route reads.
  auto route = nexus_endpoints_ && op.endpoint() != kSystemNexusEndpoint ? nexus_endpoints_(op.endpoint()) : std::nullopt;
  const bool worker_target = route && !route->namespace_id.empty();
  nexus::CallbackUrlConfig callback_urls;
  {
    std::lock_guard lock(callback_urls_mu_);
    callback_urls = callback_urls_;
  }
  if (!route || (worker_target && callback_urls.use_system_callback_url)) {
    start->set_callback(kNexusSystemCallbackUrl);
    (*start->mutable_callback_header())[kNexusCallbackTokenHeader] = HexEncode(token.SerializeAsString());
  } else {
    auto url = callback_urls.Url(ns_name, IsStandaloneNexusNamespaceId(t.namespace_id())
                                               ? t.namespace_id().substr(0, t.namespace_id().size() - std::string(kStandaloneNexusSuffix).size())
                                               : t.namespace_id());
    if (!url) {
      // Temporal's task fails ("dynamic config ... is unset") and is retried.
      spdlog::warn("Nexus operation {} cannot start: dynamic config "
                   "\"component.nexusoperations.callback.endpoint.template\" is unset",
                   op.scheduled_event_id());
      matching::NexusTaskResult unset;
      unset.handler_failed = true;
      unset.handler_failure = HandlerFailure("INTERNAL", "dynamic config \"component.nexusoperations.callback.endpoint.template\" is unset");
      OnNexusStartReply(row_id, t, grpc::Status::OK, unset);
      return;
    }
    start->set_callback(*url);
    (*start->mutable_callback_header())[kNexusCallbackTokenHeader] = nexus::EncodeCallbackToken(token);
  }
  auto* link = start->add_links();
  if (IsStandaloneNexusNamespaceId(t.namespace_id())) {
    link->set_url(NexusOperationLinkUrl(ns_name, t.workflow_id(), t.run_id()));
    link->set_type(kNexusOperationLinkType);
  } else {
    link->set_url(NexusWorkflowEventLinkUrl(ns_name, t.workflow_id(), t.run_id(), op.scheduled_event_id(),
                                            "NexusOperationScheduled"));
    link->set_type(kWorkflowEventLinkType);
  }
  auto reply = [this, row_id, t](const grpc::Status& st, const matching::NexusTaskResult& result) {
    OnNexusStartReply(row_id, t, st, result);
  };
  if (op.endpoint() == kSystemNexusEndpoint) return StartSystemNexusOperation(t, op, ns_name, std::move(reply));
  SendNexusRequest(op, std::move(req), timeout_ms, std::move(reply));
}

void HistoryEngine::StartSystemNexusOperation(const records::TimerTask& t, const records::NexusOperationInfo& op,
                                              const std::string& ns_name, matching::NexusReply reply) {
  matching::NexusTaskResult result;
  auto fail = [&](const grpc::Status& st) {
    result.handler_failed = true;
    result.handler_failure = HandlerFailure(HandlerErrorType(st.error_code()), st.error_message());
    reply(grpc::Status::OK, result);
  };
  wsv1::SignalWithStartWorkflowExecutionRequest req;
  std::string error;
  if (!DecodeSignalWithStart(op.input(), &req, &error)) return fail(errors::InvalidArgument(error));
  // As Temporal: in the caller's namespace, with the operation's request id
  // (a retried start finds its signal) and a link to the scheduled event.
  const NamespaceRef ns{t.namespace_id(), ns_name};
  req.set_namespace_(ns_name);
  req.set_request_id(op.request_id());
  auto* link = req.add_links()->mutable_workflow_event();
  link->set_namespace_(ns_name);
  link->set_workflow_id(t.workflow_id());
  link->set_run_id(t.run_id());
  link->mutable_event_ref()->set_event_id(op.scheduled_event_id());
  link->mutable_event_ref()->set_event_type(enums::EVENT_TYPE_NEXUS_OPERATION_SCHEDULED);
  if (system_nexus_admission_) {
    if (auto st = system_nexus_admission_(ns, &req); !st.ok()) return fail(st);
  }
  wsv1::SignalWithStartWorkflowExecutionResponse resp;
  if (auto st = SignalWithStartWorkflowExecution(ns, req, &resp); !st.ok()) return fail(st);
  auto* sync = result.response.mutable_start_operation()->mutable_sync_success();
  *sync->mutable_payload() = SystemNexusResult(resp);
  const auto& signaled = resp.signal_link().workflow_event();
  auto* handler_link = sync->add_links();
  handler_link->set_url(NexusRequestIdLinkUrl(signaled.namespace_(), signaled.workflow_id(), signaled.run_id(),
                                              signaled.request_id_ref().request_id(),
                                              enums::EventType_Name(signaled.request_id_ref().event_type())));
  handler_link->set_type(kWorkflowEventLinkType);
  reply(grpc::Status::OK, result);
}

void HistoryEngine::OnNexusStartReply(int64_t row_id, const records::TimerTask& t, const grpc::Status& status,
                                      const matching::NexusTaskResult& result) {
  ExecutionKey key{t.namespace_id(), t.workflow_id(), t.run_id()};
  std::lock_guard lock(LockFor(key.namespace_id, key.workflow_id));
  auto state = Load(key);
  const auto* pending = PendingOperation(state, t.event_id());
  if (!pending || pending->start_row_id() != row_id) {
    DropTimerRow(row_id);  // Ended meanwhile (timed out, canceled, completed by its callback).
    return;
  }
  MutableState ms(*state, env_, NowNanos());
  auto& op = (*ms.s().mutable_nexus_operations())[t.event_id()];
  const int64_t id = t.event_id();
  if (!status.ok()) {
    RetryNexusStart(ms, op, RequestFailure(status));
  } else if (result.handler_failed) {
    // Retryable handler errors are retried until the operation times out.
    if (NexusHandlerErrorRetryable(result.handler_failure)) RetryNexusStart(ms, op, result.handler_failure);
    else RecordNexusEnded(ms, id, NexusEnd::kFailed, result.handler_failure);
  } else {
    const auto& so = result.response.start_operation();
    switch (so.variant_case()) {
      case nexusv1::StartOperationResponse::kSyncSuccess: {
        auto links = WorkflowEventLinks(so.sync_success().links());
        RecordNexusCompleted(ms, id, so.sync_success().has_payload() ? &so.sync_success().payload() : nullptr, &links);
        break;
      }
      case nexusv1::StartOperationResponse::kAsyncSuccess: {
        const auto& async = so.async_success();
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
        std::string token = async.operation_token().empty() ? async.operation_id() : async.operation_token();
#pragma GCC diagnostic pop
        RecordNexusStarted(ms, op, token, WorkflowEventLinks(async.links()));
        break;
      }
      case nexusv1::StartOperationResponse::kFailure:
        RecordNexusEnded(ms, id, so.failure().has_canceled_failure_info() ? NexusEnd::kCanceled : NexusEnd::kFailed,
                         so.failure());
        break;
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
      case nexusv1::StartOperationResponse::kOperationError: {
        bool canceled = so.operation_error().operation_state() == "canceled";
        RecordNexusEnded(ms, id, canceled ? NexusEnd::kCanceled : NexusEnd::kFailed,
                         FromNexusFailure(so.operation_error().failure(), canceled));
        break;
      }
#pragma GCC diagnostic pop
      default:
        RetryNexusStart(ms, op, HandlerFailure("INTERNAL", "invalid response from the Nexus handler"));
        break;
    }
  }
  if (auto st = Commit(ms); !st.ok()) {
    spdlog::warn("recording the start of Nexus operation {}: {}", id, st.error_message());
    RetryStepLater(row_id, t);
  }
}

void HistoryEngine::TimeOutNexusOperation(int64_t row_id, const records::TimerTask& t) {
  ExecutionKey key{t.namespace_id(), t.workflow_id(), t.run_id()};
  std::lock_guard lock(LockFor(key.namespace_id, key.workflow_id));
  auto state = Load(key);
  const auto* pending = PendingOperation(state, t.event_id());
  // Which of the operation's timeouts this step is.
  auto type = !pending                                         ? enums::TIMEOUT_TYPE_UNSPECIFIED
              : pending->timeout_row_id() == row_id            ? enums::TIMEOUT_TYPE_SCHEDULE_TO_CLOSE
              : pending->schedule_to_start_row_id() == row_id  ? enums::TIMEOUT_TYPE_SCHEDULE_TO_START
              : pending->start_to_close_row_id() == row_id     ? enums::TIMEOUT_TYPE_START_TO_CLOSE
                                                               : enums::TIMEOUT_TYPE_UNSPECIFIED;
  if (type == enums::TIMEOUT_TYPE_UNSPECIFIED) {
    DropTimerRow(row_id);
    return;
  }
  MutableState ms(*state, env_, NowNanos());
  RecordNexusTimedOut(ms, t.event_id(), type);
  if (auto st = Commit(ms); !st.ok()) RetryStepLater(row_id, t);
}

void HistoryEngine::TimeOutNexusStart(int64_t row_id, const records::TimerTask& t, enums::TimeoutType type) {
  ExecutionKey key{t.namespace_id(), t.workflow_id(), t.run_id()};
  std::lock_guard lock(LockFor(key.namespace_id, key.workflow_id));
  auto state = Load(key);
  const auto* pending = PendingOperation(state, t.event_id());
  if (!pending || pending->start_row_id() != row_id) {
    DropTimerRow(row_id);
    return;
  }
  MutableState ms(*state, env_, NowNanos());
  RecordNexusTimedOut(ms, t.event_id(), type);
  if (auto st = Commit(ms); !st.ok()) RetryStepLater(row_id, t);
}

void HistoryEngine::CancelNexusOperation(int64_t row_id, const records::TimerTask& t) {
  auto step = NexusStepOperation(row_id, t, &records::NexusOperationInfo::cancel_row_id);
  if (!step) return;
  const auto& op = step->first;
  nexusv1::Request req;
  auto* cancel = req.mutable_cancel_operation();
  cancel->set_service(op.service());
  cancel->set_operation(op.operation());
  SetOperationToken(cancel, op.operation_token());
  // As Temporal: bounded by what is left of schedule-to-close, and not sent
  // with less than the minimum request time left (the cancel then fails).
  int64_t timeout_ms = kNexusRequestTimeoutMs;
  if (op.schedule_to_close_ms() > 0)
    timeout_ms = std::min(timeout_ms, op.schedule_to_close_ms() - (NowNanos() - op.scheduled_time_nanos()) / 1'000'000);
  if (timeout_ms * 1'000'000 < limits_.nexus_min_request_timeout_nanos) {
    matching::NexusTaskResult too_late;
    too_late.handler_failed = true;
    too_late.handler_failure.set_message("not enough time to execute another request before ScheduleToClose timeout");
    auto* info = too_late.handler_failure.mutable_application_failure_info();
    info->set_type("CallError");
    info->set_non_retryable(true);
    return OnNexusCancelReply(row_id, t, grpc::Status::OK, too_late);
  }
  SendNexusRequest(op, std::move(req), timeout_ms,
                   [this, row_id, t](const grpc::Status& st, const matching::NexusTaskResult& result) {
                     OnNexusCancelReply(row_id, t, st, result);
                   });
}

void HistoryEngine::OnNexusCancelReply(int64_t row_id, const records::TimerTask& t, const grpc::Status& status,
                                       const matching::NexusTaskResult& result) {
  ExecutionKey key{t.namespace_id(), t.workflow_id(), t.run_id()};
  std::lock_guard lock(LockFor(key.namespace_id, key.workflow_id));
  auto state = Load(key);
  const auto* pending = PendingOperation(state, t.event_id());
  if (!pending || pending->cancel_row_id() != row_id) {
    DropTimerRow(row_id);
    return;
  }
  MutableState ms(*state, env_, NowNanos());
  auto& op = (*ms.s().mutable_nexus_operations())[t.event_id()];
  // A retryable failure backs off (1 s doubling) as the start request does.
  if (!status.ok()) RetryNexusCancel(ms, op, RequestFailure(status));
  else if (result.handler_failed && NexusHandlerErrorRetryable(result.handler_failure))
    RetryNexusCancel(ms, op, result.handler_failure);
  else RecordNexusCancelRequestOutcome(ms, op, result.handler_failed ? &result.handler_failure : nullptr);
  if (auto st = Commit(ms); !st.ok()) RetryStepLater(row_id, t);
}

void HistoryEngine::DeliverNexusCompletion(int64_t row_id, const records::TimerTask& t) {
  hv1::HistoryEvent close;
  StatePtr state = LoadClosedRun({t.namespace_id(), t.workflow_id(), t.run_id()}, &close);
  if (!state) {
    DropTimerRow(row_id);
    return;
  }
  // The handler run's outcome, as the caller records it.
  const common::Payload* result = nullptr;
  std::optional<std::pair<NexusEnd, fv1::Failure>> ended;
  switch (close.event_type()) {
    case enums::EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED: {
      const auto& payloads = close.workflow_execution_completed_event_attributes().result();
      if (payloads.payloads_size() > 0) result = &payloads.payloads(0);
      break;
    }
    case enums::EVENT_TYPE_WORKFLOW_EXECUTION_FAILED:
      ended.emplace(NexusEnd::kFailed, close.workflow_execution_failed_event_attributes().failure());
      break;
    case enums::EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED: {
      fv1::Failure f;
      f.set_message("operation canceled");
      *f.mutable_canceled_failure_info()->mutable_details() =
          close.workflow_execution_canceled_event_attributes().details();
      ended.emplace(NexusEnd::kCanceled, std::move(f));
      break;
    }
    case enums::EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED: {
      fv1::Failure f;
      f.set_message("operation terminated");
      f.mutable_terminated_failure_info();
      ended.emplace(NexusEnd::kFailed, std::move(f));
      break;
    }
    case enums::EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT: {
      fv1::Failure f;
      f.set_message("operation exceeded internal timeout");
      f.mutable_timeout_failure_info()->set_timeout_type(enums::TIMEOUT_TYPE_START_TO_CLOSE);
      ended.emplace(NexusEnd::kFailed, std::move(f));
      break;
    }
    default:
      DropTimerRow(row_id);
      return;
  }
  // As Temporal tells a caller outside: the run's times and its started event.
  nexus::Completion outside;
  outside.start_time_nanos = state->start_time_nanos();
  outside.close_time_nanos = TimestampToNanos(close.event_time());
  outside.start_link_url = NexusWorkflowEventLinkUrl(state->namespace_name(), t.workflow_id(), t.run_id(), 1,
                                                     "WorkflowExecutionStarted");
  if (!ReportToNexusCallers(state->start().completion_callbacks(), result, ended, &outside)) {
    RetryStepLater(row_id, t);
    return;
  }
  DropTimerRow(row_id);
}

void HistoryEngine::DeliverNexusUpdateCompletion(int64_t row_id, const records::TimerTask& t) {
  google::protobuf::RepeatedPtrField<common::Callback> callbacks;
  temporal::api::update::v1::Outcome outcome;
  {
    ExecutionKey key{t.namespace_id(), t.workflow_id(), t.run_id()};
    std::lock_guard lock(LockFor(key.namespace_id, key.workflow_id));
    auto state = Load(key);
    auto it = state ? state->updates().find(t.timer_id()) : decltype(state->updates().end()){};
    if (!state || it == state->updates().end() || it->second.state() != records::UpdateInfo::COMPLETED) {
      DropTimerRow(row_id);
      return;
    }
    callbacks = it->second.completion_callbacks();
    outcome = it->second.outcome();
  }
  // As Temporal: the update's result, or its failure as the operation's
  // (the server's when the run closed before the update completed).
  const common::Payload* result = nullptr;
  std::optional<std::pair<NexusEnd, fv1::Failure>> ended;
  if (outcome.has_failure()) ended.emplace(NexusEnd::kFailed, outcome.failure());
  else if (outcome.success().payloads_size() > 0) result = &outcome.success().payloads(0);
  // Callers outside the server hear of it as of a run's close.
  nexus::Completion outside;
  outside.close_time_nanos = NowNanos();
  if (!ReportToNexusCallers(callbacks, result, ended, &outside)) {
    RetryStepLater(row_id, t);
    return;
  }
  DropTimerRow(row_id);
}

bool HistoryEngine::ReportToOutsideCaller(const common::Callback& callback, nexus::Completion completion,
                                          const common::Payload* result,
                                          const std::optional<std::pair<NexusEnd, fv1::Failure>>& ended) {
  if (!completion_sender_) return true;
  completion.url = callback.nexus().url();
  for (const auto& [k, v] : callback.nexus().header()) completion.header[k] = v;
  if (ended) {
    completion.state = ended->first == NexusEnd::kCanceled ? "canceled" : "failed";
    completion.failure = ended->second;
  } else {
    completion.state = "succeeded";
    if (result) completion.result = *result;
  }
  auto st = completion_sender_(completion);
  // A caller that refused it for good is not asked again (as Temporal
  // gives up on a non-retryable answer).
  if (!st.ok() && st.error_code() != grpc::StatusCode::UNAVAILABLE)
    spdlog::warn("Nexus completion to {} refused: {}", completion.url, st.error_message());
  return st.ok() || st.error_code() != grpc::StatusCode::UNAVAILABLE;
}

bool HistoryEngine::ReportToNexusCallers(const google::protobuf::RepeatedPtrField<common::Callback>& callbacks,
                                         const common::Payload* result,
                                         const std::optional<std::pair<NexusEnd, fv1::Failure>>& ended,
                                         const nexus::Completion* outside) {
  for (const auto& callback : callbacks) {
    if (callback.nexus().url() != kNexusSystemCallbackUrl) {
      if (callback.has_nexus() && outside && !ReportToOutsideCaller(callback, *outside, result, ended)) return false;
      continue;
    }
    records::NexusCallbackToken token;
    if (!token.ParseFromString(HexDecode(HeaderValue(callback.nexus().header(), kNexusCallbackTokenHeader)))) continue;
    auto st = RecordNexusCallback(token, result, ended, "", {});
    // Not pending: ended already.
    if (!st.ok() && st.error_code() != grpc::StatusCode::NOT_FOUND) return false;
  }
  return true;
}

grpc::Status HistoryEngine::RecordNexusCallback(const records::NexusCallbackToken& token, const common::Payload* result,
                                                const std::optional<std::pair<NexusEnd, fv1::Failure>>& ended,
                                                const std::string& operation_token,
                                                const google::protobuf::RepeatedPtrField<common::Link>& links) {
  ExecutionKey caller{token.namespace_id(), token.workflow_id(), token.run_id()};
  std::lock_guard lock(LockFor(caller.namespace_id, caller.workflow_id));
  auto caller_state = Load(caller);
  const auto* pending = PendingOperation(caller_state, token.scheduled_event_id());
  if (!pending) {
    // As Temporal: a caller reset since has the operation (same scheduled
    // event and request id) in its current run.
    auto current = Current(caller.namespace_id, caller.workflow_id);
    if (current && current->run_id != caller.run_id) {
      auto current_state = Load({caller.namespace_id, caller.workflow_id, current->run_id});
      if (const auto* op = PendingOperation(current_state, token.scheduled_event_id());
          op && op->request_id() == token.request_id()) {
        caller_state = current_state;
        pending = op;
      }
    }
  }
  if (!pending) {
    if (!caller_state) return {grpc::StatusCode::NOT_FOUND, "workflow execution not found"};
    // As Temporal 1.32 answers for an operation that has ended (its
    // state machine is gone), whether or not its caller still runs.
    return {grpc::StatusCode::NOT_FOUND, "stale reference: state machine not found: nexusoperations.Operation:" +
                                             std::to_string(token.scheduled_event_id())};
  }
  if (pending->request_id() != token.request_id()) return {grpc::StatusCode::NOT_FOUND, "operation not found"};
  MutableState ms(*caller_state, env_, NowNanos());
  auto& op = (*ms.s().mutable_nexus_operations())[token.scheduled_event_id()];
  // The completion may overtake the start's answer: Temporal then records
  // the start first, with the completion's token and links.
  if (op.started_event_id() == 0)
    RecordNexusStarted(ms, op, operation_token.empty() ? op.operation_token() : operation_token, links);
  if (ended) RecordNexusEnded(ms, token.scheduled_event_id(), ended->first, ended->second);
  else RecordNexusCompleted(ms, token.scheduled_event_id(), result);
  return Commit(ms);
}

grpc::Status HistoryEngine::CompleteNexusOperation(const NexusCallbackCompletion& c) {
  std::optional<std::pair<NexusEnd, fv1::Failure>> ended;
  if (c.state == "failed") ended.emplace(NexusEnd::kFailed, c.failure);
  else if (c.state == "canceled") ended.emplace(NexusEnd::kCanceled, c.failure);
  return RecordNexusCallback(c.token, c.result ? &*c.result : nullptr, ended, c.operation_token,
                             WorkflowEventLinks({c.links.begin(), c.links.end()}));
}

}  // namespace kairos::history
