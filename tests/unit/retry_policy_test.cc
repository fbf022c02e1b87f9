// Tests of Temporal's retry rules: defaults and the retry decision.
#include <catch2/catch.hpp>

#include "kairos/history/retry_policy.h"
#include "kairos/time_util.h"

using kairos::DurationToMs;
using kairos::MsToDuration;
using kairos::history::ApplyRetryDefaults;
using kairos::history::DecideRetry;
using kairos::history::RetryDecision;
namespace common = temporal::api::common::v1;
namespace failure = temporal::api::failure::v1;
namespace enums = temporal::api::enums::v1;

namespace {

common::RetryPolicy Defaults() {
  common::RetryPolicy p;
  ApplyRetryDefaults(&p);
  return p;
}

failure::Failure AppFailure(const std::string& type, bool non_retryable = false) {
  failure::Failure f;
  f.set_message("boom");
  f.mutable_application_failure_info()->set_type(type);
  f.mutable_application_failure_info()->set_non_retryable(non_retryable);
  return f;
}

RetryDecision Decide(const common::RetryPolicy& p, int32_t attempt, const failure::Failure* f = nullptr) {
  return DecideRetry(p, attempt, f, /*is_timeout=*/false, /*now_nanos=*/0, /*expiration_nanos=*/0);
}

}  // namespace

TEST_CASE("Retry: defaults are Temporal's", "[retry]") {
  common::RetryPolicy p = Defaults();
  CHECK(DurationToMs(p.initial_interval()) == 1000);
  CHECK(p.backoff_coefficient() == 2.0);
  CHECK(DurationToMs(p.maximum_interval()) == 100'000);
  CHECK(p.maximum_attempts() == 0);  // Unlimited.
  CHECK(p.non_retryable_error_types().empty());
}

TEST_CASE("Retry: defaults keep what is set; the maximum follows the initial interval", "[retry]") {
  common::RetryPolicy p;
  *p.mutable_initial_interval() = MsToDuration(3000);
  p.set_backoff_coefficient(1.5);
  p.set_maximum_attempts(4);
  ApplyRetryDefaults(&p);
  CHECK(DurationToMs(p.initial_interval()) == 3000);
  CHECK(p.backoff_coefficient() == 1.5);
  CHECK(DurationToMs(p.maximum_interval()) == 300'000);
  CHECK(p.maximum_attempts() == 4);

  common::RetryPolicy q;
  *q.mutable_maximum_interval() = MsToDuration(7000);
  ApplyRetryDefaults(&q);
  CHECK(DurationToMs(q.maximum_interval()) == 7000);
  CHECK(DurationToMs(q.initial_interval()) == 1000);
}

TEST_CASE("Retry: backoff doubles from one second", "[retry]") {
  common::RetryPolicy p = Defaults();
  const int64_t expected[] = {1000, 2000, 4000, 8000, 16000, 32000, 64000};
  for (int attempt = 1; attempt <= 7; ++attempt) {
    INFO("attempt " << attempt);
    RetryDecision d = Decide(p, attempt);
    CHECK(d.state == enums::RETRY_STATE_IN_PROGRESS);
    CHECK(d.delay_ms == expected[attempt - 1]);
  }
}

TEST_CASE("Retry: the maximum interval caps the backoff", "[retry]") {
  common::RetryPolicy p = Defaults();
  CHECK(Decide(p, 8).delay_ms == 100'000);  // 128 s capped at 100 s.
  CHECK(Decide(p, 60).delay_ms == 100'000);
  CHECK(Decide(p, 2000).delay_ms == 100'000);  // No overflow however many attempts.

  *p.mutable_maximum_interval() = MsToDuration(5000);
  CHECK(Decide(p, 3).delay_ms == 4000);
  CHECK(Decide(p, 4).delay_ms == 5000);
  CHECK(Decide(p, 5).delay_ms == 5000);
}

TEST_CASE("Retry: a custom coefficient and interval", "[retry]") {
  common::RetryPolicy p;
  *p.mutable_initial_interval() = MsToDuration(200);
  p.set_backoff_coefficient(1.5);
  ApplyRetryDefaults(&p);
  CHECK(Decide(p, 1).delay_ms == 200);
  CHECK(Decide(p, 2).delay_ms == 300);
  CHECK(Decide(p, 3).delay_ms == 450);

  common::RetryPolicy flat;
  *flat.mutable_initial_interval() = MsToDuration(500);
  flat.set_backoff_coefficient(1.0);
  ApplyRetryDefaults(&flat);
  CHECK(Decide(flat, 1).delay_ms == 500);
  CHECK(Decide(flat, 10).delay_ms == 500);
}

TEST_CASE("Retry: maximum attempts", "[retry]") {
  common::RetryPolicy p = Defaults();
  p.set_maximum_attempts(3);
  auto f = AppFailure("SomeError");
  CHECK(Decide(p, 1, &f).state == enums::RETRY_STATE_IN_PROGRESS);
  CHECK(Decide(p, 2, &f).state == enums::RETRY_STATE_IN_PROGRESS);
  CHECK(Decide(p, 3, &f).state == enums::RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED);
  CHECK(Decide(p, 4, &f).state == enums::RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED);

  p.set_maximum_attempts(1);  // No retries at all.
  CHECK(Decide(p, 1, &f).state == enums::RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED);

  p.set_maximum_attempts(0);  // Unlimited.
  CHECK(Decide(p, 10'000, &f).state == enums::RETRY_STATE_IN_PROGRESS);
}

TEST_CASE("Retry: non-retryable error types match the application failure type", "[retry]") {
  common::RetryPolicy p = Defaults();
  p.add_non_retryable_error_types("FatalError");
  p.add_non_retryable_error_types("OtherFatal");

  auto fatal = AppFailure("FatalError");
  auto other = AppFailure("OtherFatal");
  auto fine = AppFailure("TransientError");
  auto prefix = AppFailure("FatalErr");  // Whole-name match only.
  CHECK(Decide(p, 1, &fatal).state == enums::RETRY_STATE_NON_RETRYABLE_FAILURE);
  CHECK(Decide(p, 1, &other).state == enums::RETRY_STATE_NON_RETRYABLE_FAILURE);
  CHECK(Decide(p, 1, &fine).state == enums::RETRY_STATE_IN_PROGRESS);
  CHECK(Decide(p, 1, &prefix).state == enums::RETRY_STATE_IN_PROGRESS);

  // Non-retryable wins over the attempt limit, as in Temporal.
  p.set_maximum_attempts(1);
  CHECK(Decide(p, 1, &fatal).state == enums::RETRY_STATE_NON_RETRYABLE_FAILURE);
}

TEST_CASE("Retry: the application failure's non_retryable flag", "[retry]") {
  common::RetryPolicy p = Defaults();
  auto f = AppFailure("AnyError", /*non_retryable=*/true);
  CHECK(Decide(p, 1, &f).state == enums::RETRY_STATE_NON_RETRYABLE_FAILURE);
  auto g = AppFailure("AnyError", /*non_retryable=*/false);
  CHECK(Decide(p, 1, &g).state == enums::RETRY_STATE_IN_PROGRESS);
}

TEST_CASE("Retry: canceled and terminated failures are not retried", "[retry]") {
  common::RetryPolicy p = Defaults();
  failure::Failure canceled;
  canceled.mutable_canceled_failure_info();
  CHECK(Decide(p, 1, &canceled).state == enums::RETRY_STATE_NON_RETRYABLE_FAILURE);
  failure::Failure terminated;
  terminated.mutable_terminated_failure_info();
  CHECK(Decide(p, 1, &terminated).state == enums::RETRY_STATE_NON_RETRYABLE_FAILURE);
}

TEST_CASE("Retry: next_retry_delay overrides the computed backoff", "[retry]") {
  common::RetryPolicy p = Defaults();
  auto f = AppFailure("Busy");
  *f.mutable_application_failure_info()->mutable_next_retry_delay() = MsToDuration(7000);
  RetryDecision d = Decide(p, 1, &f);
  CHECK(d.state == enums::RETRY_STATE_IN_PROGRESS);
  CHECK(d.delay_ms == 7000);
  CHECK(Decide(p, 5, &f).delay_ms == 7000);  // Not 16 s.

  // It does not lift the attempt limit.
  p.set_maximum_attempts(2);
  CHECK(Decide(p, 2, &f).state == enums::RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED);
}

TEST_CASE("Retry: the schedule-to-close expiration bounds retries", "[retry]") {
  common::RetryPolicy p = Defaults();
  auto f = AppFailure("SomeError");
  const int64_t now = 1'000'000'000'000;  // Any absolute time.
  const int64_t expiration = now + 3'500'000'000;  // 3.5 s from now.
  RetryDecision d1 = DecideRetry(p, 1, &f, false, now, expiration);  // Next try in 1 s.
  CHECK(d1.state == enums::RETRY_STATE_IN_PROGRESS);
  CHECK(d1.delay_ms == 1000);
  RetryDecision d2 = DecideRetry(p, 2, &f, false, now, expiration);  // 2 s.
  CHECK(d2.state == enums::RETRY_STATE_IN_PROGRESS);
  RetryDecision d3 = DecideRetry(p, 3, &f, false, now, expiration);  // 4 s: past the bound.
  CHECK(d3.state == enums::RETRY_STATE_TIMEOUT);
  // Already expired.
  CHECK(DecideRetry(p, 1, &f, false, expiration + 1, expiration).state == enums::RETRY_STATE_TIMEOUT);
  // No bound.
  CHECK(DecideRetry(p, 3, &f, false, now, 0).state == enums::RETRY_STATE_IN_PROGRESS);
  // A next_retry_delay past the bound times out too.
  *f.mutable_application_failure_info()->mutable_next_retry_delay() = MsToDuration(10'000);
  CHECK(DecideRetry(p, 1, &f, false, now, expiration).state == enums::RETRY_STATE_TIMEOUT);
}

TEST_CASE("Retry: a start-to-close timeout is retried by default", "[retry]") {
  common::RetryPolicy p = Defaults();
  failure::Failure timeout;
  timeout.mutable_timeout_failure_info()->set_timeout_type(enums::TIMEOUT_TYPE_START_TO_CLOSE);
  RetryDecision d = DecideRetry(p, 1, &timeout, true, 0, 0);
  CHECK(d.state == enums::RETRY_STATE_IN_PROGRESS);
  CHECK(d.delay_ms == 1000);
  // An unrelated non-retryable application type does not stop it.
  p.add_non_retryable_error_types("FatalError");
  CHECK(DecideRetry(p, 1, &timeout, true, 0, 0).state == enums::RETRY_STATE_IN_PROGRESS);
}

// Regression: retry_policy.cc builds the timeout type name from the proto enum name
// ("TemporalTimeout:START_TO_CLOSE"), but Temporal matches
// "TemporalTimeout:" + TimeoutType.String() in Go, i.e. "TemporalTimeout:StartToClose" /
// "TemporalTimeout:Heartbeat" (go.temporal.io/server common/retrypolicy
// TimeoutFailureTypePrefix). A policy written for Temporal never matches.
TEST_CASE("Retry: NonRetryableErrorTypes TemporalTimeout:StartToClose stops timeout retries",
          "[retry]") {
  common::RetryPolicy p = Defaults();
  p.add_non_retryable_error_types("TemporalTimeout:StartToClose");
  p.add_non_retryable_error_types("TemporalTimeout:Heartbeat");
  failure::Failure start_to_close;
  start_to_close.mutable_timeout_failure_info()->set_timeout_type(enums::TIMEOUT_TYPE_START_TO_CLOSE);
  CHECK(DecideRetry(p, 1, &start_to_close, true, 0, 0).state == enums::RETRY_STATE_NON_RETRYABLE_FAILURE);
  failure::Failure heartbeat;
  heartbeat.mutable_timeout_failure_info()->set_timeout_type(enums::TIMEOUT_TYPE_HEARTBEAT);
  CHECK(DecideRetry(p, 1, &heartbeat, true, 0, 0).state == enums::RETRY_STATE_NON_RETRYABLE_FAILURE);
}

// Regression: Temporal's isRetryable treats a ServerFailureInfo with
// non_retryable = true as not retryable; DecideRetry ignores server failures.
TEST_CASE("Retry: a non-retryable server failure is not retried", "[retry]") {
  common::RetryPolicy p = Defaults();
  failure::Failure f;
  f.mutable_server_failure_info()->set_non_retryable(true);
  CHECK(Decide(p, 1, &f).state == enums::RETRY_STATE_NON_RETRYABLE_FAILURE);
  failure::Failure g;
  g.mutable_server_failure_info()->set_non_retryable(false);
  CHECK(Decide(p, 1, &g).state == enums::RETRY_STATE_IN_PROGRESS);
}

// BUG (minor, boundary only): Temporal times out when now + interval is
// strictly after the expiration (time.After); DecideRetry uses >=, so a retry
// landing exactly on the schedule-to-close deadline is refused.
TEST_CASE("Retry: a retry due exactly at the expiration is still made", "[retry]") {
  common::RetryPolicy p = Defaults();
  auto f = AppFailure("SomeError");
  const int64_t now = 5'000'000'000;
  CHECK(DecideRetry(p, 1, &f, false, now, now + 1'000'000'000).state == enums::RETRY_STATE_IN_PROGRESS);
}
