#include "kairos/history/limits.h"

#include <spdlog/spdlog.h>

#include <cctype>
#include <cstdlib>
#include <string_view>

#include "kairos/errors.h"
#include "kairos/visibility/values.h"

namespace kairos::history {
namespace {

namespace enums = temporal::api::enums::v1;

CommandError Terminating(enums::WorkflowTaskFailedCause cause, const std::string& message) {
  return CommandError{cause, message, /*terminate=*/true};
}

std::string PendingMessage(const char* what, int count, int limit) {
  return "the number of " + std::string(what) + ", " + std::to_string(count) + ", has reached the per-workflow limit of " +
         std::to_string(limit);
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

Limits Limits::FromDynamicConfig(const std::vector<std::pair<std::string, std::string>>& values) {
  Limits l;
  const std::pair<const char*, int64_t*> keys64[] = {
      {"limit.blobSize.warn", &l.blob_size_warn},         {"limit.blobSize.error", &l.blob_size_error},
      {"limit.memoSize.warn", &l.memo_size_warn},         {"limit.memoSize.error", &l.memo_size_error},
      {"limit.historyCount.warn", &l.history_count_warn}, {"limit.historyCount.error", &l.history_count_error},
      {"limit.historySize.warn", &l.history_size_warn},   {"limit.historySize.error", &l.history_size_error},
      {"history.maximumSignalsPerExecution", &l.max_signals},
      {"limit.historyCount.suggestContinueAsNew", &l.history_count_suggest},
      {"limit.historySize.suggestContinueAsNew", &l.history_size_suggest}};
  const std::pair<const char*, int*> keys32[] = {{"limit.numPendingActivities.error", &l.pending_activities},
                                                 {"limit.numPendingChildExecutions.error", &l.pending_children},
                                                 {"limit.numPendingSignals.error", &l.pending_signals},
                                                 {"limit.numPendingCancelRequests.error", &l.pending_cancels}};
  for (const auto& [key, value] : values) {
    if (key == "history.timerProcessorMaxTimeShift" || key == "component.nexusoperations.limit.request.timeout.min") {
      if (auto nanos = visibility::DynamicConfigDurationNanos(value))
        (key == "history.timerProcessorMaxTimeShift" ? l.timer_min_delay_nanos : l.nexus_min_request_timeout_nanos) = *nanos;
      continue;
    }
    char* end = nullptr;
    long long n = std::strtoll(value.c_str(), &end, 10);
    if (value.empty() || *end != '\0' || n <= 0) continue;
    for (const auto& [k, field] : keys64)
      if (key == k) *field = n;
    for (const auto& [k, field] : keys32)
      if (key == k) *field = static_cast<int>(n);
  }
  return l;
}

grpc::Status CheckStartLimits(const Limits& limits,
                              const temporal::api::workflowservice::v1::StartWorkflowExecutionRequest& req) {
  if (OverSizeLimit(static_cast<int64_t>(req.input().ByteSizeLong()), limits.blob_size_warn, limits.blob_size_error,
                    req.workflow_id(), "", "StartWorkflowExecution"))
    return errors::InvalidArgument("Blob data size exceeds limit.");
  if (OverSizeLimit(static_cast<int64_t>(req.memo().ByteSizeLong()), limits.memo_size_warn, limits.memo_size_error,
                    req.workflow_id(), "", "StartWorkflowExecution memo"))
    return errors::InvalidArgument("Memo size exceeds limit.");
  return grpc::Status::OK;
}

bool AtSignalLimit(const Limits& limits, const records::ExecutionState& s) {
  return limits.max_signals > 0 && s.signal_count() >= limits.max_signals;
}

grpc::Status SignalLimitExceeded() {
  return errors::InvalidArgument("exceeded workflow execution limit for signal events");
}

grpc::Status CheckSignalLimits(const Limits& limits, const temporal::api::common::v1::Payloads& input,
                               const std::string& workflow_id, const std::string& run_id) {
  if (OverSizeLimit(static_cast<int64_t>(input.ByteSizeLong()), limits.blob_size_warn, limits.blob_size_error, workflow_id,
                    run_id, "SignalWorkflowExecution"))
    return errors::InvalidArgument("Blob data size exceeds limit.");
  return grpc::Status::OK;
}

std::optional<CommandError> CheckCommandLimits(const Limits& limits, const records::ExecutionState& s,
                                               const temporal::api::workflowservice::v1::RespondWorkflowTaskCompletedRequest& req) {
  int activities = s.activities_size();
  int children = s.children_size();
  int signals = 0, cancels = 0;
  for (const auto& [id, r] : s.external_requests()) (r.kind() == records::ExternalRequest::CANCEL ? cancels : signals)++;
  auto over = [&](size_t size, const char* what) {
    return OverSizeLimit(static_cast<int64_t>(size), limits.blob_size_warn, limits.blob_size_error, s.workflow_id(),
                         s.run_id(), what);
  };
  for (const auto& c : req.commands()) {
    switch (c.command_type()) {
      case enums::COMMAND_TYPE_SCHEDULE_ACTIVITY_TASK:
        if (activities >= limits.pending_activities)
          return CommandError{enums::WORKFLOW_TASK_FAILED_CAUSE_PENDING_ACTIVITIES_LIMIT_EXCEEDED,
                              PendingMessage("pending activities", activities, limits.pending_activities)};
        ++activities;
        if (over(c.schedule_activity_task_command_attributes().input().ByteSizeLong(), "ScheduleActivityTask"))
          return Terminating(enums::WORKFLOW_TASK_FAILED_CAUSE_BAD_SCHEDULE_ACTIVITY_ATTRIBUTES,
                             "ScheduleActivityTaskCommandAttributes.Input exceeds size limit.");
        break;
      case enums::COMMAND_TYPE_START_CHILD_WORKFLOW_EXECUTION:
        if (children >= limits.pending_children)
          return CommandError{enums::WORKFLOW_TASK_FAILED_CAUSE_PENDING_CHILD_WORKFLOWS_LIMIT_EXCEEDED,
                              PendingMessage("pending child workflow executions", children, limits.pending_children)};
        ++children;
        if (over(c.start_child_workflow_execution_command_attributes().input().ByteSizeLong(), "StartChildWorkflowExecution"))
          return Terminating(enums::WORKFLOW_TASK_FAILED_CAUSE_BAD_START_CHILD_EXECUTION_ATTRIBUTES,
                             "StartChildWorkflowExecutionCommandAttributes. Input exceeds size limit.");
        break;
      case enums::COMMAND_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION:
        if (signals >= limits.pending_signals)
          return CommandError{enums::WORKFLOW_TASK_FAILED_CAUSE_PENDING_SIGNALS_LIMIT_EXCEEDED,
                              PendingMessage("pending signals to external workflows", signals, limits.pending_signals)};
        ++signals;
        if (over(c.signal_external_workflow_execution_command_attributes().input().ByteSizeLong(), "SignalExternalWorkflowExecution"))
          return Terminating(enums::WORKFLOW_TASK_FAILED_CAUSE_BAD_SIGNAL_WORKFLOW_EXECUTION_ATTRIBUTES,
                             "SignalExternalWorkflowExecutionCommandAttributes.Input exceeds size limit.");
        break;
      case enums::COMMAND_TYPE_REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION:
        if (cancels >= limits.pending_cancels)
          return CommandError{enums::WORKFLOW_TASK_FAILED_CAUSE_PENDING_REQUEST_CANCEL_LIMIT_EXCEEDED,
                              PendingMessage("pending requests to cancel external workflows", cancels, limits.pending_cancels)};
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

std::string HistoryLimitExceeded(const Limits& limits, const records::ExecutionState& s) {
  int64_t count = s.next_event_id() - 1;
  int64_t size = s.history_size_bytes();
  if (count > limits.history_count_error) return "Workflow history count exceeds limit.";
  if (size > limits.history_size_error) return "Workflow history size exceeds limit.";
  if (count > limits.history_count_warn || size > limits.history_size_warn)
    spdlog::warn("history of workflow_id={} run_id={} is large: {} events, {} bytes", s.workflow_id(), s.run_id(), count, size);
  return "";
}

}  // namespace kairos::history
