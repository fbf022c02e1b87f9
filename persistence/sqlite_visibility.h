// The visibility part of the SQLite store: writing a run's visibility row
// with its search-attribute values, and the filtered, keyset-paged reads of
// visibility queries. Called by SqliteStore with its lock held.
#pragma once

#include <sqlite3.h>

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "kairos/persistence/store.h"

namespace kairos::persistence::sqlite_visibility {

// Returns a cached, reset statement for constant SQL text (null on error).
using Prepare = std::function<sqlite3_stmt*(const char* sql)>;

grpc::Status Write(sqlite3* db, const Prepare& prepare, const VisibilityRow& v);
grpc::Status WriteDefinitions(sqlite3* db, const Prepare& prepare, const WriteBatch& b);
grpc::Status Query(sqlite3* db, const std::string& namespace_id, const VisibilityFilter& filter,
                   const VisibilityCursor* after, int limit, std::vector<VisibilityRow>* out);
grpc::Status Count(sqlite3* db, const std::string& namespace_id, const VisibilityFilter& filter,
                   const std::string& group_column, std::vector<std::pair<SqlValue, int64_t>>* groups,
                   int64_t* count);
std::vector<SearchAttributeDefinition> LoadDefinitions(const Prepare& prepare);
// A row read from the visibility columns, in their table order (first 11).
VisibilityRow ReadRow(sqlite3_stmt* s);

}  // namespace kairos::persistence::sqlite_visibility
