// ListSchedules' query: Temporal's List Filter evaluated against schedule
// records (`TemporalSchedulePaused` and the schedules' search attributes).
#pragma once

#include <grpcpp/support/status.h>

#include "kairos/records.pb.h"
#include "kairos/visibility/query.h"

namespace kairos::scheduler {

grpc::Status ParseScheduleQuery(const std::string& query, visibility::ParsedQuery* out);
grpc::Status MatchesQuery(const visibility::ParsedQuery& query, const records::ScheduleRecord& rec, bool* match);

}  // namespace kairos::scheduler
