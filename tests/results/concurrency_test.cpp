// Several processes sharing one results file, as runner workers do. Each child opens its own Store
// after fork (SQLite connections must not cross a fork) and reports failure through its exit code.
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <exception>
#include <functional>
#include <iostream>
#include <vector>

#include "results/store.h"
#include "tests/results/helpers.h"

namespace ablate::results {
namespace {

using test::QueryInt;
using test::TempDir;

// Runs `body` in `count` child processes (given their index) and returns their exit codes. The
// children start together, once all exist, so that they contend. A child exits 1 on any exception,
// after printing it, and never returns into the test framework.
std::vector<int> RunInChildren(int count, const std::function<void(int)>& body) {
  int gate[2];
  REQUIRE(pipe(gate) == 0);
  std::vector<pid_t> children;
  for (int i = 0; i < count; ++i) {
    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      close(gate[1]);
      char byte;
      int code = read(gate[0], &byte, 1) == 0 ? 0 : 1;  // end of file: the parent opened the gate
      try {
        if (code == 0) body(i);
      } catch (const std::exception& e) {
        std::cerr << "child " << i << ": " << e.what() << std::endl;
        code = 1;
      }
      _exit(code);
    }
    children.push_back(pid);
  }
  close(gate[0]);
  close(gate[1]);
  std::vector<int> codes;
  for (pid_t child : children) {
    int status = 0;
    waitpid(child, &status, 0);
    codes.push_back(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
  }
  return codes;
}

ExperimentSubmission Grid(int runs) {
  ExperimentSubmission grid{"concurrent", "", "{}", {}};
  for (int i = 0; i < runs; ++i) grid.runs.push_back({"run-" + std::to_string(i), {{"seed", i}}});
  return grid;
}

TEST_CASE("processes opening one new file at once all migrate and submit it",
          "[results][concurrency]") {
  TempDir dir;
  const std::string path = dir.File("results.db");
  const std::vector<int> codes = RunInChildren(4, [&path](int) {
    Store store = Store::Open(path);
    store.Submit(Grid(20));
  });
  CHECK(codes == std::vector<int>(4, 0));
  const Store store = Store::Open(path);
  CHECK(QueryInt(store.connection(), "SELECT count(*) FROM runs") == 20);
  CHECK(QueryInt(store.connection(), "SELECT count(*) FROM experiments") == 1);
}

TEST_CASE("processes writing metrics to one file at once lose nothing", "[results][concurrency]") {
  TempDir dir;
  const std::string path = dir.File("results.db");
  constexpr int kProcesses = 4;
  constexpr int kSteps = 5000;
  {
    Store store = Store::Open(path);
    store.Submit(Grid(kProcesses));
  }
  const std::vector<int> codes = RunInChildren(kProcesses, [&path](int index) {
    Store store = Store::Open(path);
    const int64_t run = QueryInt(
        store.connection(), "SELECT id FROM runs WHERE key = 'run-" + std::to_string(index) + "'");
    // Small batches, so that the processes' transactions interleave many times.
    MetricWriter writer = store.Metrics(64);
    for (int step = 0; step < kSteps; ++step) {
      writer.Add(run, "loss", step, 1.0 / (step + 1));
      writer.Add(run, "lr", step, 1e-4);
      if (step % 500 == 0) store.SetFinalMetric(run, "last_step", step, step);
    }
    writer.Flush();
  });
  CHECK(codes == std::vector<int>(kProcesses, 0));
  const Store store = Store::Open(path);
  CHECK(QueryInt(store.connection(), "SELECT count(*) FROM metrics") == kProcesses * kSteps * 2);
  CHECK(QueryInt(store.connection(), "SELECT count(DISTINCT run_id) FROM metrics") == kProcesses);
  CHECK(QueryInt(store.connection(), "SELECT sum(last_step) FROM runs_wide") == kProcesses * 4500);
}

TEST_CASE("processes claiming from one queue never claim a run twice", "[results][concurrency]") {
  TempDir dir;
  const std::string path = dir.File("results.db");
  constexpr int kRuns = 200;
  {
    Store store = Store::Open(path);
    store.Submit(Grid(kRuns));
  }
  const std::vector<int> codes = RunInChildren(4, [&path](int) {
    Store store = Store::Open(path);
    while (const std::optional<ClaimedRun> run = store.ClaimNext(std::nullopt, "host", getpid())) {
      usleep(1000);  // the "training", during which the other processes get the lock
      // Finish checks the run is still running: a second claimer would fail here.
      store.Finish(run->run_id, RunStatus::kCompleted);
    }
  });
  CHECK(codes == std::vector<int>(4, 0));
  const Store store = Store::Open(path);
  const Connection& db = store.connection();
  CHECK(QueryInt(db, "SELECT count(*) FROM runs WHERE status = 'completed' AND attempts = 1") ==
        kRuns);
  // More than one process got work: the claims really were contended.
  CHECK(QueryInt(db, "SELECT count(DISTINCT pid) FROM runs") > 1);
}

}  // namespace
}  // namespace ablate::results
