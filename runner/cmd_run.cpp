// ablate run GRID --db FILE [--jobs N]: submits the grid (idempotent) and trains its queued runs
// with N local worker processes until none is left, or hands each to a Slurm array element.
#include <iostream>

#include "base/error.h"
#include "core/batch_tensors.h"
#include "experiments/grid.h"
#include "reports/table_format.h"
#include "results/collect.h"
#include "results/query.h"
#include "results/store.h"
#include "runner/cli.h"
#include "runner/grid_plan.h"
#include "runner/local_backend.h"
#include "runner/signals.h"
#include "runner/slurm_runs.h"
#include "runner/worker.h"

namespace ablate::runner {
namespace {

// Runs per status of one experiment, in lifecycle order.
void PrintExperimentStatus(const std::string& db, const std::string& experiment) {
  results::ResultSet set;
  set.columns = {"status", "runs"};
  for (const auto& count : results::Store::Open(db).StatusCounts()) {
    if (count.experiment == experiment) set.rows.push_back({count.status, count.count});
  }
  reports::WriteTable(std::cout, set, reports::TableFormat::kTable);
}

}  // namespace

int CmdRun(const Args& args) {
  po::options_description options("options");
  options.add_options()("grid", po::value<std::string>()->required(), "grid JSON file")(
      "db", po::value<std::string>()->required(), "results database (created if missing)")(
      "jobs", po::value<int>()->default_value(1), "worker processes")(
      "rerun-failed", po::bool_switch(), "queue failed and diverged runs again")(
      "backend", po::value<std::string>()->default_value("local"),
      "local: --jobs worker processes here; slurm: one job array element per queued run, at most "
      "--jobs at once")(
      "requeue-before", po::value<int>()->default_value(120),
      "slurm: seconds before a job's time limit at which a run checkpoints and its element is "
      "requeued (0 = never)")("slurm-args", po::value<std::string>()->default_value(""),
                              "extra sbatch options, e.g. \"-p gpu --gres=gpu:1\"");
  AddWorkerOptions(options);
  AddSetOption(options);
  auto vm = ParseOptions(
      args,
      "ablate run GRID --db FILE [--jobs N] [--backend local|slurm] [--device "
      "cpu|cuda] [--rerun-failed] [--max-runs K] [--nproc-per-run R] [--set NAME=VALUE ...]",
      options, {"grid"});
  if (!vm) return 0;
  WorkerOptions worker = WorkerOptionsFrom(*vm);
  const int jobs = (*vm)["jobs"].as<int>();
  if (jobs < 1) throw InputError("", "--jobs", "must be at least 1");
  const std::string backend = (*vm)["backend"].as<std::string>();
  if (backend != "local" && backend != "slurm") {
    throw InputError("", "--backend",
                     "unknown backend \"" + backend + "\": expected local or slurm");
  }

  // A device this build cannot use fails here, before any run is queued or claimed. Slurm's
  // nodes may have what the head lacks, so there it is left to the tasks.
  if (backend == "local") core::ResolveDevice(worker.device);
  // Validate everything before the database is touched.
  const auto overrides = OverridesFrom(*vm);
  auto grid = LoadGridWithOverrides(*vm);
  auto runs = experiments::ExpandGrid(grid);
  // The plan's warnings once, before anything trains (ablate expand --plan shows the figures).
  PrintPlanWarnings(std::cerr, PlanOnPreparedData(grid, runs, worker.data_dir));
  {
    auto store = results::Store::Open(worker.db);
    // Runs trained by Slurm tasks: their logs first, and tasks Slurm lost become interrupted, so
    // the requeue below sends them again.
    if (backend == "slurm" || results::HasRunLogs(store.connection(), grid.name))
      CollectAndReconcile(store, grid.name, true, std::cerr);
    results::ExperimentSubmission submission{grid.name, grid.description, grid.text, {}};
    for (const auto& run : runs) submission.runs.push_back({run.key, run.params});
    auto submitted = store.Submit(submission);
    store.SetOverrides(grid.name, overrides.dump());
    // Interrupted runs were stopped on purpose and continue; failures only when asked.
    int requeued = store.Requeue(grid.name, {results::RunStatus::kInterrupted});
    if ((*vm)["rerun-failed"].as<bool>())
      requeued +=
          store.Requeue(grid.name, {results::RunStatus::kFailed, results::RunStatus::kDiverged});
    std::cout << grid.name << ": " << runs.size() << " runs (" << submitted.added << " new";
    if (requeued > 0) std::cout << ", " << requeued << " requeued";
    std::cout << ")" << std::endl;
  }
  worker.experiment = grid.name;
  if (backend == "slurm") {
    SlurmRunOptions slurm;
    slurm.max_running = vm->count("jobs") && !(*vm)["jobs"].defaulted() ? jobs : 0;
    slurm.extra_args = (*vm)["slurm-args"].as<std::string>();
    slurm.requeue_signal_seconds = (*vm)["requeue-before"].as<int>();
    if (slurm.requeue_signal_seconds < 0)
      throw InputError("", "--requeue-before", "must be 0 or more seconds");
    return SubmitRunsToSlurm(worker, grid.name, slurm, std::cout);
  }
  RequeueAbandonedRuns(worker.db);

  InstallStopHandlers();
  const int exit_code = RunLocalWorkers(worker, jobs);
  PrintExperimentStatus(worker.db, grid.name);
  return exit_code;
}

}  // namespace ablate::runner
