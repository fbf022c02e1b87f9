// Temporal's per-workflow limits, with its defaults (dynamic config
// limit.blobSize.*, limit.memoSize.*, limit.numPending*.error,
// limit.historyCount.*, limit.historySize.*) and its errors: payloads over
// the error size are refused (a request with InvalidArgument, a workflow
// task's command with the task failed and the run terminated), above the
// warning size they are logged with the workflow named.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <grpcpp/support/status.h>

#include "kairos/history/commands.h"
#include "kairos/records.pb.h"
#include "temporal/api/workflowservice/v1/request_response.pb.h"

namespace kairos::history {

struct Limits {
  int64_t blob_size_warn = 512 * 1024;          // limit.blobSize.warn
  int64_t blob_size_error = 2 * 1024 * 1024;    // limit.blobSize.error
  int64_t memo_size_warn = 2 * 1024;            // limit.memoSize.warn
  int64_t memo_size_error = 2 * 1024 * 1024;    // limit.memoSize.error
  int pending_activities = 2000;                // limit.numPendingActivities.error
  int pending_children = 2000;                  // limit.numPendingChildExecutions.error
  int pending_signals = 2000;                   // limit.numPendingSignals.error
  int pending_cancels = 2000;                   // limit.numPendingCancelRequests.error
  int64_t max_signals = 10000;                  // history.maximumSignalsPerExecution
  int64_t history_count_warn = 10 * 1024;       // limit.historyCount.warn
  int64_t history_count_error = 50 * 1024;      // limit.historyCount.error
  int64_t history_size_warn = 10 * 1024 * 1024; // limit.historySize.warn
  int64_t history_size_error = 50 * 1024 * 1024;// limit.historySize.error
  // When workflow tasks suggest continue-as-new (Temporal's defaults).
  int64_t history_count_suggest = 4 * 1024;     // limit.historyCount.suggestContinueAsNew
  int64_t history_size_suggest = 4 * 1024 * 1024; // limit.historySize.suggestContinueAsNew
  // How soon a delayed timer (a user timer, a timeout, a retry's backoff)
  // may fire at the earliest: Temporal does not read a scheduled task before
  // now + history.timerProcessorMaxTimeShift, so a 200 ms timer fires after
  // about a second there, and workers and SDK tests are written against it.
  int64_t timer_min_delay_nanos = 1'000'000'000;  // history.timerProcessorMaxTimeShift
  // A Nexus start or cancel request is not sent with less time than this
  // left before the operation's timeout: the start times the operation out
  // at once, the cancel fails (Temporal's operationTimeoutBelowMinError).
  int64_t nexus_min_request_timeout_nanos = 1'500'000'000;  // component.nexusoperations.limit.request.timeout.min

  // Temporal's dynamic config keys above, as `--dynamic-config-value
  // KEY=VALUE` gives them (a plain number); other keys are left alone.
  static Limits FromDynamicConfig(const std::vector<std::pair<std::string, std::string>>& values);
};

// True when `size` is over the error limit; logs above the warning limit.
bool OverSizeLimit(int64_t size, int64_t warn, int64_t error, const std::string& workflow_id, const std::string& run_id,
                   const char* what);

// Start (input, memo) and signal (input) payloads: Temporal's
// InvalidArgument "Blob data size exceeds limit." / "Memo size exceeds limit.".
grpc::Status CheckStartLimits(const Limits& limits,
                              const temporal::api::workflowservice::v1::StartWorkflowExecutionRequest& req);
// A run that has received history.maximumSignalsPerExecution signals takes
// no more (a repeated request it already applied still succeeds): Temporal's
// InvalidArgument "exceeded workflow execution limit for signal events".
bool AtSignalLimit(const Limits& limits, const records::ExecutionState& s);
grpc::Status SignalLimitExceeded();

grpc::Status CheckSignalLimits(const Limits& limits, const temporal::api::common::v1::Payloads& input,
                               const std::string& workflow_id, const std::string& run_id);

// A completed workflow task's commands against the payload limits (which
// terminate the run) and the pending-count limits (which fail the task).
std::optional<CommandError> CheckCommandLimits(
    const Limits& limits, const records::ExecutionState& s, const temporal::api::workflowservice::v1::RespondWorkflowTaskCompletedRequest& req);

// A workflow task failure cause as Temporal's messages spell it
// (BadScheduleActivityAttributes).
std::string CauseName(enums::WorkflowTaskFailedCause cause);

// The run's history after a change: the reason to terminate it (Temporal's
// "Workflow history count/size exceeds limit."), or empty. Logs past the
// warning bounds.
std::string HistoryLimitExceeded(const Limits& limits, const records::ExecutionState& s);

}  // namespace kairos::history
