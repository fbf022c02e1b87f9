#include "schema.h"

namespace kairos::persistence {

const std::vector<std::string>& Migrations() {
  static const std::vector<std::string> kMigrations = {
      // 1: the initial schema.
      R"sql(
CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value INTEGER NOT NULL
);
CREATE TABLE namespaces (
  id     TEXT PRIMARY KEY,
  name   TEXT NOT NULL UNIQUE,
  record BLOB NOT NULL
);
CREATE TABLE executions (
  namespace_id TEXT NOT NULL,
  workflow_id  TEXT NOT NULL,
  run_id       TEXT NOT NULL,
  state        BLOB NOT NULL,
  PRIMARY KEY (namespace_id, workflow_id, run_id)
) WITHOUT ROWID;
CREATE TABLE current_executions (
  namespace_id     TEXT NOT NULL,
  workflow_id      TEXT NOT NULL,
  run_id           TEXT NOT NULL,
  status           INTEGER NOT NULL,
  start_request_id TEXT NOT NULL,
  PRIMARY KEY (namespace_id, workflow_id)
) WITHOUT ROWID;
CREATE TABLE history_events (
  namespace_id TEXT NOT NULL,
  workflow_id  TEXT NOT NULL,
  run_id       TEXT NOT NULL,
  event_id     INTEGER NOT NULL,
  event        BLOB NOT NULL,
  PRIMARY KEY (namespace_id, workflow_id, run_id, event_id),
  FOREIGN KEY (namespace_id, workflow_id, run_id)
    REFERENCES executions (namespace_id, workflow_id, run_id) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE TABLE tasks (
  id   INTEGER PRIMARY KEY,
  task BLOB NOT NULL
);
CREATE TABLE timers (
  id              INTEGER PRIMARY KEY,
  fire_time_nanos INTEGER NOT NULL,
  timer           BLOB NOT NULL
);
CREATE TABLE visibility (
  namespace_id         TEXT NOT NULL,
  workflow_id          TEXT NOT NULL,
  run_id               TEXT NOT NULL,
  workflow_type        TEXT NOT NULL,
  task_queue           TEXT NOT NULL,
  status               INTEGER NOT NULL,
  start_time_nanos     INTEGER NOT NULL,
  execution_time_nanos INTEGER NOT NULL,
  close_time_nanos     INTEGER NOT NULL,
  history_length       INTEGER NOT NULL,
  info                 BLOB NOT NULL,
  PRIMARY KEY (namespace_id, workflow_id, run_id)
) WITHOUT ROWID;
CREATE INDEX visibility_by_start ON visibility (namespace_id, start_time_nanos DESC);
)sql",
      // 2: schedules (the scheduler's durable state).
      R"sql(
CREATE TABLE schedules (
  namespace_id TEXT NOT NULL,
  schedule_id  TEXT NOT NULL,
  record       BLOB NOT NULL,
  PRIMARY KEY (namespace_id, schedule_id)
) WITHOUT ROWID;
)sql",
  };
  return kMigrations;
}

}  // namespace kairos::persistence
