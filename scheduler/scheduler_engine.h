// The scheduler's implementation, private to kairos_scheduler: the RPCs and
// the schedule table (scheduler_service.cc), and what a schedule does when it
// is due (schedule_actions.cc).
#pragma once

#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <future>
#include <thread>

#include "kairos/executor.h"
#include "kairos/persistence/store.h"
#include "kairos/scheduler/schedule_spec.h"
#include "kairos/scheduler/scheduler_service.h"
#include "kairos/records.pb.h"

namespace kairos::scheduler {

namespace enums = temporal::api::enums::v1;
namespace common = temporal::api::common::v1;

// How many recent actions and future times Describe reports.
inline constexpr int kRecentActions = 10;
inline constexpr int kFutureActionTimes = 10;
// Temporal's default catch-up window.
inline constexpr int64_t kDefaultCatchupWindowNanos = 365LL * 24 * 3600 * 1'000'000'000;
inline constexpr int64_t kMinCatchupWindowNanos = 10LL * 1'000'000'000;

struct ScheduleEntry {
  records::ScheduleRecord rec;
  ScheduleSpec spec;
  int64_t wake_nanos = 0;                // 0: nothing to do until something changes.
  std::set<std::string> watched_runs;    // Running workflows with a close watch out.
};

class SchedulerEngine final : public SchedulerService {
 public:
  SchedulerEngine(persistence::Store* store, history::HistoryService* history, Executor* executor);
  ~SchedulerEngine() override;

  void Start() override;
  void Stop() override;

  grpc::Status CreateSchedule(const NamespaceRef& ns, const wsv1::CreateScheduleRequest& req,
                              wsv1::CreateScheduleResponse* resp) override;
  grpc::Status DescribeSchedule(const NamespaceRef& ns, const wsv1::DescribeScheduleRequest& req,
                                wsv1::DescribeScheduleResponse* resp) override;
  grpc::Status UpdateSchedule(const NamespaceRef& ns, const wsv1::UpdateScheduleRequest& req,
                              wsv1::UpdateScheduleResponse* resp) override;
  grpc::Status PatchSchedule(const NamespaceRef& ns, const wsv1::PatchScheduleRequest& req,
                             wsv1::PatchScheduleResponse* resp) override;
  grpc::Status DeleteSchedule(const NamespaceRef& ns, const wsv1::DeleteScheduleRequest& req,
                              wsv1::DeleteScheduleResponse* resp) override;
  grpc::Status ListSchedules(const NamespaceRef& ns, const wsv1::ListSchedulesRequest& req,
                             wsv1::ListSchedulesResponse* resp) override;
  grpc::Status CountSchedules(const NamespaceRef& ns, const wsv1::CountSchedulesRequest& req,
                              wsv1::CountSchedulesResponse* resp) override;
  grpc::Status ListScheduleMatchingTimes(const NamespaceRef& ns, const wsv1::ListScheduleMatchingTimesRequest& req,
                                         wsv1::ListScheduleMatchingTimesResponse* resp) override;

 private:
  using Key = std::pair<std::string, std::string>;  // (namespace id, schedule id)

  // --------------------------------------------- schedule_actions.cc
  // Brings a schedule up to `now`: due spec times buffered (or missed past
  // the catch-up window), closed workflows noted, buffered starts run as the
  // overlap policy allows, watches set on what still runs. Caller holds mu_.
  void Process(ScheduleEntry& e, int64_t now);
  void NoteClosedWorkflows(ScheduleEntry& e);
  void RunBuffered(ScheduleEntry& e, int64_t now);
  // `track`: watch the workflow as running (what the overlap policy needs).
  bool StartAction(ScheduleEntry& e, const records::BufferedStart& b, int64_t now, bool track);
  void WatchRunning(const Key& key, ScheduleEntry& e);
  void ScheduleNextWake(ScheduleEntry& e, int64_t now);
  void Buffer(ScheduleEntry& e, int64_t nominal, int64_t actual, enums::ScheduleOverlapPolicy policy, bool manual);
  void ApplyPatch(ScheduleEntry& e, const temporal::api::schedule::v1::SchedulePatch& patch, int64_t now);
  NamespaceRef Namespace(const ScheduleEntry& e) const;

  // ---------------------------------------------- scheduler_service.cc
  // Process, WatchRunning and Persist, when the entry is due by `now`.
  void RunIfDue(const Key& key, ScheduleEntry& e, int64_t now);
  grpc::Status Persist(const ScheduleEntry& e);
  // Commits `changed` and installs it in place of *e (caller holds mu_).
  grpc::Status Replace(ScheduleEntry* e, ScheduleEntry changed, int64_t now);
  grpc::Status Find(const NamespaceRef& ns, const std::string& schedule_id, ScheduleEntry** out);
  void FillInfo(const ScheduleEntry& e, int64_t now, temporal::api::schedule::v1::ScheduleInfo* info);
  void Loop();
  void Wake(const Key& key);

  persistence::Store* store_;
  history::HistoryService* history_;
  Executor* executor_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<Key, ScheduleEntry> entries_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace kairos::scheduler
