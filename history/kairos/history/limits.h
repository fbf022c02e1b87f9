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

#include <grpcpp/support/status.h>

#include "kairos/history/commands.h"
#include "kairos/records.pb.h"
#include "temporal/api/workflowservice/v1/request_response.pb.h"

namespace kairos::history {

constexpr int64_t kBlobSizeLimitWarn = 512 * 1024;
constexpr int64_t kBlobSizeLimitError = 2 * 1024 * 1024;
constexpr int64_t kMemoSizeLimitWarn = 2 * 1024;
constexpr int64_t kMemoSizeLimitError = 2 * 1024 * 1024;
constexpr int kPendingLimit = 2000;  // Activities, children, signals, cancel requests.
constexpr int64_t kHistoryCountLimitWarn = 10 * 1024;
constexpr int64_t kHistoryCountLimitError = 50 * 1024;
constexpr int64_t kHistorySizeLimitWarn = 10 * 1024 * 1024;
constexpr int64_t kHistorySizeLimitError = 50 * 1024 * 1024;

// True when `size` is over the error limit; logs above the warning limit.
bool OverSizeLimit(int64_t size, int64_t warn, int64_t error, const std::string& workflow_id, const std::string& run_id,
                   const char* what);

// Start (input, memo) and signal (input) payloads: Temporal's
// InvalidArgument "Blob data size exceeds limit." / "Memo size exceeds limit.".
grpc::Status CheckStartLimits(const temporal::api::workflowservice::v1::StartWorkflowExecutionRequest& req);
grpc::Status CheckSignalLimits(const temporal::api::common::v1::Payloads& input, const std::string& workflow_id,
                               const std::string& run_id);

// A completed workflow task's commands against the payload limits (which
// terminate the run) and the pending-count limits (which fail the task).
std::optional<CommandError> CheckCommandLimits(
    const records::ExecutionState& s, const temporal::api::workflowservice::v1::RespondWorkflowTaskCompletedRequest& req);

// A workflow task failure cause as Temporal's messages spell it
// (BadScheduleActivityAttributes).
std::string CauseName(enums::WorkflowTaskFailedCause cause);

// The run's history after a change: the reason to terminate it (Temporal's
// "Workflow history count/size exceeds limit."), or empty. Logs past the
// warning bounds.
std::string HistoryLimitExceeded(const records::ExecutionState& s);

}  // namespace kairos::history
