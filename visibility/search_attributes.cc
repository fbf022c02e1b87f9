#include "kairos/visibility/search_attributes.h"

#include <algorithm>
#include <cctype>

#include "kairos/errors.h"
#include "kairos/persistence/store.h"

namespace kairos::visibility {
namespace {

std::string Lower(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c != '_') out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

}  // namespace

std::string TypeName(enums::IndexedValueType t) {
  switch (t) {
    case enums::INDEXED_VALUE_TYPE_TEXT: return "Text";
    case enums::INDEXED_VALUE_TYPE_KEYWORD: return "Keyword";
    case enums::INDEXED_VALUE_TYPE_INT: return "Int";
    case enums::INDEXED_VALUE_TYPE_DOUBLE: return "Double";
    case enums::INDEXED_VALUE_TYPE_BOOL: return "Bool";
    case enums::INDEXED_VALUE_TYPE_DATETIME: return "Datetime";
    case enums::INDEXED_VALUE_TYPE_KEYWORD_LIST: return "KeywordList";
    default: return "Unspecified";
  }
}

std::optional<enums::IndexedValueType> ParseTypeName(const std::string& name) {
  std::string n = Lower(name);
  if (n.rfind("indexedvaluetype", 0) == 0) n = n.substr(16);
  for (int t = enums::INDEXED_VALUE_TYPE_TEXT; t <= enums::INDEXED_VALUE_TYPE_KEYWORD_LIST; ++t) {
    auto type = static_cast<enums::IndexedValueType>(t);
    if (Lower(TypeName(type)) == n) return type;
  }
  return std::nullopt;
}

const TypeMap& SystemAttributes() {
  static const TypeMap kSystem = {
      {"WorkflowId", enums::INDEXED_VALUE_TYPE_KEYWORD},
      {"RunId", enums::INDEXED_VALUE_TYPE_KEYWORD},
      {"WorkflowType", enums::INDEXED_VALUE_TYPE_KEYWORD},
      {"StartTime", enums::INDEXED_VALUE_TYPE_DATETIME},
      {"ExecutionTime", enums::INDEXED_VALUE_TYPE_DATETIME},
      {"CloseTime", enums::INDEXED_VALUE_TYPE_DATETIME},
      {"ExecutionStatus", enums::INDEXED_VALUE_TYPE_KEYWORD},
      {"TaskQueue", enums::INDEXED_VALUE_TYPE_KEYWORD},
      {"HistoryLength", enums::INDEXED_VALUE_TYPE_INT},
      {"ExecutionDuration", enums::INDEXED_VALUE_TYPE_INT},
      {"StateTransitionCount", enums::INDEXED_VALUE_TYPE_INT},
      {"HistorySizeBytes", enums::INDEXED_VALUE_TYPE_INT},
      {"ParentWorkflowId", enums::INDEXED_VALUE_TYPE_KEYWORD},
      {"ParentRunId", enums::INDEXED_VALUE_TYPE_KEYWORD},
      {"RootWorkflowId", enums::INDEXED_VALUE_TYPE_KEYWORD},
      {"RootRunId", enums::INDEXED_VALUE_TYPE_KEYWORD},
  };
  return kSystem;
}

const TypeMap& PredefinedAttributes() {
  static const TypeMap kPredefined = {
      {"TemporalChangeVersion", enums::INDEXED_VALUE_TYPE_KEYWORD_LIST},
      {"BinaryChecksums", enums::INDEXED_VALUE_TYPE_KEYWORD_LIST},
      {"BuildIds", enums::INDEXED_VALUE_TYPE_KEYWORD_LIST},
      {"BatcherNamespace", enums::INDEXED_VALUE_TYPE_KEYWORD},
      {"BatcherUser", enums::INDEXED_VALUE_TYPE_KEYWORD},
      {"TemporalScheduledStartTime", enums::INDEXED_VALUE_TYPE_DATETIME},
      {"TemporalScheduledById", enums::INDEXED_VALUE_TYPE_KEYWORD},
      {"TemporalSchedulePaused", enums::INDEXED_VALUE_TYPE_BOOL},
      {"TemporalNamespaceDivision", enums::INDEXED_VALUE_TYPE_KEYWORD},
      {"TemporalPauseInfo", enums::INDEXED_VALUE_TYPE_KEYWORD_LIST},
      {"TemporalReportedProblems", enums::INDEXED_VALUE_TYPE_KEYWORD_LIST},
      {"TemporalWorkerDeploymentVersion", enums::INDEXED_VALUE_TYPE_KEYWORD},
      {"TemporalWorkflowVersioningBehavior", enums::INDEXED_VALUE_TYPE_KEYWORD},
      {"TemporalWorkerDeployment", enums::INDEXED_VALUE_TYPE_KEYWORD},
      {"TemporalUsedWorkerDeploymentVersions", enums::INDEXED_VALUE_TYPE_KEYWORD_LIST},
      {"TemporalExternalPayloadCount", enums::INDEXED_VALUE_TYPE_INT},
      {"TemporalExternalPayloadSizeBytes", enums::INDEXED_VALUE_TYPE_INT},
  };
  return kPredefined;
}

bool IsReserved(const std::string& name) {
  if (SystemAttributes().contains(name) || PredefinedAttributes().contains(name)) return true;
  if (name == "NamespaceId" || name == "MemoEncoding" || name == "Memo" || name == "VisibilityTaskKey") return true;
  return name.rfind("Temporal", 0) == 0;
}

grpc::Status SearchAttributeRegistry::Load() {
  std::lock_guard lock(mu_);
  custom_.clear();
  for (const auto& d : store_->LoadSearchAttributes())
    custom_[d.namespace_id][d.name] = static_cast<enums::IndexedValueType>(d.type);
  return grpc::Status::OK;
}

TypeMap SearchAttributeRegistry::Custom(const std::string& namespace_id) const {
  std::lock_guard lock(mu_);
  auto it = custom_.find(namespace_id);
  return it == custom_.end() ? TypeMap{} : it->second;
}

TypeMap SearchAttributeRegistry::AllCustom() const {
  std::lock_guard lock(mu_);
  TypeMap out;
  for (const auto& [ns, attrs] : custom_) out.insert(attrs.begin(), attrs.end());
  return out;
}

grpc::Status SearchAttributeRegistry::Add(const std::string& namespace_id, const TypeMap& attributes) {
  if (attributes.empty()) return errors::InvalidArgument("SearchAttributes are not set on request.");
  for (const auto& [name, type] : attributes) {
    if (IsReserved(name)) return errors::InvalidArgument("Search attribute " + name + " is reserved by system.");
    if (type < enums::INDEXED_VALUE_TYPE_TEXT || type > enums::INDEXED_VALUE_TYPE_KEYWORD_LIST)
      return errors::InvalidArgument("Unknown search attribute type: " + TypeName(type) + ".");
  }
  std::lock_guard lock(mu_);
  auto& mine = custom_[namespace_id];
  persistence::WriteBatch batch;
  for (const auto& [name, type] : attributes) {
    if (!mine.contains(name)) batch.search_attribute_upserts.push_back({namespace_id, name, type});
  }
  if (batch.empty()) return grpc::Status::OK;
  if (auto st = store_->Commit(batch); !st.ok())
    return errors::Unavailable("Unable to save search attributes: " + st.error_message() + ".");
  for (const auto& d : batch.search_attribute_upserts) mine[d.name] = static_cast<enums::IndexedValueType>(d.type);
  return grpc::Status::OK;
}

grpc::Status SearchAttributeRegistry::Remove(const std::string& namespace_id, const std::vector<std::string>& names) {
  if (names.empty()) return errors::InvalidArgument("SearchAttributes are not set on request.");
  std::lock_guard lock(mu_);
  auto& mine = custom_[namespace_id];
  persistence::WriteBatch batch;
  for (const auto& name : names) {
    if (mine.contains(name)) {
      batch.search_attribute_deletes.push_back({namespace_id, name, 0});
    } else if (SystemAttributes().contains(name) || PredefinedAttributes().contains(name)) {
      return errors::InvalidArgument("Unable to remove non-custom search attributes: " + name + ".");
    }
  }
  if (batch.empty()) return grpc::Status::OK;
  if (auto st = store_->Commit(batch); !st.ok())
    return errors::Unavailable("Unable to save search attributes: " + st.error_message() + ".");
  for (const auto& d : batch.search_attribute_deletes) mine.erase(d.name);
  return grpc::Status::OK;
}

std::optional<enums::IndexedValueType> SearchAttributeRegistry::TypeOf(const std::string& namespace_id,
                                                                      const std::string& name) const {
  if (auto it = SystemAttributes().find(name); it != SystemAttributes().end()) return it->second;
  if (auto it = PredefinedAttributes().find(name); it != PredefinedAttributes().end()) return it->second;
  std::lock_guard lock(mu_);
  auto ns = custom_.find(namespace_id);
  if (ns == custom_.end()) return std::nullopt;
  auto it = ns->second.find(name);
  if (it == ns->second.end()) return std::nullopt;
  return it->second;
}

void SearchAttributeRegistry::AddTypeMetadata(const std::string& namespace_id,
                                              temporal::api::common::v1::SearchAttributes* sa) const {
  for (auto& [name, payload] : *sa->mutable_indexed_fields()) {
    if (payload.metadata().contains("type")) continue;
    if (auto t = TypeOf(namespace_id, name)) (*payload.mutable_metadata())["type"] = TypeName(*t);
  }
}

}  // namespace kairos::visibility
