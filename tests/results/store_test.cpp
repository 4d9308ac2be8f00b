#include "results/store.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <vector>

#include "base/error.h"
#include "base/hash.h"
#include "tests/results/helpers.h"

namespace ablate::results {
namespace {

using nlohmann::json;
using test::QueryInt;
using test::QueryText;
using test::TempDir;

ExperimentSubmission MaskingGrid() {
  return {"masking",
          "static vs dynamic masking",
          R"({"axes": {"data.masking": ["static", "dynamic"]}})",
          {{"static-s1", {{"data.masking", "static"}, {"seed", 1}, {"optim.lr", 1e-4}}},
           {"dynamic-s1", {{"data.masking", "dynamic"}, {"seed", 1}, {"optim.lr", 7e-4}}}}};
}

std::vector<std::string> Strings(const Connection& db, const std::string& sql) {
  Statement select = db.Prepare(sql);
  std::vector<std::string> values;
  while (select.Step()) values.push_back(select.ColumnText(0));
  return values;
}

std::vector<std::string> WideColumns(const Store& store) {
  return Strings(store.connection(), "SELECT name FROM pragma_table_info('runs_wide')");
}

// Everything a submission may touch, as text, to compare before and after.
std::vector<std::string> Snapshot(const Connection& db) {
  std::vector<std::string> rows;
  for (const char* sql : {"SELECT json_array(id, name, description, grid_json, grid_sha256, "
                          "created_at, updated_at) FROM experiments ORDER BY id",
                          "SELECT json_array(id, experiment_id, key, status) FROM runs ORDER BY id",
                          "SELECT json_array(run_id, name, value, type) FROM params ORDER BY 1",
                          "SELECT sql FROM sqlite_schema WHERE name = 'runs_wide'"}) {
    for (std::string& row : Strings(db, sql)) rows.push_back(std::move(row));
  }
  return rows;
}

TEST_CASE("submitting an experiment queues its runs with their params", "[results][store]") {
  TempDir dir;
  Store store = Store::Open(dir.File("results.db"));
  const ExperimentSubmission grid = MaskingGrid();
  const SubmitResult result = store.Submit(grid);
  CHECK(result.added == 2);
  CHECK(result.existing == 0);
  CHECK_FALSE(result.grid_changed);
  const Connection& db = store.connection();
  CHECK(QueryText(db, "SELECT grid_json FROM experiments WHERE id = " +
                          std::to_string(result.experiment_id)) == grid.grid_json);
  CHECK(QueryText(db, "SELECT grid_sha256 FROM experiments") == Sha256Hex(grid.grid_json));
  CHECK(QueryText(db, "SELECT description FROM experiments") == "static vs dynamic masking");
  CHECK(Strings(db, "SELECT key || ':' || status || ':' || attempts FROM runs ORDER BY id") ==
        std::vector<std::string>{"static-s1:queued:0", "dynamic-s1:queued:0"});
  CHECK(QueryInt(db, "SELECT count(*) FROM params") == 6);
}

TEST_CASE("submitting the same grid twice adds nothing and keeps ids", "[results][store]") {
  TempDir dir;
  Store store = Store::Open(dir.File("results.db"));
  const SubmitResult first = store.Submit(MaskingGrid());
  const std::vector<std::string> before = Snapshot(store.connection());
  const SubmitResult second = store.Submit(MaskingGrid());
  CHECK(second.experiment_id == first.experiment_id);
  CHECK(second.added == 0);
  CHECK(second.existing == 2);
  CHECK_FALSE(second.grid_changed);
  CHECK(Snapshot(store.connection()) == before);
}

TEST_CASE("growing a grid adds only the new runs and leaves the old ones alone",
          "[results][store]") {
  TempDir dir;
  Store store = Store::Open(dir.File("results.db"));
  const SubmitResult first = store.Submit(MaskingGrid());
  const std::optional<ClaimedRun> claimed = store.ClaimNext(std::nullopt, "host", 1);
  REQUIRE(claimed);

  ExperimentSubmission grown = MaskingGrid();
  grown.grid_json = R"({"axes": {"data.masking": ["static", "dynamic"], "seed": [1, 2]}})";
  grown.description = "now with two seeds";
  grown.runs.push_back({"static-s2", {{"data.masking", "static"}, {"seed", 2}}});
  grown.runs.push_back({"dynamic-s2", {{"data.masking", "dynamic"}, {"seed", 2}}});
  // A resubmitted run with different params is still the same run: its key says so.
  grown.runs[1].params["seed"] = 99;
  const SubmitResult second = store.Submit(grown);

  CHECK(second.experiment_id == first.experiment_id);
  CHECK(second.added == 2);
  CHECK(second.existing == 2);
  CHECK(second.grid_changed);
  const Connection& db = store.connection();
  CHECK(QueryText(db, "SELECT grid_json FROM experiments") == grown.grid_json);
  CHECK(QueryText(db, "SELECT grid_sha256 FROM experiments") == Sha256Hex(grown.grid_json));
  CHECK(QueryText(db, "SELECT description FROM experiments") == "now with two seeds");
  CHECK(QueryInt(db, "SELECT updated_at >= created_at FROM experiments") == 1);
  CHECK(Strings(db, "SELECT key || ':' || status FROM runs ORDER BY id") ==
        std::vector<std::string>{"static-s1:running", "dynamic-s1:queued", "static-s2:queued",
                                 "dynamic-s2:queued"});
  CHECK(QueryInt(db, "SELECT value FROM run_params WHERE key = 'dynamic-s1' AND name = 'seed'") ==
        1);
}

TEST_CASE("a submission with a bad param leaves the database unchanged", "[results][store]") {
  TempDir dir;
  Store store = Store::Open(dir.File("results.db"));
  store.Submit(MaskingGrid());
  const std::vector<std::string> before = Snapshot(store.connection());

  ExperimentSubmission bad = MaskingGrid();
  bad.grid_json = "{}";
  bad.runs.push_back({"new-ok", {{"seed", 3}, {"brand.new", 1}}});
  bad.runs.push_back({"new-bad", {{"seed", 4}, {"optim.betas", {0.9, 0.98}}}});
  CHECK_THROWS_MATCHES(store.Submit(bad), InputError,
                       Catch::Message("experiment 'masking': /runs/3/params/optim.betas: param "
                                      "must be a number, string or boolean, got array [0.9,0.98]"));

  ExperimentSubmission new_experiment = bad;
  new_experiment.name = "other";
  CHECK_THROWS_AS(store.Submit(new_experiment), InputError);
  CHECK(Snapshot(store.connection()) == before);
}

TEST_CASE("a submission that fails inside SQLite half-way is rolled back", "[results][store]") {
  TempDir dir;
  Store store = Store::Open(dir.File("results.db"));
  store.Submit(MaskingGrid());
  // Stands in for any failure mid-transaction (disk full, constraint): validation cannot see it.
  store.connection().Exec(
      "CREATE TRIGGER refuse BEFORE INSERT ON params WHEN NEW.name = 'poison' "
      "BEGIN SELECT RAISE(ABORT, 'poisoned param'); END");
  const std::vector<std::string> before = Snapshot(store.connection());

  ExperimentSubmission grid = MaskingGrid();
  grid.grid_json = "{\"changed\": true}";
  grid.runs.push_back({"fine", {{"fresh.name", 1}}});
  grid.runs.push_back({"poisoned", {{"poison", 1}}});
  CHECK_THROWS_WITH(store.Submit(grid), Catch::Contains("poisoned param"));
  CHECK(Snapshot(store.connection()) == before);

  // The failed submit must not have left the Store believing runs_wide has "fresh.name".
  store.connection().Exec("DROP TRIGGER refuse");
  grid.runs.pop_back();
  store.Submit(grid);
  CHECK(QueryInt(store.connection(), "SELECT \"fresh.name\" FROM runs_wide WHERE key = 'fine'") ==
        1);
}

TEST_CASE("submissions with unusable names or keys are bad input", "[results][store]") {
  TempDir dir;
  Store store = Store::Open(dir.File("results.db"));
  ExperimentSubmission unnamed = MaskingGrid();
  unnamed.name = "";
  CHECK_THROWS_MATCHES(store.Submit(unnamed), InputError,
                       Catch::Message("experiment '': /name: experiment name must not be empty"));

  ExperimentSubmission twice = MaskingGrid();
  twice.runs.push_back(twice.runs[0]);
  CHECK_THROWS_MATCHES(
      store.Submit(twice), InputError,
      Catch::Message("experiment 'masking': /runs/2/key: run key 'static-s1' is given twice"));

  ExperimentSubmission nested = MaskingGrid();
  nested.runs[0].params = json::array({1, 2});
  CHECK_THROWS_WITH(store.Submit(nested), Catch::Contains("/runs/0/params: params must be an "
                                                          "object, got array"));

  ExperimentSubmission huge = MaskingGrid();
  huge.runs[0].params["steps"] = uint64_t{1} << 63;
  CHECK_THROWS_WITH(store.Submit(huge), Catch::Contains("does not fit in 64 bits"));
  CHECK(QueryInt(store.connection(), "SELECT count(*) FROM runs") == 0);
}

TEST_CASE("params keep their types so SQL compares numbers as numbers", "[results][store]") {
  TempDir dir;
  Store store = Store::Open(dir.File("results.db"));
  // In text order "2048" < "256" and "7e-4" > "1e-4" > "5e-5" would sort wrongly.
  store.Submit({"typed",
                "",
                "{}",
                {{"a", {{"batch_size", 256}, {"optim.lr", 1e-4}, {"tie", true}, {"name", "x"}}},
                 {"b", {{"batch_size", 2048}, {"optim.lr", 7e-4}, {"tie", false}, {"name", "y"}}},
                 {"c", {{"batch_size", 64}, {"optim.lr", 5e-5}, {"tie", true}, {"name", "z"}}}}});
  const Connection& db = store.connection();
  CHECK(Strings(db,
                "SELECT key FROM run_params WHERE name = 'batch_size' AND value > 100 "
                "ORDER BY value") == std::vector<std::string>{"a", "b"});
  CHECK(Strings(db, "SELECT key FROM run_params WHERE name = 'optim.lr' ORDER BY value") ==
        std::vector<std::string>{"c", "a", "b"});
  CHECK(Strings(db,
                "SELECT key FROM run_params WHERE name = 'optim.lr' AND value < 2e-4 "
                "ORDER BY key") == std::vector<std::string>{"a", "c"});
  CHECK(Strings(db,
                "SELECT DISTINCT name || ':' || type || ':' || typeof(value) FROM params "
                "ORDER BY 1") == std::vector<std::string>{"batch_size:int:integer",
                                                          "name:string:text", "optim.lr:float:real",
                                                          "tie:bool:integer"});
  CHECK(Strings(db, "SELECT key FROM runs_wide WHERE tie ORDER BY \"optim.lr\" DESC") ==
        std::vector<std::string>{"a", "c"});
}

TEST_CASE("status counts list every experiment's non-empty statuses in lifecycle order",
          "[results][store]") {
  TempDir dir;
  Store store = Store::Open(dir.File("results.db"));
  store.Submit(MaskingGrid());
  store.Submit({"second", "", "{}", {{"only", json::object()}}});
  const int64_t first = store.ClaimNext("masking", "h", 1)->run_id;
  store.Finish(first, RunStatus::kFailed, "boom");
  store.ClaimNext("masking", "h", 1);

  const std::vector<StatusCount> counts = store.StatusCounts();
  REQUIRE(counts.size() == 3);
  CHECK(
      (counts[0].experiment == "masking" && counts[0].status == "running" && counts[0].count == 1));
  CHECK(
      (counts[1].experiment == "masking" && counts[1].status == "failed" && counts[1].count == 1));
  CHECK((counts[2].experiment == "second" && counts[2].status == "queued" && counts[2].count == 1));
}

TEST_CASE("a claimed run is running, owned by its host and pid, with typed params",
          "[results][store]") {
  TempDir dir;
  Store store = Store::Open(dir.File("results.db"));
  store.Submit(MaskingGrid());
  const std::optional<ClaimedRun> claimed = store.ClaimNext(std::nullopt, "gpu-box", 4242);
  REQUIRE(claimed);
  CHECK(claimed->key == "static-s1");
  CHECK(claimed->experiment == "masking");
  CHECK(claimed->attempts == 1);
  CHECK(claimed->params == json{{"data.masking", "static"}, {"seed", 1}, {"optim.lr", 1e-4}});
  CHECK(claimed->params["seed"].is_number_integer());
  CHECK(claimed->params["optim.lr"].is_number_float());

  const Connection& db = store.connection();
  const std::string where = " FROM runs WHERE id = " + std::to_string(claimed->run_id);
  CHECK(QueryText(db, "SELECT status || ' ' || host || ' ' || pid || ' ' || attempts" + where) ==
        "running gpu-box 4242 1");
  CHECK(QueryInt(db, "SELECT started_at = heartbeat_at AND started_at > 1.6e9" + where) == 1);

  store.Heartbeat(claimed->run_id);
  CHECK(QueryInt(db, "SELECT heartbeat_at >= started_at" + where) == 1);
  store.Finish(claimed->run_id, RunStatus::kDiverged, "loss is nan at step 120");
  CHECK(QueryText(db, "SELECT status || ': ' || error" + where) ==
        "diverged: loss is nan at step 120");
  CHECK(QueryInt(db, "SELECT finished_at >= started_at" + where) == 1);
  CHECK_THROWS_AS(store.Heartbeat(claimed->run_id), InternalError);
  CHECK_THROWS_AS(store.Finish(claimed->run_id, RunStatus::kCompleted), InternalError);
}

TEST_CASE("claims take queued runs oldest first, optionally from one experiment",
          "[results][store]") {
  TempDir dir;
  Store store = Store::Open(dir.File("results.db"));
  store.Submit(MaskingGrid());
  store.Submit({"second", "", "{}", {{"only", json::object()}}});
  CHECK(store.ClaimNext("second", "h", 1)->key == "only");
  CHECK_FALSE(store.ClaimNext("second", "h", 1));
  CHECK(store.ClaimNext(std::nullopt, "h", 1)->key == "static-s1");
  const std::optional<ClaimedRun> last = store.ClaimNext(std::nullopt, "h", 1);
  CHECK(last->key == "dynamic-s1");
  CHECK_FALSE(store.ClaimNext(std::nullopt, "h", 1));
  CHECK_THROWS_MATCHES(store.ClaimNext("typo", "h", 1), InputError,
                       Catch::Message(store.connection().path() + ": no such experiment: typo"));

  // An interrupted run that is queued again starts over with its attempt count kept.
  store.Finish(last->run_id, RunStatus::kInterrupted, "preempted");
  store.connection().Exec("UPDATE runs SET status = 'queued' WHERE key = 'dynamic-s1'");
  const std::optional<ClaimedRun> again = store.ClaimNext(std::nullopt, "h", 2);
  CHECK(again->attempts == 2);
  CHECK(QueryInt(store.connection(),
                 "SELECT error IS NULL AND finished_at IS NULL FROM runs WHERE key = "
                 "'dynamic-s1'") == 1);
  CHECK_THROWS_AS(store.Finish(again->run_id, RunStatus::kQueued), InternalError);
}

TEST_CASE("a final metric is set once per run and name, replacing earlier values",
          "[results][store]") {
  TempDir dir;
  Store store = Store::Open(dir.File("results.db"));
  store.Submit(MaskingGrid());
  const int64_t run = store.ClaimNext(std::nullopt, "h", 1)->run_id;
  store.SetFinalMetric(run, "valid_ppl", 5.5, 1000);
  store.SetFinalMetric(run, "valid_ppl", 4.25, 2000);
  const Connection& db = store.connection();
  CHECK(QueryInt(db, "SELECT count(*) FROM final_metrics") == 1);
  CHECK(QueryText(db,
                  "SELECT experiment || ' ' || key || ' ' || name || ' ' || value || ' ' || "
                  "step FROM run_finals") == "masking static-s1 valid_ppl 4.25 2000");
}

TEST_CASE("runs_wide has a column per param and per final metric", "[results][store]") {
  TempDir dir;
  Store store = Store::Open(dir.File("results.db"));
  store.Submit(MaskingGrid());
  const int64_t run = store.ClaimNext(std::nullopt, "h", 1)->run_id;
  store.SetFinalMetric(run, "valid_ppl", 4.5, 100);

  const std::vector<std::string> base =
      Strings(store.connection(), "SELECT name FROM pragma_table_info('run_info')");
  std::vector<std::string> expected = base;
  for (const char* column : {"data.masking", "optim.lr", "seed", "valid_ppl"}) {
    expected.push_back(column);
  }
  CHECK(WideColumns(store) == expected);
  CHECK(Strings(store.connection(),
                "SELECT key || ' ' || \"data.masking\" || ' ' || seed || ' ' || "
                "ifnull(valid_ppl, '-') FROM runs_wide ORDER BY run_id") ==
        std::vector<std::string>{"static-s1 static 1 4.5", "dynamic-s1 dynamic 1 -"});

  SECTION("and gains one when a new final metric name appears") {
    store.SetFinalMetric(run, "test_ppl", 4.75, 100);
    CHECK_THAT(WideColumns(store), Catch::VectorContains(std::string("test_ppl")));
    CHECK(QueryInt(store.connection(),
                   "SELECT test_ppl = 4.75 FROM runs_wide WHERE key = "
                   "'static-s1'") == 1);
  }
  SECTION("and gains one when a later submission brings a new param") {
    store.Submit({"other", "", "{}", {{"x", {{"model.layers", 12}}}}});
    CHECK(QueryInt(store.connection(),
                   "SELECT \"model.layers\" FROM runs_wide WHERE experiment = 'other'") == 12);
  }
}

TEST_CASE("runs_wide names clashing columns and quotes odd names", "[results][store]") {
  TempDir dir;
  Store store = Store::Open(dir.File("results.db"));
  store.Submit(
      {"odd",
       "",
       "{}",
       {{"r", {{"lr", 0.1}, {"status", "param named like a column"}, {"it's \"x\"", 7}}}}});
  const int64_t run = store.ClaimNext(std::nullopt, "h", 1)->run_id;
  store.SetFinalMetric(run, "lr", 1.5, 1);        // clashes with a param
  store.SetFinalMetric(run, "HOST", 2.5, 1);      // clashes with run_info's host, whatever the case
  store.SetFinalMetric(run, "final:lr", 3.5, 1);  // is its own column; the "lr" final moves on
  store.SetFinalMetric(run, "loss\"; DROP TABLE runs; --", 4.5, 1);

  const Connection& db = store.connection();
  CHECK(QueryText(db, "SELECT \"param:status\" FROM runs_wide") == "param named like a column");
  CHECK(QueryText(db, "SELECT status FROM runs_wide") == "running");
  CHECK(QueryInt(db, "SELECT \"it's \"\"x\"\"\" FROM runs_wide") == 7);
  CHECK(QueryInt(db, "SELECT lr = 0.1 AND \"final:lr:2\" = 1.5 FROM runs_wide") == 1);
  CHECK(QueryInt(db, "SELECT \"final:HOST\" = 2.5 AND host = 'h' FROM runs_wide") == 1);
  CHECK(QueryInt(db, "SELECT \"final:lr\" = 3.5 FROM runs_wide") == 1);
  CHECK(QueryInt(db, "SELECT \"loss\"\"; DROP TABLE runs; --\" = 4.5 FROM runs_wide") == 1);
  CHECK(QueryInt(db, "SELECT count(*) FROM runs") == 1);
}

TEST_CASE("runs_wide stays complete when several processes add names", "[results][store]") {
  TempDir dir;
  const std::string path = dir.File("results.db");
  Store first = Store::Open(path);
  first.Submit(MaskingGrid());
  const int64_t run = first.ClaimNext(std::nullopt, "h", 1)->run_id;
  Store second = Store::Open(path);
  second.SetFinalMetric(run, "from_second", 2, 1);
  // `first` has never seen "from_second"; its rebuild must still keep that column.
  first.SetFinalMetric(run, "from_first", 1, 1);
  CHECK(QueryInt(first.connection(),
                 "SELECT from_first + from_second FROM runs_wide WHERE "
                 "run_id = " +
                     std::to_string(run)) == 3);
}

TEST_CASE("opening a store rebuilds a runs_wide that does not match the data", "[results][store]") {
  TempDir dir;
  const std::string path = dir.File("results.db");
  {
    Store store = Store::Open(path);
    store.Submit(MaskingGrid());
    store.connection().Exec("DROP VIEW runs_wide; CREATE VIEW runs_wide AS SELECT 1 AS stale");
  }
  const Store store = Store::Open(path);
  CHECK(QueryText(store.connection(),
                  "SELECT \"data.masking\" FROM runs_wide WHERE key = 'dynamic-s1'") == "dynamic");
}

TEST_CASE("artifacts are recorded once per run, kind and path", "[results][store]") {
  TempDir dir;
  Store store = Store::Open(dir.File("results.db"));
  store.Submit(MaskingGrid());
  const int64_t run = store.ClaimNext(std::nullopt, "h", 1)->run_id;
  store.AddArtifact(run, "checkpoint", "runs/a/latest.pt", 100);
  store.AddArtifact(run, "checkpoint", "runs/a/latest.pt", 200);
  store.AddArtifact(run, "run_dir", "runs/a", std::nullopt);
  CHECK(Strings(store.connection(),
                "SELECT kind || ' ' || path || ' ' || ifnull(step, '-') FROM artifacts ORDER BY "
                "id") ==
        std::vector<std::string>{"checkpoint runs/a/latest.pt 200", "run_dir runs/a -"});
  CHECK_THROWS_WITH(store.AddArtifact(run + 100, "log", "x", std::nullopt),
                    Catch::Contains("FOREIGN KEY constraint failed"));
}

}  // namespace
}  // namespace ablate::results
