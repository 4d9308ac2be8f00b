// The backends' table and what the commands that do not train ask of it: names and did-you-mean
// for --backend, the schedulers' environments, and reconciliation and status lines when the
// scheduler cannot be asked. The backends' real work is tested end to end (runner_test.cpp for
// the local one, slurm_test.cpp on a one-node cluster).
#include "runner/backend.h"

#include <stdlib.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <map>
#include <optional>
#include <sstream>
#include <string>

#include "base/error.h"
#include "results/collect.h"
#include "results/schema.h"
#include "results/store.h"
#include "tests/support.h"

namespace ablate::runner {
namespace {

using test::TempDir;

core::Environment MapEnvironment(std::map<std::string, std::string> values) {
  return [values = std::move(values)](const std::string& name) -> std::optional<std::string> {
    const auto it = values.find(name);
    if (it == values.end()) return std::nullopt;
    return it->second;
  };
}

// A database with one experiment of two runs, the first running as task 0 of Slurm job 4242.
struct OneSlurmTask {
  TempDir dir;
  std::string db = dir.File("r.db");
  int64_t run_id = 0;

  OneSlurmTask() {
    results::Store store = results::Store::Open(db);
    store.Submit({"exp", "", "{}", {{"run-a", {{"seed", 1}}}, {"run-b", {{"seed", 2}}}}});
    run_id = store.StartRun("exp", "run-a", "h", 1).run_id;
    results::RegisterRemoteTask(store, "slurm", run_id, dir.path() / "run-a" / "records.log",
                                "4242", 0);
    store.RecordRemoteJob("slurm", "exp", "4242", 1, dir.File("logs"));
  }
};

TEST_CASE("the backends are local, the default, then slurm", "[backend]") {
  CHECK(BackendNames() == std::vector<std::string>{"local", "slurm"});
  CHECK(MakeBackend("local")->TrainsHere());
  CHECK_FALSE(MakeBackend("slurm")->TrainsHere());
  CHECK(MakeBackend("local")->scheduler().name.empty());
  CHECK(MakeBackend("slurm")->scheduler().name == "Slurm");
  REQUIRE(Schedulers().size() == 1);
  CHECK(Schedulers()[0].array_index_variable == "SLURM_ARRAY_TASK_ID");
}

TEST_CASE("a misspelt backend is bad input that names the closest one", "[backend]") {
  CHECK_THROWS_MATCHES(MakeBackend("slurn"), InputError,
                       Catch::Message("--backend: unknown backend \"slurn\": expected local or "
                                      "slurm (did you mean \"slurm\"?)"));
  CHECK_THROWS_MATCHES(
      MakeBackend("kubernetes"), InputError,
      Catch::Message("--backend: unknown backend \"kubernetes\": expected local or slurm"));
}

TEST_CASE("ablate run refuses a misspelt --backend before the database exists",
          "[backend][ablate-train]") {
  TempDir dir;
  dir.Write("g.json", R"({"name": "g", "base": {"train.steps": 10}, "axes": {"seed": [1, 2]}})");
  const auto run = test::Shell(std::string(ABLATE_BINARY) + " run '" + dir.File("g.json") +
                               "' --db '" + dir.File("r.db") + "' --backend slurn");
  CHECK(run.code == 2);
  CHECK(run.out ==
        "ablate run: --backend: unknown backend \"slurn\": expected local or slurm (did "
        "you mean \"slurm\"?)\n");
  CHECK_FALSE(std::filesystem::exists(dir / "r.db"));
}

TEST_CASE("only Slurm's backend adds options to ablate run", "[backend]") {
  boost::program_options::options_description local, slurm;
  MakeBackend("local")->AddRunOptions(local);
  MakeBackend("slurm")->AddRunOptions(slurm);
  CHECK(local.options().empty());
  REQUIRE(slurm.options().size() == 2);
  CHECK(slurm.options()[0]->long_name() == "requeue-before");
  CHECK(slurm.options()[1]->long_name() == "slurm-args");
}

TEST_CASE("a scheduler's environment gives the array index and the CPUs a job was given",
          "[backend]") {
  CHECK_FALSE(PlacementFromEnvironment(MapEnvironment({{"HOME", "/root"}})));
  const auto job = PlacementFromEnvironment(MapEnvironment({{"SLURM_JOB_ID", "17"},
                                                            {"SLURM_ARRAY_TASK_ID", "3"},
                                                            {"SLURM_CPUS_PER_TASK", "4"},
                                                            {"SLURM_CPUS_ON_NODE", "16"}}));
  REQUIRE(job);
  CHECK(job->scheduler.name == "Slurm");
  CHECK(job->in_job);
  CHECK(job->array_index == 3);
  CHECK(job->cpus_per_task == 4);
  CHECK(job->cpus_on_node == 16);
  // `ablate task --index` tried by hand with the array's variable: an index, but no job.
  const auto by_hand = PlacementFromEnvironment(MapEnvironment({{"SLURM_ARRAY_TASK_ID", "0"}}));
  REQUIRE(by_hand);
  CHECK_FALSE(by_hand->in_job);
  CHECK(by_hand->array_index == 0);
  CHECK_FALSE(by_hand->cpus_per_task);
}

TEST_CASE("a scheduler that cannot be asked leaves the runs as their logs say", "[backend]") {
  OneSlurmTask f;
  std::ostringstream err;
  {
    // PATH names an empty directory: no scheduler's commands can be found.
    ablate::test::ScopedEnv none("PATH", f.dir.path().string());
    results::Store store = results::Store::Open(f.db);
    CollectAndReconcile(store, "exp", BackendNames(), err);
  }
  CHECK_THAT(err.str(), Catch::StartsWith("ablate: cannot ask Slurm about the tasks ("));
  results::Store store = results::Store::Open(f.db);
  CHECK(results::PendingRemoteRuns(store, "slurm", "exp").size() == 1);
  // Nothing asked, nothing said.
  std::ostringstream quiet;
  CollectAndReconcile(store, "exp", {}, quiet);
  CHECK(quiet.str().empty());
}

TEST_CASE("status lines name each remote job, with its state unknown when Slurm cannot answer",
          "[backend]") {
  OneSlurmTask f;
  std::ostringstream out;
  {
    ablate::test::ScopedEnv none("PATH", f.dir.path().string());
    for (const auto& entry : Backends()) entry.make()->DescribeState(f.db, out);
  }
  const std::string lines = out.str();
  CHECK_THAT(lines, Catch::StartsWith("slurm array 4242 (exp): state unknown (") &&
                        Catch::EndsWith(")\n"));
  CHECK(std::count(lines.begin(), lines.end(), '\n') == 1);
}

TEST_CASE("status lines read a database from before schema v6 without migrating it", "[backend]") {
  TempDir dir;
  const std::string db = dir.File("v5.db");
  {
    const auto connection = results::Connection::Open(db, results::Connection::Mode::kReadWrite);
    results::MigrateTo(connection, 5);
    connection.Exec(
        "INSERT INTO experiments (name, description, grid_json, grid_sha256, created_at, "
        "updated_at) VALUES ('exp', '', '{}', '', 1, 1); INSERT INTO slurm_arrays (experiment_id, "
        "job_id, tasks, log_dir, submitted_at) VALUES (1, '77', 2, '/logs', 1)");
  }
  std::ostringstream out;
  {
    ablate::test::ScopedEnv none("PATH", dir.path().string());
    MakeBackend("slurm")->DescribeState(db, out);
  }
  CHECK_THAT(out.str(), Catch::StartsWith("slurm array 77 (exp): state unknown ("));
  const auto connection = results::Connection::Open(db, results::Connection::Mode::kReadOnly);
  CHECK(results::SchemaVersion(connection) == 5);
}

}  // namespace
}  // namespace ablate::runner
