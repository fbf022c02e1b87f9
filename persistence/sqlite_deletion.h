// Removing runs from the SQLite store (DeleteWorkflowExecution and
// retention), and finding the closed runs retention may remove. Called by
// SqliteStore with its lock held, inside the batch's transaction.
#pragma once

#include <sqlite3.h>

#include <vector>

#include "sqlite_visibility.h"

namespace kairos::persistence::sqlite_deletion {

grpc::Status DeleteRun(sqlite3* db, const sqlite_visibility::Prepare& prepare, const ExecutionKey& key);
std::vector<ExecutionKey> ClosedBefore(const sqlite_visibility::Prepare& prepare, const std::string& namespace_id,
                                       int64_t closed_before_nanos, int limit);

}  // namespace kairos::persistence::sqlite_deletion
