// The checks Temporal (1.32, SQL visibility) makes on the search attributes
// a start, a signal-with-start, a schedule or a workflow command sets:
// names must be registered and settable, values must decode as their
// registered type, and the map must stay within the size limits. Messages
// are Temporal's, so that callers see the same INVALID_ARGUMENT text.
#pragma once

#include <string>

#include <grpcpp/support/status.h>

#include "kairos/visibility/search_attributes.h"
#include "temporal/api/common/v1/message.pb.h"

namespace kairos::visibility {

// Temporal's defaults (frontend.searchAttributes*Limit).
struct SearchAttributeLimits {
  int max_keys = 100;
  int max_value_bytes = 2 * 1024;
  int max_total_bytes = 40 * 1024;
};

class SearchAttributeValidator {
 public:
  explicit SearchAttributeValidator(const SearchAttributeRegistry* registry, SearchAttributeLimits limits = {})
      : registry_(registry), limits_(limits) {}

  // Registered names that a user may set, values of their type, and the
  // number of keys. `namespace_name` only appears in messages.
  grpc::Status Validate(const std::string& namespace_id, const std::string& namespace_name,
                        const temporal::api::common::v1::SearchAttributes& sa) const;

  // The size of each value's data and of the whole map.
  grpc::Status ValidateSize(const temporal::api::common::v1::SearchAttributes& sa) const;

  // Validate, then ValidateSize: what a start request goes through.
  grpc::Status ValidateAll(const std::string& namespace_id, const std::string& namespace_name,
                           const temporal::api::common::v1::SearchAttributes& sa) const;

  // The registered type of an attribute of the namespace.
  std::optional<enums::IndexedValueType> TypeOf(const std::string& namespace_id, const std::string& name) const {
    return registry_->TypeOf(namespace_id, name);
  }

 private:
  const SearchAttributeRegistry* registry_;
  SearchAttributeLimits limits_;
};

// Whether a value decodes as `type` the way Temporal decodes it (null and an
// empty list unset the attribute and are always accepted). On failure
// `shown` is the value as Temporal prints it in its message.
bool DecodesAs(const temporal::api::common::v1::Payload& payload, enums::IndexedValueType type, std::string* shown);

}  // namespace kairos::visibility
