// ablate train --config RUN.json [--db FILE]: trains one run outside any grid, resuming from its
// run directory's checkpoint, then fine-tunes it on its eval.tasks, and records it (when --db is
// given) like a grid run.
#include <unistd.h>

#include <fstream>
#include <iostream>

#include "base/error.h"
#include "core/batch_tensors.h"
#include "core/corpus.h"
#include "core/world.h"
#include "experiments/grid.h"
#include "results/run_records.h"
#include "results/store.h"
#include "runner/cli.h"
#include "runner/execute_run.h"
#include "runner/local_ranks.h"
#include "runner/signals.h"
#include "runner/worker_process.h"

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
      "nproc", po::value<int>()->default_value(1),
      "data-parallel ranks to start on this machine (Gloo on CPU, NCCL on CUDA); under srun or "
      "torchrun the launcher's ranks are used instead");
  AddDataDirOption(options);
  AddDeviceOptions(options,
                   "CPU threads per rank (0 = LibTorch's default; with --nproc, the cores shared "
                   "out)");
  AddSetOption(options);
  auto vm =
      ParseOptions(args,
                   "ablate train --config RUN.json [--db FILE] [--run-dir DIR] [--device cpu|cuda] "
                   "[--nproc N] [--set NAME=VALUE ...]",
                   options);
  if (!vm) return 0;
  core::ResolveDevice(DeviceFrom(*vm));  // before anything is recorded
  const int nproc = (*vm)["nproc"].as<int>();
  if (nproc < 1 || nproc > 1024) throw InputError("", "--nproc", "must be in [1, 1024]");
  const std::chrono::seconds rank_timeout = RankTimeoutFrom(*vm);
  // Under a launcher (srun -n N, torchrun) this process is one of its ranks; only rank 0 records.
  const std::optional<core::World> world = core::WorldFromEnvironment(core::ProcessEnvironment());
  const bool rank0 = !world || world->rank == 0;
  std::string path = (*vm)["config"].as<std::string>();
  // The config file's values, then the command line's: --set NAME=VALUE wins.
  nlohmann::json params = ReadRunConfigFile(path);
  const experiments::Overrides overrides = OverridesFrom(*vm);
  for (const auto& [name, value] : overrides.items()) params[name] = value;
  const auto run = experiments::LoadRunConfig(params, path);
  const fs::path run_dir = vm->count("run-dir") ? fs::path((*vm)["run-dir"].as<std::string>())
                                                : fs::path("runs") / kTrainExperiment / run.key;

  std::optional<results::Store> store;
  int64_t run_id = 0;
  if (vm->count("db") && rank0) {
    store.emplace(results::Store::Open((*vm)["db"].as<std::string>()));
    json grid = {{"name", kTrainExperiment},
                 {"description", "runs trained one at a time with ablate train"}};
    store->Submit({kTrainExperiment, grid["description"], grid.dump(), {{run.key, run.params}}});
    // A run left `running` by an ablate train that died here (killed, or its database write
    // failed on a full disk) is this machine's to take up again, as a worker would.
    RequeueAbandonedRuns((*vm)["db"].as<std::string>());
    run_id = store->StartRun(kTrainExperiment, run.key, HostName(), ::getpid()).run_id;
    store->AddArtifact(run_id, "config", fs::absolute(run_dir / "config.json").string(),
                       std::nullopt);
  }

  std::optional<results::DatabaseRecords> records;
  if (store) records.emplace(*store, run_id);
  InstallStopHandlers();
  ExecuteOptions execute;
  execute.data_dir = DataDirFrom(*vm);
  execute.device = DeviceFrom(*vm);
  execute.threads = ThreadsFrom(*vm);
  execute.label = "run " + run.key;
  execute.live_progress = isatty(STDERR_FILENO) != 0;
  execute.nproc = nproc;
  execute.world = world;
  execute.rank_timeout = rank_timeout;
  if (nproc > 1 && execute.threads == 0) execute.threads = ThreadsPerRank(nproc);
  const RunOutcome outcome =
      ExecuteRun(run, run_dir, records ? &*records : nullptr, execute, std::cerr);
  if (!rank0) {
    // Rank 0 says what happened; the others only tell their launcher whether they failed.
    if (outcome.status == RunStatus::kFailed) std::rethrow_exception(outcome.error);
    return outcome.status == RunStatus::kInterrupted ? 130 : 0;
  }
  switch (outcome.status) {
    case RunStatus::kCompleted:
      std::cout << "completed " << run.key << " after " << outcome.step << " steps"
                << (execute.nproc > 1 || world
                        ? " on " + std::to_string(world ? world->size : execute.nproc) + " ranks"
                        : std::string())
                << " (" << run_dir.string() << ")\n";
      return 0;
    case RunStatus::kDiverged:
      std::cout << "diverged " << run.key << ": " << outcome.reason << "\n";
      return 1;
    case RunStatus::kInterrupted:
      if (!outcome.interrupted_task.empty()) {
        std::cout << "interrupted " << run.key << " while fine-tuning " << outcome.interrupted_task
                  << "; run again to resume\n";
      } else {
        std::cout << "interrupted " << run.key << ": " << outcome.reason << "\n";
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
