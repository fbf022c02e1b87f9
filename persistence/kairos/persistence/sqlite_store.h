// The SQLite backend: WAL journal, numbered schema migrations, and one write
// path that groups concurrently committed batches into one transaction (each
// batch in its own savepoint, so one bad batch fails alone).
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "kairos/persistence/store.h"

namespace kairos::metrics {
class Registry;
}

namespace kairos::persistence {

struct SqliteOptions {
  std::string path;  // Empty: in memory.
  std::vector<std::pair<std::string, std::string>> pragmas;  // Applied after the defaults.
  int max_batches_per_commit = 256;
  // Newest history events of recently written runs kept in memory for
  // workflow tasks (kairos/persistence/recent_events.h); 0: none.
  size_t recent_event_bytes = 64u << 20;
  metrics::Registry* metrics = nullptr;  // Commit latency and group sizes; none when null.
};

// The schema version this build writes.
int CurrentSchemaVersion();

class SqliteStore;

// Opens (creating and migrating as needed). Fails with a clear message if the
// file was written by a newer Kairos.
grpc::Status OpenSqliteStore(const SqliteOptions& options, std::unique_ptr<Store>* out);

}  // namespace kairos::persistence
