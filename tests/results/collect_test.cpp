#include "results/collect.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <fstream>
#include <limits>

#include "results/run_log.h"
#include "results/run_reads.h"
#include "results/run_records.h"
#include "tests/results/helpers.h"

namespace ablate::results {
namespace {

using test::QueryInt;
using test::QueryText;
using test::TempDir;

// Every row of the tables a collection writes, as one text: equal texts, equal databases.
std::string Contents(const Connection& db) {
  std::string out;
  for (const char* sql :
       {"SELECT key, status, attempts, COALESCE(error, ''), COALESCE(host, ''), "
        "COALESCE(world_size, 0) FROM runs ORDER BY id",
        "SELECT run_id, name, step, COALESCE(value, 'nan') FROM metrics ORDER BY 1, 2, 3",
        "SELECT run_id, name, value, step FROM final_metrics ORDER BY 1, 2",
        "SELECT run_id, kind, path FROM artifacts ORDER BY 1, 2, 3"}) {
    Statement select = db.Prepare(sql);
    while (select.Step()) {
      for (int i = 0; i < select.ColumnCount(); ++i) out += select.ColumnText(i) + "|";
      out += "\n";
    }
  }
  return out;
}

struct Fixture {
  TempDir dir;
  Store store = Store::Open(dir.File("r.db"));
  std::filesystem::path run_dir = dir.path() / "run";
  int64_t run_id = 0;

  Fixture() {
    store.Submit({"exp", "", "{}", {{"run-a", {{"seed", 1}}}}});
    run_id = QueryInt(store.connection(), "SELECT id FROM runs WHERE key = 'run-a'");
    std::filesystem::create_directories(run_dir);
    RegisterRemoteTask(store, "slurm", run_id, run_dir / kRunLogName, "77", 0);
  }
};

TEST_CASE("a run's log collects into the database once, however often collect runs",
          "[results][collect]") {
  Fixture f;
  {
    LogRecords records(f.run_dir);
    records.Start("node7", 4242);
    records.SetProvenance({"abc", "1.13", "cpu", 2, "gloo", 2});
    for (int step = 1; step <= 3; ++step) records.AddPoint("train/loss", step, 5.0 - step);
    records.AddArtifact("checkpoint", "/x/checkpoint.json", 3);
    records.SetFinalMetric("valid/ppl", 12.5, 3);
    records.Finish(RunStatus::kCompleted, "");
  }
  CHECK(HasRunLogs(f.store.connection(), "exp"));
  CHECK_FALSE(HasRunLogs(f.store.connection(), "other"));
  const auto first = Collect(f.store, "exp");
  CHECK(first.logs == 1);
  CHECK(first.points == 3);
  const Connection& db = f.store.connection();
  CHECK(QueryText(db, "SELECT status FROM runs") == "completed");
  CHECK(QueryText(db, "SELECT host FROM runs") == "node7");
  CHECK(QueryInt(db, "SELECT attempts FROM runs") == 1);
  CHECK(QueryInt(db, "SELECT world_size FROM runs") == 2);
  CHECK(QueryInt(db, "SELECT count(*) FROM metrics") == 3);
  CHECK(QueryText(db, "SELECT \"valid/ppl\" FROM runs_wide") == "12.5");
  CHECK(PendingRemoteRuns(f.store, "slurm", "exp").empty());  // its task is done with it
  const std::string once = Contents(db);
  const auto again = Collect(f.store, "exp");
  CHECK(again.records == 0);
  CHECK(Contents(db) == once);
}

TEST_CASE("collection continues where it stopped, and leaves out a record torn by a crash",
          "[results][collect]") {
  Fixture f;
  {
    LogRecords records(f.run_dir);
    records.Start("node7", 1);
    records.AddPoint("train/loss", 1, 4.0);
    records.Flush();
  }
  Collect(f.store, "exp");
  const Connection& db = f.store.connection();
  CHECK(QueryText(db, "SELECT status FROM runs") == "running");
  CHECK(QueryInt(db, "SELECT count(*) FROM metrics") == 1);
  // The task writes on, and dies in the middle of a record.
  const auto log = f.run_dir / kRunLogName;
  {
    RunLogWriter writer(log);
    writer.Append({{"t", "points"}, {"points", {{"train/loss", 2, 3.5, 0.0}}}});
    writer.Append({{"t", "points"}, {"points", {{"train/loss", 3, 3.0, 0.0}}}});
  }
  const auto size = std::filesystem::file_size(log);
  std::filesystem::resize_file(log, size - 7);
  auto collected = Collect(f.store, "exp");
  CHECK(collected.records == 1);
  CHECK(QueryInt(db, "SELECT max(step) FROM metrics") == 2);
  // The requeued task appends after the torn record and resumes from its checkpoint at step 1:
  // its points replace, so every step is there once.
  {
    LogRecords records(f.run_dir);
    records.Start("node8", 2);
    for (int step = 2; step <= 4; ++step) records.AddPoint("train/loss", step, 1.0 * step);
    records.Finish(RunStatus::kCompleted, "");
  }
  collected = Collect(f.store, "exp");
  CHECK(collected.skipped == 1);
  CHECK(QueryInt(db, "SELECT count(*) FROM metrics") == 4);
  CHECK(QueryInt(db, "SELECT count(DISTINCT step) FROM metrics") == 4);
  CHECK(QueryInt(db, "SELECT value FROM metrics WHERE step = 3") == 3);
  CHECK(QueryInt(db, "SELECT attempts FROM runs") == 2);
  CHECK(QueryText(db, "SELECT status FROM runs") == "completed");
}

TEST_CASE("a run requeued at its time limit waits queued with its task, a lost task interrupts it",
          "[results][collect]") {
  Fixture f;
  {
    LogRecords records(f.run_dir);
    records.Start("node7", 1);
    records.Requeued("the job reached its time limit; stopped at step 40");
  }
  Collect(f.store, "exp");
  const Connection& db = f.store.connection();
  CHECK(QueryText(db, "SELECT status FROM runs") == "queued");
  REQUIRE(PendingRemoteRuns(f.store, "slurm", "exp").size() == 1);  // still its task's
  CHECK(f.store.QueuedWithoutTask("exp").empty());                  // so not handed out again
  MarkTaskLost(f.store, f.run_id, "Slurm task 77_0 ended NODE_FAIL");
  CHECK(QueryText(db, "SELECT status FROM runs") == "interrupted");
  CHECK(PendingRemoteRuns(f.store, "slurm", "exp").empty());
  f.store.Requeue("exp", {RunStatus::kInterrupted});
  CHECK(f.store.QueuedWithoutTask("exp").size() == 1);  // the next submission takes it
}

TEST_CASE(
    "a run handed to a remote task again forgets its earlier task, and a reused task id "
    "its earlier run",
    "[results][collect]") {
  Fixture f;
  f.store.Submit({"exp", "", "{}", {{"run-b", {{"seed", 2}}}}});
  const int64_t run_b = QueryInt(f.store.connection(), "SELECT id FROM runs WHERE key = 'run-b'");
  const auto log_b = f.dir.path() / "run-b" / kRunLogName;
  // Another backend's task of the same job and index is another task.
  RegisterRemoteTask(f.store, "flux", run_b, log_b, "77", 0);
  CHECK(PendingRemoteRuns(f.store, "slurm", "exp").size() == 1);
  REQUIRE(PendingRemoteRuns(f.store, "flux", "exp").size() == 1);
  CHECK(PendingRemoteRuns(f.store, "flux", "exp")[0].key == "run-b");
  // Submitted again, to Slurm: the run's flux task is forgotten.
  RegisterRemoteTask(f.store, "slurm", run_b, log_b, "78", 3);
  CHECK(PendingRemoteRuns(f.store, "flux", "exp").empty());
  // Slurm hands out task 78_3 again (a cluster that lost its state): the task is run-a's now.
  RegisterRemoteTask(f.store, "slurm", f.run_id, f.run_dir / kRunLogName, "78", 3);
  const auto pending = PendingRemoteRuns(f.store, "slurm", "exp");
  REQUIRE(pending.size() == 1);
  CHECK(pending[0].run_id == f.run_id);
  CHECK(f.store.QueuedWithoutTask("exp").size() == 1);  // run-b is free to be handed out again
}

TEST_CASE("a record with an integer out of range is named as a problem and changes nothing",
          "[results][collect]") {
  Fixture f;
  {
    RunLogWriter writer(f.run_dir / kRunLogName);
    writer.Append({{"t", "start"}, {"host", "node7"}, {"pid", 12}});
    // Found by the run log fuzzer: a float far beyond an int, cast by nlohmann (undefined).
    writer.Append({{"t", "provenance"}, {"world_size", 7.7e104}, {"ranks_per_node", 1}});
    writer.Append({{"t", "points"}, {"points", {{"train/loss", 1.5, 3.5, 0.0}}}});
  }
  const auto collected = Collect(f.store, "exp");
  REQUIRE(collected.problems.size() == 1);
  CHECK_THAT(collected.problems[0], Catch::Contains("records.log") &&
                                        Catch::Contains("expected an integer, found 7.7e+104"));
  // The log's transaction rolled back: the run is as it was, and the log is read again next time.
  const Connection& db = f.store.connection();
  CHECK(QueryText(db, "SELECT status FROM runs") == "queued");
  CHECK(QueryInt(db, "SELECT count(*) FROM metrics") == 0);
  CHECK(QueryInt(db, "SELECT collected FROM run_logs") == 0);
}

TEST_CASE("example outcomes in a run's log are collected into the database, exactly",
          "[results][collect][outcomes]") {
  Fixture f;
  const double inf = std::numeric_limits<double>::infinity();
  const ExampleOutcomes acc = {{100, 1}, {0, 1}, {100, 1}};
  const ExampleOutcomes ppl = {{123.456789012345, 40}, {std::nan(""), 3}, {inf, -inf}};
  {
    LogRecords records(f.run_dir);
    records.Start("node7", 1);
    records.SetExampleOutcomes("valid/ppl", 0, ppl);
    records.SetExampleOutcomes("eval/sst2/acc", 1, {{0, 1}});
    records.SetExampleOutcomes("eval/sst2/acc", 1, acc);  // the later record replaces
    records.SetExampleOutcomes("eval/sst2/acc", 2, {});
    records.SetFinalMetric("eval/sst2/acc", 66.7, 6);
    records.Finish(RunStatus::kCompleted, "");
  }
  const auto collected = Collect(f.store, "exp");
  CHECK(collected.problems.empty());
  const Connection& db = f.store.connection();
  CHECK(QueryInt(db, "SELECT count(*) FROM example_outcomes") == 3);
  const auto read = ReadExampleOutcomes(f.store.connection().path(), {f.run_id}, "eval/sst2/acc");
  CHECK(read.at(f.run_id).at(1) == acc);
  CHECK(read.at(f.run_id).at(2).empty());
  const auto losses = ReadExampleOutcomes(f.store.connection().path(), {f.run_id}, "valid/ppl");
  const ExampleOutcomes& got = losses.at(f.run_id).at(0);
  REQUIRE(got.size() == 3);
  CHECK(got[0] == ppl[0]);
  CHECK((std::isnan(got[1].first) && got[1].second == 3));
  CHECK(got[2] == ppl[2]);
  // Collected once: again, nothing changes.
  CHECK(Collect(f.store, "exp").records == 0);
  CHECK(QueryInt(db, "SELECT count(*) FROM example_outcomes") == 3);
}

TEST_CASE("a malformed outcomes record is named as a problem and changes nothing",
          "[results][collect][outcomes]") {
  Fixture f;
  {
    RunLogWriter writer(f.run_dir / kRunLogName);
    writer.Append({{"t", "start"}, {"host", "node7"}, {"pid", 12}});
    writer.Append({{"t", "outcomes"},
                   {"source", "eval/x/acc"},
                   {"replicate", 1},
                   {"outcomes", nlohmann::json::array({nlohmann::json::array({1, 2, 3})})}});
  }
  const auto collected = Collect(f.store, "exp");
  REQUIRE(collected.problems.size() == 1);
  CHECK_THAT(collected.problems[0], Catch::Contains("not [numerator, denominator]"));
  const Connection& db = f.store.connection();
  CHECK(QueryInt(db, "SELECT count(*) FROM example_outcomes") == 0);
  CHECK(QueryText(db, "SELECT status FROM runs") == "queued");
}

}  // namespace
}  // namespace ablate::results
