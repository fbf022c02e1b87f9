#include "sqlite_deletion.h"

namespace kairos::persistence::sqlite_deletion {
namespace {

void BindText(sqlite3_stmt* s, int i, const std::string& v) {
  sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
}

std::string ColumnText(sqlite3_stmt* s, int i) {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s, i));
  return p ? std::string(p, sqlite3_column_bytes(s, i)) : std::string();
}

// Every table keyed by the run, children before the execution row that the
// events' foreign key points at. The current-run pointer goes only when it
// still names this run: a newer run of the same workflow id keeps it.
constexpr const char* kDeletes[] = {
    "DELETE FROM history_events WHERE namespace_id = ?1 AND workflow_id = ?2 AND run_id = ?3",
    "DELETE FROM executions WHERE namespace_id = ?1 AND workflow_id = ?2 AND run_id = ?3",
    "DELETE FROM current_executions WHERE namespace_id = ?1 AND workflow_id = ?2 AND run_id = ?3",
    sqlite_visibility::kDeleteRunValues,
    "DELETE FROM visibility WHERE namespace_id = ?1 AND workflow_id = ?2 AND run_id = ?3",
};

}  // namespace

grpc::Status DeleteRun(sqlite3* db, const sqlite_visibility::Prepare& prepare, const ExecutionKey& key) {
  for (const char* sql : kDeletes) {
    sqlite3_stmt* s = prepare(sql);
    if (!s) return grpc::Status(grpc::StatusCode::INTERNAL, std::string("prepare: ") + sqlite3_errmsg(db));
    BindText(s, 1, key.namespace_id);
    BindText(s, 2, key.workflow_id);
    BindText(s, 3, key.run_id);
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_DONE) return grpc::Status(grpc::StatusCode::INTERNAL, std::string("delete run: ") + sqlite3_errmsg(db));
  }
  return grpc::Status::OK;
}

std::vector<ExecutionKey> ClosedBefore(const sqlite_visibility::Prepare& prepare, const std::string& namespace_id,
                                       int64_t closed_before_nanos, int limit) {
  // close_order is the close time of a closed run (running ones sort at the
  // end of time), so the list order's index finds them without a scan.
  sqlite3_stmt* s = prepare(
      "SELECT workflow_id, run_id FROM visibility WHERE namespace_id = ? AND close_order < ? "
      "ORDER BY close_order LIMIT ?");
  std::vector<ExecutionKey> out;
  if (!s) return out;
  BindText(s, 1, namespace_id);
  sqlite3_bind_int64(s, 2, closed_before_nanos);
  sqlite3_bind_int(s, 3, limit);
  while (sqlite3_step(s) == SQLITE_ROW) out.push_back({namespace_id, ColumnText(s, 0), ColumnText(s, 1)});
  sqlite3_reset(s);
  return out;
}

}  // namespace kairos::persistence::sqlite_deletion
