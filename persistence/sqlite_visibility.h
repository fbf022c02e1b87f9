// The visibility part of the SQLite store: writing a run's visibility row
// with its search attributes (a JSON column, plus their values in a table
// clustered by value), and the filtered, keyset-paged reads of
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

// Deletes a run's rows of visibility_values, found through the values its
// visibility row holds (run before that row changes or goes); binds the
// run's key as ?1-?3.
inline constexpr const char* kDeleteRunValues =
    "DELETE FROM visibility_values WHERE (namespace_id, name, value, run) IN "
    "(SELECT r.namespace_id, o.key, e.value, r.id FROM visibility r, json_each(r.search_attributes) o, "
    "json_each(o.value) e WHERE r.namespace_id = ?1 AND r.workflow_id = ?2 AND r.run_id = ?3)";

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
