// The compatible version sets of one task queue (Temporal's deprecated
// build-id versioning, v0.1): a sequence of sets of build ids, each set a
// sequence of compatible builds. The last set is the queue's default, the
// last build of a set is the set's default. The operations follow Temporal
// 1.32's matching (service/matching/version_sets.go), with its messages.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <grpcpp/support/status.h>

#include "temporal/api/workflowservice/v1/request_response.pb.h"

namespace kairos::deployments {

struct VersionSets {
  struct Build {
    std::string id;
    // The clock (below) when the build became its set's default.
    int64_t default_clock = 0;
  };
  struct Set {
    std::vector<Build> builds;    // Oldest default first: the last is the set's default.
    int64_t default_clock = 0;    // When the set became the queue's default.
  };
  std::vector<Set> sets;  // The last is the queue's default.
  // A hybrid clock, milliseconds * 1000 plus a counter: each change is
  // stamped with a value above the previous one (the order of merges).
  int64_t clock = 0;

  // (set index, index in set) of a build, or (-1, -1).
  std::pair<int, int> Find(const std::string& build_id) const;
  int BuildCount() const;
  // The clock value a change at `now_millis` is stamped with.
  int64_t NextClock(int64_t now_millis) const;
  static int64_t ClockMillis(int64_t clock) { return clock / 1000; }

  std::string Serialize() const;
  bool Parse(const std::string& bytes);
};

struct VersionSetLimits {
  int max_sets = 10;         // limit.versionCompatibleSetLimitPerQueue
  int max_build_ids = 100;   // limit.versionBuildIdLimitPerQueue
};

// Applies a validated UpdateWorkerBuildIdCompatibility request, stamped with
// `clock` (the caller advances data->clock when something changed); on
// error `data` is unchanged. Idempotent requests leave it as it was (and
// answer OK).
grpc::Status ApplyVersionSetUpdate(VersionSets* data,
                                   const temporal::api::workflowservice::v1::UpdateWorkerBuildIdCompatibilityRequest& req,
                                   int64_t clock, const VersionSetLimits& limits);

// The request checks of Temporal's frontend (InvalidArgument listing every
// missing field).
grpc::Status ValidateVersionSetUpdate(const temporal::api::workflowservice::v1::UpdateWorkerBuildIdCompatibilityRequest& req,
                                      int max_build_id_size);

}  // namespace kairos::deployments
