// Tests of the caller's side of Nexus operations as state changes: the
// scheduled event and its steps, outcomes that end the operation (and drop
// its timers), retries, cancellation before the start, and the links.
#include <algorithm>

#include <catch2/catch.hpp>

#include "history_state_fixtures.h"
#include "kairos/history/nexus_operations.h"
#include "kairos/history/system_nexus.h"

using namespace kairos::history;
namespace records = kairos::records;
namespace cv1 = temporal::api::command::v1;
namespace fv1 = temporal::api::failure::v1;

namespace {

constexpr int64_t kNow = 1'700'000'000'000'000'000;

struct Env : testing::CountingEnv {
  Env() {
    env.nexus_endpoint_id = [](const std::string& name) { return name == "ep" ? std::string("ep-id") : std::string(); };
  }
};

records::ExecutionState Caller() { return testing::RunningRun("caller", "caller-run"); }

cv1::ScheduleNexusOperationCommandAttributes Command(const std::string& endpoint, int64_t timeout_s = 0) {
  cv1::ScheduleNexusOperationCommandAttributes a;
  a.set_endpoint(endpoint);
  a.set_service("svc");
  a.set_operation("op");
  a.mutable_schedule_to_close_timeout()->set_seconds(timeout_s);
  return a;
}

int CountTimers(const MutableState& ms, records::TimerTask::Kind kind) {
  int n = 0;
  for (const auto& [id, t] : ms.timers()) n += t.kind() == kind;
  return n;
}

int eventsOf(const MutableState& ms, enums::EventType type) {
  int n = 0;
  for (const auto& e : ms.new_events()) n += e.event_type() == type;
  return n;
}

}  // namespace

TEST_CASE("nexus: scheduling writes the event and arms the start and timeout steps") {
  Env env;
  MutableState ms(Caller(), env.env, kNow);
  ms.set_completed_event_id(4);
  REQUIRE_FALSE(ScheduleNexusOperation(ms, Command("ep", 30)).has_value());
  const auto& e = ms.new_events().back();
  REQUIRE(e.event_type() == enums::EVENT_TYPE_NEXUS_OPERATION_SCHEDULED);
  const auto& a = e.nexus_operation_scheduled_event_attributes();
  CHECK(a.endpoint_id() == "ep-id");
  CHECK(a.workflow_task_completed_event_id() == 4);
  CHECK_FALSE(a.request_id().empty());
  CHECK(CountTimers(ms, records::TimerTask::NEXUS_START) == 1);
  CHECK(CountTimers(ms, records::TimerTask::NEXUS_TIMEOUT) == 1);
  const auto& op = ms.s().nexus_operations().at(e.event_id());
  CHECK(op.request_id() == a.request_id());
  CHECK(op.schedule_to_close_ms() == 30'000);

  auto err = ScheduleNexusOperation(ms, Command("missing"));
  REQUIRE(err.has_value());
  CHECK(err->cause == enums::WORKFLOW_TASK_FAILED_CAUSE_BAD_SCHEDULE_NEXUS_OPERATION_ATTRIBUTES);
  CHECK(err->message == "endpoint \"missing\" not found");
}

TEST_CASE("nexus: a handler error fails the operation wrapped as Temporal wraps it; retryable ones back off") {
  Env env;
  MutableState ms(Caller(), env.env, kNow);
  REQUIRE_FALSE(ScheduleNexusOperation(ms, Command("ep", 30)).has_value());
  int64_t id = ms.new_events().back().event_id();

  fv1::Failure retryable;
  retryable.mutable_nexus_handler_failure_info()->set_type("INTERNAL");
  CHECK(NexusHandlerErrorRetryable(retryable));
  fv1::Failure bad;
  bad.set_message("bad input");
  bad.mutable_nexus_handler_failure_info()->set_type("BAD_REQUEST");
  CHECK_FALSE(NexusHandlerErrorRetryable(bad));
  bad.mutable_nexus_handler_failure_info()->set_retry_behavior(enums::NEXUS_HANDLER_ERROR_RETRY_BEHAVIOR_RETRYABLE);
  CHECK(NexusHandlerErrorRetryable(bad));
  bad.mutable_nexus_handler_failure_info()->set_retry_behavior(enums::NEXUS_HANDLER_ERROR_RETRY_BEHAVIOR_UNSPECIFIED);

  auto& op = (*ms.s().mutable_nexus_operations())[id];
  int64_t first_row = op.start_row_id();
  RetryNexusStart(ms, op, retryable);
  CHECK(op.attempt() == 1);
  CHECK(op.start_row_id() != first_row);
  CHECK(op.last_attempt_failure().nexus_handler_failure_info().type() == "INTERNAL");

  RecordNexusEnded(ms, id, NexusEnd::kFailed, bad);
  CHECK(ms.s().nexus_operations().empty());
  const auto& e = *std::find_if(ms.new_events().begin(), ms.new_events().end(), [](const auto& ev) {
    return ev.event_type() == enums::EVENT_TYPE_NEXUS_OPERATION_FAILED;
  });
  REQUIRE(e.event_type() == enums::EVENT_TYPE_NEXUS_OPERATION_FAILED);
  const auto& f = e.nexus_operation_failed_event_attributes().failure();
  CHECK(f.message() == "nexus operation completed unsuccessfully");
  CHECK(f.nexus_operation_execution_failure_info().scheduled_event_id() == id);
  CHECK(f.nexus_operation_execution_failure_info().endpoint() == "ep");
  CHECK(f.cause().message() == "bad input");
  CHECK(ms.HasWorkflowTask());
}

TEST_CASE("nexus: a cancel request is recorded and sent once the operation has started; a second one is refused") {
  Env env;
  MutableState ms(Caller(), env.env, kNow);
  REQUIRE_FALSE(ScheduleNexusOperation(ms, Command("ep")).has_value());
  int64_t id = ms.new_events().back().event_id();
  cv1::RequestCancelNexusOperationCommandAttributes cancel;
  cancel.set_scheduled_event_id(id);
  REQUIRE_FALSE(RequestCancelNexusOperation(ms, cancel).has_value());
  CHECK(ms.new_events().back().event_type() == enums::EVENT_TYPE_NEXUS_OPERATION_CANCEL_REQUESTED);
  CHECK(ms.s().nexus_operations().at(id).cancel_requested_event_id() == ms.new_events().back().event_id());
  // Not started: the request waits for the start.
  CHECK(CountTimers(ms, records::TimerTask::NEXUS_CANCEL) == 0);
  RecordNexusStarted(ms, (*ms.s().mutable_nexus_operations())[id], "token", {});
  CHECK(CountTimers(ms, records::TimerTask::NEXUS_CANCEL) == 1);
  auto again = RequestCancelNexusOperation(ms, cancel);
  REQUIRE(again.has_value());
  CHECK(again->cause == enums::WORKFLOW_TASK_FAILED_CAUSE_BAD_REQUEST_CANCEL_NEXUS_OPERATION_ATTRIBUTES);

  fv1::Failure cause;
  cause.mutable_canceled_failure_info();
  RecordNexusEnded(ms, id, NexusEnd::kCanceled, cause);
  CHECK(ms.s().nexus_operations().empty());
  CHECK(eventsOf(ms, enums::EVENT_TYPE_NEXUS_OPERATION_CANCELED) == 1);
}

TEST_CASE("nexus: links to workflow events go through the Nexus URL form and back") {
  auto url = NexusWorkflowEventLinkUrl("default", "wf/1", "run-1", 5, "NexusOperationScheduled");
  CHECK(url == "temporal:///namespaces/default/workflows/wf%2F1/run-1/history?eventID=5&eventType=NexusOperationScheduled"
               "&referenceType=EventReference");
  auto link = WorkflowEventLinkFromUrl(url);
  REQUIRE(link);
  CHECK(link->workflow_event().workflow_id() == "wf/1");
  CHECK(link->workflow_event().event_ref().event_id() == 5);
  CHECK(link->workflow_event().event_ref().event_type() == enums::EVENT_TYPE_NEXUS_OPERATION_SCHEDULED);
  CHECK_FALSE(WorkflowEventLinkFromUrl("https://example.com/x"));
  CHECK(HexDecode(HexEncode(std::string("\x01\xff", 2))) == std::string("\x01\xff", 2));
}

TEST_CASE("nexus: attempts keep their times; a cancel request's attempts and outcome are kept for describe") {
  Env env;
  MutableState ms(Caller(), env.env, kNow);
  REQUIRE_FALSE(ScheduleNexusOperation(ms, Command("ep", 30)).has_value());
  int64_t id = ms.new_events().back().event_id();
  auto& op = (*ms.s().mutable_nexus_operations())[id];
  fv1::Failure unavailable;
  unavailable.mutable_nexus_handler_failure_info()->set_type("UNAVAILABLE");
  RetryNexusStart(ms, op, unavailable);
  CHECK(op.last_attempt_complete_time_nanos() == kNow);
  CHECK(op.next_attempt_time_nanos() == kNow + 1'000'000'000);
  RetryNexusStart(ms, op, unavailable);
  CHECK(op.next_attempt_time_nanos() == kNow + 2'000'000'000);
  RecordNexusStarted(ms, op, "token", {});
  CHECK(op.next_attempt_time_nanos() == 0);

  cv1::RequestCancelNexusOperationCommandAttributes cancel;
  cancel.set_scheduled_event_id(id);
  REQUIRE_FALSE(RequestCancelNexusOperation(ms, cancel).has_value());
  CHECK(op.cancellation().state() == enums::NEXUS_OPERATION_CANCELLATION_STATE_SCHEDULED);
  CHECK(op.cancellation().requested_time_nanos() == kNow);
  RetryNexusCancel(ms, op, unavailable);
  CHECK(op.cancellation().state() == enums::NEXUS_OPERATION_CANCELLATION_STATE_BACKING_OFF);
  CHECK(op.cancellation().attempt() == 1);
  CHECK(op.cancellation().next_attempt_time_nanos() == kNow + 1'000'000'000);
  CHECK(CountTimers(ms, records::TimerTask::NEXUS_CANCEL) == 1);
  RecordNexusCancelRequestOutcome(ms, op, nullptr);
  CHECK(op.cancellation().state() == enums::NEXUS_OPERATION_CANCELLATION_STATE_SUCCEEDED);
  CHECK(op.cancellation().attempt() == 2);
  CHECK_FALSE(op.cancellation().has_last_attempt_failure());
  CHECK(eventsOf(ms, enums::EVENT_TYPE_NEXUS_OPERATION_CANCEL_REQUEST_COMPLETED) == 1);
}

TEST_CASE("nexus: the __temporal_system endpoint takes WorkflowService.SignalWithStartWorkflowExecution, checked as Temporal checks it") {
  namespace wsv1 = temporal::api::workflowservice::v1;
  Env env;
  auto command = [](const wsv1::SignalWithStartWorkflowExecutionRequest& req) {
    cv1::ScheduleNexusOperationCommandAttributes a;
    a.set_endpoint(kSystemNexusEndpoint);
    a.set_service(kSystemNexusWorkflowService);
    a.set_operation(kSystemNexusSignalWithStart);
    auto* p = a.mutable_input();
    (*p->mutable_metadata())["encoding"] = "binary/protobuf";
    (*p->mutable_metadata())["messageType"] = req.GetDescriptor()->full_name();
    p->set_data(req.SerializeAsString());
    return a;
  };
  wsv1::SignalWithStartWorkflowExecutionRequest req;
  req.set_workflow_id("target");
  req.set_signal_name("go");
  MutableState ms(Caller(), env.env, kNow);
  REQUIRE_FALSE(ScheduleNexusOperation(ms, command(req)).has_value());
  CHECK(ms.new_events().back().nexus_operation_scheduled_event_attributes().endpoint_id().empty());

  auto refused = [&](cv1::ScheduleNexusOperationCommandAttributes a) {
    MutableState other(Caller(), env.env, kNow);
    auto err = ScheduleNexusOperation(other, a);
    REQUIRE(err.has_value());
    CHECK(err->cause == enums::WORKFLOW_TASK_FAILED_CAUSE_BAD_SCHEDULE_NEXUS_OPERATION_ATTRIBUTES);
    return err->message;
  };
  auto a = command(req);
  a.set_service("other");
  CHECK(refused(a) == "service \"other\" not found");
  a = command(req);
  a.set_operation("StartWorkflowExecution");
  CHECK(refused(a) == "operation \"StartWorkflowExecution\" not found");
  a = command(req);
  (*a.mutable_nexus_header())["x"] = "y";
  CHECK(refused(a) == "ScheduleNexusOperationCommandAttributes.NexusHeader must be empty when using __temporal_system endpoint");
  a = command(req);
  a.mutable_input()->set_data("\xff\xff");
  CHECK(refused(a).rfind("failed to decode input payload", 0) == 0);
  auto with_request_id = req;
  with_request_id.set_request_id("mine");
  CHECK(refused(command(with_request_id)) == "RequestID should not be set on the request");
  auto other_ns = req;
  other_ns.set_namespace_("elsewhere");
  CHECK(refused(command(other_ns)).find("does not match namespace in context") != std::string::npos);

  wsv1::SignalWithStartWorkflowExecutionResponse resp;
  resp.set_run_id("run");
  auto p = SystemNexusResult(resp);
  CHECK(p.metadata().at("encoding") == "binary/protobuf");
  CHECK(p.metadata().at("messageType") == "temporal.api.workflowservice.v1.SignalWithStartWorkflowExecutionResponse");
  wsv1::SignalWithStartWorkflowExecutionResponse back;
  REQUIRE(back.ParseFromString(p.data()));
  CHECK(back.run_id() == "run");
}
