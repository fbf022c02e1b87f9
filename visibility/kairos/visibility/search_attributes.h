// Search attributes: the system attributes of Temporal's SQL visibility,
// the predefined Temporal* ones, and each namespace's custom attributes
// (persisted, any number of them; no pre-allocated column slots).
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <grpcpp/support/status.h>

#include "temporal/api/common/v1/message.pb.h"
#include "temporal/api/enums/v1/common.pb.h"

namespace kairos::persistence {
class Store;
}

namespace kairos::visibility {

namespace enums = temporal::api::enums::v1;
using TypeMap = std::map<std::string, enums::IndexedValueType>;

// "Keyword", "KeywordList", ... as Temporal prints the type.
std::string TypeName(enums::IndexedValueType t);

// The CLI's spellings, case-insensitive: Text, Keyword, Int, Double, Bool,
// Datetime, KeywordList (also keyword_list and INDEXED_VALUE_TYPE_*).
std::optional<enums::IndexedValueType> ParseTypeName(const std::string& name);

// Attributes that are columns of a run (WorkflowId, StartTime, ...).
const TypeMap& SystemAttributes();
// Temporal* attributes kept with the custom ones (TemporalChangeVersion, ...).
const TypeMap& PredefinedAttributes();

// Names Temporal keeps for itself: system, predefined, Temporal*-prefixed.
bool IsReserved(const std::string& name);

// The custom search attributes of every namespace, by namespace id.
class SearchAttributeRegistry {
 public:
  explicit SearchAttributeRegistry(persistence::Store* store) : store_(store) {}

  grpc::Status Load();

  TypeMap Custom(const std::string& namespace_id) const;
  // Custom attributes of all namespaces (GetSearchAttributes has no namespace).
  TypeMap AllCustom() const;

  // OperatorService semantics: reserved names and unknown types refused; a
  // name already there is left as it is.
  grpc::Status Add(const std::string& namespace_id, const TypeMap& attributes);
  // A name that is not a custom attribute of the namespace is skipped; a
  // system one is refused.
  grpc::Status Remove(const std::string& namespace_id, const std::vector<std::string>& names);

  // The type of an attribute as a query or a payload names it.
  std::optional<enums::IndexedValueType> TypeOf(const std::string& namespace_id, const std::string& name) const;

  // Sets each value's "type" metadata (as Temporal returns them).
  void AddTypeMetadata(const std::string& namespace_id, temporal::api::common::v1::SearchAttributes* sa) const;

 private:
  persistence::Store* store_;
  mutable std::mutex mu_;
  std::map<std::string, TypeMap> custom_;
};

}  // namespace kairos::visibility
