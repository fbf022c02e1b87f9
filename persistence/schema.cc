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
      // 2: visibility queries (Temporal's List Filter): the columns of every
      // system search attribute, the list order, and the values of search
      // attributes (any number per run), plus each namespace's custom ones.
      R"sql(
ALTER TABLE visibility ADD COLUMN close_order INTEGER NOT NULL DEFAULT 9223372036854775807;
ALTER TABLE visibility ADD COLUMN execution_duration INTEGER;
ALTER TABLE visibility ADD COLUMN history_size_bytes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE visibility ADD COLUMN state_transition_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE visibility ADD COLUMN parent_workflow_id TEXT;
ALTER TABLE visibility ADD COLUMN parent_run_id TEXT;
ALTER TABLE visibility ADD COLUMN root_workflow_id TEXT;
ALTER TABLE visibility ADD COLUMN root_run_id TEXT;
ALTER TABLE visibility ADD COLUMN namespace_division TEXT;
UPDATE visibility SET close_order = close_time_nanos, execution_duration = close_time_nanos - execution_time_nanos
  WHERE close_time_nanos != 0;
UPDATE visibility SET root_workflow_id = workflow_id, root_run_id = run_id;
CREATE INDEX visibility_in_order ON visibility (namespace_id, close_order DESC, start_time_nanos DESC, run_id);
CREATE INDEX visibility_by_type ON visibility (namespace_id, workflow_type);
CREATE INDEX visibility_by_status ON visibility (namespace_id, status);
CREATE TABLE visibility_search_attributes (
  namespace_id TEXT NOT NULL,
  workflow_id  TEXT NOT NULL,
  run_id       TEXT NOT NULL,
  name         TEXT NOT NULL,
  seq          INTEGER NOT NULL,
  text_value   TEXT,
  words        TEXT,
  int_value    INTEGER,
  double_value REAL,
  bool_value   INTEGER,
  time_value   INTEGER,
  PRIMARY KEY (namespace_id, workflow_id, run_id, name, seq)
) WITHOUT ROWID;
CREATE INDEX visibility_search_attributes_by_text
  ON visibility_search_attributes (namespace_id, name, text_value);
CREATE TABLE search_attributes (
  namespace_id TEXT NOT NULL,
  name         TEXT NOT NULL,
  type         INTEGER NOT NULL,
  PRIMARY KEY (namespace_id, name)
) WITHOUT ROWID;
)sql",
      // 3: schedules (the scheduler's durable state).
      R"sql(
CREATE TABLE schedules (
  namespace_id TEXT NOT NULL,
  schedule_id  TEXT NOT NULL,
  record       BLOB NOT NULL,
  PRIMARY KEY (namespace_id, schedule_id)
) WITHOUT ROWID;
)sql",
      // 4: batch operations (the batcher's durable state and progress).
      R"sql(
CREATE TABLE batch_operations (
  namespace_id TEXT NOT NULL,
  job_id       TEXT NOT NULL,
  record       BLOB NOT NULL,
  PRIMARY KEY (namespace_id, job_id)
) WITHOUT ROWID;
)sql",
      // 5: numbers and times of search attributes indexed, so that a range
      // or an equality on one finds its runs without reading all of them.
      R"sql(
CREATE INDEX visibility_search_attributes_by_int
  ON visibility_search_attributes (namespace_id, name, int_value) WHERE int_value IS NOT NULL;
CREATE INDEX visibility_search_attributes_by_double
  ON visibility_search_attributes (namespace_id, name, double_value) WHERE double_value IS NOT NULL;
CREATE INDEX visibility_search_attributes_by_time
  ON visibility_search_attributes (namespace_id, name, time_value) WHERE time_value IS NOT NULL;
)sql",
      // 6: text values indexed only where there is one, so that a number,
      // a time or a flag costs no entry in the text index.
      R"sql(
DROP INDEX visibility_search_attributes_by_text;
CREATE INDEX visibility_search_attributes_by_text
  ON visibility_search_attributes (namespace_id, name, text_value) WHERE text_value IS NOT NULL;
)sql",
      // 7: timers are paged into memory by due time (a window ahead of now),
      // not loaded whole at start-up.
      R"sql(
CREATE INDEX timers_by_fire_time ON timers (fire_time_nanos, id);
)sql",
      // 8: Nexus endpoints (the cluster-wide registry; names are unique,
      // checked by the registry, which serializes its writes).
      R"sql(
CREATE TABLE nexus_endpoints (
  id     TEXT PRIMARY KEY,
  record BLOB NOT NULL
) WITHOUT ROWID;
)sql",
      // 9: worker deployments (deployments/): routing and versions.
      R"sql(
CREATE TABLE worker_deployments (
  namespace_id TEXT NOT NULL,
  name         TEXT NOT NULL,
  record       BLOB NOT NULL,
  PRIMARY KEY (namespace_id, name)
) WITHOUT ROWID;
)sql",
      // 10: a run's search attributes kept once in its visibility row (a
      // JSON object of arrays, for the per-run checks of a query) and their
      // comparable values once in a table clustered by value (for the
      // queries that start from a value), instead of a table keyed by run
      // plus an index by value: one B-tree insert per value, not two.
      // Text values are kept as their words and are not in the value table
      // (no query starts from them), nor are booleans.
      R"sql(
ALTER TABLE visibility ADD COLUMN search_attributes TEXT;
CREATE TABLE visibility_values (
  namespace_id TEXT NOT NULL,
  name         TEXT NOT NULL,
  value        NOT NULL,
  workflow_id  TEXT NOT NULL,
  run_id       TEXT NOT NULL,
  PRIMARY KEY (namespace_id, name, value, workflow_id, run_id)
) WITHOUT ROWID;
CREATE TEMP TABLE migrated_values AS
  SELECT a.namespace_id, a.workflow_id, a.run_id, a.name, a.seq,
         CASE
           WHEN t.type = 1 THEN a.words
           WHEN t.type = 6 OR a.name = 'TemporalScheduledStartTime' THEN a.time_value
           ELSE COALESCE(a.text_value, a.int_value, a.double_value, a.bool_value, a.time_value, a.words)
         END AS value,
         IFNULL(t.type, 0) = 1 OR (t.type IS NULL AND a.text_value IS NULL AND a.words IS NOT NULL)
           OR a.bool_value IS NOT NULL
           AS unindexed
  FROM visibility_search_attributes a
  LEFT JOIN search_attributes t ON t.namespace_id = a.namespace_id AND t.name = a.name;
DELETE FROM migrated_values WHERE value IS NULL;
UPDATE visibility SET search_attributes = (
  SELECT json_group_object(name, json(items)) FROM (
    SELECT name, json_group_array(value) AS items FROM (
      SELECT m.name, m.value FROM migrated_values m
      WHERE m.namespace_id = visibility.namespace_id AND m.workflow_id = visibility.workflow_id
        AND m.run_id = visibility.run_id
      ORDER BY m.name, m.seq)
    GROUP BY name))
WHERE EXISTS (SELECT 1 FROM migrated_values m WHERE m.namespace_id = visibility.namespace_id
                AND m.workflow_id = visibility.workflow_id AND m.run_id = visibility.run_id);
INSERT OR IGNORE INTO visibility_values (namespace_id, name, value, workflow_id, run_id)
  SELECT namespace_id, name, value, workflow_id, run_id FROM migrated_values WHERE NOT unindexed;
DROP TABLE migrated_values;
DROP TABLE visibility_search_attributes;
)sql",
      // 11: queued tasks are paged into matching per queue (oldest first),
      // not loaded whole at start-up. Rows written before this have an
      // empty queue and are loaded whole once.
      R"sql(
ALTER TABLE tasks ADD COLUMN queue TEXT NOT NULL DEFAULT '';
CREATE INDEX tasks_by_queue ON tasks (queue);
)sql",
      // 12: the visibility table gets an integer id, and value rows name
      // their run by it. A WITHOUT ROWID table keeps at most about 1 KB of a
      // row in its B-tree page; a row with a few search attributes is
      // larger, and its rest went to an overflow page of its own, mostly
      // empty, written again at every update. A table with an integer key
      // keeps rows of up to about 4 KB in the page, its indexes hold the
      // 8-byte id instead of the whole run key, and a query reaches a run
      // from a value row by that id in one B-tree search. The id is an
      // INTEGER PRIMARY KEY, which VACUUM keeps (it renumbers bare rowids).
      R"sql(
CREATE TABLE visibility_by_id (
  id                     INTEGER PRIMARY KEY,
  namespace_id           TEXT NOT NULL,
  workflow_id            TEXT NOT NULL,
  run_id                 TEXT NOT NULL,
  workflow_type          TEXT NOT NULL,
  task_queue             TEXT NOT NULL,
  status                 INTEGER NOT NULL,
  start_time_nanos       INTEGER NOT NULL,
  execution_time_nanos   INTEGER NOT NULL,
  close_time_nanos       INTEGER NOT NULL,
  history_length         INTEGER NOT NULL,
  info                   BLOB NOT NULL,
  close_order            INTEGER NOT NULL DEFAULT 9223372036854775807,
  execution_duration     INTEGER,
  history_size_bytes     INTEGER NOT NULL DEFAULT 0,
  state_transition_count INTEGER NOT NULL DEFAULT 0,
  parent_workflow_id     TEXT,
  parent_run_id          TEXT,
  root_workflow_id       TEXT,
  root_run_id            TEXT,
  namespace_division     TEXT,
  search_attributes      TEXT,
  UNIQUE (namespace_id, workflow_id, run_id)
);
INSERT INTO visibility_by_id (namespace_id, workflow_id, run_id, workflow_type, task_queue, status,
    start_time_nanos, execution_time_nanos, close_time_nanos, history_length, info, close_order,
    execution_duration, history_size_bytes, state_transition_count, parent_workflow_id, parent_run_id,
    root_workflow_id, root_run_id, namespace_division, search_attributes)
  SELECT namespace_id, workflow_id, run_id, workflow_type, task_queue, status,
    start_time_nanos, execution_time_nanos, close_time_nanos, history_length, info, close_order,
    execution_duration, history_size_bytes, state_transition_count, parent_workflow_id, parent_run_id,
    root_workflow_id, root_run_id, namespace_division, search_attributes
  FROM visibility ORDER BY close_order DESC, start_time_nanos DESC;
CREATE TABLE visibility_values_by_id (
  namespace_id TEXT NOT NULL,
  name         TEXT NOT NULL,
  value        NOT NULL,
  run          INTEGER NOT NULL,
  PRIMARY KEY (namespace_id, name, value, run)
) WITHOUT ROWID;
INSERT INTO visibility_values_by_id (namespace_id, name, value, run)
  SELECT a.namespace_id, a.name, a.value, v.id FROM visibility_values a
  JOIN visibility_by_id v
    ON v.namespace_id = a.namespace_id AND v.workflow_id = a.workflow_id AND v.run_id = a.run_id;
DROP TABLE visibility_values;
DROP TABLE visibility;
ALTER TABLE visibility_by_id RENAME TO visibility;
ALTER TABLE visibility_values_by_id RENAME TO visibility_values;
CREATE INDEX visibility_by_start ON visibility (namespace_id, start_time_nanos DESC);
CREATE INDEX visibility_in_order ON visibility (namespace_id, close_order DESC, start_time_nanos DESC, run_id);
CREATE INDEX visibility_by_type ON visibility (namespace_id, workflow_type);
CREATE INDEX visibility_by_status ON visibility (namespace_id, status);
)sql",
      // 13: the compatible version sets of task queues (the deprecated
      // build-id versioning, deployments/build_id_versioning.h).
      R"sql(
CREATE TABLE build_id_versioning (
  namespace_id TEXT NOT NULL,
  task_queue   TEXT NOT NULL,
  record       BLOB NOT NULL,
  PRIMARY KEY (namespace_id, task_queue)
) WITHOUT ROWID;
)sql",
  };
  return kMigrations;
}

}  // namespace kairos::persistence
