// ablate train --config RUN.json [--db FILE]: trains one run outside any grid, resuming from its
// run directory's checkpoint, then fine-tunes it on its eval.tasks, and records it (when --db is
// given) like a grid run.
#include <unistd.h>

#include <fstream>
#include <iostream>

#include "base/error.h"
#include "experiments/grid.h"
#include "experiments/run_config.h"
#include "results/store.h"
#include "runner/cli.h"
#include "runner/finetune_stage.h"
#include "runner/run_recorder.h"
#include "runner/signals.h"

namespace ablate::runner {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

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
  auto run = experiments::LoadRunConfig(ReadRunConfigFile(path), path);
  auto config = experiments::TrainConfigFromParams(run.params);
  config.device = (*vm)["device"].as<std::string>();
  config.threads = (*vm)["threads"].as<int>();
  fs::path run_dir = vm->count("run-dir") ? fs::path((*vm)["run-dir"].as<std::string>())
                                          : fs::path("runs") / kTrainExperiment / run.key;
  fs::create_directories(run_dir);
  std::ofstream(run_dir / "config.json") << run.params.dump(2) << "\n";

  std::optional<results::Store> store;
  int64_t run_id = 0;
  if (vm->count("db")) {
    store.emplace(results::Store::Open((*vm)["db"].as<std::string>()));
    json grid = {{"name", kTrainExperiment},
                 {"description", "runs trained one at a time with ablate train"}};
    store->Submit({kTrainExperiment, grid["description"], grid.dump(), {{run.key, run.params}}});
    run_id = store->StartRun(kTrainExperiment, run.key, HostName(), ::getpid()).run_id;
    store->AddArtifact(run_id, "run_dir", fs::absolute(run_dir).string(), std::nullopt);
    store->SetProvenance(run_id, ABLATE_GIT_COMMIT, core::LibTorchVersion(), config.device);
    store->AddArtifact(run_id, "config", fs::absolute(run_dir / "config.json").string(),
                       std::nullopt);
  }

  InstallStopHandlers();
  RunRecorder recorder(store ? &*store : nullptr, run_id, "run " + run.key, std::cerr,
                       isatty(STDERR_FILENO) != 0);
  auto log = [](const std::string& line) { std::cerr << "ablate train: " << line << "\n"; };
  const fs::path data_dir = core::ResolveDataDir((*vm)["data-dir"].as<std::string>());
  core::TrainResult result;
  FinetuneStageResult stage;
  try {
    result = core::Train(config, data_dir, run_dir, recorder, log);
    recorder.Flush();
    if (result.outcome == core::TrainOutcome::kCompleted) {
      stage = RunFinetuneStage(run.params, config, data_dir, run_dir, store ? &*store : nullptr,
                               run_id, "run " + run.key, std::cerr);
    }
  } catch (const std::exception& e) {
    recorder.Flush();
    if (store) store->Finish(run_id, "failed", e.what());
    throw;
  }
  switch (result.outcome) {
    case core::TrainOutcome::kCompleted:
      if (stage.interrupted) {
        if (store) store->Finish(run_id, "interrupted", "stopped while fine-tuning " + stage.task);
        std::cout << "interrupted " << run.key << " while fine-tuning " << stage.task
                  << "; run again to resume\n";
        return 130;
      }
      if (store) store->Finish(run_id, "completed");
      std::cout << "completed " << run.key << " after " << result.step << " steps ("
                << run_dir.string() << ")\n";
      return 0;
    case core::TrainOutcome::kDiverged:
      if (store) store->Finish(run_id, "diverged", result.reason);
      std::cout << "diverged " << run.key << ": " << result.reason << "\n";
      return 1;
    case core::TrainOutcome::kInterrupted:
      if (store)
        store->Finish(run_id, "interrupted", "stopped at step " + std::to_string(result.step));
      std::cout << "interrupted " << run.key << " at step " << result.step
                << "; run again to resume\n";
      return 130;
  }
  return 1;
}

}  // namespace ablate::runner
