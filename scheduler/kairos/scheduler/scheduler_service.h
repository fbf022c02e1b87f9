// The scheduler service: Temporal's Schedules. Each schedule is a durable
// record (spec, action, policies, state, counters, pending starts); one
// thread wakes at the next action time of any schedule, starts workflows
// through history, and applies the overlap policy against the workflows the
// schedule started before. Every change of a schedule is one store commit,
// and each start carries a request id derived from the schedule and the
// action time, so an action retried after a crash never starts twice.
#pragma once

#include <memory>

#include <grpcpp/support/status.h>

#include "kairos/history/history_service.h"
#include "temporal/api/workflowservice/v1/request_response.pb.h"

namespace kairos {
class Executor;
namespace persistence {
class Store;
}
}  // namespace kairos

namespace kairos::scheduler {

namespace wsv1 = temporal::api::workflowservice::v1;
using history::NamespaceRef;

class SchedulerService {
 public:
  virtual ~SchedulerService() = default;

  // Loads the schedules and starts acting on them (catching up on what was
  // due while the server was down, within each catch-up window).
  virtual void Start() = 0;
  virtual void Stop() = 0;

  virtual grpc::Status CreateSchedule(const NamespaceRef& ns, const wsv1::CreateScheduleRequest& req,
                                      wsv1::CreateScheduleResponse* resp) = 0;
  virtual grpc::Status DescribeSchedule(const NamespaceRef& ns, const wsv1::DescribeScheduleRequest& req,
                                        wsv1::DescribeScheduleResponse* resp) = 0;
  virtual grpc::Status UpdateSchedule(const NamespaceRef& ns, const wsv1::UpdateScheduleRequest& req,
                                      wsv1::UpdateScheduleResponse* resp) = 0;
  virtual grpc::Status PatchSchedule(const NamespaceRef& ns, const wsv1::PatchScheduleRequest& req,
                                     wsv1::PatchScheduleResponse* resp) = 0;
  virtual grpc::Status DeleteSchedule(const NamespaceRef& ns, const wsv1::DeleteScheduleRequest& req,
                                      wsv1::DeleteScheduleResponse* resp) = 0;
  virtual grpc::Status ListSchedules(const NamespaceRef& ns, const wsv1::ListSchedulesRequest& req,
                                     wsv1::ListSchedulesResponse* resp) = 0;
  // The number of the namespace's schedules that match the query's filter.
  virtual grpc::Status CountSchedules(const NamespaceRef& ns, const wsv1::CountSchedulesRequest& req,
                                      wsv1::CountSchedulesResponse* resp) = 0;
  virtual grpc::Status ListScheduleMatchingTimes(const NamespaceRef& ns, const wsv1::ListScheduleMatchingTimesRequest& req,
                                                 wsv1::ListScheduleMatchingTimesResponse* resp) = 0;
};

std::unique_ptr<SchedulerService> NewSchedulerService(persistence::Store* store, history::HistoryService* history,
                                                      Executor* executor);

}  // namespace kairos::scheduler
