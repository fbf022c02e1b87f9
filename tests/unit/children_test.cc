// Tests of the parent's side of child workflows: the initiated event and its
// defaults, the START_CHILD step, events buffered while a workflow task runs
// (a close names the started event once both have ids), and the steps armed
// when a run closes.
#include <catch2/catch.hpp>

#include "history_state_fixtures.h"
#include "kairos/history/children.h"
#include "kairos/time_util.h"

using namespace kairos::history;
namespace records = kairos::records;
namespace cv1 = temporal::api::command::v1;

namespace {

constexpr int64_t kNow = 1'700'000'000'000'000'000;

struct Env : testing::CountingEnv {
  Env() {
    env.namespace_id = [](const std::string& name) { return name == "other" ? std::string("other-id") : std::string(); };
  }
};

records::ExecutionState Parent() { return testing::RunningRun("parent", "parent-run"); }

cv1::StartChildWorkflowExecutionCommandAttributes Command(const std::string& id) {
  cv1::StartChildWorkflowExecutionCommandAttributes a;
  a.set_workflow_id(id);
  a.mutable_workflow_type()->set_name("Child");
  return a;
}

const records::TimerTask* TimerOfKind(const MutableState& ms, records::TimerTask::Kind kind) {
  for (const auto& [id, t] : ms.timers())
    if (t.kind() == kind) return &t;
  return nullptr;
}

}  // namespace

TEST_CASE("children: the initiated event takes Temporal's defaults") {
  Env env;
  MutableState ms(Parent(), env.env, kNow);
  ms.set_completed_event_id(4);
  REQUIRE_FALSE(StartChildWorkflow(ms, Command("child")).has_value());
  REQUIRE(ms.new_events().size() == 1);
  const auto& a = ms.new_events()[0].start_child_workflow_execution_initiated_event_attributes();
  CHECK(a.namespace_() == "default");
  CHECK(a.namespace_id() == "ns-id");
  CHECK(a.task_queue().name() == "queue");
  CHECK(a.task_queue().kind() == enums::TASK_QUEUE_KIND_NORMAL);
  CHECK(a.parent_close_policy() == enums::PARENT_CLOSE_POLICY_TERMINATE);
  CHECK(a.workflow_id_reuse_policy() == enums::WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE);
  CHECK(kairos::DurationToMs(a.workflow_task_timeout()) == kDefaultWorkflowTaskTimeoutMs);
  CHECK(a.workflow_task_completed_event_id() == 4);
  const auto& child = ms.s().children().at(5);
  CHECK(child.create_request_id() == "parent-run:5:0");
  const auto* step = TimerOfKind(ms, records::TimerTask::START_CHILD);
  REQUIRE(step != nullptr);
  CHECK(step->event_id() == 5);
  CHECK(child.timer_row_id() == ms.timers()[0].first);
}

TEST_CASE("children: timeouts are normalised and bad commands refused") {
  Env env;
  MutableState ms(Parent(), env.env, kNow);
  auto a = Command("child");
  *a.mutable_workflow_execution_timeout() = kairos::MsToDuration(5'000);
  *a.mutable_workflow_run_timeout() = kairos::MsToDuration(60'000);
  REQUIRE_FALSE(StartChildWorkflow(ms, a).has_value());
  const auto& ev = ms.new_events()[0].start_child_workflow_execution_initiated_event_attributes();
  CHECK(kairos::DurationToMs(ev.workflow_run_timeout()) == 5'000);
  CHECK(kairos::DurationToMs(ev.workflow_task_timeout()) == 5'000);

  auto bad = StartChildWorkflow(ms, Command(""));
  REQUIRE(bad.has_value());
  CHECK(bad->cause == enums::WORKFLOW_TASK_FAILED_CAUSE_BAD_START_CHILD_EXECUTION_ATTRIBUTES);
  auto cron = Command("c");
  cron.set_cron_schedule("not cron");
  CHECK(StartChildWorkflow(ms, cron).has_value());
}

TEST_CASE("children: a child's events buffered during a workflow task link up when flushed") {
  Env env;
  MutableState first(Parent(), env.env, kNow);
  REQUIRE_FALSE(StartChildWorkflow(first, Command("child")).has_value());
  records::ExecutionState s = first.s();
  // A workflow task is running: what arrives now waits in the buffer.
  s.mutable_workflow_task()->set_attempt(1);
  s.mutable_workflow_task()->set_scheduled_event_id(6);
  s.mutable_workflow_task()->set_started_event_id(7);
  s.set_next_event_id(8);
  MutableState ms(s, env.env, kNow);
  auto& child = (*ms.s().mutable_children())[5];
  RecordChildStarted(ms, child, "child-run");
  CHECK(ms.s().children().at(5).started_event_id() == kBufferedEventId);
  hv1::HistoryEvent close;
  close.set_event_type(enums::EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED);
  temporal::api::common::v1::WorkflowExecution exec;
  exec.set_workflow_id("child");
  exec.set_run_id("child-run");
  REQUIRE(RecordChildClosed(ms, 5, exec, close));
  CHECK(ms.s().children().empty());
  CHECK(ms.new_events().empty());
  ms.AddEvent(enums::EVENT_TYPE_WORKFLOW_TASK_COMPLETED);  // 8
  ms.ClearWorkflowTask();
  REQUIRE(ms.FlushBufferedEvents());
  REQUIRE(ms.new_events().size() == 3);
  CHECK(ms.new_events()[1].event_id() == 9);
  CHECK(ms.new_events()[1].child_workflow_execution_started_event_attributes().initiated_event_id() == 5);
  const auto& done = ms.new_events()[2].child_workflow_execution_completed_event_attributes();
  CHECK(done.initiated_event_id() == 5);
  CHECK(done.started_event_id() == 9);
}

TEST_CASE("children: a closing run arms its report to the parent and its parent close policy") {
  Env env;
  auto s = Parent();
  s.mutable_start()->mutable_parent_workflow_execution()->set_workflow_id("grandparent");
  records::ChildInfo abandoned;
  abandoned.set_parent_close_policy(enums::PARENT_CLOSE_POLICY_ABANDON);
  (*s.mutable_children())[3] = abandoned;
  {
    MutableState ms(s, env.env, kNow);
    ms.Close(enums::WORKFLOW_EXECUTION_STATUS_COMPLETED, 9);
    ArmCloseSteps(ms);
    REQUIRE(TimerOfKind(ms, records::TimerTask::REPORT_TO_PARENT) != nullptr);
    CHECK(TimerOfKind(ms, records::TimerTask::REPORT_TO_PARENT)->event_id() == 9);
    CHECK(TimerOfKind(ms, records::TimerTask::PARENT_CLOSE_POLICY) == nullptr);  // Only abandoned children.
  }
  records::ChildInfo terminated;
  terminated.set_parent_close_policy(enums::PARENT_CLOSE_POLICY_TERMINATE);
  (*s.mutable_children())[4] = terminated;
  {
    MutableState ms(s, env.env, kNow);
    ms.next_run() = NextRun{"next", {}, 0};  // Retried: the next run reports.
    ms.Close(enums::WORKFLOW_EXECUTION_STATUS_FAILED, 9);
    ArmCloseSteps(ms);
    CHECK(TimerOfKind(ms, records::TimerTask::REPORT_TO_PARENT) == nullptr);
    CHECK(TimerOfKind(ms, records::TimerTask::PARENT_CLOSE_POLICY) != nullptr);
  }
}
