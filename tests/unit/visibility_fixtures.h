// What the visibility store tests start from: an in-memory SQLite store,
// its search-attribute registry with one namespace's custom attributes, and
// the visibility service over both.
#pragma once

#include <memory>
#include <string>

#include <catch2/catch.hpp>

#include "kairos/persistence/sqlite_store.h"
#include "kairos/visibility/search_attributes.h"
#include "kairos/visibility/visibility_service.h"

namespace kairos::visibility::testing {

struct VisibilityStack {
  std::unique_ptr<persistence::Store> store;
  std::unique_ptr<SearchAttributeRegistry> registry;
  std::unique_ptr<VisibilityService> service;

  VisibilityStack(const std::string& namespace_id, const TypeMap& custom) {
    persistence::SqliteOptions options;
    REQUIRE(persistence::OpenSqliteStore(options, &store).ok());
    registry = std::make_unique<SearchAttributeRegistry>(store.get());
    REQUIRE(registry->Load().ok());
    REQUIRE(registry->Add(namespace_id, custom).ok());
    service = std::make_unique<VisibilityService>(store.get(), registry.get());
  }
};

}  // namespace kairos::visibility::testing
