// ablate worker --db FILE [--experiment NAME]: claims and trains queued runs until none is left
// (what `ablate run` starts locally and what a cluster job runs).
#include <unistd.h>

#include <algorithm>
#include <iostream>

#include "base/error.h"
#include "core/batch_tensors.h"
#include "core/corpus.h"
#include "runner/backend.h"
#include "runner/cli.h"
#include "runner/signals.h"
#include "runner/worker.h"

namespace ablate::runner {

void AddWorkerOptions(po::options_description& options) {
  options.add_options()("runs-dir", po::value<std::string>()->default_value("runs"),
                        "run directories go to DIR/<experiment>/<key>");
  AddDataDirOption(options);
  AddDeviceOptions(
      options,
      "CPU threads per worker, or per rank with --nproc-per-run (0 = the cores shared out)");
  options.add_options()("nproc-per-run", po::value<int>()->default_value(1),
                        "data-parallel ranks that train each run, started on the worker's machine "
                        "(Gloo on CPU, NCCL on CUDA)")(
      "max-runs", po::value<int64_t>()->default_value(0),
      "stop after K runs (0 = until none is queued)");
}

WorkerOptions WorkerOptionsFrom(const po::variables_map& vm) {
  WorkerOptions o;
  o.db = vm["db"].as<std::string>();
  o.runs_dir = vm["runs-dir"].as<std::string>();
  o.data_dir = DataDirFrom(vm);
  o.device = DeviceFrom(vm);
  o.threads = ThreadsFrom(vm);
  o.nproc_per_run = vm["nproc-per-run"].as<int>();
  if (o.nproc_per_run < 1 || o.nproc_per_run > 1024)
    throw InputError("", "--nproc-per-run", "must be in [1, 1024]");
  o.rank_timeout = static_cast<int>(RankTimeoutFrom(vm).count());
  // A worker in a scheduler's job is not pinned to its CPUs here: use what the job was given, not
  // every core.
  if (o.threads == 0) {
    const auto placement = PlacementFromEnvironment(core::ProcessEnvironment());
    if (placement && placement->in_job) {
      const auto cpus =
          placement->cpus_per_task ? placement->cpus_per_task : placement->cpus_on_node;
      o.threads = cpus ? std::max(1, *cpus / o.nproc_per_run) : 1;
    }
  }
  o.max_runs = vm["max-runs"].as<int64_t>();
  if (o.max_runs < 0) throw InputError("", "--max-runs", "must be 0 or more");
  if (o.device != "cpu" && o.device != "cuda") {
    throw InputError("", "--device", "unknown device \"" + o.device + "\": expected cpu or cuda");
  }
  return o;
}

int CmdWorker(const Args& args) {
  po::options_description options("options");
  options.add_options()("db", po::value<std::string>()->required(), "results database")(
      "experiment", po::value<std::string>(), "only runs of this experiment")(
      "label", po::value<std::string>()->default_value(""), "prefix of progress lines");
  AddWorkerOptions(options);
  auto vm = ParseOptions(args, "ablate worker --db FILE [--experiment NAME] [OPTIONS]", options);
  if (!vm) return 0;
  WorkerOptions o = WorkerOptionsFrom(*vm);
  if (vm->count("experiment")) o.experiment = (*vm)["experiment"].as<std::string>();
  o.label = (*vm)["label"].as<std::string>();
  o.live_progress = isatty(STDERR_FILENO) != 0 && o.label.empty();
  core::ResolveDevice(o.device);  // before a run is claimed
  InstallStopHandlers();
  auto summary = RunWorker(o);
  std::cerr << (o.label.empty() ? "worker" : o.label) << ": " << summary.completed << " completed, "
            << summary.failed << " failed, " << summary.diverged << " diverged"
            << (summary.stopped ? ", stopped by signal" : "") << "\n";
  if (summary.stopped) return 130;
  return summary.failed > 0 ? 1 : 0;
}

}  // namespace ablate::runner
