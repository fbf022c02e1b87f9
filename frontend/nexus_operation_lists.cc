#include "kairos/frontend/nexus_operation_lists.h"

#include <cctype>
#include <map>

namespace kairos::frontend {
namespace {

namespace enums = temporal::api::enums::v1;

const std::map<std::string, std::string>& Renamed() {
  static const std::map<std::string, std::string> names{
      {"OperationId", "WorkflowId"}, {"Endpoint", "TaskQueue"}, {"Operation", "WorkflowType"}};
  return names;
}

std::string Rename(const std::string& name) {
  auto it = Renamed().find(name);
  return it == Renamed().end() ? name : it->second;
}

bool NameChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

}  // namespace

std::string CarrierQuery(const std::string& query) {
  std::string out;
  for (size_t i = 0; i < query.size();) {
    char c = query[i];
    if (c == '"' || c == '\'' || c == '`') {
      size_t end = i + 1;
      while (end < query.size() && query[end] != c) end += query[end] == '\\' ? 2 : 1;
      end = std::min(end, query.size());
      std::string inner = query.substr(i + 1, end - i - 1);
      out += c;
      out += c == '`' ? Rename(inner) : inner;
      if (end < query.size()) out += c;
      i = end + 1;
    } else if (NameChar(c)) {
      size_t end = i;
      while (end < query.size() && NameChar(query[end])) ++end;
      out += Rename(query.substr(i, end - i));
      i = end;
    } else {
      out += c;
      ++i;
    }
  }
  return out;
}

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
  op.set_state_transition_count(run.state_transition_count());
  if (run.has_execution_duration()) *op.mutable_execution_duration() = run.execution_duration();
  return op;
}

}  // namespace kairos::frontend
