#include "kairos/history/limits.h"

#include <spdlog/spdlog.h>

#include <cctype>
#include <string_view>

#include "kairos/errors.h"

namespace kairos::history {
namespace {

namespace enums = temporal::api::enums::v1;

CommandError Terminating(enums::WorkflowTaskFailedCause cause, const std::string& message) {
  return CommandError{cause, message, /*terminate=*/true};
}

std::string PendingMessage(const char* what, int count) {
  return "the number of " + std::string(what) + ", " + std::to_string(count) + ", has reached the per-workflow limit of " +
         std::to_string(kPendingLimit);
}

}  // namespace

bool OverSizeLimit(int64_t size, int64_t warn, int64_t error, const std::string& workflow_id, const std::string& run_id,
                   const char* what) {
  if (size > error) {
    spdlog::error("{}: blob size {} exceeds the limit {} workflow_id={} run_id={}", what, size, error, workflow_id, run_id);
    return true;
  }
  if (size > warn) spdlog::warn("{}: blob size {} is over the warning size {} workflow_id={} run_id={}", what, size, warn, workflow_id, run_id);
  return false;
}

grpc::Status CheckStartLimits(const temporal::api::workflowservice::v1::StartWorkflowExecutionRequest& req) {
  if (OverSizeLimit(static_cast<int64_t>(req.input().ByteSizeLong()), kBlobSizeLimitWarn, kBlobSizeLimitError,
                    req.workflow_id(), "", "StartWorkflowExecution"))
    return errors::InvalidArgument("Blob data size exceeds limit.");
  if (OverSizeLimit(static_cast<int64_t>(req.memo().ByteSizeLong()), kMemoSizeLimitWarn, kMemoSizeLimitError,
                    req.workflow_id(), "", "StartWorkflowExecution memo"))
    return errors::InvalidArgument("Memo size exceeds limit.");
  return grpc::Status::OK;
}

grpc::Status CheckSignalLimits(const temporal::api::common::v1::Payloads& input, const std::string& workflow_id,
                               const std::string& run_id) {
  if (OverSizeLimit(static_cast<int64_t>(input.ByteSizeLong()), kBlobSizeLimitWarn, kBlobSizeLimitError, workflow_id,
                    run_id, "SignalWorkflowExecution"))
    return errors::InvalidArgument("Blob data size exceeds limit.");
  return grpc::Status::OK;
}

std::optional<CommandError> CheckCommandLimits(const records::ExecutionState& s,
                                               const temporal::api::workflowservice::v1::RespondWorkflowTaskCompletedRequest& req) {
  int activities = s.activities_size();
  int children = s.children_size();
  int signals = 0, cancels = 0;
  for (const auto& [id, r] : s.external_requests()) (r.kind() == records::ExternalRequest::CANCEL ? cancels : signals)++;
  auto over = [&](size_t size, const char* what) {
    return OverSizeLimit(static_cast<int64_t>(size), kBlobSizeLimitWarn, kBlobSizeLimitError, s.workflow_id(), s.run_id(), what);
  };
  for (const auto& c : req.commands()) {
    switch (c.command_type()) {
      case enums::COMMAND_TYPE_SCHEDULE_ACTIVITY_TASK:
        if (activities >= kPendingLimit)
          return CommandError{enums::WORKFLOW_TASK_FAILED_CAUSE_PENDING_ACTIVITIES_LIMIT_EXCEEDED,
                              PendingMessage("pending activities", activities)};
        ++activities;
        if (over(c.schedule_activity_task_command_attributes().input().ByteSizeLong(), "ScheduleActivityTask"))
          return Terminating(enums::WORKFLOW_TASK_FAILED_CAUSE_BAD_SCHEDULE_ACTIVITY_ATTRIBUTES,
                             "ScheduleActivityTaskCommandAttributes.Input exceeds size limit.");
        break;
      case enums::COMMAND_TYPE_START_CHILD_WORKFLOW_EXECUTION:
        if (children >= kPendingLimit)
          return CommandError{enums::WORKFLOW_TASK_FAILED_CAUSE_PENDING_CHILD_WORKFLOWS_LIMIT_EXCEEDED,
                              PendingMessage("pending child workflow executions", children)};
        ++children;
        if (over(c.start_child_workflow_execution_command_attributes().input().ByteSizeLong(), "StartChildWorkflowExecution"))
          return Terminating(enums::WORKFLOW_TASK_FAILED_CAUSE_BAD_START_CHILD_EXECUTION_ATTRIBUTES,
                             "StartChildWorkflowExecutionCommandAttributes. Input exceeds size limit.");
        break;
      case enums::COMMAND_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION:
        if (signals >= kPendingLimit)
          return CommandError{enums::WORKFLOW_TASK_FAILED_CAUSE_PENDING_SIGNALS_LIMIT_EXCEEDED,
                              PendingMessage("pending signals to external workflows", signals)};
        ++signals;
        if (over(c.signal_external_workflow_execution_command_attributes().input().ByteSizeLong(), "SignalExternalWorkflowExecution"))
          return Terminating(enums::WORKFLOW_TASK_FAILED_CAUSE_BAD_SIGNAL_WORKFLOW_EXECUTION_ATTRIBUTES,
                             "SignalExternalWorkflowExecutionCommandAttributes.Input exceeds size limit.");
        break;
      case enums::COMMAND_TYPE_REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION:
        if (cancels >= kPendingLimit)
          return CommandError{enums::WORKFLOW_TASK_FAILED_CAUSE_PENDING_REQUEST_CANCEL_LIMIT_EXCEEDED,
                              PendingMessage("pending requests to cancel external workflows", cancels)};
        ++cancels;
        break;
      case enums::COMMAND_TYPE_COMPLETE_WORKFLOW_EXECUTION:
        // Temporal reports this one with the schedule-activity cause.
        if (over(c.complete_workflow_execution_command_attributes().result().ByteSizeLong(), "CompleteWorkflowExecution"))
          return Terminating(enums::WORKFLOW_TASK_FAILED_CAUSE_BAD_SCHEDULE_ACTIVITY_ATTRIBUTES,
                             "CompleteWorkflowExecutionCommandAttributes.Result exceeds size limit.");
        break;
      case enums::COMMAND_TYPE_FAIL_WORKFLOW_EXECUTION:
        if (over(c.fail_workflow_execution_command_attributes().failure().ByteSizeLong(), "FailWorkflowExecution"))
          return Terminating(enums::WORKFLOW_TASK_FAILED_CAUSE_BAD_FAIL_WORKFLOW_EXECUTION_ATTRIBUTES,
                             "FailWorkflowExecutionCommandAttributes.Failure exceeds size limit.");
        break;
      case enums::COMMAND_TYPE_RECORD_MARKER: {
        size_t size = 0;
        for (const auto& [k, v] : c.record_marker_command_attributes().details()) size += v.ByteSizeLong();
        if (over(size, "RecordMarker"))
          return Terminating(enums::WORKFLOW_TASK_FAILED_CAUSE_BAD_RECORD_MARKER_ATTRIBUTES,
                             "RecordMarkerCommandAttributes.Details exceeds size limit.");
        break;
      }
      case enums::COMMAND_TYPE_CONTINUE_AS_NEW_WORKFLOW_EXECUTION:
        if (over(c.continue_as_new_workflow_execution_command_attributes().input().ByteSizeLong(), "ContinueAsNew"))
          return Terminating(enums::WORKFLOW_TASK_FAILED_CAUSE_BAD_CONTINUE_AS_NEW_ATTRIBUTES,
                             "ContinueAsNewWorkflowExecutionCommandAttributes. Input exceeds size limit.");
        break;
      default:
        break;
    }
  }
  return std::nullopt;
}

std::string CauseName(enums::WorkflowTaskFailedCause cause) {
  // WORKFLOW_TASK_FAILED_CAUSE_BAD_SCHEDULE_ACTIVITY_ATTRIBUTES -> BadScheduleActivityAttributes
  std::string name = enums::WorkflowTaskFailedCause_Name(cause);
  constexpr std::string_view kPrefix = "WORKFLOW_TASK_FAILED_CAUSE_";
  if (name.starts_with(kPrefix)) name = name.substr(kPrefix.size());
  std::string out;
  bool upper = true;
  for (char ch : name) {
    if (ch == '_') {
      upper = true;
      continue;
    }
    out += upper ? ch : static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    upper = false;
  }
  return out;
}

std::string HistoryLimitExceeded(const records::ExecutionState& s) {
  int64_t count = s.next_event_id() - 1;
  int64_t size = s.history_size_bytes();
  if (count > kHistoryCountLimitError) return "Workflow history count exceeds limit.";
  if (size > kHistorySizeLimitError) return "Workflow history size exceeds limit.";
  if (count > kHistoryCountLimitWarn || size > kHistorySizeLimitWarn)
    spdlog::warn("history of workflow_id={} run_id={} is large: {} events, {} bytes", s.workflow_id(), s.run_id(), count, size);
  return "";
}

}  // namespace kairos::history
