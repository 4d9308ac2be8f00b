// ablate train --config RUN.json [--db FILE]: trains one run outside any grid, resuming from its
// run directory's checkpoint, then fine-tunes it on its eval.tasks, and records it (when --db is
// given) like a grid run.
#include <unistd.h>

#include <fstream>
#include <iostream>

#include "base/error.h"
#include "core/corpus.h"
#include "experiments/grid.h"
#include "results/store.h"
#include "runner/cli.h"
#include "runner/execute_run.h"
#include "runner/signals.h"

namespace ablate::runner {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using results::RunStatus;

// `ablate train` runs are filed under one experiment of this name.
constexpr const char* kTrainExperiment = "train";

}  // namespace

int CmdTrain(const Args& args) {
  po::options_description options("options");
  options.add_options()(
      "config", po::value<std::string>()->required(),
      "a run's params as JSON (an element, or its \"params\", of `ablate expand --format json`)")(
      "db", po::value<std::string>(), "record the run in this results database")(
      "run-dir", po::value<std::string>(), "checkpoints and logs (default: runs/train/<key>)")(
      "data-dir", po::value<std::string>()->default_value(""),
      "data directory (default: $ABLATE_DATA_DIR or ./data)")(
      "device", po::value<std::string>()->default_value("cpu"), "cpu or cuda")(
      "threads", po::value<int>()->default_value(0), "CPU threads (0 = LibTorch's default)");
  auto vm = ParseOptions(
      args, "ablate train --config RUN.json [--db FILE] [--run-dir DIR] [--device cpu|cuda]",
      options);
  if (!vm) return 0;
  std::string path = (*vm)["config"].as<std::string>();
  const auto run = experiments::LoadRunConfig(ReadRunConfigFile(path), path);
  const fs::path run_dir = vm->count("run-dir") ? fs::path((*vm)["run-dir"].as<std::string>())
                                                : fs::path("runs") / kTrainExperiment / run.key;

  std::optional<results::Store> store;
  int64_t run_id = 0;
  if (vm->count("db")) {
    store.emplace(results::Store::Open((*vm)["db"].as<std::string>()));
    json grid = {{"name", kTrainExperiment},
                 {"description", "runs trained one at a time with ablate train"}};
    store->Submit({kTrainExperiment, grid["description"], grid.dump(), {{run.key, run.params}}});
    run_id = store->StartRun(kTrainExperiment, run.key, HostName(), ::getpid()).run_id;
    store->AddArtifact(run_id, "config", fs::absolute(run_dir / "config.json").string(),
                       std::nullopt);
  }

  InstallStopHandlers();
  const ExecuteOptions execute{core::ResolveDataDir((*vm)["data-dir"].as<std::string>()),
                               (*vm)["device"].as<std::string>(), (*vm)["threads"].as<int>(),
                               "run " + run.key, isatty(STDERR_FILENO) != 0};
  const RunOutcome outcome =
      ExecuteRun(run, run_dir, store ? &*store : nullptr, run_id, execute, std::cerr);
  switch (outcome.status) {
    case RunStatus::kCompleted:
      std::cout << "completed " << run.key << " after " << outcome.step << " steps ("
                << run_dir.string() << ")\n";
      return 0;
    case RunStatus::kDiverged:
      std::cout << "diverged " << run.key << ": " << outcome.reason << "\n";
      return 1;
    case RunStatus::kInterrupted:
      if (!outcome.interrupted_task.empty()) {
        std::cout << "interrupted " << run.key << " while fine-tuning " << outcome.interrupted_task
                  << "; run again to resume\n";
      } else {
        std::cout << "interrupted " << run.key << " at step " << outcome.step
                  << "; run again to resume\n";
      }
      return 130;
    case RunStatus::kFailed:
      // Recorded as failed; the error itself reaches main(), which says it and picks the exit code.
      std::rethrow_exception(outcome.error);
    default:
      return 1;
  }
}

}  // namespace ablate::runner
