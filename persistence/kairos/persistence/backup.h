// A consistent copy of a live Kairos database, taken from outside the server
// process: SQLite's online backup API reads every page inside one read
// transaction, so the copy is the database as of one commit, while the
// server goes on committing (WAL readers do not block the writer).
#pragma once

#include <string>

#include <grpcpp/support/status.h>

namespace kairos::persistence {

struct BackupResult {
  int64_t pages = 0;
  int64_t bytes = 0;
};

// Copies the database at `from` to `to` (written to `to`.tmp, checked with
// PRAGMA quick_check, then renamed, so `to` is never a partial copy).
grpc::Status BackupDatabase(const std::string& from, const std::string& to, BackupResult* result);

}  // namespace kairos::persistence
