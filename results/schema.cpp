#include "results/schema.h"

#include <array>
#include <string>

#include "base/error.h"

namespace ablate::results {
namespace {

// Migration N (1-based) takes the database from user_version N-1 to N. Never edit a migration
// that has shipped: append a new one. Times are unix epoch seconds everywhere.
constexpr std::array<std::string_view, 6> kMigrations = {
    // v1. params.value has no declared type on purpose: the column then has no affinity, so SQLite
    // keeps ints as INTEGER, floats as REAL and strings as TEXT, and numbers compare as numbers.
    R"sql(
CREATE TABLE experiments (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  description TEXT NOT NULL DEFAULT '',
  grid_json TEXT NOT NULL,
  grid_sha256 TEXT NOT NULL,
  created_at REAL NOT NULL,
  updated_at REAL NOT NULL
);

CREATE TABLE runs (
  id INTEGER PRIMARY KEY,
  experiment_id INTEGER NOT NULL REFERENCES experiments(id),
  key TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'queued'
    CHECK (status IN ('queued', 'running', 'completed', 'failed', 'diverged', 'interrupted')),
  created_at REAL NOT NULL,
  started_at REAL,
  finished_at REAL,
  heartbeat_at REAL,
  host TEXT,
  pid INTEGER,
  attempts INTEGER NOT NULL DEFAULT 0,
  error TEXT,
  -- Provenance of the last attempt: the ablate build's git commit, LibTorch version, device.
  git_commit TEXT,
  torch_version TEXT,
  device TEXT,
  UNIQUE (experiment_id, key)
);
CREATE INDEX runs_status ON runs(status);

CREATE TABLE params (
  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  value,
  type TEXT NOT NULL CHECK (type IN ('int', 'float', 'string', 'bool')),
  PRIMARY KEY (run_id, name)
) WITHOUT ROWID;

-- Metric history is most of a results database and most of its writes. It is stored as series,
-- one per (run, metric name): a point's key is then two small integers rather than the run, the
-- name's text and the step (cheaper to compare on every B-tree search, and smaller), and a point
-- has one foreign key to check rather than two. The metrics view below is the public interface.
CREATE TABLE metric_names (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE
);

CREATE TABLE metric_series (
  id INTEGER PRIMARY KEY,
  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  name_id INTEGER NOT NULL REFERENCES metric_names(id),
  UNIQUE (run_id, name_id)
);

-- MetricWriter's multi-row INSERT OR FAIL into metric_points has no constraint that could abort
-- it half-way, so SQLite keeps no statement journal (a copy of every page the statement changes,
-- which took over a quarter of the writer's CPU time).
CREATE TABLE metric_points (
  series_id INTEGER NOT NULL,
  step INTEGER NOT NULL,
  value REAL,
  time REAL NOT NULL,
  PRIMARY KEY (series_id, step)
) WITHOUT ROWID;

-- Points reference their series without a declared foreign key: its per-row lookup was a sixth of
-- the write cost. Nothing is lost: only MetricWriter writes points, always for a series it has
-- just looked up or created in the same transaction (that insert is foreign-key checked against
-- runs), and deleting a series deletes its points here, as ON DELETE CASCADE would.
CREATE TRIGGER metric_series_delete AFTER DELETE ON metric_series
BEGIN
  DELETE FROM metric_points WHERE series_id = OLD.id;
END;

CREATE TABLE final_metrics (
  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  value REAL,
  step INTEGER,
  time REAL NOT NULL,
  PRIMARY KEY (run_id, name)
) WITHOUT ROWID;

CREATE TABLE artifacts (
  id INTEGER PRIMARY KEY,
  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  kind TEXT NOT NULL,
  path TEXT NOT NULL,
  step INTEGER,
  created_at REAL NOT NULL,
  UNIQUE (run_id, kind, path)
);

-- Job arrays `ablate run --backend slurm` submitted, so `ablate status` can show their states.
CREATE TABLE slurm_arrays (
  id INTEGER PRIMARY KEY,
  experiment_id INTEGER NOT NULL REFERENCES experiments(id),
  job_id TEXT NOT NULL,
  tasks INTEGER NOT NULL,
  log_dir TEXT NOT NULL,
  submitted_at REAL NOT NULL
);

CREATE VIEW run_info AS
SELECT r.id AS run_id, e.name AS experiment, r.key AS key, r.status AS status,
       r.created_at AS created_at, r.started_at AS started_at, r.finished_at AS finished_at,
       r.heartbeat_at AS heartbeat_at, r.host AS host, r.attempts AS attempts, r.error AS error,
       r.device AS device, r.git_commit AS git_commit, r.torch_version AS torch_version
FROM runs r JOIN experiments e ON e.id = r.experiment_id;

CREATE VIEW run_params AS
SELECT i.experiment AS experiment, i.run_id AS run_id, i.key AS key, i.status AS status,
       p.name AS name, p.value AS value, p.type AS type
FROM run_info i JOIN params p ON p.run_id = i.run_id;

CREATE VIEW run_finals AS
SELECT i.experiment AS experiment, i.run_id AS run_id, i.key AS key, i.status AS status,
       f.name AS name, f.value AS value, f.step AS step
FROM run_info i JOIN final_metrics f ON f.run_id = i.run_id;

CREATE VIEW metrics AS
SELECT s.run_id AS run_id, n.name AS name, p.step AS step, p.value AS value, p.time AS time
FROM metric_points p
JOIN metric_series s ON s.id = p.series_id
JOIN metric_names n ON n.id = s.name_id;

-- Replaced by Store::RefreshWideView once params or final metrics exist.
CREATE VIEW runs_wide AS SELECT * FROM run_info;
)sql",
    // v2. Data-parallel runs: how many ranks trained the last attempt, over which c10d backend,
    // and how many ranks ran on each node (NULL for runs recorded before v2).
    R"sql(
ALTER TABLE runs ADD COLUMN world_size INTEGER;
ALTER TABLE runs ADD COLUMN backend TEXT;
ALTER TABLE runs ADD COLUMN ranks_per_node INTEGER;

DROP VIEW run_info;
CREATE VIEW run_info AS
SELECT r.id AS run_id, e.name AS experiment, r.key AS key, r.status AS status,
       r.created_at AS created_at, r.started_at AS started_at, r.finished_at AS finished_at,
       r.heartbeat_at AS heartbeat_at, r.host AS host, r.attempts AS attempts, r.error AS error,
       r.device AS device, r.git_commit AS git_commit, r.torch_version AS torch_version,
       r.world_size AS world_size, r.backend AS backend, r.ranks_per_node AS ranks_per_node
FROM runs r JOIN experiments e ON e.id = r.experiment_id;
)sql",
    // v3. Runs trained away from the database (Slurm tasks) write a record log in their run
    // directory; `ablate collect` reads it from `collected` bytes on. slurm_tasks is the array
    // task that last ran each such run, to join with what Slurm says about it.
    R"sql(
CREATE TABLE run_logs (
  run_id INTEGER PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
  path TEXT NOT NULL,
  collected INTEGER NOT NULL DEFAULT 0,
  collected_at REAL,
  ended INTEGER NOT NULL DEFAULT 0  -- 1 once the log's last attempt recorded its end
);

CREATE TABLE slurm_tasks (
  run_id INTEGER PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
  job_id TEXT NOT NULL,
  task INTEGER NOT NULL,
  submitted_at REAL NOT NULL
);
)sql",
    // v4. The command line's --set overrides of the experiment's last submission, as a JSON
    // object of parameter -> value ('{}' when there were none).
    R"sql(
ALTER TABLE experiments ADD COLUMN overrides TEXT NOT NULL DEFAULT '{}';
)sql",
    // v5. Per-example outcomes of a run's final scores, for resampling examples together with
    // pretraining and fine-tuning seeds (the Multi-Bootstrap, Sellam et al. 2022). A row is one
    // metric of one replicate: `source` names the metric as its final metric is named
    // ("valid/ppl", "eval/<task>/<metric>"), `replicate` the fine-tuning seed (0 for what
    // pretraining itself scores). One BLOB per row rather than a row per example: a run has tens of
    // thousands of examples, which as rows would cost tens of bytes each in keys and B-tree space
    // and a write each; results/example_outcomes.h has the encoding. `examples` repeats the count
    // so SQL can see which replicates were scored on equally many examples without decoding.
    // A rowid table: its rows hold kilobytes, which SQLite advises against in WITHOUT ROWID ones.
    R"sql(
CREATE TABLE example_outcomes (
  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  source TEXT NOT NULL,
  replicate INTEGER NOT NULL,
  examples INTEGER NOT NULL,
  outcomes BLOB NOT NULL,
  PRIMARY KEY (run_id, source, replicate)
);
)sql",
    // v6. Slurm is one backend of several (runner/backend.h): the jobs and tasks of every backend
    // that hands runs to remote tasks are rows of two tables, named by `backend` ('slurm', ...).
    // A remote task is keyed by (backend, job_id, task), and a run has at most one, the last it
    // was handed to. Slurm's rows move over as they are, and slurm_arrays and slurm_tasks become
    // views of them with their old columns, so queries written against them keep working. A
    // task id the scheduler has since reused (a cluster that lost its state) keeps its later
    // submission.
    R"sql(
CREATE TABLE remote_jobs (
  id INTEGER PRIMARY KEY,
  backend TEXT NOT NULL,
  experiment_id INTEGER NOT NULL REFERENCES experiments(id),
  job_id TEXT NOT NULL,
  tasks INTEGER NOT NULL,
  log_dir TEXT NOT NULL,
  submitted_at REAL NOT NULL
);
INSERT INTO remote_jobs (id, backend, experiment_id, job_id, tasks, log_dir, submitted_at)
SELECT id, 'slurm', experiment_id, job_id, tasks, log_dir, submitted_at FROM slurm_arrays;
DROP TABLE slurm_arrays;

CREATE TABLE remote_tasks (
  backend TEXT NOT NULL,
  job_id TEXT NOT NULL,
  task INTEGER NOT NULL,
  run_id INTEGER NOT NULL UNIQUE REFERENCES runs(id) ON DELETE CASCADE,
  submitted_at REAL NOT NULL,
  PRIMARY KEY (backend, job_id, task)
);
INSERT OR REPLACE INTO remote_tasks (backend, job_id, task, run_id, submitted_at)
SELECT 'slurm', job_id, task, run_id, submitted_at FROM slurm_tasks ORDER BY submitted_at, run_id;
DROP TABLE slurm_tasks;

CREATE VIEW slurm_arrays AS
SELECT id, experiment_id, job_id, tasks, log_dir, submitted_at FROM remote_jobs
WHERE backend = 'slurm';

CREATE VIEW slurm_tasks AS
SELECT run_id, job_id, task, submitted_at FROM remote_tasks WHERE backend = 'slurm';
)sql",
};

[[noreturn]] void ThrowNewer(const Connection& connection, int version) {
  throw InputError(connection.path(), "",
                   "written by a newer ablate (schema v" + std::to_string(version) +
                       ", this build knows v" + std::to_string(LatestSchemaVersion()) + ")");
}

// user_version 0 with tables in it is some other program's database; migrating would mix our
// tables into it.
void CheckNotForeign(const Connection& connection) {
  Statement count = connection.Prepare("SELECT count(*) FROM sqlite_schema");
  count.Step();
  if (count.ColumnInt(0) != 0) {
    throw InputError(connection.path(), "",
                     "not an ablate results database (it has tables but no ablate schema version)");
  }
}

}  // namespace

int LatestSchemaVersion() { return static_cast<int>(kMigrations.size()); }

int SchemaVersion(const Connection& connection) {
  Statement pragma = connection.Prepare("PRAGMA user_version");
  pragma.Step();
  return static_cast<int>(pragma.ColumnInt(0));
}

void Migrate(const Connection& connection) { MigrateTo(connection, LatestSchemaVersion()); }

void MigrateTo(const Connection& connection, int target) {
  const int latest = LatestSchemaVersion();
  ABLATE_CHECK(target >= 1 && target <= latest, "no schema version " + std::to_string(target));
  // Checked without a lock first, so that opening an up-to-date database never waits on writers.
  int version = SchemaVersion(connection);
  if (version > latest) ThrowNewer(connection, version);
  while (version < target) {
    Transaction transaction(connection);
    // Another process may have migrated between our read and taking the write lock.
    version = SchemaVersion(connection);
    if (version > latest) ThrowNewer(connection, version);
    if (version >= target) break;
    if (version == 0) CheckNotForeign(connection);
    connection.Exec(kMigrations[static_cast<size_t>(version)]);
    connection.Exec("PRAGMA user_version = " + std::to_string(version + 1));
    transaction.Commit();
    ++version;
  }
}

}  // namespace ablate::results
