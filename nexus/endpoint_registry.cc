#include "kairos/nexus/endpoint_registry.h"

#include <cctype>
#include <vector>

#include "kairos/errors.h"
#include "kairos/ids.h"
#include "kairos/persistence/store.h"
#include "kairos/time_util.h"

namespace kairos::nexus {
namespace {

namespace nexusv1 = temporal::api::nexus::v1;

// Temporal reports every issue of a request at once, joined by ", ".
class Issues {
 public:
  void Add(std::string issue) { issues_.push_back(std::move(issue)); }
  bool empty() const { return issues_.empty(); }
  grpc::Status Status() const {
    if (issues_.empty()) return grpc::Status::OK;
    std::string joined;
    for (const auto& i : issues_) joined += (joined.empty() ? "" : ", ") + i;
    return errors::InvalidArgument(joined);
  }

 private:
  std::vector<std::string> issues_;
};

bool IsHex(char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; }

// What Go's uuid.Parse says of a malformed id ("" when it parses).
std::string UuidProblem(const std::string& id) {
  std::string core = id;
  if (id.size() == 45 && id.rfind("urn:uuid:", 0) == 0) core = id.substr(9);
  else if (id.size() == 38 && id.front() == '{' && id.back() == '}') core = id.substr(1, 36);
  else if (id.size() == 32) {
    for (char c : id)
      if (!IsHex(c)) return "invalid UUID format";
    return "";
  } else if (id.size() != 36) {
    return "invalid UUID length: " + std::to_string(id.size());
  }
  if (core.size() != 36) return "invalid UUID format";
  for (size_t i = 0; i < core.size(); ++i) {
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? core[i] != '-' : !IsHex(core[i])) return "invalid UUID format";
  }
  return "";
}

void AddIdIssues(const std::string& id, Issues* issues) {
  if (id.empty()) {
    issues->Add("endpoint ID not set");
  } else if (auto problem = UuidProblem(id); !problem.empty()) {
    issues->Add("malformed endpoint ID: \"" + problem + "\"");
  }
}

std::string Quoted(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string UrlScheme(const std::string& url) {
  auto colon = url.find(':');
  if (colon == std::string::npos) return "";
  std::string scheme = url.substr(0, colon);
  for (char c : scheme)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '-' && c != '.') return "";
  return scheme;
}

}  // namespace

bool ValidEndpointName(const std::string& name) {
  // ^[a-zA-Z][a-zA-Z0-9\-]*[a-zA-Z0-9]$
  if (name.size() < 2 || !std::isalpha(static_cast<unsigned char>(name.front())) ||
      !std::isalnum(static_cast<unsigned char>(name.back())))
    return false;
  for (char c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') return false;
  for (char c : name)
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  return true;
}

grpc::Status ValidateEndpointId(const std::string& id) {
  Issues issues;
  AddIdIssues(id, &issues);
  return issues.Status();
}

EndpointRegistry::EndpointRegistry(persistence::Store* store, NamespaceLookup namespaces)
    : store_(store), namespaces_(std::move(namespaces)) {}

grpc::Status EndpointRegistry::Load() {
  std::lock_guard lock(mu_);
  by_id_.clear();
  for (const auto& row : store_->LoadNexusEndpoints()) {
    records::NexusEndpointRecord rec;
    if (!rec.ParseFromString(row.record)) return errors::Internal("corrupt Nexus endpoint record " + row.id);
    by_id_[row.id] = std::move(rec);
  }
  return grpc::Status::OK;
}

grpc::Status EndpointRegistry::ValidateSpec(const nexusv1::EndpointSpec& spec, std::string* namespace_id) {
  Issues issues;
  const std::string& name = spec.name();
  if (name.empty()) {
    issues.Add("endpoint name not set");
  } else {
    if (name.size() > kMaxEndpointNameLength)
      issues.Add("endpoint name exceeds length limit of " + std::to_string(kMaxEndpointNameLength));
    if (!ValidEndpointName(name))
      issues.Add(R"(endpoint name must match the regex: "^[a-zA-Z][a-zA-Z0-9\\-]*[a-zA-Z0-9]$")");
  }
  const auto& target = spec.target();
  switch (target.variant_case()) {
    case nexusv1::EndpointTarget::kWorker: {
      const auto& worker = target.worker();
      if (worker.namespace_().empty()) {
        issues.Add("target namespace not set");
      } else if (auto st = namespaces_.resolve(worker.namespace_(), namespace_id); !st.ok()) {
        return errors::FailedPrecondition("could not verify namespace referenced by target exists: " +
                                          st.error_message());
      }
      if (worker.task_queue().empty()) {
        issues.Add(R"(invalid target task queue: "taskQueue is not set")");
      } else if (worker.task_queue().size() > kMaxTaskQueueLength) {
        issues.Add(R"(invalid target task queue: "taskQueue length exceeds limit")");
      }
      break;
    }
    case nexusv1::EndpointTarget::kExternal: {
      const std::string& url = target.external().url();
      if (url.empty()) {
        issues.Add("empty target URL");
      } else if (url.size() > kMaxExternalUrlLength) {
        issues.Add("target URL length exceeds limit of " + std::to_string(kMaxExternalUrlLength));
      } else if (auto scheme = UrlScheme(url); scheme != "http" && scheme != "https") {
        issues.Add("invalid target URL scheme: " + Quoted(scheme) + ", expected http or https");
      }
      break;
    }
    default:
      issues.Add("empty target variant");
      return issues.Status();
  }
  if (spec.description().ByteSizeLong() > kMaxDescriptionBytes)
    issues.Add("description size exceeds limit of " + std::to_string(kMaxDescriptionBytes));
  return issues.Status();
}

nexusv1::Endpoint EndpointRegistry::ToApi(const records::NexusEndpointRecord& rec) const {
  nexusv1::Endpoint out = rec.endpoint();
  if (out.spec().target().has_worker())
    out.mutable_spec()->mutable_target()->mutable_worker()->set_namespace_(namespaces_.name_of(rec.target_namespace_id()));
  // A URL path on the HTTP port, stable across renames.
  out.set_url_prefix("/nexus/endpoints/" + out.id() + "/services");
  return out;
}

grpc::Status EndpointRegistry::Save(const records::NexusEndpointRecord& rec) {
  persistence::WriteBatch batch;
  batch.nexus_endpoint_upserts.push_back({rec.endpoint().id(), rec.SerializeAsString()});
  return store_->Commit(std::move(batch));
}

namespace {

// The stored form of a spec: a worker target's namespace is kept by id.
records::NexusEndpointRecord StoredSpec(const nexusv1::EndpointSpec& spec, const std::string& namespace_id) {
  records::NexusEndpointRecord rec;
  *rec.mutable_endpoint()->mutable_spec() = spec;
  if (spec.target().has_worker()) {
    rec.mutable_endpoint()->mutable_spec()->mutable_target()->mutable_worker()->clear_namespace_();
    rec.set_target_namespace_id(namespace_id);
  }
  return rec;
}

}  // namespace

grpc::Status EndpointRegistry::Create(const osv1::CreateNexusEndpointRequest& req,
                                      osv1::CreateNexusEndpointResponse* resp) {
  std::string namespace_id;
  if (auto st = ValidateSpec(req.spec(), &namespace_id); !st.ok()) return st;
  std::lock_guard lock(mu_);
  for (const auto& [id, rec] : by_id_) {
    if (rec.endpoint().spec().name() == req.spec().name())
      return errors::AlreadyExists("error creating Nexus endpoint. Endpoint with name " + req.spec().name() +
                                   " already registered");
  }
  auto rec = StoredSpec(req.spec(), namespace_id);
  auto* endpoint = rec.mutable_endpoint();
  endpoint->set_id(NewUuid());
  endpoint->set_version(1);
  *endpoint->mutable_created_time() = NanosToTimestamp(NowNanos());
  if (auto st = Save(rec); !st.ok()) return st;
  *resp->mutable_endpoint() = ToApi(rec);
  by_id_[endpoint->id()] = std::move(rec);
  return grpc::Status::OK;
}

grpc::Status EndpointRegistry::Update(const osv1::UpdateNexusEndpointRequest& req,
                                      osv1::UpdateNexusEndpointResponse* resp) {
  std::string namespace_id;
  if (auto st = ValidateSpec(req.spec(), &namespace_id); !st.ok()) return st;
  std::lock_guard lock(mu_);
  auto it = by_id_.find(req.id());
  if (it == by_id_.end())
    return errors::NotFound("error updating Nexus endpoint. endpoint ID " + req.id() + " not found");
  const auto& previous = it->second.endpoint();
  if (req.version() != previous.version())
    return errors::FailedPrecondition("nexus endpoint version mismatch. received: " + std::to_string(req.version()) +
                                      " expected " + std::to_string(previous.version()));
  // Temporal does not check this; two endpoints of one name would make
  // callers' routing ambiguous.
  for (const auto& [id, rec] : by_id_) {
    if (id != req.id() && rec.endpoint().spec().name() == req.spec().name())
      return errors::AlreadyExists("error updating Nexus endpoint. Endpoint with name " + req.spec().name() +
                                   " already registered");
  }
  auto rec = StoredSpec(req.spec(), namespace_id);
  auto* endpoint = rec.mutable_endpoint();
  endpoint->set_id(previous.id());
  endpoint->set_version(previous.version() + 1);
  *endpoint->mutable_created_time() = previous.created_time();
  *endpoint->mutable_last_modified_time() = NanosToTimestamp(NowNanos());
  if (auto st = Save(rec); !st.ok()) return st;
  *resp->mutable_endpoint() = ToApi(rec);
  it->second = std::move(rec);
  return grpc::Status::OK;
}

grpc::Status EndpointRegistry::Delete(const osv1::DeleteNexusEndpointRequest& req) {
  Issues issues;
  AddIdIssues(req.id(), &issues);
  if (req.version() <= 0) issues.Add("endpoint version is non-positive");
  if (!issues.empty()) return issues.Status();
  std::lock_guard lock(mu_);
  // Like Temporal, the version is only required to be positive, not current.
  auto it = by_id_.find(req.id());
  if (it == by_id_.end()) return errors::NotFound("error deleting nexus endpoint with ID: " + req.id());
  persistence::WriteBatch batch;
  batch.nexus_endpoint_deletes.push_back(req.id());
  if (auto st = store_->Commit(std::move(batch)); !st.ok()) return st;
  by_id_.erase(it);
  return grpc::Status::OK;
}

grpc::Status EndpointRegistry::Get(const osv1::GetNexusEndpointRequest& req, osv1::GetNexusEndpointResponse* resp) {
  if (auto st = ValidateEndpointId(req.id()); !st.ok()) return st;
  std::lock_guard lock(mu_);
  auto it = by_id_.find(req.id());
  if (it == by_id_.end()) return errors::NotFound("Nexus endpoint with ID `" + req.id() + "` not found");
  *resp->mutable_endpoint() = ToApi(it->second);
  return grpc::Status::OK;
}

grpc::Status EndpointRegistry::List(const osv1::ListNexusEndpointsRequest& req,
                                    osv1::ListNexusEndpointsResponse* resp) {
  std::lock_guard lock(mu_);
  if (!req.name().empty()) {
    for (const auto& [id, rec] : by_id_) {
      if (rec.endpoint().spec().name() == req.name()) {
        *resp->add_endpoints() = ToApi(rec);
        break;
      }
    }
    return grpc::Status::OK;
  }
  int page_size = req.page_size();
  if (page_size < 0) return errors::InvalidArgument("page_size is negative");
  if (page_size > kMaxListPageSize)
    return errors::InvalidArgument("page_size exceeds limit of " + std::to_string(kMaxListPageSize));
  if (page_size == 0) page_size = kDefaultListPageSize;
  auto it = by_id_.lower_bound(req.next_page_token());
  for (int n = 0; it != by_id_.end() && n < page_size; ++it, ++n) *resp->add_endpoints() = ToApi(it->second);
  if (it != by_id_.end()) resp->set_next_page_token(it->first);
  return grpc::Status::OK;
}

namespace {

EndpointRoute RouteOf(const records::NexusEndpointRecord& rec) {
  const auto& spec = rec.endpoint().spec();
  return {rec.endpoint().id(), spec.name(), rec.target_namespace_id(), spec.target().worker().task_queue(),
          spec.target().external().url()};
}

}  // namespace

std::optional<EndpointRoute> EndpointRegistry::RouteByName(const std::string& name) {
  std::lock_guard lock(mu_);
  for (const auto& [id, rec] : by_id_)
    if (rec.endpoint().spec().name() == name) return RouteOf(rec);
  return std::nullopt;
}

std::optional<EndpointRoute> EndpointRegistry::RouteById(const std::string& id) {
  std::lock_guard lock(mu_);
  auto it = by_id_.find(id);
  if (it == by_id_.end()) return std::nullopt;
  return RouteOf(it->second);
}

}  // namespace kairos::nexus
