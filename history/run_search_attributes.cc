#include "kairos/history/run_search_attributes.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/wire_format_lite.h>

#include <string_view>
#include <vector>

#include "kairos/visibility/values.h"

namespace kairos::history {
namespace {

using google::protobuf::internal::WireFormatLite;

// One entry of the serialized indexed_fields map: its key, and the whole
// entry's bytes (tag and length included), to be copied as they are.
struct Entry {
  std::string key;
  std::string_view bytes;
};

// The map's entries as they lie in the bytes, without decoding the payloads.
// Returns false on bytes that are not a SearchAttributes message (the caller
// then decodes them the slow way, which reports nothing either: as before).
bool Entries(std::string_view bytes, std::vector<Entry>* out) {
  google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(bytes.data()),
                                            static_cast<int>(bytes.size()));
  while (true) {
    int begin = in.CurrentPosition();
    uint32_t tag = in.ReadTag();
    if (tag == 0) return in.CurrentPosition() == static_cast<int>(bytes.size());
    if (tag != WireFormatLite::MakeTag(1, WireFormatLite::WIRETYPE_LENGTH_DELIMITED)) return false;
    uint32_t length;
    if (!in.ReadVarint32(&length)) return false;
    auto limit = in.PushLimit(static_cast<int>(length));
    Entry e;
    while (uint32_t field = in.ReadTag()) {
      if (field == WireFormatLite::MakeTag(1, WireFormatLite::WIRETYPE_LENGTH_DELIMITED)) {
        if (!WireFormatLite::ReadString(&in, &e.key)) return false;
      } else if (!WireFormatLite::SkipField(&in, field)) {
        return false;
      }
    }
    if (!in.ConsumedEntireMessage()) return false;
    in.PopLimit(limit);
    e.bytes = bytes.substr(begin, in.CurrentPosition() - begin);
    out->push_back(std::move(e));
  }
}

}  // namespace

temporal::api::common::v1::SearchAttributes SearchAttributesOf(const records::ExecutionState& state) {
  temporal::api::common::v1::SearchAttributes sa;
  if (!state.search_attributes().empty()) sa.ParseFromString(state.search_attributes());
  return sa;
}

temporal::api::common::v1::SearchAttributes SearchAttributesOf(const records::ExecutionState& state,
                                                               const std::set<std::string>& names) {
  std::vector<Entry> entries;
  if (!Entries(state.search_attributes(), &entries)) {
    auto all = SearchAttributesOf(state);
    temporal::api::common::v1::SearchAttributes some;
    for (const auto& name : names)
      if (auto it = all.indexed_fields().find(name); it != all.indexed_fields().end())
        (*some.mutable_indexed_fields())[name] = it->second;
    return some;
  }
  // Concatenated entries are a SearchAttributes message of their own.
  std::string selected;
  for (const auto& e : entries)
    if (names.contains(e.key)) selected.append(e.bytes);
  temporal::api::common::v1::SearchAttributes some;
  some.ParseFromString(selected);
  return some;
}

void SetSearchAttributes(records::ExecutionState* state, const temporal::api::common::v1::SearchAttributes& attributes) {
  state->set_search_attributes(attributes.SerializeAsString());
}

void UpsertSearchAttributes(records::ExecutionState* state, const temporal::api::common::v1::SearchAttributes& upsert) {
  std::vector<Entry> entries;
  if (!Entries(state->search_attributes(), &entries)) {
    auto sa = SearchAttributesOf(*state);
    MergeUpserted(sa.mutable_indexed_fields(), upsert.indexed_fields());
    SetSearchAttributes(state, sa);
    return;
  }
  // The entries the upsert does not name are kept as bytes; those it sets
  // are appended (a map's entry order carries no meaning).
  std::string merged;
  for (const auto& e : entries)
    if (!upsert.indexed_fields().contains(e.key)) merged.append(e.bytes);
  temporal::api::common::v1::SearchAttributes set;
  MergeUpserted(set.mutable_indexed_fields(), upsert.indexed_fields());
  merged.append(set.SerializeAsString());
  state->set_search_attributes(std::move(merged));
}

std::string NamespaceDivisionOf(const records::ExecutionState& state) {
  // Most runs have no division: the name's absence from the bytes says so
  // without decoding them.
  static constexpr std::string_view kName = "TemporalNamespaceDivision";
  if (state.search_attributes().find(kName) == std::string::npos) return "";
  return visibility::StringValue(SearchAttributesOf(state, {std::string(kName)}), std::string(kName))
      .value_or("");
}

}  // namespace kairos::history
