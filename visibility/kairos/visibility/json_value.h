// A small JSON reader for search-attribute payloads. Protobuf's own JSON
// parser builds a type resolver per call, which made decoding a run's
// attributes most of a visibility write; this one reads the few bytes of a
// value directly into a google.protobuf.Value.
#pragma once

#include <optional>
#include <string_view>

#include <google/protobuf/struct.pb.h>

namespace kairos::visibility {

// The value `json` holds (one JSON value, surrounding whitespace allowed),
// or nothing when it is not valid JSON.
std::optional<google::protobuf::Value> ParseJsonValue(std::string_view json);

}  // namespace kairos::visibility
