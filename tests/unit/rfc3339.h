// RFC 3339 text to Unix nanoseconds, for tests that name instants.
#pragma once

#include <cstdint>
#include <string>

#include <absl/time/time.h>
#include <catch2/catch.hpp>

namespace kairos::testing {

inline int64_t At(const std::string& rfc3339) {
  absl::Time t;
  std::string err;
  REQUIRE(absl::ParseTime(absl::RFC3339_full, rfc3339, &t, &err));
  return absl::ToUnixNanos(t);
}

}  // namespace kairos::testing
