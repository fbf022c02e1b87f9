// DescribeTaskQueue in both of Temporal's API modes, and
// ListTaskQueuePartitions (Kairos has one partition per queue).
#pragma once

#include <string>

#include <grpcpp/support/status.h>

#include "kairos/matching/matching_service.h"
#include "temporal/api/workflowservice/v1/request_response.pb.h"

namespace kairos::frontend {

// Legacy mode: the pollers of one task queue type, its stats when asked,
// and the task_queue_status the CLI's --legacy-mode prints. Enhanced mode:
// per-type pollers and stats under the unversioned build id.
void DescribeTaskQueue(matching::MatchingService* matching, const std::string& namespace_id,
                       const temporal::api::workflowservice::v1::DescribeTaskQueueRequest& req,
                       temporal::api::workflowservice::v1::DescribeTaskQueueResponse* resp);

void ListTaskQueuePartitions(const std::string& host,
                             const temporal::api::workflowservice::v1::ListTaskQueuePartitionsRequest& req,
                             temporal::api::workflowservice::v1::ListTaskQueuePartitionsResponse* resp);

}  // namespace kairos::frontend
