#include "kairos/persistence/backup.h"

#include <sqlite3.h>

#include <cstdio>
#include <filesystem>
#include <memory>

namespace kairos::persistence {
namespace {

struct DbCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using DbPtr = std::unique_ptr<sqlite3, DbCloser>;

grpc::Status Fail(const std::string& what, sqlite3* db) {
  return {grpc::StatusCode::UNAVAILABLE, what + (db != nullptr ? std::string(": ") + sqlite3_errmsg(db) : "")};
}

grpc::Status Open(const std::string& path, int flags, DbPtr* out) {
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  out->reset(raw);
  if (rc != SQLITE_OK) return Fail("cannot open " + path, raw);
  // The server's writer holds the write lock only for a commit; wait it out.
  sqlite3_busy_timeout(raw, 10000);
  return grpc::Status::OK;
}

}  // namespace

grpc::Status BackupDatabase(const std::string& from, const std::string& to, BackupResult* result) {
  std::error_code ec;
  if (!std::filesystem::exists(from, ec)) return {grpc::StatusCode::NOT_FOUND, "no database at " + from};
  std::string tmp = to + ".tmp";
  std::filesystem::remove(tmp, ec);
  DbPtr src, dst;
  // Read-write open so that the WAL index can be used as the server uses it;
  // nothing is written to the source.
  if (auto st = Open(from, SQLITE_OPEN_READWRITE, &src); !st.ok()) return st;
  if (auto st = Open(tmp, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, &dst); !st.ok()) return st;
  sqlite3_backup* backup = sqlite3_backup_init(dst.get(), "main", src.get(), "main");
  if (backup == nullptr) return Fail("cannot start the backup", dst.get());
  // One step of every page: a single read transaction, hence one snapshot.
  // (Stepping in pieces would restart whenever the server commits.)
  int rc = sqlite3_backup_step(backup, -1);
  int pages = sqlite3_backup_pagecount(backup);
  sqlite3_backup_finish(backup);
  if (rc != SQLITE_DONE) {
    std::filesystem::remove(tmp, ec);
    return {grpc::StatusCode::UNAVAILABLE, std::string("backup failed: ") + sqlite3_errstr(rc)};
  }
  sqlite3_stmt* check = nullptr;
  std::string verdict;
  if (sqlite3_prepare_v2(dst.get(), "PRAGMA quick_check", -1, &check, nullptr) == SQLITE_OK &&
      sqlite3_step(check) == SQLITE_ROW) {
    verdict = reinterpret_cast<const char*>(sqlite3_column_text(check, 0));
  }
  sqlite3_finalize(check);
  dst.reset();
  if (verdict != "ok") {
    std::filesystem::remove(tmp, ec);
    return {grpc::StatusCode::DATA_LOSS, "the copy failed its check: " + verdict};
  }
  std::filesystem::rename(tmp, to, ec);
  if (ec) return {grpc::StatusCode::UNAVAILABLE, "cannot rename " + tmp + " to " + to + ": " + ec.message()};
  if (result != nullptr) {
    result->pages = pages;
    result->bytes = static_cast<int64_t>(std::filesystem::file_size(to, ec));
  }
  return grpc::Status::OK;
}

}  // namespace kairos::persistence
