// Namespaces: the rules Temporal applies to them, persisted through the
// store and served from memory.
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <grpcpp/support/status.h>

#include "kairos/history/limits.h"
#include "kairos/history/retention.h"
#include "kairos/records.pb.h"
#include "temporal/api/workflowservice/v1/request_response.pb.h"

namespace kairos::persistence {
class Store;
}

namespace kairos::frontend {

namespace wsv1 = temporal::api::workflowservice::v1;

// Rules, separate so that they can be tested alone.
grpc::Status ValidateNamespaceName(const std::string& name);
grpc::Status ValidateRetention(const google::protobuf::Duration& retention);

// As Temporal's dev server creates its namespaces; Temporal's minimum for a
// (local) namespace is an hour.
constexpr int64_t kDefaultRetentionHours = 24;
constexpr int64_t kMinRetentionMs = 3600 * 1000;

class NamespaceRegistry {
 public:
  // `limits`: what DescribeNamespace reports (SDKs enforce the blob and memo
  // limits themselves); Temporal's defaults when null.
  explicit NamespaceRegistry(persistence::Store* store, const history::Limits* limits = nullptr);

  // Loads what the store holds and creates the named namespaces that are
  // missing (with the default retention).
  grpc::Status Load(const std::vector<std::string>& ensure);

  grpc::Status Register(const wsv1::RegisterNamespaceRequest& req);
  grpc::Status Describe(const wsv1::DescribeNamespaceRequest& req, wsv1::DescribeNamespaceResponse* resp);
  grpc::Status List(const wsv1::ListNamespacesRequest& req, wsv1::ListNamespacesResponse* resp);
  grpc::Status Update(const wsv1::UpdateNamespaceRequest& req, wsv1::UpdateNamespaceResponse* resp);
  // Returns the name it was renamed to on deletion.
  grpc::Status Delete(const std::string& name, const std::string& id, std::string* deleted_name);

  // Name -> id, for every RPC that names a namespace.
  grpc::Status Resolve(const std::string& name, std::string* id);
  // Id -> name; empty when no namespace has the id.
  std::string NameOf(const std::string& id);
  std::vector<std::string> Names();
  // Every namespace's id and retention, for the retention worker.
  std::vector<history::NamespaceRetention> Retentions();

 private:
  grpc::Status Save(const records::NamespaceRecord& rec);
  void FillCapabilities(records::NamespaceRecord* rec) const;

  persistence::Store* store_;
  int64_t blob_size_limit_;
  int64_t memo_size_limit_;
  std::mutex mu_;
  std::map<std::string, records::NamespaceRecord> by_name_;
};

}  // namespace kairos::frontend
