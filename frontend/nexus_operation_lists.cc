#include "kairos/frontend/nexus_operation_lists.h"

#include "kairos/visibility/query_sql.h"

namespace kairos::frontend {
namespace enums = temporal::api::enums::v1;

temporal::api::nexus::v1::NexusOperationExecutionListInfo NexusOperationListInfo(
    const temporal::api::workflow::v1::WorkflowExecutionInfo& run) {
  temporal::api::nexus::v1::NexusOperationExecutionListInfo op;
  op.set_operation_id(run.execution().workflow_id());
  op.set_run_id(run.execution().run_id());
  op.set_endpoint(run.task_queue());
  op.set_operation(run.type().name());
  auto service = run.memo().fields().find("service");
  if (service != run.memo().fields().end()) op.set_service(service->second.data());
  *op.mutable_schedule_time() = run.start_time();
  if (run.has_close_time()) *op.mutable_close_time() = run.close_time();
  switch (run.status()) {
    case enums::WORKFLOW_EXECUTION_STATUS_RUNNING: op.set_status(enums::NEXUS_OPERATION_EXECUTION_STATUS_RUNNING); break;
    case enums::WORKFLOW_EXECUTION_STATUS_COMPLETED: op.set_status(enums::NEXUS_OPERATION_EXECUTION_STATUS_COMPLETED); break;
    case enums::WORKFLOW_EXECUTION_STATUS_FAILED: op.set_status(enums::NEXUS_OPERATION_EXECUTION_STATUS_FAILED); break;
    case enums::WORKFLOW_EXECUTION_STATUS_CANCELED: op.set_status(enums::NEXUS_OPERATION_EXECUTION_STATUS_CANCELED); break;
    case enums::WORKFLOW_EXECUTION_STATUS_TERMINATED: op.set_status(enums::NEXUS_OPERATION_EXECUTION_STATUS_TERMINATED); break;
    case enums::WORKFLOW_EXECUTION_STATUS_TIMED_OUT: op.set_status(enums::NEXUS_OPERATION_EXECUTION_STATUS_TIMED_OUT); break;
    default: break;
  }
  for (const auto& [name, value] : run.search_attributes().indexed_fields()) {
    if (name == visibility::kNexusServiceAttribute || name == visibility::kNexusRequestIdAttribute) continue;
    (*op.mutable_search_attributes()->mutable_indexed_fields())[name] = value;
  }
  op.set_state_transition_count(run.state_transition_count());
  if (run.has_execution_duration()) *op.mutable_execution_duration() = run.execution_duration();
  return op;
}

}  // namespace kairos::frontend
