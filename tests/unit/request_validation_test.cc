// Tests of the frontend's up-front request checks: the UUID forms Temporal
// accepts for run ids, version-7 run ids, and the exact statuses of a few
// representative checks (the e2e suite covers them through real clients).
#include <set>
#include <string>

#include <catch2/catch.hpp>

#include "kairos/frontend/request_validation.h"
#include "kairos/ids.h"

namespace frontend = kairos::frontend;
namespace wsv1 = temporal::api::workflowservice::v1;
namespace enums = temporal::api::enums::v1;

TEST_CASE("run ids are UUIDs in the forms Temporal accepts", "[validation]") {
  CHECK(frontend::IsValidUuid("0190f7a2-5c3e-7a11-8b2c-1234567890ab"));
  CHECK(frontend::IsValidUuid("0190F7A2-5C3E-7A11-8B2C-1234567890AB"));
  CHECK(frontend::IsValidUuid("0190f7a25c3e7a118b2c1234567890ab"));
  CHECK(frontend::IsValidUuid("{0190f7a2-5c3e-7a11-8b2c-1234567890ab}"));
  CHECK(frontend::IsValidUuid("urn:uuid:0190f7a2-5c3e-7a11-8b2c-1234567890ab"));
  CHECK(frontend::IsValidUuid("URN:UUID:0190f7a2-5c3e-7a11-8b2c-1234567890ab"));
  CHECK(frontend::IsValidUuid("00000000-0000-0000-0000-000000000000"));
  CHECK_FALSE(frontend::IsValidUuid(""));
  CHECK_FALSE(frontend::IsValidUuid("superneverexistwf!"));
  CHECK_FALSE(frontend::IsValidUuid("0190f7a2-5c3e-7a11-8b2c-1234567890a"));
  CHECK_FALSE(frontend::IsValidUuid("0190f7a2x5c3e-7a11-8b2c-1234567890ab"));
  CHECK_FALSE(frontend::IsValidUuid("0190f7a2-5c3e-7a11-8b2c-1234567890ag"));
  CHECK_FALSE(frontend::IsValidUuid("(0190f7a2-5c3e-7a11-8b2c-1234567890ab)"));
  CHECK_FALSE(frontend::IsValidUuid("urn:uuud:0190f7a2-5c3e-7a11-8b2c-1234567890ab"));
}

TEST_CASE("run ids are version-7 UUIDs that sort by creation time", "[ids]") {
  std::set<std::string> seen;
  std::string previous;
  for (int i = 0; i < 1000; ++i) {
    auto id = kairos::NewUuidV7();
    REQUIRE(frontend::IsValidUuid(id));
    CHECK(id[14] == '7');
    CHECK(std::string("89ab").find(id[19]) != std::string::npos);
    CHECK(id.substr(0, 13) >= previous.substr(0, std::min<size_t>(previous.size(), 13)));
    CHECK(seen.insert(id).second);
    previous = id;
  }
  auto v4 = kairos::NewUuid();
  CHECK(v4[14] == '4');
}

TEST_CASE("representative checks answer as Temporal", "[validation]") {
  wsv1::DescribeWorkflowExecutionRequest describe;
  describe.mutable_execution()->set_workflow_id("!sonotreal");
  describe.mutable_execution()->set_run_id("superneverexistwf!");
  auto st = frontend::Validate(describe);
  CHECK(st.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(st.error_message() == "Invalid RunId.");
  describe.clear_execution();
  CHECK(frontend::Validate(describe).error_message() == "Execution is not set on request.");

  wsv1::StartWorkflowExecutionRequest start;
  start.set_workflow_id("w");
  start.mutable_workflow_type()->set_name("T");
  start.mutable_task_queue()->set_name("q");
  CHECK(frontend::Validate(start).ok());
  start.mutable_workflow_execution_timeout()->set_seconds(-1);
  CHECK(frontend::Validate(start).error_message() ==
        "An invalid WorkflowExecutionTimeoutSeconds is set on request. cause: negative duration");
  start.mutable_workflow_execution_timeout()->set_seconds(1);
  start.mutable_workflow_execution_timeout()->set_nanos(-1);
  CHECK(frontend::Validate(start).error_message() ==
        "An invalid WorkflowExecutionTimeoutSeconds is set on request. cause: duration has seconds and nanos with "
        "different signs");
  start.clear_workflow_execution_timeout();
  start.mutable_retry_policy()->mutable_initial_interval()->set_seconds(10);
  start.mutable_retry_policy()->mutable_maximum_interval()->set_seconds(5);
  CHECK(frontend::Validate(start).error_message() ==
        "MaximumInterval cannot be less than InitialInterval on retry policy.");
  start.mutable_retry_policy()->set_maximum_attempts(1);  // A single attempt needs no intervals.
  CHECK(frontend::Validate(start).ok());
  start.set_cron_schedule("@every 1m");
  start.mutable_workflow_start_delay()->set_seconds(1);
  CHECK(frontend::Validate(start).error_message() == "CronSchedule and WorkflowStartDelay may not be used together.");

  wsv1::StartWorkflowExecutionRequest defaults;
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  defaults.set_workflow_id_reuse_policy(enums::WORKFLOW_ID_REUSE_POLICY_TERMINATE_IF_RUNNING);
#pragma GCC diagnostic pop
  frontend::Normalize(&defaults);
  CHECK(defaults.workflow_id_conflict_policy() == enums::WORKFLOW_ID_CONFLICT_POLICY_TERMINATE_EXISTING);
  CHECK(defaults.workflow_id_reuse_policy() == enums::WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE);
  CHECK_FALSE(defaults.request_id().empty());

  wsv1::UpdateWorkflowExecutionRequest update;
  frontend::Normalize(&update);
  CHECK(update.wait_policy().lifecycle_stage() == enums::UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_COMPLETED);
  CHECK_FALSE(update.request().meta().update_id().empty());

  wsv1::PollActivityTaskQueueRequest poll;
  CHECK(frontend::Validate(poll).error_message() == "taskQueue is not set");
  poll.mutable_task_queue()->set_name("/_sys/q");
  CHECK(frontend::Validate(poll).error_message() == "task queue name cannot start with reserved prefix /_sys/");
}

TEST_CASE("a start's or update's links that its Nexus callbacks carry are dropped", "[validation]") {
  auto link = [](const std::string& workflow_id) {
    temporal::api::common::v1::Link l;
    auto* we = l.mutable_workflow_event();
    we->set_namespace_("caller");
    we->set_workflow_id(workflow_id);
    we->mutable_event_ref()->set_event_id(5);
    return l;
  };
  wsv1::StartWorkflowExecutionRequest start;
  *start.add_links() = link("a");
  *start.add_links() = link("b");
  auto* cb = start.add_completion_callbacks();
  cb->mutable_nexus()->set_url("temporal://system");
  *cb->add_links() = link("a");
  frontend::Normalize(&start);
  REQUIRE(start.links_size() == 1);
  CHECK(start.links(0).workflow_event().workflow_id() == "b");
  CHECK(start.completion_callbacks(0).links_size() == 1);

  // Only a Nexus callback's links count.
  wsv1::StartWorkflowExecutionRequest internal;
  *internal.add_links() = link("a");
  *internal.add_completion_callbacks()->add_links() = link("a");
  frontend::Normalize(&internal);
  CHECK(internal.links_size() == 1);

  wsv1::UpdateWorkflowExecutionRequest update;
  *update.mutable_request()->add_links() = link("a");
  auto* ucb = update.mutable_request()->add_completion_callbacks();
  ucb->mutable_nexus()->set_url("temporal://system");
  *ucb->add_links() = link("a");
  frontend::Normalize(&update);
  CHECK(update.request().links_size() == 0);
}
