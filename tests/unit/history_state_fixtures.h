// What the tests of history's state machines (children, Nexus operations)
// start from: an environment whose ids count up from 100, and a running run
// four events into its history.
#pragma once

#include <cstdint>
#include <string>

#include "kairos/history/mutable_state.h"

namespace kairos::history::testing {

struct CountingEnv {
  int64_t counter = 100;
  Environment env;
  CountingEnv() {
    env.next_id = [this] { return ++counter; };
    env.sticky_alive = [](const std::string&, const std::string&) { return false; };
  }
  // The environment's functions hold `this`.
  CountingEnv(const CountingEnv&) = delete;
  CountingEnv& operator=(const CountingEnv&) = delete;
};

inline records::ExecutionState RunningRun(const std::string& workflow_id, const std::string& run_id) {
  records::ExecutionState s;
  s.set_namespace_id("ns-id");
  s.set_namespace_name("default");
  s.set_workflow_id(workflow_id);
  s.set_run_id(run_id);
  s.set_status(temporal::api::enums::v1::WORKFLOW_EXECUTION_STATUS_RUNNING);
  s.set_next_event_id(5);
  s.mutable_start()->mutable_task_queue()->set_name("queue");
  return s;
}

}  // namespace kairos::history::testing
