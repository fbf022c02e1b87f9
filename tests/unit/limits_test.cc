// Temporal's per-workflow limits: pending counts fail the task with their
// cause and Temporal's message; oversized payloads terminate the run.
#include <catch2/catch.hpp>

#include "kairos/history/limits.h"

namespace wsv1 = temporal::api::workflowservice::v1;
namespace enums = temporal::api::enums::v1;
using namespace kairos::history;

namespace {

void AddActivityCommand(wsv1::RespondWorkflowTaskCompletedRequest* req, size_t input_bytes = 0) {
  auto* c = req->add_commands();
  c->set_command_type(enums::COMMAND_TYPE_SCHEDULE_ACTIVITY_TASK);
  auto* a = c->mutable_schedule_activity_task_command_attributes();
  if (input_bytes) a->mutable_input()->add_payloads()->set_data(std::string(input_bytes, 'x'));
}

}  // namespace

TEST_CASE("Limits: the 2000th pending activity is the last one", "[limits]") {
  kairos::records::ExecutionState s;
  for (int i = 0; i < Limits{}.pending_activities - 1; ++i) (*s.mutable_activities())[i + 1];
  wsv1::RespondWorkflowTaskCompletedRequest req;
  AddActivityCommand(&req);
  CHECK_FALSE(CheckCommandLimits(Limits{}, s, req));  // Makes 2000.
  AddActivityCommand(&req);                 // Would make 2001.
  auto err = CheckCommandLimits(Limits{}, s, req);
  REQUIRE(err);
  CHECK(err->cause == enums::WORKFLOW_TASK_FAILED_CAUSE_PENDING_ACTIVITIES_LIMIT_EXCEEDED);
  CHECK(err->message == "the number of pending activities, 2000, has reached the per-workflow limit of 2000");
  CHECK_FALSE(err->terminate);
}

TEST_CASE("Limits: an activity input over 2 MiB terminates, just under passes", "[limits]") {
  kairos::records::ExecutionState s;
  wsv1::RespondWorkflowTaskCompletedRequest under, over;
  AddActivityCommand(&under, Limits{}.blob_size_error - 1024);
  AddActivityCommand(&over, Limits{}.blob_size_error + 1024);
  CHECK_FALSE(CheckCommandLimits(Limits{}, s, under));
  auto err = CheckCommandLimits(Limits{}, s, over);
  REQUIRE(err);
  CHECK(err->terminate);
  CHECK(CauseName(err->cause) == "BadScheduleActivityAttributes");
  CHECK(err->message == "ScheduleActivityTaskCommandAttributes.Input exceeds size limit.");
}

TEST_CASE("Limits: history count and size end the run past Temporal's bounds", "[limits]") {
  kairos::records::ExecutionState s;
  s.set_next_event_id(Limits{}.history_count_error + 1);  // 51,200 events: still allowed.
  CHECK(HistoryLimitExceeded(Limits{}, s).empty());
  s.set_next_event_id(Limits{}.history_count_error + 2);
  CHECK(HistoryLimitExceeded(Limits{}, s) == "Workflow history count exceeds limit.");
  s.set_next_event_id(10);
  s.set_history_size_bytes(Limits{}.history_size_error + 1);
  CHECK(HistoryLimitExceeded(Limits{}, s) == "Workflow history size exceeds limit.");
}

TEST_CASE("Limits: Temporal's dynamic config keys set them", "[limits]") {
  auto l = Limits::FromDynamicConfig({{"limit.historyCount.error", "100"},
                                      {"limit.blobSize.error", "1024"},
                                      {"limit.numPendingActivities.error", "3"},
                                      {"limit.historySize.error", "not a number"},
                                      {"limit.historyCount.suggestContinueAsNew", "50"},
                                      {"frontend.enableUpdateWorkflowExecution", "true"}});
  CHECK(l.history_count_suggest == 50);
  CHECK(l.history_size_suggest == 4 * 1024 * 1024);
  CHECK(l.history_count_error == 100);
  CHECK(l.blob_size_error == 1024);
  CHECK(l.pending_activities == 3);
  CHECK(l.history_size_error == Limits{}.history_size_error);
  CHECK(l.blob_size_warn == Limits{}.blob_size_warn);
  CHECK(l.timer_min_delay_nanos == 1'000'000'000);  // Temporal's default.
}

TEST_CASE("Limits: history.timerProcessorMaxTimeShift as a duration or seconds", "[limits]") {
  CHECK(Limits::FromDynamicConfig({{"history.timerProcessorMaxTimeShift", "250ms"}}).timer_min_delay_nanos == 250'000'000);
  CHECK(Limits::FromDynamicConfig({{"history.timerProcessorMaxTimeShift", "\"0s\""}}).timer_min_delay_nanos == 0);
  CHECK(Limits::FromDynamicConfig({{"history.timerProcessorMaxTimeShift", "2"}}).timer_min_delay_nanos == 2'000'000'000);
  CHECK(Limits::FromDynamicConfig({{"history.timerProcessorMaxTimeShift", "soon"}}).timer_min_delay_nanos ==
        Limits{}.timer_min_delay_nanos);
}
