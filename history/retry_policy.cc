#include "kairos/history/retry_policy.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "kairos/time_util.h"

namespace kairos::history {

namespace enums = temporal::api::enums::v1;

const char* TimeoutTypeName(enums::TimeoutType t) {
  switch (t) {
    case enums::TIMEOUT_TYPE_START_TO_CLOSE: return "StartToClose";
    case enums::TIMEOUT_TYPE_SCHEDULE_TO_START: return "ScheduleToStart";
    case enums::TIMEOUT_TYPE_SCHEDULE_TO_CLOSE: return "ScheduleToClose";
    case enums::TIMEOUT_TYPE_HEARTBEAT: return "Heartbeat";
    default: return "Unspecified";
  }
}

void ApplyRetryDefaults(temporal::api::common::v1::RetryPolicy* p) {
  // Nanosecond precision: a policy of 1 ns intervals is kept as written.
  auto nanos = [](const google::protobuf::Duration& d) { return d.seconds() * 1'000'000'000 + d.nanos(); };
  auto duration = [](int64_t n) {
    google::protobuf::Duration d;
    d.set_seconds(n / 1'000'000'000);
    d.set_nanos(static_cast<int32_t>(n % 1'000'000'000));
    return d;
  };
  if (nanos(p->initial_interval()) <= 0) *p->mutable_initial_interval() = duration(1'000'000'000);
  if (p->backoff_coefficient() < 1.0) p->set_backoff_coefficient(2.0);
  if (nanos(p->maximum_interval()) <= 0) *p->mutable_maximum_interval() = duration(100 * nanos(p->initial_interval()));
}

RetryDecision DecideRetry(const temporal::api::common::v1::RetryPolicy& policy, int32_t attempt,
                          const temporal::api::failure::v1::Failure* failure, bool is_timeout, int64_t now_nanos,
                          int64_t expiration_nanos) {
  RetryDecision d;
  if (failure) {
    if (failure->has_application_failure_info()) {
      const auto& info = failure->application_failure_info();
      if (info.non_retryable()) {
        d.state = enums::RETRY_STATE_NON_RETRYABLE_FAILURE;
        return d;
      }
      for (const auto& t : policy.non_retryable_error_types()) {
        if (t == info.type()) {
          d.state = enums::RETRY_STATE_NON_RETRYABLE_FAILURE;
          return d;
        }
      }
    }
    if (failure->has_server_failure_info() && failure->server_failure_info().non_retryable()) {
      d.state = enums::RETRY_STATE_NON_RETRYABLE_FAILURE;
      return d;
    }
    if (failure->has_canceled_failure_info() || failure->has_terminated_failure_info()) {
      d.state = enums::RETRY_STATE_NON_RETRYABLE_FAILURE;
      return d;
    }
    if (is_timeout && failure->has_timeout_failure_info()) {
      for (const auto& t : policy.non_retryable_error_types()) {
        // Timeouts are matched as "TemporalTimeout:StartToClose" etc., as in Temporal.
        if (t == std::string("TemporalTimeout:") + TimeoutTypeName(failure->timeout_failure_info().timeout_type())) {
          d.state = enums::RETRY_STATE_NON_RETRYABLE_FAILURE;
          return d;
        }
      }
    }
  }
  if (policy.maximum_attempts() > 0 && attempt >= policy.maximum_attempts()) {
    d.state = enums::RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED;
    return d;
  }
  int64_t delay = 0;
  if (failure && failure->has_application_failure_info() &&
      DurationToMs(failure->application_failure_info().next_retry_delay()) > 0) {
    delay = DurationToMs(failure->application_failure_info().next_retry_delay());
  } else {
    double initial = static_cast<double>(DurationToMs(policy.initial_interval()));
    double coefficient = policy.backoff_coefficient() < 1.0 ? 2.0 : policy.backoff_coefficient();
    double raw = initial * std::pow(coefficient, attempt - 1);
    int64_t max_ms = DurationToMs(policy.maximum_interval());
    if (max_ms <= 0) max_ms = static_cast<int64_t>(100 * initial);
    delay = static_cast<int64_t>(std::min(raw, static_cast<double>(max_ms)));
  }
  if (expiration_nanos > 0 && now_nanos + delay * 1'000'000 > expiration_nanos) {
    d.state = enums::RETRY_STATE_TIMEOUT;
    return d;
  }
  d.state = enums::RETRY_STATE_IN_PROGRESS;
  d.delay_ms = delay;
  return d;
}

}  // namespace kairos::history
