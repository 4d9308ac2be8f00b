#include "results/schema.h"

#include <catch2/catch.hpp>
#include <vector>

#include "base/error.h"
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
  CHECK(LatestSchemaVersion() == 5);
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
  CHECK(Columns(db, "slurm_arrays") ==
        Names{"id", "experiment_id", "job_id", "tasks", "log_dir", "submitted_at"});
  CHECK(Columns(db, "run_logs") == Names{"run_id", "path", "collected", "collected_at", "ended"});
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
    db.Exec("PRAGMA user_version = 0");
  }
  {
    Store store = Store::Open(path);
    store.Submit({"exp", "", "{}", {{"run-a", {{"seed", 1}}}}});
    // Back to v1: drop what v2 to v5 added, as a database from before them would be.
    store.connection().Exec(
        "DROP TABLE example_outcomes; "
        "ALTER TABLE experiments DROP COLUMN overrides; DROP TABLE run_logs; DROP TABLE "
        "slurm_tasks; DROP VIEW runs_wide; DROP VIEW run_params; "
        "DROP VIEW run_finals; DROP VIEW run_info; "
        "ALTER TABLE runs DROP COLUMN world_size; ALTER TABLE runs DROP COLUMN backend; "
        "ALTER TABLE runs DROP COLUMN ranks_per_node; CREATE VIEW run_info AS SELECT r.id AS "
        "run_id, r.key AS key FROM runs r; CREATE VIEW runs_wide AS SELECT * FROM run_info; "
        "PRAGMA user_version = 1");
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
    Store store = Store::Open(path);
    store.Submit({"exp", "", "{}", {{"run-a", {{"seed", 1}}}}});
    const int64_t run = store.StartRun("exp", "run-a", "h", 1).run_id;
    store.SetFinalMetric(run, "eval/sst2/acc", 91.5, 10);
    // Back to v4: a database from before per-example outcomes.
    store.connection().Exec("DROP TABLE example_outcomes; PRAGMA user_version = 4");
  }
  Store store = Store::Open(path);
  const Connection& db = store.connection();
  CHECK(SchemaVersion(db) == 5);
  CHECK(QueryInt(db, "SELECT count(*) FROM run_info WHERE key = 'run-a'") == 1);
  CHECK(QueryInt(db, "SELECT count(*) FROM example_outcomes") == 0);
  CHECK(test::QueryText(db, "SELECT \"eval/sst2/acc\" FROM runs_wide") == "91.5");
  const int64_t run = QueryInt(db, "SELECT id FROM runs");
  store.SetExampleOutcomes(run, "eval/sst2/acc", 1, {{100, 1}, {0, 1}});
  CHECK(QueryInt(db, "SELECT examples FROM example_outcomes") == 2);
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
      Catch::Message(path + ": written by a newer ablate (schema v7, this build knows v5)"));
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
