// A run's config.json, written by the Slurm head at submission and again by rank 0 of the run,
// is read by every rank of a Slurm element as it starts: a reader must never catch it half
// written. (Written in place, a rank that read it just after rank 0 truncated it failed with
// "malformed JSON", srun cancelled the step, and the run was lost; seen once in CI.)
#include <atomic>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "base/error.h"
#include "runner/cli.h"
#include "tests/support.h"

using ablate::runner::ReadRunConfigFile;
using ablate::runner::WriteRunConfigFile;

TEST_CASE("a run's config file is replaced whole while other ranks read it", "[runner][ranks]") {
  ablate::test::TempDir dir;
  const std::string run_dir = dir.File("runs/grid/0123abcd");
  nlohmann::json params = {{"seed", 1},
                           {"data.corpus", "books"},
                           {"data.seq_len", 128},
                           {"train.batch_size", 32},
                           {"optim.lr", 0.0006}};
  // A config of the size real ones reach with many parameters (a few KB).
  for (int i = 0; i < 100; ++i)
    params["x.param_" + std::to_string(i)] = "value " + std::to_string(i);
  WriteRunConfigFile(run_dir, params);
  REQUIRE(ReadRunConfigFile(run_dir + "/config.json") == params);

  std::atomic<bool> done{false};
  std::atomic<int> writes{0};
  std::thread rank0([&] {
    for (int i = 0; i < 2000; ++i) {
      WriteRunConfigFile(run_dir, params);
      ++writes;
    }
    done = true;
  });
  int reads = 0, torn = 0;
  std::string what;
  while (!done) {
    try {
      if (ReadRunConfigFile(run_dir + "/config.json") != params) ++torn;
    } catch (const ablate::InputError& e) {
      ++torn;
      what = e.what();
    }
    ++reads;
  }
  rank0.join();
  INFO(reads << " reads during " << writes << " writes; the last failure: " << what);
  CHECK(reads > 100);
  CHECK(torn == 0);
}

TEST_CASE("a run's config file that cannot be written is an error naming it", "[runner]") {
  ablate::test::TempDir dir;
  dir.Write("file", "not a directory");
  CHECK_THROWS_WITH(WriteRunConfigFile(dir.File("file"), nlohmann::json::object()),
                    Catch::Contains("file"));
}
