// Nexus endpoints: the cluster-wide registry of names that workflows call
// Nexus operations through, each routing to a worker target (a namespace and
// a task queue) or an external URL. OperatorService's endpoint RPCs, with
// Temporal's validation and conflict errors; every change is one store
// transaction, and the registry serves reads from memory.
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include <grpcpp/support/status.h>

#include "kairos/records.pb.h"
#include "temporal/api/operatorservice/v1/request_response.pb.h"

namespace kairos::persistence {
class Store;
}

namespace kairos::nexus {

namespace osv1 = temporal::api::operatorservice::v1;

// How the registry sees namespaces (the frontend's registry owns them).
struct NamespaceLookup {
  // Name -> id; NOT_FOUND (Temporal's "Namespace x is not found.") when unknown.
  std::function<grpc::Status(const std::string& name, std::string* id)> resolve;
  // Id -> current name; empty when the namespace is gone.
  std::function<std::string(const std::string& id)> name_of;
};

// Where an endpoint sends its operations.
struct EndpointRoute {
  std::string endpoint_id;
  std::string endpoint_name;
  std::string namespace_id;  // Empty for an external target.
  std::string task_queue;
  std::string external_url;
};

// Temporal's limits (dynamic config defaults).
inline constexpr size_t kMaxEndpointNameLength = 200;
inline constexpr size_t kMaxDescriptionBytes = 20000;
inline constexpr size_t kMaxTaskQueueLength = 1000;
inline constexpr size_t kMaxExternalUrlLength = 4000;
inline constexpr int kDefaultListPageSize = 100;
inline constexpr int kMaxListPageSize = 1000;

// The request checks, separate so that they can be tested alone; each
// returns INVALID_ARGUMENT listing every issue, as Temporal does.
grpc::Status ValidateEndpointId(const std::string& id);
bool ValidEndpointName(const std::string& name);

class EndpointRegistry {
 public:
  EndpointRegistry(persistence::Store* store, NamespaceLookup namespaces);

  // Reads every endpoint from the store.
  grpc::Status Load();

  grpc::Status Create(const osv1::CreateNexusEndpointRequest& req, osv1::CreateNexusEndpointResponse* resp);
  grpc::Status Update(const osv1::UpdateNexusEndpointRequest& req, osv1::UpdateNexusEndpointResponse* resp);
  grpc::Status Delete(const osv1::DeleteNexusEndpointRequest& req);
  grpc::Status Get(const osv1::GetNexusEndpointRequest& req, osv1::GetNexusEndpointResponse* resp);
  // In id order; the page token is the id of the first endpoint of the next page.
  grpc::Status List(const osv1::ListNexusEndpointsRequest& req, osv1::ListNexusEndpointsResponse* resp);

  // The route of the endpoint with this name (what a workflow's command names).
  std::optional<EndpointRoute> RouteByName(const std::string& name);
  // The route of the endpoint with this id (what Nexus's HTTP paths name).
  std::optional<EndpointRoute> RouteById(const std::string& id);

 private:
  // The spec's checks; on success `namespace_id` is the worker target's namespace.
  grpc::Status ValidateSpec(const temporal::api::nexus::v1::EndpointSpec& spec, std::string* namespace_id);
  // The API form of a stored record (the target namespace by its current name).
  temporal::api::nexus::v1::Endpoint ToApi(const records::NexusEndpointRecord& rec) const;
  grpc::Status Save(const records::NexusEndpointRecord& rec);

  persistence::Store* store_;
  NamespaceLookup namespaces_;
  std::mutex mu_;  // Serializes writes, so that name checks and versions hold.
  std::map<std::string, records::NexusEndpointRecord> by_id_;
};

}  // namespace kairos::nexus
