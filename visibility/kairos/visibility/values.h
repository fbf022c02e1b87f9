// Search-attribute values: decoding the JSON payloads SDKs send into the
// forms a query compares (kairos::persistence::SearchAttributeValue), and
// the parsing of time values (RFC 3339) and durations that queries use.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "kairos/persistence/store.h"
#include "temporal/api/common/v1/message.pb.h"
#include "temporal/api/enums/v1/common.pb.h"

namespace kairos::visibility {

// An attribute's registered type, if it has one.
using TypeLookup =
    std::function<std::optional<temporal::api::enums::v1::IndexedValueType>(const std::string& name)>;

// Every value of every attribute (one per item of a list; none for null).
// An attribute whose type `type_of` knows keeps only the form its type's
// queries compare (a number is not also indexed as a double, a Text value
// only as words), so that each value costs one index entry; without a type,
// every form the value has.
std::vector<persistence::SearchAttributeValue> IndexValues(const temporal::api::common::v1::SearchAttributes& sa,
                                                           const TypeLookup& type_of = nullptr);

// The attribute's single string value, if it has one.
std::optional<std::string> StringValue(const temporal::api::common::v1::SearchAttributes& sa, const std::string& name);

// Every string value of the attribute (one for a Keyword, each item of a
// KeywordList); empty when it has none.
std::vector<std::string> StringValues(const temporal::api::common::v1::SearchAttributes& sa, const std::string& name);

// A KeywordList payload holding `items`, as SDKs write one (json/plain).
temporal::api::common::v1::Payload KeywordListPayload(const std::vector<std::string>& items);
// A Keyword payload holding `value`.
temporal::api::common::v1::Payload KeywordPayload(const std::string& value);

// Go's time.Parse(time.RFC3339Nano, s): "2026-01-02T03:04:05.123Z",
// "...+01:00". Nanoseconds since the epoch.
std::optional<int64_t> ParseRfc3339(const std::string& s);

// Temporal's ExecutionDuration values: nanoseconds, Go durations ("1h30m",
// "300ms", "2d"), or "hh:mm:ss".
std::optional<int64_t> ParseDuration(const std::string& s);

// A duration as Temporal's dynamic config reads one (`--dynamic-config-value
// KEY=VALUE`): a plain integer counts seconds, anything else is a Go
// duration; quotes around it are dropped. Nanoseconds; nullopt when it does
// not parse or is negative.
std::optional<int64_t> DynamicConfigDurationNanos(std::string value);

// Words of a Text value, lower case, as " w1 w2 " (empty when none).
std::string Words(const std::string& text);
std::vector<std::string> Tokens(const std::string& text);

}  // namespace kairos::visibility
