// Standalone Nexus operations (Temporal 1.32's *NexusOperationExecution
// RPCs). Each operation is carried by a hidden run under the namespace's
// standalone id (StandaloneNexusNamespaceId), keyed by the operation id: its
// one operation (scheduled event 1) takes the same durable steps as a
// workflow's (start request, retries, timeouts, cancel request, the handler
// run's completion callback), and when it ends the carrier run closes with
// the outcome on its standalone record. The carrier's search attributes are
// the operation's custom ones plus its service and request id, for lists
// (visibility's QueryTarget::kNexusOperations); describe long-polls on the
// carrier's state version.
#include "history_engine.h"
#include "kairos/history/nexus_operations.h"
#include "kairos/errors.h"
#include "kairos/ids.h"
#include "kairos/time_util.h"
#include "kairos/visibility/query_sql.h"

#include <charconv>
#include <optional>

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

namespace kairos::history {
namespace {

namespace ev1 = temporal::api::enums::v1;
namespace nexusv1 = temporal::api::nexus::v1;

constexpr int64_t kOperationEventId = 1;

bool Started(const State& s) {
  if (s.status() != enums::WORKFLOW_EXECUTION_STATUS_RUNNING) return true;
  auto it = s.nexus_operations().find(kOperationEventId);
  return it != s.nexus_operations().end() && it->second.started_event_id() != 0;
}

// The operation: pending in the carrier's state, or kept on its record once closed.
const records::NexusOperationInfo& OperationOf(const State& s) {
  auto it = s.nexus_operations().find(kOperationEventId);
  return it != s.nexus_operations().end() ? it->second : s.standalone_nexus().operation();
}

void FillInfo(const State& s, nexusv1::NexusOperationExecutionInfo* info, int64_t now) {
  const auto& sn = s.standalone_nexus();
  const auto& op = OperationOf(s);
  const bool running = s.status() == enums::WORKFLOW_EXECUTION_STATUS_RUNNING;
  info->set_operation_id(sn.operation_id());
  info->set_run_id(s.run_id());
  info->set_endpoint(op.endpoint());
  info->set_service(op.service());
  info->set_operation(op.operation());
  info->set_status(running ? ev1::NEXUS_OPERATION_EXECUTION_STATUS_RUNNING : sn.status());
  if (running) {
    info->set_state(op.started_event_id() != 0 ? ev1::PENDING_NEXUS_OPERATION_STATE_STARTED
                    : op.attempt() > 0         ? ev1::PENDING_NEXUS_OPERATION_STATE_BACKING_OFF
                                               : ev1::PENDING_NEXUS_OPERATION_STATE_SCHEDULED);
  }
  if (op.schedule_to_close_ms() > 0) *info->mutable_schedule_to_close_timeout() = MsToDuration(op.schedule_to_close_ms());
  if (op.schedule_to_start_ms() > 0) *info->mutable_schedule_to_start_timeout() = MsToDuration(op.schedule_to_start_ms());
  if (op.start_to_close_ms() > 0) *info->mutable_start_to_close_timeout() = MsToDuration(op.start_to_close_ms());
  info->set_attempt(op.attempt() + 1);
  *info->mutable_schedule_time() = NanosToTimestamp(op.scheduled_time_nanos());
  if (op.schedule_to_close_ms() > 0)
    *info->mutable_expiration_time() = NanosToTimestamp(op.scheduled_time_nanos() + op.schedule_to_close_ms() * 1'000'000);
  if (!running) *info->mutable_close_time() = NanosToTimestamp(s.close_time_nanos());
  if (sn.last_attempt_complete_time_nanos() != 0)
    *info->mutable_last_attempt_complete_time() = NanosToTimestamp(sn.last_attempt_complete_time_nanos());
  if (op.has_last_attempt_failure()) *info->mutable_last_attempt_failure() = op.last_attempt_failure();
  const int64_t end = running ? now : s.close_time_nanos();
  *info->mutable_execution_duration() = MsToDuration((end - op.scheduled_time_nanos()) / 1'000'000);
  if (sn.cancel_requested_time_nanos() != 0) {
    auto* c = info->mutable_cancellation_info();
    *c->mutable_requested_time() = NanosToTimestamp(sn.cancel_requested_time_nanos());
    c->set_state(sn.cancel_state());
    c->set_reason(sn.cancel_reason());
    if (sn.cancel_completed_time_nanos() != 0) {
      c->set_attempt(1);
      *c->mutable_last_attempt_complete_time() = NanosToTimestamp(sn.cancel_completed_time_nanos());
    }
  }
  info->set_request_id(op.request_id());
  info->set_operation_token(op.operation_token());
  info->set_state_transition_count(s.db_version());
  if (sn.has_search_attributes()) *info->mutable_search_attributes() = sn.search_attributes();
  *info->mutable_nexus_header() = op.header();
  if (sn.has_user_metadata()) *info->mutable_user_metadata() = sn.user_metadata();
  *info->mutable_links() = sn.links();
  info->set_identity(sn.identity());
}

// The carrier run's search attributes: the operation's custom ones, and its
// service and request id for list queries (visibility's kNexus*Attribute).
std::string CarrierSearchAttributes(const wsv1::StartNexusOperationExecutionRequest& req, const std::string& request_id) {
  temporal::api::common::v1::SearchAttributes sa = req.search_attributes();
  auto keyword = [](const std::string& value) {
    common::Payload p;
    (*p.mutable_metadata())["encoding"] = "json/plain";
    google::protobuf::Value v;
    v.set_string_value(value);
    std::string json;
    (void)google::protobuf::util::MessageToJsonString(v, &json);
    p.set_data(json);
    return p;
  };
  (*sa.mutable_indexed_fields())[visibility::kNexusServiceAttribute] = keyword(req.service());
  (*sa.mutable_indexed_fields())[visibility::kNexusRequestIdAttribute] = keyword(request_id);
  return sa.SerializeAsString();
}

// Describe's long-poll token: the state's version and the run it belongs to.
std::string LongPollToken(const State& s) {
  return "nx1:" + std::to_string(s.db_version()) + ":" + s.run_id() + ":" + s.workflow_id();
}

struct ParsedToken {
  int64_t version = 0;
  std::string run_id, operation_id;
};

std::optional<ParsedToken> ParseLongPollToken(const std::string& token) {
  constexpr std::string_view kPrefix = "nx1:";
  if (token.rfind(kPrefix, 0) != 0) return std::nullopt;
  const size_t version_end = token.find(':', kPrefix.size());
  if (version_end == std::string::npos) return std::nullopt;
  const size_t run_end = token.find(':', version_end + 1);
  if (run_end == std::string::npos) return std::nullopt;
  ParsedToken t;
  const char* first = token.data() + kPrefix.size();
  const char* last = token.data() + version_end;
  if (first == last || std::from_chars(first, last, t.version).ptr != last) return std::nullopt;
  t.run_id = token.substr(version_end + 1, run_end - version_end - 1);
  t.operation_id = token.substr(run_end + 1);
  return t;
}

void FillDescribe(const State& s, const wsv1::DescribeNexusOperationExecutionRequest& req,
                  wsv1::DescribeNexusOperationExecutionResponse* resp) {
  resp->set_run_id(s.run_id());
  FillInfo(s, resp->mutable_info(), NowNanos());
  const auto& op = OperationOf(s);
  if (req.include_input() && op.has_input()) *resp->mutable_input() = op.input();
  const auto& sn = s.standalone_nexus();
  if (req.include_outcome()) {
    if (sn.has_result()) *resp->mutable_result() = sn.result();
    else if (sn.has_failure()) *resp->mutable_failure() = sn.failure();
  }
  resp->set_long_poll_token(LongPollToken(s));
}

grpc::Status AlreadyStarted(const State& s) {
  return errors::NexusOperationAlreadyStarted(
      "nexus operation execution already started: request_id=" + s.start_request_id() + ", run_id=" + s.run_id(),
      s.start_request_id(), s.run_id());
}

}  // namespace

grpc::Status HistoryEngine::ResolveStandaloneNexus(const NamespaceRef& ns, const std::string& id,
                                                   const std::string& run_id, StatePtr* out) {
  if (id.empty()) return errors::InvalidArgument("operation_id is required");
  const std::string carrier_ns = StandaloneNexusNamespaceId(ns.id);
  std::string run = run_id;
  if (run.empty()) {
    auto current = Current(carrier_ns, id);
    if (!current) return errors::NotFound("operation not found for ID: " + id);
    run = current->run_id;
  }
  *out = Load({carrier_ns, id, run});
  if (!*out) return errors::NotFound("operation not found for ID: " + id);
  return grpc::Status::OK;
}

grpc::Status HistoryEngine::StartNexusOperationExecution(const NamespaceRef& ns,
                                                         const wsv1::StartNexusOperationExecutionRequest& req,
                                                         wsv1::StartNexusOperationExecutionResponse* resp) {
  if (req.operation_id().empty()) return errors::InvalidArgument("operation_id is required");
  if (req.endpoint().empty()) return errors::InvalidArgument("endpoint is required");
  if (req.service().empty()) return errors::InvalidArgument("service is required");
  if (req.operation().empty()) return errors::InvalidArgument("operation is required");
  const std::string carrier_ns = StandaloneNexusNamespaceId(ns.id);
  std::lock_guard wf_lock(LockFor(carrier_ns, req.operation_id()));
  if (auto current = Current(carrier_ns, req.operation_id())) {
    auto existing = Load({carrier_ns, req.operation_id(), current->run_id});
    if (existing) {
      // A retried request gets the run it started.
      if (!req.request_id().empty() && existing->start_request_id() == req.request_id()) {
        resp->set_run_id(existing->run_id());
        resp->set_started(true);
        return grpc::Status::OK;
      }
      if (existing->status() == enums::WORKFLOW_EXECUTION_STATUS_RUNNING) {
        if (req.id_conflict_policy() == ev1::NEXUS_OPERATION_ID_CONFLICT_POLICY_USE_EXISTING) {
          resp->set_run_id(existing->run_id());
          resp->set_started(false);
          return grpc::Status::OK;
        }
        return AlreadyStarted(*existing);
      }
      const auto reuse = req.id_reuse_policy();
      if (reuse == ev1::NEXUS_OPERATION_ID_REUSE_POLICY_REJECT_DUPLICATE ||
          (reuse == ev1::NEXUS_OPERATION_ID_REUSE_POLICY_ALLOW_DUPLICATE_FAILED_ONLY &&
           existing->standalone_nexus().status() == ev1::NEXUS_OPERATION_EXECUTION_STATUS_COMPLETED))
        return AlreadyStarted(*existing);
    }
  }
  State s;
  s.set_namespace_id(carrier_ns);
  s.set_namespace_name(ns.name);
  s.set_workflow_id(req.operation_id());
  s.set_run_id(NewUuidV7());
  s.set_first_execution_run_id(s.run_id());
  s.set_status(enums::WORKFLOW_EXECUTION_STATUS_RUNNING);
  s.set_next_event_id(1);
  const int64_t now = NowNanos();
  s.set_start_time_nanos(now);
  s.set_execution_time_nanos(now);
  s.set_start_request_id(req.request_id().empty() ? NewUuid() : req.request_id());
  // Lists show the operation's endpoint as the task queue and its operation
  // as the type; the memo keeps its service.
  s.mutable_start()->mutable_workflow_type()->set_name(req.operation());
  s.mutable_start()->mutable_task_queue()->set_name(req.endpoint());
  auto& service = (*s.mutable_memo()->mutable_fields())["service"];
  service.set_data(req.service());
  auto* sn = s.mutable_standalone_nexus();
  sn->set_operation_id(req.operation_id());
  sn->set_identity(req.identity());
  sn->set_status(ev1::NEXUS_OPERATION_EXECUTION_STATUS_RUNNING);
  if (req.has_search_attributes()) *sn->mutable_search_attributes() = req.search_attributes();
  if (req.has_user_metadata()) *sn->mutable_user_metadata() = req.user_metadata();
  MutableState ms(std::move(s), env_, now);
  temporal::api::command::v1::ScheduleNexusOperationCommandAttributes a;
  a.set_endpoint(req.endpoint());
  a.set_service(req.service());
  a.set_operation(req.operation());
  if (req.has_input()) *a.mutable_input() = req.input();
  *a.mutable_nexus_header() = req.nexus_header();
  if (req.has_schedule_to_close_timeout()) *a.mutable_schedule_to_close_timeout() = req.schedule_to_close_timeout();
  if (req.has_schedule_to_start_timeout()) *a.mutable_schedule_to_start_timeout() = req.schedule_to_start_timeout();
  if (req.has_start_to_close_timeout()) *a.mutable_start_to_close_timeout() = req.start_to_close_timeout();
  if (auto err = ScheduleNexusOperation(ms, a)) {
    if (err->message.find("not found") != std::string::npos) return errors::NotFound(err->message);
    return errors::InvalidArgument(err->message);
  }
  ms.s().set_search_attributes(CarrierSearchAttributes(req, OperationOf(std::as_const(ms).s()).request_id()));
  if (auto st = CommitStates({&ms}, &ms); !st.ok()) return st;
  resp->set_run_id(ms.s().run_id());
  resp->set_started(true);
  return grpc::Status::OK;
}

void HistoryEngine::DescribeNexusOperationExecution(const NamespaceRef& ns,
                                                    const wsv1::DescribeNexusOperationExecutionRequest* req,
                                                    wsv1::DescribeNexusOperationExecutionResponse* resp,
                                                    Deadline deadline, Done done) {
  const bool long_poll = !req->long_poll_token().empty();
  if (long_poll && req->run_id().empty())
    return done(errors::InvalidArgument("run_id is required when long_poll_token is provided"));
  StatePtr state;
  // The state is checked and the waiter registered under the run's lock, so
  // that no change commits between them unseen.
  std::unique_lock wf_lock(LockFor(StandaloneNexusNamespaceId(ns.id), req->operation_id()));
  if (auto st = ResolveStandaloneNexus(ns, req->operation_id(), req->run_id(), &state); !st.ok()) {
    wf_lock.unlock();
    return done(st);
  }
  if (long_poll) {
    auto token = ParseLongPollToken(req->long_poll_token());
    if (!token) {
      wf_lock.unlock();
      return done(errors::InvalidArgument("invalid long poll token"));
    }
    if (token->run_id != state->run_id() || token->operation_id != state->workflow_id()) {
      wf_lock.unlock();
      return done(errors::InvalidArgument("long poll token does not match execution"));
    }
    if (token->version == state->db_version()) {
      // Unchanged: an empty answer at the deadline (the caller polls again).
      if (std::chrono::steady_clock::now() >= deadline) {
        wf_lock.unlock();
        return done(grpc::Status::OK);
      }
      ExecutionKey key{state->namespace_id(), state->workflow_id(), state->run_id()};
      AddWaiter(RunKey(key), deadline, [this, ns, req, resp, deadline, done](bool expired) {
        DescribeNexusOperationExecution(ns, req, resp, expired ? std::chrono::steady_clock::time_point::min() : deadline,
                                        done);
      });
      return;
    }
  }
  wf_lock.unlock();
  FillDescribe(*state, *req, resp);
  done(grpc::Status::OK);
}

void HistoryEngine::PollNexusOperationExecution(const NamespaceRef& ns, const wsv1::PollNexusOperationExecutionRequest* req,
                                                wsv1::PollNexusOperationExecutionResponse* resp, Deadline deadline,
                                                Done done) {
  StatePtr state;
  // Checked and waited on under the run's lock (see Describe).
  std::unique_lock wf_lock(LockFor(StandaloneNexusNamespaceId(ns.id), req->operation_id()));
  if (auto st = ResolveStandaloneNexus(ns, req->operation_id(), req->run_id(), &state); !st.ok()) {
    wf_lock.unlock();
    return done(st);
  }
  const bool closed = state->status() != enums::WORKFLOW_EXECUTION_STATUS_RUNNING;
  const bool reached = closed || (req->wait_stage() == ev1::NEXUS_OPERATION_WAIT_STAGE_STARTED && Started(*state));
  auto answer = [&] {
    resp->set_run_id(state->run_id());
    resp->set_wait_stage(closed ? ev1::NEXUS_OPERATION_WAIT_STAGE_CLOSED
                         : Started(*state) ? ev1::NEXUS_OPERATION_WAIT_STAGE_STARTED
                                           : ev1::NEXUS_OPERATION_WAIT_STAGE_UNSPECIFIED);
    resp->set_operation_token(OperationOf(*state).operation_token());
    const auto& sn = state->standalone_nexus();
    if (closed && sn.has_result()) *resp->mutable_result() = sn.result();
    else if (closed && sn.has_failure()) *resp->mutable_failure() = sn.failure();
  };
  if (reached || std::chrono::steady_clock::now() >= deadline) {
    wf_lock.unlock();
    answer();
    return done(grpc::Status::OK);
  }
  // Waits for the carrier run's next change, then looks again (on this run).
  auto next = std::make_shared<wsv1::PollNexusOperationExecutionRequest>(*req);
  next->set_run_id(state->run_id());
  ExecutionKey key{state->namespace_id(), state->workflow_id(), state->run_id()};
  AddWaiter(RunKey(key), deadline, [this, ns, next, resp, deadline, done](bool expired) {
    PollNexusOperationExecution(ns, next.get(), resp,
                                expired ? std::chrono::steady_clock::time_point::min() : deadline,
                                [next, done](grpc::Status st) { done(st); });
  });
}

grpc::Status HistoryEngine::RequestCancelNexusOperationExecution(
    const NamespaceRef& ns, const wsv1::RequestCancelNexusOperationExecutionRequest& req) {
  std::lock_guard wf_lock(LockFor(StandaloneNexusNamespaceId(ns.id), req.operation_id()));
  StatePtr state;
  if (auto st = ResolveStandaloneNexus(ns, req.operation_id(), req.run_id(), &state); !st.ok()) return st;
  if (state->status() != enums::WORKFLOW_EXECUTION_STATUS_RUNNING)
    return errors::FailedPrecondition("operation already closed");
  if (state->standalone_nexus().cancel_requested_time_nanos() != 0) return grpc::Status::OK;  // Asked already.
  MutableState ms(*state, env_, NowNanos());
  temporal::api::command::v1::RequestCancelNexusOperationCommandAttributes a;
  a.set_scheduled_event_id(kOperationEventId);
  if (auto err = RequestCancelNexusOperation(ms, a)) return errors::FailedPrecondition(err->message);
  auto* sn = ms.s().mutable_standalone_nexus();
  sn->set_cancel_requested_time_nanos(ms.now());
  sn->set_cancel_reason(req.reason());
  sn->set_cancel_state(ev1::NEXUS_OPERATION_CANCELLATION_STATE_SCHEDULED);
  return Commit(ms);
}

grpc::Status HistoryEngine::TerminateNexusOperationExecution(const NamespaceRef& ns,
                                                             const wsv1::TerminateNexusOperationExecutionRequest& req) {
  std::lock_guard wf_lock(LockFor(StandaloneNexusNamespaceId(ns.id), req.operation_id()));
  StatePtr state;
  if (auto st = ResolveStandaloneNexus(ns, req.operation_id(), req.run_id(), &state); !st.ok()) return st;
  const auto& sn = state->standalone_nexus();
  if (state->status() != enums::WORKFLOW_EXECUTION_STATUS_RUNNING) {
    if (sn.status() == ev1::NEXUS_OPERATION_EXECUTION_STATUS_TERMINATED) {
      if (!req.request_id().empty() && sn.terminate_request_id() == req.request_id()) return grpc::Status::OK;
      return errors::FailedPrecondition("already terminated with request ID " + sn.terminate_request_id());
    }
    return errors::FailedPrecondition("operation already closed");
  }
  MutableState ms(*state, env_, NowNanos());
  ms.s().mutable_standalone_nexus()->set_terminate_request_id(req.request_id());
  TerminateStandaloneNexus(ms, req.reason());
  return Commit(ms);
}

grpc::Status HistoryEngine::DeleteNexusOperationExecution(const NamespaceRef& ns,
                                                          const wsv1::DeleteNexusOperationExecutionRequest& req) {
  std::lock_guard wf_lock(LockFor(StandaloneNexusNamespaceId(ns.id), req.operation_id()));
  StatePtr state;
  if (auto st = ResolveStandaloneNexus(ns, req.operation_id(), req.run_id(), &state); !st.ok()) return st;
  if (state->status() == enums::WORKFLOW_EXECUTION_STATUS_RUNNING) {
    MutableState ms(*state, env_, NowNanos());
    TerminateStandaloneNexus(ms, "Delete nexus operation execution");
    if (auto st = Commit(ms); !st.ok()) return st;
    state = Load({state->namespace_id(), state->workflow_id(), state->run_id()});
    if (!state) return grpc::Status::OK;
  }
  return DeleteRunLocked(*state, 0);
}

}  // namespace kairos::history
