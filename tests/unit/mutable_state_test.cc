// Tests of MutableState: event ids, buffering while a workflow task runs,
// workflow task scheduling (normal, transient, sticky), and the bookkeeping
// of task-queue rows and timers created or removed by one change.
#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

#include "kairos/history/mutable_state.h"
#include "kairos/time_util.h"

using namespace kairos::history;
namespace records = kairos::records;

namespace {

constexpr int64_t kNow = 1'700'000'000'123'000'000;  // Nanoseconds.

// An Environment whose ids come from a counter and whose sticky queues are
// alive as the test says; it records what sticky_alive was asked.
struct TestEnv {
  int64_t counter = 1000;
  bool alive = false;
  std::vector<std::pair<std::string, std::string>> asked;
  Environment env;

  TestEnv() {
    env.next_id = [this] { return ++counter; };
    env.sticky_alive = [this](const std::string& ns, const std::string& queue) {
      asked.emplace_back(ns, queue);
      return alive;
    };
  }
  TestEnv(const TestEnv&) = delete;
  TestEnv& operator=(const TestEnv&) = delete;
};

records::ExecutionState Running(int64_t next_event_id = 1) {
  records::ExecutionState s;
  s.set_namespace_id("ns-id");
  s.set_workflow_id("wf");
  s.set_run_id("run");
  s.set_status(enums::WORKFLOW_EXECUTION_STATUS_RUNNING);
  s.set_next_event_id(next_event_id);
  s.mutable_start()->mutable_task_queue()->set_name("main-queue");
  return s;
}

std::vector<int64_t> EventIds(const MutableState& ms) {
  std::vector<int64_t> ids;
  for (const auto& e : ms.new_events()) ids.push_back(e.event_id());
  return ids;
}

// Puts the run in the state "workflow task started".
void StartWorkflowTask(MutableState& ms, int64_t scheduled, int64_t started) {
  auto* wft = ms.s().mutable_workflow_task();
  wft->set_attempt(1);
  wft->set_scheduled_event_id(scheduled);
  wft->set_started_event_id(started);
}

}  // namespace

TEST_CASE("MutableState: events get consecutive ids from next_event_id", "[mutable_state]") {
  TestEnv te;
  MutableState ms(Running(5), te.env, kNow);
  auto& a = ms.AddEvent(enums::EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED);
  CHECK(a.event_id() == 5);
  ms.AddEvent(enums::EVENT_TYPE_TIMER_STARTED);
  ms.AddEvent(enums::EVENT_TYPE_TIMER_FIRED);
  CHECK(EventIds(ms) == std::vector<int64_t>{5, 6, 7});
  CHECK(ms.s().next_event_id() == 8);

  const auto& events = ms.new_events();
  CHECK(events[0].event_type() == enums::EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED);
  CHECK(events[2].event_type() == enums::EVENT_TYPE_TIMER_FIRED);
  CHECK(kairos::TimestampToNanos(events[0].event_time()) == kNow);
  // Task ids come from the environment, increasing.
  CHECK(events[0].task_id() > 0);
  CHECK(events[0].task_id() < events[1].task_id());
  CHECK(events[1].task_id() < events[2].task_id());
}

TEST_CASE("MutableState: AddEvent's reference stays valid while more events are added", "[mutable_state]") {
  TestEnv te;
  MutableState ms(Running(1), te.env, kNow);
  auto& first = ms.AddEvent(enums::EVENT_TYPE_WORKFLOW_EXECUTION_STARTED);
  for (int i = 0; i < 100; ++i) ms.AddEvent(enums::EVENT_TYPE_MARKER_RECORDED);
  first.mutable_workflow_execution_started_event_attributes()->set_attempt(3);
  CHECK(ms.new_events().front().workflow_execution_started_event_attributes().attempt() == 3);
  CHECK(ms.s().next_event_id() == 102);
}

TEST_CASE("MutableState: events are appended while no workflow task is started", "[mutable_state]") {
  TestEnv te;
  MutableState ms(Running(10), te.env, kNow);
  // Scheduled but not started: still appended.
  ms.s().mutable_workflow_task()->set_attempt(1);
  ms.s().mutable_workflow_task()->set_scheduled_event_id(9);
  auto& e = ms.AddOrBufferEvent(enums::EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED);
  CHECK(e.event_id() == 10);
  CHECK(ms.s().buffered_events().empty());
  CHECK(ms.new_events().size() == 1);
  CHECK_FALSE(ms.FlushBufferedEvents());
}

TEST_CASE("MutableState: events are buffered while a workflow task is started, then flushed", "[mutable_state]") {
  TestEnv te;
  MutableState ms(Running(5), te.env, kNow);
  StartWorkflowTask(ms, 3, 4);
  REQUIRE(ms.WorkflowTaskStarted());

  auto& sig = ms.AddOrBufferEvent(enums::EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED);
  CHECK(sig.event_id() == kBufferedEventId);
  sig.mutable_workflow_execution_signaled_event_attributes()->set_signal_name("first");
  ms.AddOrBufferEvent(enums::EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED)
      .mutable_workflow_execution_signaled_event_attributes()
      ->set_signal_name("second");
  CHECK(ms.new_events().empty());
  CHECK(ms.s().buffered_events_size() == 2);
  CHECK(ms.s().next_event_id() == 5);  // No id consumed yet.

  // The workflow task completes; its completed event comes first.
  ms.AddEvent(enums::EVENT_TYPE_WORKFLOW_TASK_COMPLETED);
  CHECK(ms.FlushBufferedEvents());
  CHECK(EventIds(ms) == std::vector<int64_t>{5, 6, 7});
  CHECK(ms.s().next_event_id() == 8);
  CHECK(ms.s().buffered_events().empty());
  const auto& events = ms.new_events();
  CHECK(events[1].workflow_execution_signaled_event_attributes().signal_name() == "first");
  CHECK(events[2].workflow_execution_signaled_event_attributes().signal_name() == "second");
  CHECK_FALSE(ms.FlushBufferedEvents());
  CHECK(ms.new_events().size() == 3);
}

TEST_CASE("MutableState: flushing fixes the started_event_id of buffered activity results", "[mutable_state]") {
  TestEnv te;
  MutableState ms(Running(20), te.env, kNow);
  StartWorkflowTask(ms, 18, 19);

  // Activities scheduled at 7 and 9 start and finish while the task runs.
  auto buffer_started = [&](int64_t scheduled) {
    auto& e = ms.AddOrBufferEvent(enums::EVENT_TYPE_ACTIVITY_TASK_STARTED);
    e.mutable_activity_task_started_event_attributes()->set_scheduled_event_id(scheduled);
  };
  buffer_started(7);
  buffer_started(9);
  {
    auto& e = ms.AddOrBufferEvent(enums::EVENT_TYPE_ACTIVITY_TASK_COMPLETED);
    e.mutable_activity_task_completed_event_attributes()->set_scheduled_event_id(9);
    e.mutable_activity_task_completed_event_attributes()->set_started_event_id(kBufferedEventId);
  }
  {
    auto& e = ms.AddOrBufferEvent(enums::EVENT_TYPE_ACTIVITY_TASK_FAILED);
    e.mutable_activity_task_failed_event_attributes()->set_scheduled_event_id(7);
    e.mutable_activity_task_failed_event_attributes()->set_started_event_id(kBufferedEventId);
  }
  {
    // Started before the workflow task (event 12, already in history).
    auto& e = ms.AddOrBufferEvent(enums::EVENT_TYPE_ACTIVITY_TASK_COMPLETED);
    e.mutable_activity_task_completed_event_attributes()->set_scheduled_event_id(11);
    e.mutable_activity_task_completed_event_attributes()->set_started_event_id(12);
  }
  ms.AddEvent(enums::EVENT_TYPE_WORKFLOW_TASK_COMPLETED);  // 20
  REQUIRE(ms.FlushBufferedEvents());
  REQUIRE(EventIds(ms) == std::vector<int64_t>{20, 21, 22, 23, 24, 25});
  const auto& ev = ms.new_events();
  CHECK(ev[1].event_type() == enums::EVENT_TYPE_ACTIVITY_TASK_STARTED);   // 21: started of 7
  CHECK(ev[2].event_type() == enums::EVENT_TYPE_ACTIVITY_TASK_STARTED);   // 22: started of 9
  CHECK(ev[3].event_type() == enums::EVENT_TYPE_ACTIVITY_TASK_COMPLETED);  // 23
  CHECK(ev[3].activity_task_completed_event_attributes().started_event_id() == 22);
  CHECK(ev[4].event_type() == enums::EVENT_TYPE_ACTIVITY_TASK_FAILED);  // 24
  CHECK(ev[4].activity_task_failed_event_attributes().started_event_id() == 21);
  CHECK(ev[5].activity_task_completed_event_attributes().started_event_id() == 12);  // Untouched.
}

TEST_CASE("MutableState: ScheduleWorkflowTask writes WorkflowTaskScheduled and a queue task", "[mutable_state]") {
  TestEnv te;
  MutableState ms(Running(3), te.env, kNow);
  ms.ScheduleWorkflowTask();
  REQUIRE(ms.new_events().size() == 1);
  const auto& e = ms.new_events()[0];
  CHECK(e.event_id() == 3);
  CHECK(e.event_type() == enums::EVENT_TYPE_WORKFLOW_TASK_SCHEDULED);
  const auto& a = e.workflow_task_scheduled_event_attributes();
  CHECK(a.attempt() == 1);
  CHECK(a.task_queue().name() == "main-queue");
  CHECK(a.task_queue().kind() == enums::TASK_QUEUE_KIND_NORMAL);
  CHECK(kairos::DurationToMs(a.start_to_close_timeout()) == kDefaultWorkflowTaskTimeoutMs);

  const auto& wft = ms.s().workflow_task();
  CHECK(ms.HasWorkflowTask());
  CHECK_FALSE(ms.WorkflowTaskStarted());
  CHECK(wft.attempt() == 1);
  CHECK(wft.scheduled_event_id() == 3);
  CHECK(wft.task_queue() == "main-queue");
  CHECK_FALSE(wft.sticky());
  CHECK_FALSE(wft.transient());
  CHECK(wft.scheduled_time_nanos() == kNow);

  REQUIRE(ms.tasks().size() == 1);
  const auto& [task_id, task] = ms.tasks()[0];
  CHECK(wft.task_id() == task_id);
  CHECK(task.kind() == records::QueueTask::WORKFLOW);
  CHECK(task.namespace_id() == "ns-id");
  CHECK(task.task_queue() == "main-queue");
  CHECK(task.workflow_id() == "wf");
  CHECK(task.run_id() == "run");
  CHECK(task.scheduled_event_id() == 3);
  CHECK(task.attempt() == 1);
  CHECK(task.created_time_nanos() == kNow);
  CHECK(ms.timers().empty());

  // One pending workflow task at a time.
  ms.ScheduleWorkflowTask();
  CHECK(ms.new_events().size() == 1);
  CHECK(ms.tasks().size() == 1);
}

TEST_CASE("MutableState: a second attempt is transient", "[mutable_state]") {
  TestEnv te;
  MutableState ms(Running(8), te.env, kNow);
  ms.ScheduleWorkflowTask(2);
  CHECK(ms.new_events().empty());
  CHECK(ms.s().next_event_id() == 8);
  const auto& wft = ms.s().workflow_task();
  CHECK(ms.HasWorkflowTask());
  CHECK(wft.attempt() == 2);
  CHECK(wft.transient());
  REQUIRE(ms.tasks().size() == 1);
  CHECK(ms.tasks()[0].second.attempt() == 2);
  CHECK(ms.tasks()[0].second.task_queue() == "main-queue");
  CHECK(wft.task_id() == ms.tasks()[0].first);
}

TEST_CASE("MutableState: no workflow task for a closed run", "[mutable_state]") {
  TestEnv te;
  auto state = Running(8);
  state.set_status(enums::WORKFLOW_EXECUTION_STATUS_COMPLETED);
  MutableState ms(std::move(state), te.env, kNow);
  ms.ScheduleWorkflowTask();
  CHECK_FALSE(ms.HasWorkflowTask());
  CHECK(ms.new_events().empty());
  CHECK(ms.tasks().empty());
}

TEST_CASE("MutableState: the sticky queue is used only when its worker is alive", "[mutable_state]") {
  TestEnv te;
  auto state = Running(4);
  state.set_sticky_task_queue("sticky-q");

  SECTION("dead sticky worker: the normal queue, no timer") {
    te.alive = false;
    MutableState ms(state, te.env, kNow);
    ms.ScheduleWorkflowTask();
    CHECK(te.asked == std::vector<std::pair<std::string, std::string>>{{"ns-id", "sticky-q"}});
    CHECK(ms.s().workflow_task().task_queue() == "main-queue");
    CHECK_FALSE(ms.s().workflow_task().sticky());
    REQUIRE(ms.tasks().size() == 1);
    CHECK(ms.tasks()[0].second.task_queue() == "main-queue");
    CHECK(ms.new_events()[0].workflow_task_scheduled_event_attributes().task_queue().kind() ==
          enums::TASK_QUEUE_KIND_NORMAL);
    CHECK(ms.timers().empty());
    CHECK(ms.s().workflow_task().timer_row_id() == 0);
  }
  SECTION("live sticky worker: the sticky queue and a schedule-to-start timer") {
    te.alive = true;
    MutableState ms(state, te.env, kNow);
    ms.ScheduleWorkflowTask();
    const auto& wft = ms.s().workflow_task();
    CHECK(wft.task_queue() == "sticky-q");
    CHECK(wft.sticky());
    const auto& tq = ms.new_events()[0].workflow_task_scheduled_event_attributes().task_queue();
    CHECK(tq.name() == "sticky-q");
    CHECK(tq.kind() == enums::TASK_QUEUE_KIND_STICKY);
    CHECK(tq.normal_name() == "main-queue");
    REQUIRE(ms.tasks().size() == 1);
    CHECK(ms.tasks()[0].second.task_queue() == "sticky-q");

    REQUIRE(ms.timers().size() == 1);
    const auto& [timer_id, timer] = ms.timers()[0];
    CHECK(wft.timer_row_id() == timer_id);
    CHECK(timer_id != wft.task_id());
    CHECK(timer.kind() == records::TimerTask::WORKFLOW_TASK_SCHEDULE_TO_START);
    CHECK(timer.fire_time_nanos() == kNow + kDefaultStickyScheduleToStartMs * 1'000'000);
    CHECK(timer.namespace_id() == "ns-id");
    CHECK(timer.workflow_id() == "wf");
    CHECK(timer.run_id() == "run");
    CHECK(timer.attempt() == 1);
  }
  SECTION("the sticky schedule-to-start timeout comes from the state") {
    te.alive = true;
    *state.mutable_sticky_schedule_to_start_timeout() = kairos::MsToDuration(2500);
    MutableState ms(state, te.env, kNow);
    ms.ScheduleWorkflowTask();
    REQUIRE(ms.timers().size() == 1);
    CHECK(ms.timers()[0].second.fire_time_nanos() == kNow + 2'500'000'000);
  }
  SECTION("allow_sticky = false ignores a live sticky worker") {
    te.alive = true;
    MutableState ms(state, te.env, kNow);
    ms.ScheduleWorkflowTask(1, /*allow_sticky=*/false);
    CHECK(ms.s().workflow_task().task_queue() == "main-queue");
    CHECK_FALSE(ms.s().workflow_task().sticky());
    CHECK(ms.timers().empty());
  }
  SECTION("no sticky queue: sticky_alive is not consulted") {
    te.alive = true;
    state.clear_sticky_task_queue();
    MutableState ms(state, te.env, kNow);
    ms.ScheduleWorkflowTask();
    CHECK(te.asked.empty());
    CHECK(ms.s().workflow_task().task_queue() == "main-queue");
  }
}

TEST_CASE("MutableState: workflow task timeout defaults and cap", "[mutable_state]") {
  TestEnv te;
  auto state = Running();
  MutableState dflt(state, te.env, kNow);
  CHECK(dflt.WorkflowTaskTimeoutMs() == kDefaultWorkflowTaskTimeoutMs);

  *state.mutable_start()->mutable_workflow_task_timeout() = kairos::MsToDuration(3000);
  MutableState custom(state, te.env, kNow);
  CHECK(custom.WorkflowTaskTimeoutMs() == 3000);

  *state.mutable_start()->mutable_workflow_task_timeout() = kairos::MsToDuration(600'000);
  MutableState capped(state, te.env, kNow);
  CHECK(capped.WorkflowTaskTimeoutMs() == kMaxWorkflowTaskTimeoutMs);
  capped.ScheduleWorkflowTask();
  CHECK(kairos::DurationToMs(capped.s().workflow_task().start_to_close_timeout()) == kMaxWorkflowTaskTimeoutMs);
}

TEST_CASE("MutableState: deleting a row created by the same change forgets it", "[mutable_state]") {
  TestEnv te;
  MutableState ms(Running(), te.env, kNow);

  records::QueueTask qt;
  qt.set_task_queue("q");
  int64_t t1 = ms.AddQueueTask(qt);
  int64_t t2 = ms.AddQueueTask(qt);
  CHECK(t1 != t2);
  ms.DeleteQueueTask(t1);
  REQUIRE(ms.tasks().size() == 1);
  CHECK(ms.tasks()[0].first == t2);
  CHECK(ms.task_deletes().empty());
  ms.DeleteQueueTask(555);  // A row of an earlier change: deleted in the store.
  CHECK(ms.task_deletes() == std::vector<int64_t>{555});
  ms.DeleteQueueTask(0);  // No row.
  CHECK(ms.task_deletes().size() == 1);

  records::TimerTask timer;
  timer.set_fire_time_nanos(kNow + 1);
  int64_t r1 = ms.AddTimer(timer);
  int64_t r2 = ms.AddTimer(timer);
  CHECK(r1 != r2);
  ms.DeleteTimer(r2);
  REQUIRE(ms.timers().size() == 1);
  CHECK(ms.timers()[0].first == r1);
  CHECK(ms.timer_deletes().empty());
  ms.DeleteTimer(777);
  ms.DeleteTimer(0);
  CHECK(ms.timer_deletes() == std::vector<int64_t>{777});
  // Ids of tasks and timers share one sequence.
  CHECK(r1 != t1);
  CHECK(r1 != t2);
}

TEST_CASE("MutableState: clearing a sticky workflow task scheduled in the same change", "[mutable_state]") {
  TestEnv te;
  te.alive = true;
  auto state = Running();
  state.set_sticky_task_queue("sticky-q");
  MutableState ms(state, te.env, kNow);
  ms.ScheduleWorkflowTask();
  REQUIRE(ms.timers().size() == 1);
  ms.ClearWorkflowTask();
  CHECK(ms.timers().empty());
  CHECK(ms.timer_deletes().empty());
  CHECK_FALSE(ms.HasWorkflowTask());
}

TEST_CASE("MutableState: Close removes the run's timers", "[mutable_state]") {
  TestEnv te;
  auto state = Running(10);
  records::TimerInfo user_timer;
  user_timer.set_timer_id("t");
  user_timer.set_timer_row_id(41);
  (*state.mutable_timers())["t"] = user_timer;
  records::ActivityInfo activity;
  activity.add_timer_row_ids(42);
  (*state.mutable_activities())[5] = activity;
  state.add_timer_row_ids(43);
  state.set_sticky_task_queue("sticky-q");
  MutableState ms(state, te.env, kNow);
  ms.Close(enums::WORKFLOW_EXECUTION_STATUS_COMPLETED, 9);
  CHECK_FALSE(ms.IsRunning());
  CHECK(ms.s().completion_event_id() == 9);
  CHECK(ms.s().close_time_nanos() == kNow);
  std::vector<int64_t> deletes = ms.timer_deletes();
  std::sort(deletes.begin(), deletes.end());
  CHECK(deletes == std::vector<int64_t>{41, 42, 43});
  CHECK(ms.s().timers().empty());
  CHECK(ms.s().activities().empty());
  CHECK(ms.s().sticky_task_queue().empty());
  CHECK(ms.visibility_changed());
}

TEST_CASE("MutableState: a delayed timer fires no sooner than the minimum delay", "[mutable_state]") {
  TestEnv env;
  env.env.timer_min_delay_nanos = 1'000'000'000;
  MutableState ms(Running(), env.env, kNow);
  auto add = [&ms](records::TimerTask::Kind kind, int64_t fire) {
    records::TimerTask t;
    t.set_kind(kind);
    t.set_fire_time_nanos(fire);
    ms.AddTimer(std::move(t));
    return ms.timers().back().second.fire_time_nanos();
  };
  // A 200 ms activity timeout and a zero-length user timer wait the second.
  CHECK(add(records::TimerTask::ACTIVITY_TIMEOUT, kNow + 200'000'000) == kNow + 1'000'000'000);
  CHECK(add(records::TimerTask::USER_TIMER, kNow) == kNow + 1'000'000'000);
  // Longer ones keep their time; steps due now are not delayed.
  CHECK(add(records::TimerTask::USER_TIMER, kNow + 2'500'000'000) == kNow + 2'500'000'000);
  CHECK(add(records::TimerTask::START_CHILD, kNow) == kNow);
  CHECK(add(records::TimerTask::ACTIVITY_TIMEOUT, kNow - 5) == kNow - 5);
}
