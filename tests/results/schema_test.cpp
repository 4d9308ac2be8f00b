#include "results/schema.h"

#include <catch2/catch.hpp>
#include <vector>

#include "base/error.h"
#include "results/collect.h"
#include "results/run_reads.h"
#include "results/store.h"
#include "tests/results/helpers.h"

namespace ablate::results {
namespace {

using test::QueryInt;
using test::TempDir;

std::vector<std::string> Columns(const Connection& db, const std::string& table) {
  Statement info = db.Prepare("SELECT name FROM pragma_table_info(?1)");
  info.BindText(1, table);
  std::vector<std::string> columns;
  while (info.Step()) columns.push_back(info.ColumnText(0));
  return columns;
}

std::vector<std::string> SchemaSql(const Connection& db) {
  Statement select =
      db.Prepare("SELECT sql FROM sqlite_schema WHERE sql IS NOT NULL ORDER BY name");
  std::vector<std::string> sql;
  while (select.Step()) sql.push_back(select.ColumnText(0));
  return sql;
}

TEST_CASE("opening a new file applies every migration and records it in user_version",
          "[results][schema]") {
  TempDir dir;
  const Store store = Store::Open(dir.File("results.db"));
  CHECK(LatestSchemaVersion() == 6);
  CHECK(SchemaVersion(store.connection()) == LatestSchemaVersion());
}

// The table and column names are ablate's public SQL interface: reports and users' queries use
// them, so a change here is a breaking change and needs a migration.
TEST_CASE("the schema has the documented tables and views", "[results][schema]") {
  TempDir dir;
  const Store store = Store::Open(dir.File("results.db"));
  const Connection& db = store.connection();
  using Names = std::vector<std::string>;
  CHECK(Columns(db, "experiments") == Names{"id", "name", "description", "grid_json", "grid_sha256",
                                            "created_at", "updated_at", "overrides"});
  CHECK(Columns(db, "runs") == Names{"id", "experiment_id", "key", "status", "created_at",
                                     "started_at", "finished_at", "heartbeat_at", "host", "pid",
                                     "attempts", "error", "git_commit", "torch_version", "device",
                                     "world_size", "backend", "ranks_per_node"});
  CHECK(Columns(db, "params") == Names{"run_id", "name", "value", "type"});
  CHECK(Columns(db, "metrics") == Names{"run_id", "name", "step", "value", "time"});
  CHECK(Columns(db, "final_metrics") == Names{"run_id", "name", "value", "step", "time"});
  CHECK(Columns(db, "artifacts") == Names{"id", "run_id", "kind", "path", "step", "created_at"});
  CHECK(Columns(db, "remote_jobs") ==
        Names{"id", "backend", "experiment_id", "job_id", "tasks", "log_dir", "submitted_at"});
  CHECK(Columns(db, "run_logs") == Names{"run_id", "path", "collected", "collected_at", "ended"});
  CHECK(Columns(db, "remote_tasks") ==
        Names{"backend", "job_id", "task", "run_id", "submitted_at"});
  // Slurm's rows under their names from before schema v6, as views.
  CHECK(Columns(db, "slurm_arrays") ==
        Names{"id", "experiment_id", "job_id", "tasks", "log_dir", "submitted_at"});
  CHECK(Columns(db, "slurm_tasks") == Names{"run_id", "job_id", "task", "submitted_at"});
  CHECK(Columns(db, "example_outcomes") ==
        Names{"run_id", "source", "replicate", "examples", "outcomes"});
  const Names run_info = {
      "run_id",      "experiment",    "key",        "status",   "created_at",    "started_at",
      "finished_at", "heartbeat_at",  "host",       "attempts", "error",         "device",
      "git_commit",  "torch_version", "world_size", "backend",  "ranks_per_node"};
  CHECK(Columns(db, "run_info") == run_info);
  CHECK(Columns(db, "runs_wide") == run_info);
  CHECK(Columns(db, "run_params") ==
        Names{"experiment", "run_id", "key", "status", "name", "value", "type"});
  CHECK(Columns(db, "run_finals") ==
        Names{"experiment", "run_id", "key", "status", "name", "value", "step"});
  CHECK(QueryInt(db,
                 "SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND "
                 "tbl_name = 'runs' AND sql LIKE '%(status)%'") == 1);
}

// metrics is a view over three tables; a learning curve must still be a few index searches, not a
// scan of the history.
TEST_CASE("the learning-curve query searches indexes and needs no sort", "[results][schema]") {
  TempDir dir;
  const Store store = Store::Open(dir.File("results.db"));
  Statement plan = store.connection().Prepare(
      "EXPLAIN QUERY PLAN SELECT step, value FROM metrics WHERE run_id = ?1 AND name = ?2 "
      "ORDER BY step");
  std::vector<std::string> steps;
  while (plan.Step()) steps.push_back(plan.ColumnText(3));
  INFO(Catch::Detail::stringify(steps));
  REQUIRE(steps.size() == 3);  // metric_names, metric_series, metric_points
  for (const std::string& step : steps) {
    CHECK(step.rfind("SEARCH ", 0) == 0);
    CHECK(step.find("TEMP B-TREE") == std::string::npos);
  }
  CHECK(steps.back() == "SEARCH p USING PRIMARY KEY (series_id=?)");
}

TEST_CASE("reopening a migrated database changes nothing and keeps the data", "[results][schema]") {
  TempDir dir;
  const std::string path = dir.File("results.db");
  std::vector<std::string> schema_before;
  {
    Store store = Store::Open(path);
    store.Submit({"exp", "", "{}", {{"run-a", {{"seed", 1}}}}});
    schema_before = SchemaSql(store.connection());
  }
  const Store store = Store::Open(path);
  CHECK(SchemaVersion(store.connection()) == LatestSchemaVersion());
  CHECK(SchemaSql(store.connection()) == schema_before);
  CHECK(QueryInt(store.connection(), "SELECT count(*) FROM runs") == 1);
}

TEST_CASE("a v1 database keeps its runs and gains the data-parallel provenance columns",
          "[results][schema]") {
  TempDir dir;
  const std::string path = dir.File("results.db");
  {
    // v1 exactly as it shipped: the first migration only, with a run in it.
    const Connection db = Connection::Open(path, Connection::Mode::kReadWrite);
    MigrateTo(db, 1);
    db.Exec(
        "INSERT INTO experiments (name, description, grid_json, grid_sha256, created_at, "
        "updated_at) VALUES ('exp', '', '{}', '', 1, 1); INSERT INTO runs (experiment_id, key, "
        "created_at) VALUES (1, 'run-a', 1)");
  }
  const Store store = Store::Open(path);
  CHECK(SchemaVersion(store.connection()) == LatestSchemaVersion());
  CHECK(QueryInt(store.connection(), "SELECT count(*) FROM run_info WHERE key = 'run-a'") == 1);
  CHECK(QueryInt(store.connection(), "SELECT count(*) FROM run_info WHERE world_size IS NULL") ==
        1);
}

TEST_CASE("a v4 database keeps its runs and finals and gains the example outcomes table",
          "[results][schema]") {
  TempDir dir;
  const std::string path = dir.File("results.db");
  {
    // A database from before per-example outcomes, with a completed run's final metric.
    const Connection db = Connection::Open(path, Connection::Mode::kReadWrite);
    MigrateTo(db, 4);
    db.Exec(
        "INSERT INTO experiments (name, description, grid_json, grid_sha256, created_at, "
        "updated_at) VALUES ('exp', '', '{}', '', 1, 1); INSERT INTO runs (experiment_id, key, "
        "status, created_at) VALUES (1, 'run-a', 'completed', 1); INSERT INTO final_metrics "
        "(run_id, name, value, step, time) VALUES (1, 'eval/sst2/acc', 91.5, 10, 2)");
  }
  Store store = Store::Open(path);
  const Connection& db = store.connection();
  CHECK(SchemaVersion(db) == LatestSchemaVersion());
  CHECK(QueryInt(db, "SELECT count(*) FROM run_info WHERE key = 'run-a'") == 1);
  CHECK(QueryInt(db, "SELECT count(*) FROM example_outcomes") == 0);
  CHECK(test::QueryText(db, "SELECT \"eval/sst2/acc\" FROM runs_wide") == "91.5");
  const int64_t run = QueryInt(db, "SELECT id FROM runs");
  store.SetExampleOutcomes(run, "eval/sst2/acc", 1, {{100, 1}, {0, 1}});
  CHECK(QueryInt(db, "SELECT examples FROM example_outcomes") == 2);
}

// Rows as `ablate sql` would print them, one line each: equal texts, equal rows.
std::string Rows(const Connection& db, const std::string& sql) {
  Statement select = db.Prepare(sql);
  std::string out;
  while (select.Step()) {
    for (int i = 0; i < select.ColumnCount(); ++i) out += select.ColumnText(i) + "|";
    out += "\n";
  }
  return out;
}

// A database with Slurm's bookkeeping written as the ablate of schema `version` (4 or 5) wrote it:
// its migrations only, and the rows its `ablate run --backend slurm` and collection left (the SQL
// of that build's Store::RecordSlurmArray and RegisterSlurmTask). Run 1 completed (its log
// ended, its task forgotten), runs 2 and 3 are with tasks 1 and 2 of job 4242, run 4 is queued.
void WriteSlurmDatabase(const std::string& path, int version) {
  const Connection db = Connection::Open(path, Connection::Mode::kReadWrite);
  MigrateTo(db, version);
  db.Exec(
      "INSERT INTO experiments (name, description, grid_json, grid_sha256, created_at, "
      "updated_at) VALUES ('exp', '', '{}', '', 1, 1);"
      "INSERT INTO runs (experiment_id, key, status, created_at) VALUES (1, 'run-1', "
      "'completed', 1), (1, 'run-2', 'running', 1), (1, 'run-3', 'queued', 1), (1, 'run-4', "
      "'queued', 1);"
      "INSERT INTO params (run_id, name, value, type) VALUES (1, 'seed', 1, 'int'), (2, 'seed', "
      "2, 'int'), (3, 'seed', 3, 'int'), (4, 'seed', 4, 'int');"
      "INSERT INTO final_metrics (run_id, name, value, step, time) VALUES (1, 'valid/ppl', 12.5, "
      "5, 9);"
      "INSERT INTO slurm_arrays (experiment_id, job_id, tasks, log_dir, submitted_at) SELECT id, "
      "'4242', 3, '/runs/exp/slurm', 100.25 FROM experiments WHERE name = 'exp';"
      "INSERT INTO run_logs (run_id, path, collected, ended) VALUES (1, '/runs/exp/run-1/"
      "records.log', 300, 1), (2, '/runs/exp/run-2/records.log', 120, 0), (3, "
      "'/runs/exp/run-3/records.log', 0, 0);"
      "INSERT INTO slurm_tasks (run_id, job_id, task, submitted_at) VALUES (2, '4242', 1, "
      "100.5), (3, '4242', 2, 100.75)");
}

TEST_CASE("a v5 database's Slurm jobs and tasks become the remote ones of backend slurm",
          "[results][schema][migration]") {
  TempDir dir;
  const std::string path = dir.File("results.db");
  WriteSlurmDatabase(path, 5);
  // What the readers see before the migration (they read without migrating).
  const ResultSet status_before = ReadStatusTable(path);
  const auto jobs_before = ReadRemoteJobs(path, "slurm");
  const auto runs_before = ReadRunRecords(path, {"exp"}, {"valid/ppl"});
  std::string tasks_before, arrays_before;
  {
    const Connection db = Connection::Open(path, Connection::Mode::kReadOnly);
    tasks_before = Rows(db, "SELECT * FROM slurm_tasks ORDER BY run_id");
    arrays_before = Rows(db, "SELECT * FROM slurm_arrays ORDER BY id");
  }
  REQUIRE(jobs_before.size() == 1);

  Store store = Store::Open(path);
  const Connection& db = store.connection();
  CHECK(SchemaVersion(db) == 6);
  CHECK(Rows(db,
             "SELECT backend, job_id, task, run_id, submitted_at FROM remote_tasks ORDER BY "
             "run_id") == "slurm|4242|1|2|100.5|\nslurm|4242|2|3|100.75|\n");
  CHECK(Rows(db,
             "SELECT id, backend, experiment_id, job_id, tasks, log_dir, submitted_at FROM "
             "remote_jobs") == "1|slurm|1|4242|3|/runs/exp/slurm|100.25|\n");
  // The old names still answer, with the same rows.
  CHECK(Rows(db, "SELECT * FROM slurm_tasks ORDER BY run_id") == tasks_before);
  CHECK(Rows(db, "SELECT * FROM slurm_arrays ORDER BY id") == arrays_before);
  CHECK(QueryInt(db,
                 "SELECT count(*) FROM sqlite_schema WHERE name IN ('slurm_tasks', "
                 "'slurm_arrays') AND type = 'view'") == 2);
  // And the readers and the backend's bookkeeping read what they read before.
  const ResultSet status_after = ReadStatusTable(path);
  CHECK(status_after.columns == status_before.columns);
  CHECK(status_after.rows == status_before.rows);
  const auto jobs_after = ReadRemoteJobs(path, "slurm");
  REQUIRE(jobs_after.size() == 1);
  CHECK(jobs_after[0].experiment == jobs_before[0].experiment);
  CHECK(jobs_after[0].job_id == "4242");
  CHECK(jobs_after[0].tasks == 3);
  CHECK(ReadRemoteJobs(path, "flux").empty());
  const auto runs_after = ReadRunRecords(path, {"exp"}, {"valid/ppl"});
  REQUIRE(runs_after.size() == runs_before.size());
  for (size_t i = 0; i < runs_after.size(); ++i) {
    CHECK(runs_after[i].key == runs_before[i].key);
    CHECK(runs_after[i].status == runs_before[i].status);
    CHECK(runs_after[i].params == runs_before[i].params);
    CHECK(runs_after[i].finals == runs_before[i].finals);
  }
  const auto pending = PendingRemoteRuns(store, "slurm", "exp");
  REQUIRE(pending.size() == 2);
  CHECK((pending[0].key == "run-2" && pending[0].job_id == "4242" && pending[0].task == 1));
  CHECK((pending[1].key == "run-3" && pending[1].task == 2));
  CHECK(PendingRemoteRuns(store, "flux", "exp").empty());
  const auto unassigned = store.QueuedWithoutTask("exp");
  REQUIRE(unassigned.size() == 1);
  CHECK(unassigned[0].key == "run-4");
}

TEST_CASE("a v4 database's Slurm tasks migrate through v5 to remote tasks", "[results][schema]") {
  TempDir dir;
  const std::string path = dir.File("results.db");
  WriteSlurmDatabase(path, 4);
  const Store store = Store::Open(path);
  const Connection& db = store.connection();
  CHECK(SchemaVersion(db) == 6);
  CHECK(Rows(db, "SELECT backend, job_id, task, run_id FROM remote_tasks ORDER BY run_id") ==
        "slurm|4242|1|2|\nslurm|4242|2|3|\n");
  CHECK(QueryInt(db, "SELECT count(*) FROM remote_jobs WHERE backend = 'slurm'") == 1);
  CHECK(QueryInt(db, "SELECT count(*) FROM example_outcomes") == 0);
}

TEST_CASE("a Slurm task id given twice (a cluster that lost its state) migrates as its later run",
          "[results][schema]") {
  TempDir dir;
  const std::string path = dir.File("results.db");
  WriteSlurmDatabase(path, 5);
  {
    const Connection db = Connection::Open(path, Connection::Mode::kReadWrite);
    db.Exec(
        "INSERT INTO slurm_tasks (run_id, job_id, task, submitted_at) VALUES (4, '4242', 1, "
        "200)");
  }
  const Store store = Store::Open(path);
  CHECK(Rows(store.connection(), "SELECT job_id, task, run_id FROM remote_tasks ORDER BY run_id") ==
        "4242|2|3|\n4242|1|4|\n");
}

TEST_CASE("a failed migration leaves the database as it was", "[results][schema]") {
  TempDir dir;
  const std::string path = dir.File("results.db");
  WriteSlurmDatabase(path, 5);
  {
    // A table in the way of v6: the migration's CREATE fails, and its transaction rolls back.
    const Connection db = Connection::Open(path, Connection::Mode::kReadWrite);
    db.Exec("CREATE TABLE remote_jobs (x)");
  }
  CHECK_THROWS(Store::Open(path));
  const Connection db = Connection::Open(path, Connection::Mode::kReadOnly);
  CHECK(SchemaVersion(db) == 5);
  CHECK(QueryInt(db, "SELECT count(*) FROM slurm_tasks") == 2);
  CHECK(QueryInt(db, "SELECT count(*) FROM slurm_arrays") == 1);
}

TEST_CASE("a database written by a newer ablate is refused, naming the file", "[results][schema]") {
  TempDir dir;
  const std::string path = dir.File("results.db");
  {
    const Store store = Store::Open(path);
    store.connection().Exec("PRAGMA user_version = 7");
  }
  CHECK_THROWS_MATCHES(
      Store::Open(path), InputError,
      Catch::Message(path + ": written by a newer ablate (schema v7, this build knows v6)"));
}

TEST_CASE("another program's SQLite database is refused rather than migrated",
          "[results][schema]") {
  TempDir dir;
  const std::string path = dir.File("other.db");
  {
    const Connection db = Connection::Open(path, Connection::Mode::kReadWrite);
    db.Exec("CREATE TABLE experiments (anything)");
  }
  CHECK_THROWS_MATCHES(Store::Open(path), InputError,
                       Catch::Message(path + ": not an ablate results database (it has tables "
                                             "but no ablate schema version)"));
}

TEST_CASE("a database in a directory that does not exist is bad input", "[results][schema]") {
  TempDir dir;
  const std::string path = dir.File("missing/results.db");
  CHECK_THROWS_MATCHES(Store::Open(path), InputError,
                       Catch::Message(path + ": cannot create database: directory " +
                                      dir.File("missing") + " does not exist"));
}

}  // namespace
}  // namespace ablate::results
