#include "kairos/frontend/namespace_registry.h"

#include <algorithm>
#include <cctype>

#include "kairos/errors.h"
#include "kairos/ids.h"
#include "kairos/persistence/store.h"
#include "kairos/time_util.h"

namespace kairos::frontend {
namespace {

namespace enums = temporal::api::enums::v1;
constexpr size_t kMaxNamespaceLength = 255;
constexpr int kDefaultPageSize = 100;

void FillDescription(const records::NamespaceRecord& rec, temporal::api::namespace_::v1::NamespaceInfo* info,
                     temporal::api::namespace_::v1::NamespaceConfig* config,
                     temporal::api::replication::v1::NamespaceReplicationConfig* replication) {
  *info = rec.info();
  *config = rec.config();
  *replication = rec.replication_config();
}

}  // namespace

grpc::Status ValidateNamespaceName(const std::string& name) {
  if (name.empty()) return errors::InvalidArgument("Namespace not set on request.");
  if (name.size() > kMaxNamespaceLength)
    return errors::InvalidArgument("Namespace length exceeds limit of " + std::to_string(kMaxNamespaceLength) + ".");
  auto alnum = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; };
  bool valid = alnum(name[0]) &&
               std::all_of(name.begin(), name.end(), [&](char c) { return alnum(c) || c == '.' || c == '_' || c == '-'; });
  if (!valid)
    return errors::InvalidArgument("Namespace \"" + name +
                                   "\" is invalid: use letters, digits, '.', '_' and '-', starting with a letter or digit.");
  return grpc::Status::OK;
}

grpc::Status ValidateRetention(const google::protobuf::Duration& retention) {
  if (retention.seconds() < 0 || retention.nanos() < 0 || DurationToMs(retention) < kMinRetentionMs)
    return errors::InvalidArgument("A valid retention period is not set on request.");
  return grpc::Status::OK;
}

NamespaceRegistry::NamespaceRegistry(persistence::Store* store, const history::Limits* limits)
    : store_(store),
      blob_size_limit_(limits ? limits->blob_size_error : history::Limits{}.blob_size_error),
      memo_size_limit_(limits ? limits->memo_size_error : history::Limits{}.memo_size_error) {}

void NamespaceRegistry::FillCapabilities(records::NamespaceRecord* rec) const {
  // Only what Kairos really does; the rest stays false.
  auto* caps = rec->mutable_info()->mutable_capabilities();
  caps->Clear();
  caps->set_eager_workflow_start(true);
  caps->set_sync_update(true);
  caps->set_async_update(true);
  caps->set_standalone_nexus_operation(true);  // StartNexusOperationExecution and the rest.
  rec->mutable_info()->set_supports_schedules(true);
  // Temporal's defaults (limit.blobSize.error, limit.memoSize.error); SDKs
  // read them and refuse larger payloads before sending them.
  auto* limits = rec->mutable_info()->mutable_limits();
  limits->set_blob_size_limit_error(blob_size_limit_);
  limits->set_memo_size_limit_error(memo_size_limit_);
}

grpc::Status NamespaceRegistry::Save(const records::NamespaceRecord& rec) {
  persistence::WriteBatch b;
  b.namespace_upserts.push_back({rec.info().id(), rec.info().name(), rec.SerializeAsString()});
  return store_->Commit(std::move(b));
}

grpc::Status NamespaceRegistry::Load(const std::vector<std::string>& ensure) {
  {
    std::lock_guard lock(mu_);
    for (const auto& row : store_->ListNamespaces()) {
      records::NamespaceRecord rec;
      if (!rec.ParseFromString(row.record)) return errors::Internal("corrupt namespace record " + row.name);
      FillCapabilities(&rec);
      by_name_[row.name] = rec;
    }
  }
  for (const auto& name : ensure) {
    {
      std::lock_guard lock(mu_);
      if (by_name_.contains(name)) continue;
    }
    wsv1::RegisterNamespaceRequest req;
    req.set_namespace_(name);
    *req.mutable_workflow_execution_retention_period() = MsToDuration(kDefaultRetentionHours * 3600 * 1000);
    if (auto st = Register(req); !st.ok() && st.error_code() != grpc::StatusCode::ALREADY_EXISTS) return st;
  }
  return grpc::Status::OK;
}

grpc::Status NamespaceRegistry::Register(const wsv1::RegisterNamespaceRequest& req) {
  if (auto st = ValidateNamespaceName(req.namespace_()); !st.ok()) return st;
  // Temporal refuses a missing retention as one that is too short.
  const google::protobuf::Duration& retention = req.workflow_execution_retention_period();
  if (auto st = ValidateRetention(retention); !st.ok()) return st;
  records::NamespaceRecord rec;
  auto* info = rec.mutable_info();
  info->set_name(req.namespace_());
  info->set_state(enums::NAMESPACE_STATE_REGISTERED);
  info->set_description(req.description());
  info->set_owner_email(req.owner_email());
  *info->mutable_data() = req.data();
  info->set_id(NewUuid());
  FillCapabilities(&rec);
  auto* config = rec.mutable_config();
  *config->mutable_workflow_execution_retention_ttl() = retention;
  config->set_history_archival_state(enums::ARCHIVAL_STATE_DISABLED);
  config->set_visibility_archival_state(enums::ARCHIVAL_STATE_DISABLED);
  rec.mutable_replication_config()->set_active_cluster_name("active");
  rec.mutable_replication_config()->add_clusters()->set_cluster_name("active");
  rec.mutable_replication_config()->set_state(enums::REPLICATION_STATE_NORMAL);
  std::lock_guard lock(mu_);
  if (by_name_.contains(req.namespace_())) return errors::NamespaceAlreadyExists(req.namespace_());
  if (auto st = Save(rec); !st.ok()) return st;
  by_name_[req.namespace_()] = std::move(rec);
  return grpc::Status::OK;
}

grpc::Status NamespaceRegistry::Describe(const wsv1::DescribeNamespaceRequest& req, wsv1::DescribeNamespaceResponse* resp) {
  std::lock_guard lock(mu_);
  const records::NamespaceRecord* found = nullptr;
  if (!req.namespace_().empty()) {
    auto it = by_name_.find(req.namespace_());
    if (it != by_name_.end()) found = &it->second;
  } else if (!req.id().empty()) {
    for (const auto& [name, rec] : by_name_)
      if (rec.info().id() == req.id()) found = &rec;
  } else {
    return errors::InvalidArgument("Namespace not set on request.");
  }
  if (!found) return errors::NamespaceNotFound(req.namespace_().empty() ? req.id() : req.namespace_());
  FillDescription(*found, resp->mutable_namespace_info(), resp->mutable_config(), resp->mutable_replication_config());
  resp->set_failover_version(found->failover_version());
  resp->set_is_global_namespace(false);
  return grpc::Status::OK;
}

grpc::Status NamespaceRegistry::List(const wsv1::ListNamespacesRequest& req, wsv1::ListNamespacesResponse* resp) {
  int page = req.page_size() > 0 ? req.page_size() : kDefaultPageSize;
  std::lock_guard lock(mu_);
  // The token is the last name returned; names are listed in order.
  auto it = req.next_page_token().empty() ? by_name_.begin() : by_name_.upper_bound(req.next_page_token());
  int n = 0;
  for (; it != by_name_.end() && n < page; ++it, ++n) {
    auto* d = resp->add_namespaces();
    FillDescription(it->second, d->mutable_namespace_info(), d->mutable_config(), d->mutable_replication_config());
    d->set_failover_version(it->second.failover_version());
  }
  if (it != by_name_.end()) resp->set_next_page_token(std::prev(it)->first);
  return grpc::Status::OK;
}

grpc::Status NamespaceRegistry::Update(const wsv1::UpdateNamespaceRequest& req, wsv1::UpdateNamespaceResponse* resp) {
  if (req.namespace_().empty()) return errors::InvalidArgument("Namespace not set on request.");
  std::lock_guard lock(mu_);
  auto it = by_name_.find(req.namespace_());
  if (it == by_name_.end()) return errors::NamespaceNotFound(req.namespace_());
  records::NamespaceRecord rec = it->second;
  if (req.has_update_info()) {
    const auto& u = req.update_info();
    if (!u.description().empty()) rec.mutable_info()->set_description(u.description());
    if (!u.owner_email().empty()) rec.mutable_info()->set_owner_email(u.owner_email());
    for (const auto& [k, v] : u.data()) (*rec.mutable_info()->mutable_data())[k] = v;
    if (u.state() != enums::NAMESPACE_STATE_UNSPECIFIED) {
      if (u.state() == enums::NAMESPACE_STATE_DELETED) return errors::InvalidArgument("Namespace state cannot be set to Deleted; delete the namespace instead.");
      rec.mutable_info()->set_state(u.state());
    }
  }
  if (req.has_config()) {
    const auto& c = req.config();
    if (c.has_workflow_execution_retention_ttl()) {
      if (auto st = ValidateRetention(c.workflow_execution_retention_ttl()); !st.ok()) return st;
      *rec.mutable_config()->mutable_workflow_execution_retention_ttl() = c.workflow_execution_retention_ttl();
    }
    for (const auto& [k, v] : c.custom_search_attribute_aliases())
      (*rec.mutable_config()->mutable_custom_search_attribute_aliases())[k] = v;
  }
  if (auto st = Save(rec); !st.ok()) return st;
  it->second = rec;
  FillDescription(rec, resp->mutable_namespace_info(), resp->mutable_config(), resp->mutable_replication_config());
  resp->set_failover_version(rec.failover_version());
  resp->set_is_global_namespace(false);
  return grpc::Status::OK;
}

grpc::Status NamespaceRegistry::Delete(const std::string& name, const std::string& id, std::string* deleted_name) {
  std::lock_guard lock(mu_);
  auto it = by_name_.end();
  if (!name.empty()) {
    it = by_name_.find(name);
  } else {
    for (auto i = by_name_.begin(); i != by_name_.end(); ++i)
      if (i->second.info().id() == id) it = i;
  }
  if (it == by_name_.end()) return errors::NamespaceNotFound(name.empty() ? id : name);
  persistence::WriteBatch b;
  b.namespace_deletes.push_back(it->second.info().id());
  if (auto st = store_->Commit(std::move(b)); !st.ok()) return st;
  *deleted_name = it->first + "-deleted-" + it->second.info().id().substr(0, 5);
  by_name_.erase(it);
  return grpc::Status::OK;
}

grpc::Status NamespaceRegistry::Resolve(const std::string& name, std::string* id) {
  if (name.empty()) return errors::InvalidArgument("Namespace not set on request.");
  std::lock_guard lock(mu_);
  auto it = by_name_.find(name);
  if (it == by_name_.end()) return errors::NamespaceNotFound(name);
  *id = it->second.info().id();
  return grpc::Status::OK;
}

std::string NamespaceRegistry::NameOf(const std::string& id) {
  std::lock_guard lock(mu_);
  for (const auto& [name, rec] : by_name_)
    if (rec.info().id() == id) return name;
  return "";
}

std::vector<history::NamespaceRetention> NamespaceRegistry::Retentions() {
  std::lock_guard lock(mu_);
  std::vector<history::NamespaceRetention> out;
  for (const auto& [name, rec] : by_name_)
    out.push_back({rec.info().id(), DurationToMs(rec.config().workflow_execution_retention_ttl())});
  return out;
}

std::vector<std::string> NamespaceRegistry::Names() {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (const auto& [name, rec] : by_name_) out.push_back(name);
  return out;
}

}  // namespace kairos::frontend
