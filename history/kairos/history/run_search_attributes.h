// A run's search attributes as its state keeps them: serialized. The state
// is copied twice per change (into the change, then into the cache), and a
// copy of the bytes is one allocation where a copy of the message is a map
// of payloads, each with a map of metadata. They are decoded only when they
// change, when the run's visibility row indexes them, and for readers.
#pragma once

#include <set>
#include <string>

#include "kairos/records.pb.h"
#include "temporal/api/common/v1/message.pb.h"

namespace kairos::history {

temporal::api::common::v1::SearchAttributes SearchAttributesOf(const records::ExecutionState& state);
// Only the named attributes, decoded; the others are skipped in the bytes
// (a run's visibility write after an upsert, a build id's list).
temporal::api::common::v1::SearchAttributes SearchAttributesOf(const records::ExecutionState& state,
                                                               const std::set<std::string>& names);
void SetSearchAttributes(records::ExecutionState* state, const temporal::api::common::v1::SearchAttributes& attributes);

// Applies an upsert: an empty or null payload removes the attribute, as in
// Temporal. The attributes it does not name are copied as bytes.
void UpsertSearchAttributes(records::ExecutionState* state, const temporal::api::common::v1::SearchAttributes& upsert);

// The run's TemporalNamespaceDivision, or "".
std::string NamespaceDivisionOf(const records::ExecutionState& state);

// Merges upserted map entries (search attributes or memo fields): an empty
// or null payload removes the entry.
template <class Fields, class Upserted>
void MergeUpserted(Fields* fields, const Upserted& upserted) {
  for (const auto& [k, v] : upserted) {
    if (v.data().empty() || v.data() == "null") fields->erase(k); else (*fields)[k] = v;
  }
}

}  // namespace kairos::history
