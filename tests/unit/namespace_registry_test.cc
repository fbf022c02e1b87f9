// Tests of the namespace rules and of NamespaceRegistry over a real (in
// memory) SQLite store.
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "kairos/frontend/namespace_registry.h"
#include "kairos/persistence/sqlite_store.h"
#include "kairos/rpc_status.pb.h"
#include "kairos/time_util.h"
#include "temporal/api/errordetails/v1/message.pb.h"

using kairos::MsToDuration;
using kairos::frontend::NamespaceRegistry;
using kairos::frontend::ValidateNamespaceName;
using kairos::frontend::ValidateRetention;
namespace wsv1 = temporal::api::workflowservice::v1;
namespace enums = temporal::api::enums::v1;
namespace ed = temporal::api::errordetails::v1;

namespace {

constexpr int64_t kDayMs = 24LL * 3600 * 1000;

std::unique_ptr<kairos::persistence::Store> MemoryStore() {
  std::unique_ptr<kairos::persistence::Store> store;
  auto st = kairos::persistence::OpenSqliteStore(kairos::persistence::SqliteOptions{}, &store);
  REQUIRE(st.ok());
  return store;
}

wsv1::RegisterNamespaceRequest RegisterReq(const std::string& name, int64_t retention_ms = 3 * kDayMs) {
  wsv1::RegisterNamespaceRequest req;
  req.set_namespace_(name);
  req.set_description("about " + name);
  req.set_owner_email("owner@example.com");
  *req.mutable_workflow_execution_retention_period() = MsToDuration(retention_ms);
  return req;
}

wsv1::DescribeNamespaceRequest ByName(const std::string& name) {
  wsv1::DescribeNamespaceRequest req;
  req.set_namespace_(name);
  return req;
}

wsv1::DescribeNamespaceRequest ById(const std::string& id) {
  wsv1::DescribeNamespaceRequest req;
  req.set_id(id);
  return req;
}

// Checks that `st` is NOT_FOUND with a NamespaceNotFoundFailure for `ns`.
void CheckNamespaceNotFound(const grpc::Status& st, const std::string& ns) {
  REQUIRE(st.error_code() == grpc::StatusCode::NOT_FOUND);
  kairos::records::RpcStatus rpc;
  REQUIRE(rpc.ParseFromString(st.error_details()));
  CHECK(rpc.code() == static_cast<int>(grpc::StatusCode::NOT_FOUND));
  CHECK(rpc.message() == st.error_message());
  REQUIRE(rpc.details_size() == 1);
  CHECK(rpc.details(0).type_url() == "type.googleapis.com/temporal.api.errordetails.v1.NamespaceNotFoundFailure");
  ed::NamespaceNotFoundFailure detail;
  REQUIRE(rpc.details(0).UnpackTo(&detail));
  CHECK(detail.namespace_() == ns);
}

}  // namespace

TEST_CASE("Namespace names", "[namespace]") {
  for (const std::string& ok : std::vector<std::string>{"default", "a", "A1", "my-namespace", "my_namespace", "my.namespace", "0abc",
                               std::string(255, 'n')}) {
    INFO(ok);
    CHECK(ValidateNamespaceName(ok).ok());
  }
  for (const std::string& bad : std::vector<std::string>{"", "-leading", ".leading", "_leading", "has space", "slash/", "semi;colon",
                                "ünicode", "tab\t", std::string(256, 'n')}) {
    INFO(bad);
    auto st = ValidateNamespaceName(bad);
    CHECK(st.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  }
}

TEST_CASE("Namespace retention must be at least an hour, as on Temporal", "[namespace]") {
  CHECK(ValidateRetention(MsToDuration(kDayMs)).ok());
  CHECK(ValidateRetention(MsToDuration(30 * kDayMs)).ok());
  CHECK(ValidateRetention(MsToDuration(3600 * 1000)).ok());
  CHECK(ValidateRetention(MsToDuration(3600 * 1000 - 1)).error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(ValidateRetention(MsToDuration(3600 * 1000 - 1)).error_message() == "A valid retention period is not set on request.");
  CHECK(ValidateRetention(MsToDuration(0)).error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(ValidateRetention(MsToDuration(-5 * kDayMs)).error_code() == grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_CASE("NamespaceRegistry: register and describe by name and by id", "[namespace]") {
  auto store = MemoryStore();
  NamespaceRegistry reg(store.get());
  REQUIRE(reg.Load({}).ok());
  REQUIRE(reg.Register(RegisterReq("orders", 5 * kDayMs)).ok());

  wsv1::DescribeNamespaceResponse by_name;
  REQUIRE(reg.Describe(ByName("orders"), &by_name).ok());
  const auto& info = by_name.namespace_info();
  CHECK(info.name() == "orders");
  CHECK(info.description() == "about orders");
  CHECK(info.owner_email() == "owner@example.com");
  CHECK(info.state() == enums::NAMESPACE_STATE_REGISTERED);
  CHECK(info.id().size() == 36);  // A UUID.
  CHECK(kairos::DurationToMs(by_name.config().workflow_execution_retention_ttl()) == 5 * kDayMs);
  CHECK_FALSE(by_name.is_global_namespace());

  wsv1::DescribeNamespaceResponse by_id;
  REQUIRE(reg.Describe(ById(info.id()), &by_id).ok());
  CHECK(by_id.namespace_info().name() == "orders");
  CHECK(by_id.SerializeAsString() == by_name.SerializeAsString());

  std::string id;
  REQUIRE(reg.Resolve("orders", &id).ok());
  CHECK(id == info.id());

  // Persisted through the store.
  auto rows = store->ListNamespaces();
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].name == "orders");
  CHECK(rows[0].id == info.id());
  kairos::records::NamespaceRecord rec;
  REQUIRE(rec.ParseFromString(rows[0].record));
  CHECK(rec.info().name() == "orders");

  // A missing retention is refused, as on Temporal.
  auto req = RegisterReq("defaulted");
  req.clear_workflow_execution_retention_period();
  CHECK(reg.Register(req).error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  // Namespaces created at start get the dev server's 24 hours.
  REQUIRE(reg.Load({"at-start"}).ok());
  wsv1::DescribeNamespaceResponse d;
  REQUIRE(reg.Describe(ByName("at-start"), &d).ok());
  CHECK(kairos::DurationToMs(d.config().workflow_execution_retention_ttl()) == 24 * 3600 * 1000);
  CHECK(d.namespace_info().id() != info.id());
  auto retentions = reg.Retentions();
  CHECK(retentions.size() == 2);

  wsv1::DescribeNamespaceResponse none;
  CHECK(reg.Describe(wsv1::DescribeNamespaceRequest(), &none).error_code() == grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_CASE("NamespaceRegistry: invalid registrations are refused and not stored", "[namespace]") {
  auto store = MemoryStore();
  NamespaceRegistry reg(store.get());
  REQUIRE(reg.Load({}).ok());
  CHECK(reg.Register(RegisterReq("bad name")).error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(reg.Register(RegisterReq("")).error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(reg.Register(RegisterReq("short-retention", 3600 * 1000 - 1000)).error_code() ==
        grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(reg.Names().empty());
  CHECK(store->ListNamespaces().empty());
}

TEST_CASE("NamespaceRegistry: duplicate register is ALREADY_EXISTS", "[namespace]") {
  auto store = MemoryStore();
  NamespaceRegistry reg(store.get());
  REQUIRE(reg.Load({}).ok());
  REQUIRE(reg.Register(RegisterReq("dup")).ok());
  wsv1::DescribeNamespaceResponse before;
  REQUIRE(reg.Describe(ByName("dup"), &before).ok());

  auto again = RegisterReq("dup");
  again.set_description("changed");
  auto st = reg.Register(again);
  CHECK(st.error_code() == grpc::StatusCode::ALREADY_EXISTS);
  kairos::records::RpcStatus rpc;
  REQUIRE(rpc.ParseFromString(st.error_details()));
  REQUIRE(rpc.details_size() == 1);
  CHECK(rpc.details(0).Is<ed::NamespaceAlreadyExistsFailure>());

  // The first registration is untouched, in memory and in the store.
  wsv1::DescribeNamespaceResponse after;
  REQUIRE(reg.Describe(ByName("dup"), &after).ok());
  CHECK(after.namespace_info().description() == "about dup");
  CHECK(after.namespace_info().id() == before.namespace_info().id());
  REQUIRE(store->ListNamespaces().size() == 1);
  CHECK(store->ListNamespaces()[0].id == before.namespace_info().id());
}

TEST_CASE("NamespaceRegistry: unknown namespaces are NOT_FOUND with a typed detail", "[namespace]") {
  auto store = MemoryStore();
  NamespaceRegistry reg(store.get());
  REQUIRE(reg.Load({}).ok());
  wsv1::DescribeNamespaceResponse resp;
  CheckNamespaceNotFound(reg.Describe(ByName("ghost"), &resp), "ghost");
  CheckNamespaceNotFound(reg.Describe(ById("00000000-0000-4000-8000-000000000000"), &resp),
                         "00000000-0000-4000-8000-000000000000");
  std::string id;
  CheckNamespaceNotFound(reg.Resolve("ghost", &id), "ghost");
  wsv1::UpdateNamespaceRequest upd;
  upd.set_namespace_("ghost");
  wsv1::UpdateNamespaceResponse upd_resp;
  CheckNamespaceNotFound(reg.Update(upd, &upd_resp), "ghost");
  std::string deleted;
  CheckNamespaceNotFound(reg.Delete("ghost", "", &deleted), "ghost");
}

TEST_CASE("NamespaceRegistry: list pages walk every namespace exactly once", "[namespace]") {
  auto store = MemoryStore();
  NamespaceRegistry reg(store.get());
  REQUIRE(reg.Load({}).ok());
  const std::vector<std::string> names = {"echo", "alpha", "delta", "charlie", "bravo"};
  for (const auto& n : names) REQUIRE(reg.Register(RegisterReq(n)).ok());

  for (int page_size : {1, 2, 3, 5, 6}) {
    INFO("page size " << page_size);
    std::vector<std::string> seen;
    wsv1::ListNamespacesRequest req;
    req.set_page_size(page_size);
    int pages = 0;
    for (;;) {
      wsv1::ListNamespacesResponse resp;
      REQUIRE(reg.List(req, &resp).ok());
      CHECK(resp.namespaces_size() <= page_size);
      for (const auto& d : resp.namespaces()) seen.push_back(d.namespace_info().name());
      ++pages;
      REQUIRE(pages <= 10);
      if (resp.next_page_token().empty()) break;
      req.set_next_page_token(resp.next_page_token());
    }
    CHECK(seen == std::vector<std::string>{"alpha", "bravo", "charlie", "delta", "echo"});
    CHECK(pages == (5 + page_size - 1) / page_size);
  }

  // Default page size returns everything at once.
  wsv1::ListNamespacesResponse all;
  REQUIRE(reg.List(wsv1::ListNamespacesRequest(), &all).ok());
  CHECK(all.namespaces_size() == 5);
  CHECK(all.next_page_token().empty());
}

TEST_CASE("NamespaceRegistry: update", "[namespace]") {
  auto store = MemoryStore();
  NamespaceRegistry reg(store.get());
  REQUIRE(reg.Load({}).ok());
  REQUIRE(reg.Register(RegisterReq("upd", 2 * kDayMs)).ok());

  wsv1::UpdateNamespaceRequest req;
  req.set_namespace_("upd");
  req.mutable_update_info()->set_description("new description");
  req.mutable_update_info()->mutable_data()->insert({"k", "v"});
  *req.mutable_config()->mutable_workflow_execution_retention_ttl() = MsToDuration(10 * kDayMs);
  wsv1::UpdateNamespaceResponse resp;
  REQUIRE(reg.Update(req, &resp).ok());
  CHECK(resp.namespace_info().description() == "new description");
  CHECK(resp.namespace_info().owner_email() == "owner@example.com");  // Empty means unchanged.
  CHECK(resp.namespace_info().data().at("k") == "v");
  CHECK(kairos::DurationToMs(resp.config().workflow_execution_retention_ttl()) == 10 * kDayMs);

  wsv1::DescribeNamespaceResponse d;
  REQUIRE(reg.Describe(ByName("upd"), &d).ok());
  CHECK(d.namespace_info().description() == "new description");

  // A retention below an hour is refused and changes nothing.
  wsv1::UpdateNamespaceRequest bad;
  bad.set_namespace_("upd");
  bad.mutable_update_info()->set_description("should not stick");
  *bad.mutable_config()->mutable_workflow_execution_retention_ttl() = MsToDuration(30 * 60 * 1000);
  wsv1::UpdateNamespaceResponse bad_resp;
  CHECK(reg.Update(bad, &bad_resp).error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  REQUIRE(reg.Describe(ByName("upd"), &d).ok());
  CHECK(d.namespace_info().description() == "new description");
  CHECK(kairos::DurationToMs(d.config().workflow_execution_retention_ttl()) == 10 * kDayMs);

  // The update reached the store: a fresh registry sees it.
  NamespaceRegistry reloaded(store.get());
  REQUIRE(reloaded.Load({}).ok());
  wsv1::DescribeNamespaceResponse r;
  REQUIRE(reloaded.Describe(ByName("upd"), &r).ok());
  CHECK(r.namespace_info().description() == "new description");
  CHECK(kairos::DurationToMs(r.config().workflow_execution_retention_ttl()) == 10 * kDayMs);

  wsv1::UpdateNamespaceRequest unnamed;
  CHECK(reg.Update(unnamed, &resp).error_code() == grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_CASE("NamespaceRegistry: delete", "[namespace]") {
  auto store = MemoryStore();
  NamespaceRegistry reg(store.get());
  REQUIRE(reg.Load({}).ok());
  REQUIRE(reg.Register(RegisterReq("doomed")).ok());
  REQUIRE(reg.Register(RegisterReq("kept")).ok());
  REQUIRE(reg.Register(RegisterReq("by-id")).ok());

  std::string deleted;
  REQUIRE(reg.Delete("doomed", "", &deleted).ok());
  CHECK_THAT(deleted, Catch::StartsWith("doomed-deleted-"));
  wsv1::DescribeNamespaceResponse resp;
  CheckNamespaceNotFound(reg.Describe(ByName("doomed"), &resp), "doomed");

  wsv1::DescribeNamespaceResponse by_id;
  REQUIRE(reg.Describe(ByName("by-id"), &by_id).ok());
  REQUIRE(reg.Delete("", by_id.namespace_info().id(), &deleted).ok());
  CheckNamespaceNotFound(reg.Describe(ById(by_id.namespace_info().id()), &resp), by_id.namespace_info().id());

  CHECK(reg.Names() == std::vector<std::string>{"kept"});
  auto rows = store->ListNamespaces();
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].name == "kept");

  // The name can be registered again, as a new namespace.
  REQUIRE(reg.Register(RegisterReq("doomed")).ok());
  CHECK(reg.Names().size() == 2);
}

TEST_CASE("NamespaceRegistry: Load ensures namespaces, idempotently across reloads", "[namespace]") {
  auto store = MemoryStore();
  std::string default_id, extra_id;
  {
    NamespaceRegistry reg(store.get());
    REQUIRE(reg.Load({"default", "extra"}).ok());
    CHECK(reg.Names() == std::vector<std::string>{"default", "extra"});
    REQUIRE(reg.Resolve("default", &default_id).ok());
    REQUIRE(reg.Resolve("extra", &extra_id).ok());
    wsv1::DescribeNamespaceResponse d;
    REQUIRE(reg.Describe(ByName("extra"), &d).ok());
    CHECK(kairos::DurationToMs(d.config().workflow_execution_retention_ttl()) ==
          kairos::frontend::kDefaultRetentionHours * 3600 * 1000);
    // Loading again in the same process changes nothing.
    REQUIRE(reg.Load({"default", "extra"}).ok());
    CHECK(reg.Names().size() == 2);
  }
  CHECK(store->ListNamespaces().size() == 2);
  {
    NamespaceRegistry reg(store.get());
    REQUIRE(reg.Load({"default", "extra"}).ok());
    CHECK(reg.Names() == std::vector<std::string>{"default", "extra"});
    std::string id;
    REQUIRE(reg.Resolve("default", &id).ok());
    CHECK(id == default_id);
    REQUIRE(reg.Resolve("extra", &id).ok());
    CHECK(id == extra_id);
  }
  CHECK(store->ListNamespaces().size() == 2);
  {
    // A reload without ensure still sees both; a new ensured name is added.
    NamespaceRegistry reg(store.get());
    REQUIRE(reg.Load({"third"}).ok());
    CHECK(reg.Names() == std::vector<std::string>{"default", "extra", "third"});
  }
  CHECK(store->ListNamespaces().size() == 3);
}

TEST_CASE("NamespaceRegistry: Load with an invalid ensured name fails", "[namespace]") {
  auto store = MemoryStore();
  NamespaceRegistry reg(store.get());
  CHECK(reg.Load({"not valid"}).error_code() == grpc::StatusCode::INVALID_ARGUMENT);
}
