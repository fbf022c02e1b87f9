// Rebuilding a run's state from a prefix of its history (reset): what is
// pending at the reset point is pending again, what finished stays finished.
#include <catch2/catch.hpp>

#include "kairos/history/state_rebuild.h"
#include "kairos/time_util.h"

namespace hv1 = temporal::api::history::v1;
namespace enums = temporal::api::enums::v1;

namespace {

class History {
 public:
  hv1::HistoryEvent& Add(enums::EventType type) {
    auto& e = events_.emplace_back();
    e.set_event_id(static_cast<int64_t>(events_.size()));
    e.set_event_type(type);
    *e.mutable_event_time() = kairos::NanosToTimestamp(1'000'000'000LL * static_cast<int64_t>(events_.size()));
    return e;
  }
  const std::vector<hv1::HistoryEvent>& events() const { return events_; }
  // The first n events: the history up to a reset point.
  std::vector<hv1::HistoryEvent> Prefix(size_t n) const { return {events_.begin(), events_.begin() + n}; }

 private:
  std::vector<hv1::HistoryEvent> events_;
};

kairos::records::ExecutionState Fresh() {
  kairos::records::ExecutionState s;
  s.set_namespace_id("ns");
  s.set_workflow_id("wf");
  s.set_run_id("new-run");
  s.set_status(enums::WORKFLOW_EXECUTION_STATUS_RUNNING);
  s.set_next_event_id(1);
  return s;
}

// Started, then a completed workflow task that scheduled an activity and a
// timer; the activity completes and the timer fires in the next task.
History Typical() {
  History h;
  auto& started = h.Add(enums::EVENT_TYPE_WORKFLOW_EXECUTION_STARTED);
  started.mutable_workflow_execution_started_event_attributes()->mutable_task_queue()->set_name("q");
  h.Add(enums::EVENT_TYPE_WORKFLOW_TASK_SCHEDULED).mutable_workflow_task_scheduled_event_attributes()->set_attempt(1);
  h.Add(enums::EVENT_TYPE_WORKFLOW_TASK_STARTED);                                        // 3
  h.Add(enums::EVENT_TYPE_WORKFLOW_TASK_COMPLETED)
      .mutable_workflow_task_completed_event_attributes()->set_started_event_id(3);      // 4
  auto& act = h.Add(enums::EVENT_TYPE_ACTIVITY_TASK_SCHEDULED);                          // 5
  act.mutable_activity_task_scheduled_event_attributes()->set_activity_id("a1");
  auto& timer = h.Add(enums::EVENT_TYPE_TIMER_STARTED);                                  // 6
  timer.mutable_timer_started_event_attributes()->set_timer_id("t1");
  *timer.mutable_timer_started_event_attributes()->mutable_start_to_fire_timeout() = kairos::MsToDuration(60'000);
  h.Add(enums::EVENT_TYPE_ACTIVITY_TASK_STARTED);                                        // 7
  h.Add(enums::EVENT_TYPE_ACTIVITY_TASK_COMPLETED)
      .mutable_activity_task_completed_event_attributes()->set_scheduled_event_id(5);   // 8
  h.Add(enums::EVENT_TYPE_WORKFLOW_TASK_SCHEDULED);                                      // 9
  h.Add(enums::EVENT_TYPE_WORKFLOW_TASK_STARTED);                                        // 10
  h.Add(enums::EVENT_TYPE_WORKFLOW_TASK_COMPLETED)
      .mutable_workflow_task_completed_event_attributes()->set_started_event_id(10);    // 11
  return h;
}

}  // namespace

TEST_CASE("Rebuild: reset to the first workflow task leaves only that task pending", "[reset]") {
  auto h = Typical();
  auto s = Fresh();
  REQUIRE(kairos::history::RebuildState(h.Prefix(3), &s).empty());
  CHECK(s.next_event_id() == 4);
  CHECK(s.workflow_task().scheduled_event_id() == 2);
  CHECK(s.workflow_task().started_event_id() == 3);
  CHECK(s.activities().empty());
  CHECK(s.timers().empty());
  CHECK(s.start().task_queue().name() == "q");
  CHECK(s.start_time_nanos() == 1'000'000'000);
}

TEST_CASE("Rebuild: what was pending at the reset point is pending again", "[reset]") {
  auto h = Typical();
  auto s = Fresh();
  // Up to the started event of the second task: activity done, timer pending.
  REQUIRE(kairos::history::RebuildState(h.Prefix(10), &s).empty());
  CHECK(s.activities().empty());
  REQUIRE(s.timers().contains("t1"));
  CHECK(s.timers().at("t1").started_event_id() == 6);
  CHECK(s.timers().at("t1").fire_time_nanos() == 6'000'000'000LL + 60'000'000'000LL);
  CHECK(s.last_completed_wft_started_event_id() == 3);
  CHECK(s.workflow_task().started_event_id() == 10);

  // Before the activity completed, it is pending (not started: Kairos
  // writes its started event only as it closes).
  auto early = Fresh();
  REQUIRE(kairos::history::RebuildState(h.Prefix(6), &early).empty());
  REQUIRE(early.activities().contains(5));
  CHECK(early.activities().at(5).activity_id() == "a1");
  CHECK_FALSE(early.activities().at(5).started());
}

TEST_CASE("Rebuild: children and requests to other workflows without an outcome stay pending", "[reset]") {
  History h = Typical();  // 11 events; the next task's commands follow.
  auto& child = h.Add(enums::EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED);  // 12
  auto* ca = child.mutable_start_child_workflow_execution_initiated_event_attributes();
  ca->set_workflow_id("kid");
  ca->set_namespace_id("ns");
  auto& sig = h.Add(enums::EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED);  // 13
  auto* sa = sig.mutable_signal_external_workflow_execution_initiated_event_attributes();
  sa->mutable_workflow_execution()->set_workflow_id("other");
  sa->set_signal_name("poke");
  sa->set_child_workflow_only(true);
  auto& cancel = h.Add(enums::EVENT_TYPE_REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED);  // 14
  auto* xa = cancel.mutable_request_cancel_external_workflow_execution_initiated_event_attributes();
  xa->mutable_workflow_execution()->set_workflow_id("third");
  xa->set_reason("stop");
  auto& done = h.Add(enums::EVENT_TYPE_EXTERNAL_WORKFLOW_EXECUTION_CANCEL_REQUESTED);  // 15
  done.mutable_external_workflow_execution_cancel_requested_event_attributes()->set_initiated_event_id(14);

  auto s = Fresh();
  REQUIRE(kairos::history::RebuildState(h.events(), &s).empty());
  REQUIRE(s.children().contains(12));
  CHECK(s.children().at(12).workflow_id() == "kid");
  CHECK(s.children().at(12).namespace_id() == "ns");
  CHECK(s.children().at(12).started_event_id() == 0);
  // Started again by the rebuilt run, under a request id of its own.
  CHECK(s.children().at(12).create_request_id() == "new-run:12:0");
  REQUIRE(s.external_requests().size() == 1);  // The cancellation had its outcome.
  const auto& r = s.external_requests().at(13);
  CHECK(r.kind() == kairos::records::ExternalRequest::SIGNAL);
  CHECK(r.execution().workflow_id() == "other");
  CHECK(r.signal_name() == "poke");
  CHECK(r.child_workflow_only());
}

TEST_CASE("Rebuild: a gap or a close event is refused", "[reset]") {
  auto h = Typical();
  auto events = h.Prefix(5);
  events.erase(events.begin() + 2);
  auto s = Fresh();
  CHECK_FALSE(kairos::history::RebuildState(events, &s).empty());

  History closed = Typical();
  closed.Add(enums::EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED);
  auto c = Fresh();
  CHECK_FALSE(kairos::history::RebuildState(closed.events(), &c).empty());
}

TEST_CASE("Reset points: one per build, the newest 20 kept", "[reset]") {
  auto s = Fresh();
  kairos::history::RecordResetPoint(&s, "", "", 4, 1);  // No build named: one point too.
  kairos::history::RecordResetPoint(&s, "", "", 8, 1);
  kairos::history::RecordResetPoint(&s, "", "build-a", 12, 1);
  kairos::history::RecordResetPoint(&s, "", "build-a", 16, 2);
  REQUIRE(s.auto_reset_points().points_size() == 2);
  CHECK(s.auto_reset_points().points(0).first_workflow_task_completed_id() == 4);
  CHECK(s.auto_reset_points().points(1).first_workflow_task_completed_id() == 12);
  CHECK(s.auto_reset_points().points(0).run_id() == "new-run");
  for (int i = 0; i < 30; ++i) kairos::history::RecordResetPoint(&s, "", "b" + std::to_string(i), 10 + i, 3);
  CHECK(s.auto_reset_points().points_size() == 20);
  CHECK(s.auto_reset_points().points(19).build_id() == "b29");
}

TEST_CASE("Rebuild: Nexus operations without an outcome stay pending, started or not, with their cancel request", "[reset]") {
  History h = Typical();
  auto& first = h.Add(enums::EVENT_TYPE_NEXUS_OPERATION_SCHEDULED);  // 12
  auto* a = first.mutable_nexus_operation_scheduled_event_attributes();
  a->set_endpoint("ep");
  a->set_request_id("req-1");
  *a->mutable_schedule_to_close_timeout() = kairos::MsToDuration(30'000);
  h.Add(enums::EVENT_TYPE_NEXUS_OPERATION_SCHEDULED)                  // 13
      .mutable_nexus_operation_scheduled_event_attributes()->set_request_id("req-2");
  h.Add(enums::EVENT_TYPE_NEXUS_OPERATION_SCHEDULED);                 // 14
  auto& started = h.Add(enums::EVENT_TYPE_NEXUS_OPERATION_STARTED);   // 15
  started.mutable_nexus_operation_started_event_attributes()->set_scheduled_event_id(12);
  started.mutable_nexus_operation_started_event_attributes()->set_operation_token("tok");
  h.Add(enums::EVENT_TYPE_NEXUS_OPERATION_CANCEL_REQUESTED)           // 16
      .mutable_nexus_operation_cancel_requested_event_attributes()->set_scheduled_event_id(12);
  h.Add(enums::EVENT_TYPE_NEXUS_OPERATION_CANCEL_REQUESTED)           // 17
      .mutable_nexus_operation_cancel_requested_event_attributes()->set_scheduled_event_id(13);
  h.Add(enums::EVENT_TYPE_NEXUS_OPERATION_COMPLETED)                  // 18
      .mutable_nexus_operation_completed_event_attributes()->set_scheduled_event_id(14);

  auto s = Fresh();
  REQUIRE(kairos::history::RebuildState(h.events(), &s).empty());
  REQUIRE(s.nexus_operations().size() == 2);
  const auto& op = s.nexus_operations().at(12);
  CHECK(op.endpoint() == "ep");
  CHECK(op.request_id() == "req-1");
  CHECK(op.schedule_to_close_ms() == 30'000);
  CHECK(op.scheduled_time_nanos() == 12'000'000'000LL);
  CHECK(op.operation_token() == "tok");
  CHECK(op.started_event_id() == 15);
  CHECK(op.cancel_requested_event_id() == 16);
  CHECK(op.cancellation().state() == enums::NEXUS_OPERATION_CANCELLATION_STATE_SCHEDULED);
  // Not started: its cancel request waits for the start.
  const auto& waiting = s.nexus_operations().at(13);
  CHECK(waiting.started_event_id() == 0);
  CHECK(waiting.cancel_requested_event_id() == 17);
  CHECK(waiting.cancellation().state() == enums::NEXUS_OPERATION_CANCELLATION_STATE_UNSPECIFIED);
}
