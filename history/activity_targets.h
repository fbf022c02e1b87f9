// The pending activities an operator request (pause, unpause, reset, options
// update) names, and the error when it names none; shared by those requests.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "kairos/records.pb.h"

namespace kairos::history {

// The scheduled event ids of the pending activities with `id`, or of `type`,
// or all of them.
std::vector<int64_t> NamedActivities(const records::ExecutionState& s, const std::string& id, const std::string& type,
                                     bool all = false);

// NOT_FOUND, as Temporal answers a request naming no pending activity.
grpc::Status ActivityNotFound();

// A random delay below `jitter_ms` (0 without one), as a dispatch's jitter.
int64_t JitterNanos(int64_t jitter_ms);

}  // namespace kairos::history
