#include "kairos/history/run_search_attributes.h"

#include "kairos/visibility/values.h"

namespace kairos::history {

temporal::api::common::v1::SearchAttributes SearchAttributesOf(const records::ExecutionState& state) {
  temporal::api::common::v1::SearchAttributes sa;
  if (!state.search_attributes().empty()) sa.ParseFromString(state.search_attributes());
  return sa;
}

void SetSearchAttributes(records::ExecutionState* state, const temporal::api::common::v1::SearchAttributes& attributes) {
  state->set_search_attributes(attributes.SerializeAsString());
}

void UpsertSearchAttributes(records::ExecutionState* state, const temporal::api::common::v1::SearchAttributes& upsert) {
  auto sa = SearchAttributesOf(*state);
  MergeUpserted(sa.mutable_indexed_fields(), upsert.indexed_fields());
  SetSearchAttributes(state, sa);
}

std::string NamespaceDivisionOf(const records::ExecutionState& state) {
  // Most runs have no division: the name's absence from the bytes says so
  // without decoding them.
  static constexpr std::string_view kName = "TemporalNamespaceDivision";
  if (state.search_attributes().find(kName) == std::string::npos) return "";
  return visibility::StringValue(SearchAttributesOf(state), std::string(kName)).value_or("");
}

}  // namespace kairos::history
