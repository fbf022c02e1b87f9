// Tests of the Nexus endpoint registry over a real SQLite store: Temporal's
// validation messages, versions and conflicts, paging, and that endpoints
// survive a reopen of the database file.
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>

#include <catch2/catch.hpp>

#include "kairos/errors.h"
#include "kairos/nexus/endpoint_registry.h"
#include "kairos/persistence/sqlite_store.h"

using kairos::nexus::EndpointRegistry;
using kairos::nexus::NamespaceLookup;
namespace osv1 = temporal::api::operatorservice::v1;
namespace nexusv1 = temporal::api::nexus::v1;

namespace {

std::unique_ptr<kairos::persistence::Store> OpenStore(const std::string& path) {
  std::unique_ptr<kairos::persistence::Store> store;
  kairos::persistence::SqliteOptions options;
  options.path = path;
  REQUIRE(kairos::persistence::OpenSqliteStore(options, &store).ok());
  return store;
}

// One namespace, "handler" (id ns-1), renamed by setting `handler_name`.
struct Namespaces {
  std::string handler_name = "handler";
  NamespaceLookup Lookup() {
    return {[this](const std::string& name, std::string* id) {
              if (name != handler_name) return kairos::errors::NamespaceNotFound(name);
              *id = "ns-1";
              return grpc::Status::OK;
            },
            [this](const std::string& id) { return id == "ns-1" ? handler_name : std::string(); }};
  }
};

nexusv1::EndpointSpec WorkerSpec(const std::string& name, const std::string& ns = "handler",
                                 const std::string& queue = "nexus-tq") {
  nexusv1::EndpointSpec spec;
  spec.set_name(name);
  spec.mutable_target()->mutable_worker()->set_namespace_(ns);
  spec.mutable_target()->mutable_worker()->set_task_queue(queue);
  return spec;
}

grpc::Status Create(EndpointRegistry& r, const nexusv1::EndpointSpec& spec, nexusv1::Endpoint* out = nullptr) {
  osv1::CreateNexusEndpointRequest req;
  *req.mutable_spec() = spec;
  osv1::CreateNexusEndpointResponse resp;
  auto st = r.Create(req, &resp);
  if (out) *out = resp.endpoint();
  return st;
}

}  // namespace

TEST_CASE("Nexus endpoint specs are checked with Temporal's messages") {
  auto store = OpenStore("");
  Namespaces ns;
  EndpointRegistry r(store.get(), ns.Lookup());

  auto st = Create(r, nexusv1::EndpointSpec());
  CHECK(st.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(st.error_message() == "endpoint name not set, empty target variant");

  nexusv1::EndpointSpec bad_name;
  bad_name.set_name("x_y");
  CHECK(Create(r, bad_name).error_message() ==
        R"(endpoint name must match the regex: "^[a-zA-Z][a-zA-Z0-9\\-]*[a-zA-Z0-9]$", empty target variant)");

  CHECK(Create(r, WorkerSpec("ep", "handler", "")).error_message() ==
        R"(invalid target task queue: "taskQueue is not set")");
  CHECK(Create(r, WorkerSpec("ep", "")).error_message() == "target namespace not set");
  st = Create(r, WorkerSpec("ep", "nope"));
  CHECK(st.error_code() == grpc::StatusCode::FAILED_PRECONDITION);
  CHECK(st.error_message() == "could not verify namespace referenced by target exists: Namespace nope is not found.");

  nexusv1::EndpointSpec ftp;
  ftp.set_name("ext");
  ftp.mutable_target()->mutable_external()->set_url("ftp://x");
  CHECK(Create(r, ftp).error_message() == R"(invalid target URL scheme: "ftp", expected http or https)");

  CHECK(kairos::nexus::ValidEndpointName("my-endpoint-1"));
  CHECK_FALSE(kairos::nexus::ValidEndpointName("1abc"));
  CHECK_FALSE(kairos::nexus::ValidEndpointName("abc-"));
  CHECK_FALSE(kairos::nexus::ValidEndpointName("a"));

  osv1::GetNexusEndpointResponse got;
  osv1::GetNexusEndpointRequest get;
  CHECK(r.Get(get, &got).error_message() == "endpoint ID not set");
  get.set_id("abc");
  CHECK(r.Get(get, &got).error_message() == R"(malformed endpoint ID: "invalid UUID length: 3")");
  get.set_id("0f8a03e0-054d-4b7f-9e1d-02597eb116a9");
  st = r.Get(get, &got);
  CHECK(st.error_code() == grpc::StatusCode::NOT_FOUND);
  CHECK(st.error_message() == "Nexus endpoint with ID `0f8a03e0-054d-4b7f-9e1d-02597eb116a9` not found");
}

TEST_CASE("Nexus endpoints have versions, unique names and pages, and survive a restart") {
  auto path = (std::filesystem::temp_directory_path() / ("kairos-nexus-" + std::to_string(::getpid()) + ".db")).string();
  std::filesystem::remove(path);
  Namespaces ns;
  nexusv1::Endpoint a, b;
  {
    auto store = OpenStore(path);
    EndpointRegistry r(store.get(), ns.Lookup());
    REQUIRE(Create(r, WorkerSpec("ep-a"), &a).ok());
    CHECK(a.version() == 1);
    CHECK(a.spec().target().worker().namespace_() == "handler");
    CHECK(a.url_prefix() == "/nexus/endpoints/" + a.id() + "/services");
    CHECK(a.has_created_time());
    CHECK_FALSE(a.has_last_modified_time());

    auto st = Create(r, WorkerSpec("ep-a"));
    CHECK(st.error_code() == grpc::StatusCode::ALREADY_EXISTS);
    CHECK(st.error_message() == "error creating Nexus endpoint. Endpoint with name ep-a already registered");

    REQUIRE(Create(r, WorkerSpec("ep-b"), &b).ok());

    osv1::UpdateNexusEndpointRequest update;
    update.set_id(a.id());
    update.set_version(5);
    *update.mutable_spec() = WorkerSpec("ep-a", "handler", "other-tq");
    osv1::UpdateNexusEndpointResponse updated;
    st = r.Update(update, &updated);
    CHECK(st.error_code() == grpc::StatusCode::FAILED_PRECONDITION);
    CHECK(st.error_message() == "nexus endpoint version mismatch. received: 5 expected 1");
    update.set_version(1);
    REQUIRE(r.Update(update, &updated).ok());
    CHECK(updated.endpoint().version() == 2);
    CHECK(updated.endpoint().has_last_modified_time());
    CHECK(updated.endpoint().spec().target().worker().task_queue() == "other-tq");

    update.set_id(b.id());
    update.set_version(1);  // Renaming b to a's name.
    CHECK(r.Update(update, &updated).error_code() == grpc::StatusCode::ALREADY_EXISTS);
    update.set_id("0f8a03e0-054d-4b7f-9e1d-02597eb116a9");
    st = r.Update(update, &updated);
    CHECK(st.error_code() == grpc::StatusCode::NOT_FOUND);
    CHECK(st.error_message() == "error updating Nexus endpoint. endpoint ID 0f8a03e0-054d-4b7f-9e1d-02597eb116a9 not found");
  }
  ns.handler_name = "handler-renamed";
  auto store = OpenStore(path);
  EndpointRegistry r(store.get(), ns.Lookup());
  REQUIRE(r.Load().ok());

  osv1::ListNexusEndpointsRequest list;
  list.set_page_size(1);
  osv1::ListNexusEndpointsResponse page1, page2;
  REQUIRE(r.List(list, &page1).ok());
  REQUIRE(page1.endpoints_size() == 1);
  REQUIRE_FALSE(page1.next_page_token().empty());
  list.set_next_page_token(page1.next_page_token());
  REQUIRE(r.List(list, &page2).ok());
  REQUIRE(page2.endpoints_size() == 1);
  CHECK(page2.next_page_token().empty());
  CHECK(page1.endpoints(0).id() < page2.endpoints(0).id());

  osv1::ListNexusEndpointsRequest by_name;
  by_name.set_name("ep-a");
  osv1::ListNexusEndpointsResponse named;
  REQUIRE(r.List(by_name, &named).ok());
  REQUIRE(named.endpoints_size() == 1);
  CHECK(named.endpoints(0).version() == 2);
  CHECK(named.endpoints(0).spec().target().worker().namespace_() == "handler-renamed");
  CHECK(named.endpoints(0).created_time().seconds() == a.created_time().seconds());

  auto route = r.RouteByName("ep-a");
  REQUIRE(route);
  CHECK(route->namespace_id == "ns-1");
  CHECK(route->task_queue == "other-tq");

  list.set_page_size(-1);
  CHECK(r.List(list, &page1).error_message() == "page_size is negative");
  list.set_page_size(1001);
  CHECK(r.List(list, &page1).error_message() == "page_size exceeds limit of 1000");

  osv1::DeleteNexusEndpointRequest del;
  del.set_id(a.id());
  CHECK(r.Delete(del).error_message() == "endpoint version is non-positive");
  del.set_version(2);
  REQUIRE(r.Delete(del).ok());
  auto st = r.Delete(del);
  CHECK(st.error_code() == grpc::StatusCode::NOT_FOUND);
  CHECK(st.error_message() == "error deleting nexus endpoint with ID: " + a.id());
  CHECK_FALSE(r.RouteByName("ep-a"));
  std::filesystem::remove(path);
}
