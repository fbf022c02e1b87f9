#include "sqlite_visibility.h"

#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <variant>

#include "attributes_json.h"

namespace kairos::persistence::sqlite_visibility {
namespace {

constexpr int64_t kRunning = std::numeric_limits<int64_t>::max();

// The list order's first key: the close time, or kRunning (first) while open.
int64_t CloseOrder(const VisibilityRow& v) { return v.close_time_nanos ? v.close_time_nanos : kRunning; }
constexpr int kStatusRunning = 1;  // temporal.api.enums.v1.WorkflowExecutionStatus

struct StmtDeleter {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using Stmt = std::unique_ptr<sqlite3_stmt, StmtDeleter>;

grpc::Status Error(sqlite3* db, const std::string& what) {
  return grpc::Status(grpc::StatusCode::INTERNAL, what + ": " + sqlite3_errmsg(db));
}

void BindText(sqlite3_stmt* s, int i, const std::string& v) {
  sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
}
// A run's key in parameters 1-3 (namespace, workflow, run).
void BindKey(sqlite3_stmt* s, const ExecutionKey& k) {
  BindText(s, 1, k.namespace_id);
  BindText(s, 2, k.workflow_id);
  BindText(s, 3, k.run_id);
}

void BindTextOrNull(sqlite3_stmt* s, int i, const std::string& v) {
  if (v.empty()) sqlite3_bind_null(s, i); else BindText(s, i, v);
}
template <class T>
void BindOptional(sqlite3_stmt* s, int i, const std::optional<T>& v) {
  if (!v) {
    sqlite3_bind_null(s, i);
  } else if constexpr (std::is_same_v<T, double>) {
    sqlite3_bind_double(s, i, *v);
  } else if constexpr (std::is_same_v<T, std::string>) {
    BindText(s, i, *v);
  } else {
    sqlite3_bind_int64(s, i, *v);
  }
}

void Bind(sqlite3_stmt* s, int i, const SqlValue& v) {
  if (const auto* x = std::get_if<int64_t>(&v)) sqlite3_bind_int64(s, i, *x);
  else if (const auto* d = std::get_if<double>(&v)) sqlite3_bind_double(s, i, *d);
  else if (const auto* t = std::get_if<std::string>(&v)) BindText(s, i, *t);
  else sqlite3_bind_null(s, i);
}

std::string ColumnBytes(sqlite3_stmt* s, int i) {
  const void* p = sqlite3_column_blob(s, i);
  int n = sqlite3_column_bytes(s, i);
  return p ? std::string(static_cast<const char*>(p), n) : std::string();
}

SqlValue Column(sqlite3_stmt* s, int i) {
  switch (sqlite3_column_type(s, i)) {
    case SQLITE_INTEGER: return sqlite3_column_int64(s, i);
    case SQLITE_FLOAT: return sqlite3_column_double(s, i);
    case SQLITE_NULL: return std::monostate{};
    default: return ColumnBytes(s, i);
  }
}

grpc::Status Run(sqlite3* db, sqlite3_stmt* s) {
  if (!s) return Error(db, "prepare");
  int rc = sqlite3_step(s);
  sqlite3_reset(s);
  if (rc != SQLITE_DONE && rc != SQLITE_ROW) return Error(db, "write");
  return grpc::Status::OK;
}

// The id of a run's row, which its value rows name; 0 when there is none.
grpc::Status RowId(sqlite3* db, const Prepare& prepare, const ExecutionKey& key, int64_t* id) {
  sqlite3_stmt* s = prepare("SELECT id FROM visibility WHERE namespace_id = ? AND workflow_id = ? AND run_id = ?");
  if (!s) return Error(db, "prepare");
  BindKey(s, key);
  int rc = sqlite3_step(s);
  *id = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
  sqlite3_reset(s);
  if (rc != SQLITE_DONE && rc != SQLITE_ROW) return Error(db, "read");
  return grpc::Status::OK;
}

std::string Where(const VisibilityFilter& filter) {
  std::string where = "v.namespace_id = ?1";
  if (!filter.where.empty()) where += " AND (" + filter.where + ")";
  return where;
}

// The value a query may start from (the value table's), if the value is of
// such a type: not a Text value's words, nor a boolean.
SqlValue IndexedValue(const SearchAttributeValue& a) {
  if (a.text) return *a.text;
  if (a.int_value) return *a.int_value;
  if (a.double_value) return *a.double_value;
  if (a.time_nanos) return *a.time_nanos;
  return std::monostate{};
}

// The whole row, inserted or replacing the one there. *inserted: the id of
// a row it inserted, 0 when it replaced one.
grpc::Status Upsert(sqlite3* db, const Prepare& prepare, const VisibilityRow& v, const std::string& attributes,
                    int mode, int64_t* inserted) {
  sqlite3_stmt* s = prepare(
      "INSERT INTO visibility (namespace_id, workflow_id, run_id, workflow_type, task_queue, status, "
      "start_time_nanos, execution_time_nanos, close_time_nanos, history_length, info, close_order, "
      "execution_duration, history_size_bytes, state_transition_count, parent_workflow_id, parent_run_id, "
      "root_workflow_id, root_run_id, namespace_division, search_attributes) "
      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
      "ON CONFLICT (namespace_id, workflow_id, run_id) DO UPDATE SET "
      "workflow_type = excluded.workflow_type, task_queue = excluded.task_queue, status = excluded.status, "
      "start_time_nanos = excluded.start_time_nanos, execution_time_nanos = excluded.execution_time_nanos, "
      "close_time_nanos = excluded.close_time_nanos, history_length = excluded.history_length, "
      "info = excluded.info, close_order = excluded.close_order, execution_duration = excluded.execution_duration, "
      "history_size_bytes = excluded.history_size_bytes, state_transition_count = excluded.state_transition_count, "
      "parent_workflow_id = excluded.parent_workflow_id, parent_run_id = excluded.parent_run_id, "
      "root_workflow_id = excluded.root_workflow_id, root_run_id = excluded.root_run_id, "
      "namespace_division = excluded.namespace_division, search_attributes = CASE ?22 "
      "WHEN 0 THEN visibility.search_attributes ELSE excluded.search_attributes END");
  if (!s) return Error(db, "prepare");
  BindKey(s, v.key);
  BindText(s, 4, v.workflow_type);
  BindText(s, 5, v.task_queue);
  sqlite3_bind_int(s, 6, v.status);
  sqlite3_bind_int64(s, 7, v.start_time_nanos);
  sqlite3_bind_int64(s, 8, v.execution_time_nanos);
  sqlite3_bind_int64(s, 9, v.close_time_nanos);
  sqlite3_bind_int64(s, 10, v.history_length);
  sqlite3_bind_blob(s, 11, v.info.data(), static_cast<int>(v.info.size()), SQLITE_TRANSIENT);
  sqlite3_bind_int64(s, 12, CloseOrder(v));
  BindOptional(s, 13, v.execution_duration_nanos);
  sqlite3_bind_int64(s, 14, v.history_size_bytes);
  sqlite3_bind_int64(s, 15, v.state_transition_count);
  BindTextOrNull(s, 16, v.parent_workflow_id);
  BindTextOrNull(s, 17, v.parent_run_id);
  BindTextOrNull(s, 18, v.root_workflow_id);
  BindTextOrNull(s, 19, v.root_run_id);
  BindTextOrNull(s, 20, v.namespace_division);
  BindTextOrNull(s, 21, attributes);
  sqlite3_bind_int(s, 22, mode);
  // An upsert that updates leaves the last inserted rowid as it was.
  const int64_t before = sqlite3_last_insert_rowid(db);
  if (auto st = Run(db, s); !st.ok()) return st;
  const int64_t after = sqlite3_last_insert_rowid(db);
  *inserted = after != before ? after : 0;
  return grpc::Status::OK;
}

// A row already there, changed in the columns that change after a run's
// start: those of no index while it runs, and the status and close order
// when it closes. SQLite rewrites an index entry whenever an UPDATE sets one
// of its columns, even to the value it had, so the full upsert would dirty
// four index pages at every write. *written: false when there was no row.
grpc::Status Update(sqlite3* db, const Prepare& prepare, const VisibilityRow& v, const std::string& attributes,
                    int mode, bool* written) {
  constexpr const char* kRunningUpdate =
      "UPDATE visibility SET task_queue = ?4, history_length = ?5, info = ?6, execution_duration = ?7, "
      "history_size_bytes = ?8, state_transition_count = ?9, "
      "search_attributes = CASE ?11 WHEN 0 THEN search_attributes ELSE ?10 END "
      "WHERE namespace_id = ?1 AND workflow_id = ?2 AND run_id = ?3";
  constexpr const char* kClosingUpdate =
      "UPDATE visibility SET task_queue = ?4, history_length = ?5, info = ?6, execution_duration = ?7, "
      "history_size_bytes = ?8, state_transition_count = ?9, "
      "search_attributes = CASE ?11 WHEN 0 THEN search_attributes ELSE ?10 END, "
      "status = ?12, close_time_nanos = ?13, close_order = ?14 "
      "WHERE namespace_id = ?1 AND workflow_id = ?2 AND run_id = ?3";
  const bool closed = v.close_time_nanos != 0 || v.status != kStatusRunning;
  sqlite3_stmt* s = prepare(closed ? kClosingUpdate : kRunningUpdate);
  if (!s) return Error(db, "prepare");
  BindKey(s, v.key);
  BindText(s, 4, v.task_queue);
  sqlite3_bind_int64(s, 5, v.history_length);
  sqlite3_bind_blob(s, 6, v.info.data(), static_cast<int>(v.info.size()), SQLITE_TRANSIENT);
  BindOptional(s, 7, v.execution_duration_nanos);
  sqlite3_bind_int64(s, 8, v.history_size_bytes);
  sqlite3_bind_int64(s, 9, v.state_transition_count);
  BindTextOrNull(s, 10, attributes);
  sqlite3_bind_int(s, 11, mode);
  if (closed) {
    sqlite3_bind_int(s, 12, v.status);
    sqlite3_bind_int64(s, 13, v.close_time_nanos);
    sqlite3_bind_int64(s, 14, CloseOrder(v));
  }
  if (auto st = Run(db, s); !st.ok()) return st;
  *written = sqlite3_changes(db) > 0;
  return grpc::Status::OK;
}

}  // namespace

grpc::Status Write(sqlite3* db, const Prepare& prepare, const VisibilityRow& v) {
  // The attribute column is rewritten whole, merged here when only some
  // attributes changed; the value rows of those replaced go first, found
  // through the values the column holds before this write.
  enum Mode { kKeep = 0, kSet = 1 };
  const Mode mode = v.search_attributes_changed ? kSet : kKeep;
  std::string attributes;
  int64_t run = 0;  // The row's id, which its value rows name: read where they are written.
  if (mode == kSet && (v.new_run || v.replaced_search_attributes.empty())) {
    if (!v.new_run) {
      sqlite3_stmt* d = prepare(kDeleteRunValues);
      if (!d) return Error(db, "prepare");
      BindKey(d, v.key);
      if (auto st = Run(db, d); !st.ok()) return st;
    }
    attributes = AttributesJson(v.search_attributes);
  } else if (mode == kSet) {
    std::string old;
    sqlite3_stmt* r = prepare(
        "SELECT id, search_attributes FROM visibility WHERE namespace_id = ? AND workflow_id = ? AND run_id = ?");
    if (!r) return Error(db, "prepare");
    BindKey(r, v.key);
    if (sqlite3_step(r) == SQLITE_ROW) {
      run = sqlite3_column_int64(r, 0);
      old = ColumnBytes(r, 1);
    }
    sqlite3_reset(r);
    for (const auto& name : v.replaced_search_attributes) {
      if (!HasAttribute(old, name)) continue;  // A first value (a run's first build id): nothing to delete.
      sqlite3_stmt* d = prepare(
          "DELETE FROM visibility_values WHERE namespace_id = ?1 AND name = ?2 AND run = ?3 "
          "AND value IN (SELECT e.value FROM json_each(?4) o, json_each(o.value) e WHERE o.key = ?2)");
      if (!d) return Error(db, "prepare");
      BindText(d, 1, v.key.namespace_id);
      BindText(d, 2, name);
      sqlite3_bind_int64(d, 3, run);
      BindText(d, 4, old);  // The column as read above, not read again.
      if (auto st = Run(db, d); !st.ok()) return st;
    }
    attributes = MergeAttributesJson(old, v.replaced_search_attributes, v.search_attributes);
  }
  bool written = false;
  if (!v.new_run) {
    if (auto st = Update(db, prepare, v, attributes, mode, &written); !st.ok()) return st;
  }
  if (!written) {
    if (auto st = Upsert(db, prepare, v, attributes, mode, &run); !st.ok()) return st;
  }
  if (!v.search_attributes_changed || v.search_attributes.empty()) return grpc::Status::OK;
  if (run == 0) {
    if (auto st = RowId(db, prepare, v.key, &run); !st.ok()) return st;
  }
  for (const auto& a : v.search_attributes) {
    auto value = IndexedValue(a);
    if (std::holds_alternative<std::monostate>(value)) continue;
    sqlite3_stmt* i =
        prepare("INSERT OR IGNORE INTO visibility_values (namespace_id, name, value, run) VALUES (?, ?, ?, ?)");
    if (!i) return Error(db, "prepare");
    BindText(i, 1, v.key.namespace_id);
    BindText(i, 2, a.name);
    Bind(i, 3, value);
    sqlite3_bind_int64(i, 4, run);
    if (auto st = Run(db, i); !st.ok()) return st;
  }
  return grpc::Status::OK;
}

grpc::Status WriteDefinitions(sqlite3* db, const Prepare& prepare, const WriteBatch& b) {
  for (const auto& d : b.search_attribute_upserts) {
    sqlite3_stmt* s = prepare(
        "INSERT INTO search_attributes (namespace_id, name, type) VALUES (?, ?, ?) "
        "ON CONFLICT (namespace_id, name) DO UPDATE SET type = excluded.type");
    if (!s) return Error(db, "prepare");
    BindText(s, 1, d.namespace_id);
    BindText(s, 2, d.name);
    sqlite3_bind_int(s, 3, d.type);
    if (auto st = Run(db, s); !st.ok()) return st;
  }
  for (const auto& d : b.search_attribute_deletes) {
    sqlite3_stmt* s = prepare("DELETE FROM search_attributes WHERE namespace_id = ? AND name = ?");
    if (!s) return Error(db, "prepare");
    BindText(s, 1, d.namespace_id);
    BindText(s, 2, d.name);
    if (auto st = Run(db, s); !st.ok()) return st;
  }
  return grpc::Status::OK;
}

VisibilityRow ReadRow(sqlite3_stmt* s) {
  VisibilityRow v;
  v.key = {ColumnBytes(s, 0), ColumnBytes(s, 1), ColumnBytes(s, 2)};
  v.workflow_type = ColumnBytes(s, 3);
  v.task_queue = ColumnBytes(s, 4);
  v.status = sqlite3_column_int(s, 5);
  v.start_time_nanos = sqlite3_column_int64(s, 6);
  v.execution_time_nanos = sqlite3_column_int64(s, 7);
  v.close_time_nanos = sqlite3_column_int64(s, 8);
  v.history_length = sqlite3_column_int64(s, 9);
  v.info = ColumnBytes(s, 10);
  return v;
}

grpc::Status Query(sqlite3* db, const std::string& namespace_id, const VisibilityFilter& filter,
                   const VisibilityCursor* after, int limit, std::vector<VisibilityRow>* out) {
  std::string sql =
      "SELECT v.namespace_id, v.workflow_id, v.run_id, v.workflow_type, v.task_queue, v.status, v.start_time_nanos, "
      "v.execution_time_nanos, v.close_time_nanos, v.history_length, v.info FROM visibility v WHERE " +
      Where(filter);
  if (after) {
    sql += " AND ((v.close_order = ? AND v.start_time_nanos = ? AND v.run_id > ?) OR "
           "(v.close_order = ? AND v.start_time_nanos < ?) OR v.close_order < ?)";
  }
  sql += " ORDER BY v.close_order DESC, v.start_time_nanos DESC, v.run_id LIMIT ?";
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &raw, nullptr) != SQLITE_OK) return Error(db, "visibility query");
  Stmt s(raw);
  int i = 1;
  BindText(raw, i++, namespace_id);
  for (const auto& p : filter.params) Bind(raw, i++, p);
  if (after) {
    sqlite3_bind_int64(raw, i++, after->close_order);
    sqlite3_bind_int64(raw, i++, after->start_time_nanos);
    BindText(raw, i++, after->run_id);
    sqlite3_bind_int64(raw, i++, after->close_order);
    sqlite3_bind_int64(raw, i++, after->start_time_nanos);
    sqlite3_bind_int64(raw, i++, after->close_order);
  }
  sqlite3_bind_int(raw, i++, limit);
  int rc;
  while ((rc = sqlite3_step(raw)) == SQLITE_ROW) {
    VisibilityRow v = ReadRow(raw);
    out->push_back(std::move(v));
  }
  if (rc != SQLITE_DONE) return Error(db, "visibility query");
  return grpc::Status::OK;
}

grpc::Status Count(sqlite3* db, const std::string& namespace_id, const VisibilityFilter& filter,
                   const std::string& group_column, std::vector<std::pair<SqlValue, int64_t>>* groups,
                   int64_t* count) {
  std::string sql = group_column.empty()
                        ? "SELECT COUNT(*) FROM visibility v WHERE " + Where(filter)
                        : "SELECT " + group_column + ", COUNT(*) FROM visibility v WHERE " + Where(filter) +
                              " GROUP BY " + group_column + " ORDER BY COUNT(*) DESC";
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &raw, nullptr) != SQLITE_OK) return Error(db, "visibility count");
  Stmt s(raw);
  int i = 1;
  BindText(raw, i++, namespace_id);
  for (const auto& p : filter.params) Bind(raw, i++, p);
  *count = 0;
  int rc;
  while ((rc = sqlite3_step(raw)) == SQLITE_ROW) {
    if (group_column.empty()) {
      *count = sqlite3_column_int64(raw, 0);
    } else {
      int64_t n = sqlite3_column_int64(raw, 1);
      groups->emplace_back(Column(raw, 0), n);
      *count += n;
    }
  }
  if (rc != SQLITE_DONE) return Error(db, "visibility count");
  return grpc::Status::OK;
}

std::vector<SearchAttributeDefinition> LoadDefinitions(const Prepare& prepare) {
  std::vector<SearchAttributeDefinition> out;
  sqlite3_stmt* s = prepare("SELECT namespace_id, name, type FROM search_attributes ORDER BY namespace_id, name");
  while (s && sqlite3_step(s) == SQLITE_ROW) out.push_back({ColumnBytes(s, 0), ColumnBytes(s, 1), sqlite3_column_int(s, 2)});
  if (s) sqlite3_reset(s);
  return out;
}

}  // namespace kairos::persistence::sqlite_visibility
