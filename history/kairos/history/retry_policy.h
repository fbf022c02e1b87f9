// Temporal's retry rules for activities (and workflows): defaults, and the
// decision whether (and when) a failed attempt is tried again.
#pragma once

#include <cstdint>
#include <optional>

#include "temporal/api/common/v1/message.pb.h"
#include "temporal/api/enums/v1/workflow.pb.h"
#include "temporal/api/failure/v1/message.pb.h"

namespace kairos::history {

// A timeout type as Temporal spells it in failure types ("TemporalTimeout:
// StartToClose") and metric labels.
const char* TimeoutTypeName(temporal::api::enums::v1::TimeoutType t);

// Fills unset fields with Temporal's defaults: initial interval 1 s,
// backoff coefficient 2.0, maximum interval 100 x initial, unlimited attempts.
void ApplyRetryDefaults(temporal::api::common::v1::RetryPolicy* policy);

struct RetryDecision {
  temporal::api::enums::v1::RetryState state = temporal::api::enums::v1::RETRY_STATE_UNSPECIFIED;
  int64_t delay_ms = 0;  // Meaningful when state is IN_PROGRESS.
};

// `attempt` is the attempt that just failed (1-based). `expiration_nanos` is
// the schedule-to-close bound (0: none).
RetryDecision DecideRetry(const temporal::api::common::v1::RetryPolicy& policy, int32_t attempt,
                          const temporal::api::failure::v1::Failure* failure, bool is_timeout, int64_t now_nanos,
                          int64_t expiration_nanos);

}  // namespace kairos::history
