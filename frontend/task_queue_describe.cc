#include "kairos/frontend/task_queue_describe.h"

#include <algorithm>

#include "kairos/matching/queue_stats.h"
#include "kairos/time_util.h"

namespace kairos::frontend {
namespace {

namespace wsv1 = temporal::api::workflowservice::v1;
namespace tqv1 = temporal::api::taskqueue::v1;
namespace enums = temporal::api::enums::v1;

// What Temporal reports for a queue without a configured limit.
constexpr double kDefaultQueueRate = 4000;
constexpr double kPollerRate = 100000;
// Temporal's first block of task ids; Kairos hands ids out from one store
// range, so this only fills in the shape the CLI prints.
constexpr int64_t kTaskIdBlockEnd = 100000;
constexpr int64_t kZeroTimeSeconds = -62135596800;

records::QueueTask::Kind KindOf(enums::TaskQueueType type) {
  return type == enums::TASK_QUEUE_TYPE_ACTIVITY ? records::QueueTask::ACTIVITY : records::QueueTask::WORKFLOW;
}

void AddPollers(matching::MatchingService* matching, const std::string& ns, const std::string& queue,
                records::QueueTask::Kind kind, google::protobuf::RepeatedPtrField<tqv1::PollerInfo>* out) {
  for (const auto& p : matching->Pollers(ns, queue, kind)) {
    auto* info = out->Add();
    info->set_identity(p.identity);
    *info->mutable_last_access_time() = NanosToTimestamp(p.last_access_time_nanos);
    info->set_rate_per_second(kPollerRate);
  }
}

}  // namespace

void DescribeTaskQueue(matching::MatchingService* matching, const std::string& ns, const wsv1::DescribeTaskQueueRequest& req,
                       wsv1::DescribeTaskQueueResponse* resp) {
  const std::string& queue = req.task_queue().name();
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  if (req.api_mode() == enums::DESCRIBE_TASK_QUEUE_MODE_ENHANCED) {
    auto& version = (*resp->mutable_versions_info())[""];
    for (int type : {enums::TASK_QUEUE_TYPE_WORKFLOW, enums::TASK_QUEUE_TYPE_ACTIVITY}) {
      // No types named: all of them.
      bool wanted = req.task_queue_types().empty() ||
                    std::find(req.task_queue_types().begin(), req.task_queue_types().end(), type) !=
                        req.task_queue_types().end();
      if (!wanted) continue;
      auto& info = (*version.mutable_types_info())[type];
      auto kind = KindOf(static_cast<enums::TaskQueueType>(type));
      if (req.report_pollers()) AddPollers(matching, ns, queue, kind, info.mutable_pollers());
      if (req.report_stats()) matching::FillTaskQueueStats(matching->Stats(ns, queue, kind), info.mutable_stats());
    }
    return;
  }
  auto kind = KindOf(req.task_queue_type());
  auto stats = matching->Stats(ns, queue, kind);
  AddPollers(matching, ns, queue, kind, resp->mutable_pollers());
  if (req.report_stats()) {
    matching::FillTaskQueueStats(stats, resp->mutable_stats());
    matching::FillTaskQueueStats(stats, &(*resp->mutable_stats_by_priority_key())[matching::kDefaultPriorityKey]);
  }
  // An unversioned queue, as Temporal describes one (the zero time: year 1).
  resp->mutable_versioning_info()->set_current_version("__unversioned__");
  resp->mutable_versioning_info()->mutable_update_time()->set_seconds(kZeroTimeSeconds);
  // The CLI's --legacy-mode prints this unconditionally.
  auto* status = resp->mutable_task_queue_status();
  status->set_backlog_count_hint(stats.backlog_count);
  status->set_rate_per_second(kDefaultQueueRate);
  status->mutable_task_id_block()->set_start_id(1);
  status->mutable_task_id_block()->set_end_id(kTaskIdBlockEnd);
#pragma GCC diagnostic pop
  auto* limit = resp->mutable_effective_rate_limit();
  limit->set_requests_per_second(static_cast<float>(kDefaultQueueRate));
  limit->set_rate_limit_source(enums::RATE_LIMIT_SOURCE_SYSTEM);
}

void ListTaskQueuePartitions(const std::string& host, const wsv1::ListTaskQueuePartitionsRequest& req,
                             wsv1::ListTaskQueuePartitionsResponse* resp) {
  for (auto* list : {resp->mutable_workflow_task_queue_partitions(), resp->mutable_activity_task_queue_partitions()}) {
    auto* p = list->Add();
    p->set_key(req.task_queue().name());
    p->set_owner_host_name(host);
  }
}

}  // namespace kairos::frontend
