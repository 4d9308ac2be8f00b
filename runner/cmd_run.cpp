// ablate run GRID --db FILE [--jobs N]: submits the grid (idempotent) and trains its queued runs
// with N local worker processes until none is left.
#include <iostream>

#include "base/error.h"
#include "experiments/grid.h"
#include "reports/table_format.h"
#include "results/query.h"
#include "results/store.h"
#include "runner/cli.h"
#include "runner/grid_plan.h"
#include "runner/local_backend.h"
#include "runner/signals.h"
#include "runner/slurm.h"
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

// One job array whose tasks each run `ablate worker` on this grid. The database and run
// directories must be on a filesystem every node sees (see README, "Slurm").
int SubmitToSlurm(const WorkerOptions& worker, const std::string& experiment, int jobs,
                  const std::string& slurm_args) {
  namespace fs = std::filesystem;
  // Inside the batch script /proc/self/exe is bash: name this binary by its real path.
  std::vector<std::string> argv = {fs::read_symlink("/proc/self/exe").string()};
  WorkerOptions task = worker;
  task.max_runs = 0;  // each array task works until the queue is empty
  for (auto& arg : WorkerArguments(task)) argv.push_back(std::move(arg));
  const fs::path log_dir = fs::absolute(worker.runs_dir) / experiment / "slurm";
  SlurmSubmission submission{"ablate-" + experiment,     jobs, argv, slurm_args, log_dir.string(),
                             fs::current_path().string()};
  // A run's ranks start inside its array task, one CPU each at the least.
  if (worker.nproc_per_run > 1) submission.cpus_per_task = worker.nproc_per_run;
  const std::string job_id = SubmitArray(submission);
  results::Store::Open(worker.db).RecordSlurmArray(experiment, job_id, jobs, log_dir.string());
  std::cout << "submitted Slurm job array " << job_id << " (" << jobs << " workers); logs in "
            << log_dir.string() << "\nfollow it with: ablate status --db " << worker.db << "\n";
  return 0;
}

}  // namespace

int CmdRun(const Args& args) {
  po::options_description options("options");
  options.add_options()("grid", po::value<std::string>()->required(), "grid JSON file")(
      "db", po::value<std::string>()->required(), "results database (created if missing)")(
      "jobs", po::value<int>()->default_value(1), "worker processes")(
      "rerun-failed", po::bool_switch(), "queue failed and diverged runs again")(
      "backend", po::value<std::string>()->default_value("local"),
      "local: worker processes here; slurm: one job array of --jobs workers")(
      "slurm-args", po::value<std::string>()->default_value(""),
      "extra sbatch options, e.g. \"-p gpu --gres=gpu:1\"");
  AddWorkerOptions(options);
  auto vm =
      ParseOptions(args,
                   "ablate run GRID --db FILE [--jobs N] [--device cpu|cuda] [--rerun-failed] "
                   "[--max-runs K]",
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

  // Validate everything before the database is touched.
  auto grid = experiments::LoadGrid((*vm)["grid"].as<std::string>());
  auto runs = experiments::ExpandGrid(grid);
  // The plan's warnings once, before anything trains (ablate expand --plan shows the figures).
  PrintPlanWarnings(std::cerr, PlanOnPreparedData(grid, runs, worker.data_dir));
  {
    auto store = results::Store::Open(worker.db);
    results::ExperimentSubmission submission{grid.name, grid.description, grid.text, {}};
    for (const auto& run : runs) submission.runs.push_back({run.key, run.params});
    auto submitted = store.Submit(submission);
    // Interrupted runs were stopped on purpose and continue; failures only when asked.
    int requeued = store.Requeue(grid.name, {results::RunStatus::kInterrupted});
    if ((*vm)["rerun-failed"].as<bool>())
      requeued +=
          store.Requeue(grid.name, {results::RunStatus::kFailed, results::RunStatus::kDiverged});
    std::cout << grid.name << ": " << runs.size() << " runs (" << submitted.added << " new";
    if (requeued > 0) std::cout << ", " << requeued << " requeued";
    std::cout << ")" << std::endl;
  }
  RequeueAbandonedRuns(worker.db);
  worker.experiment = grid.name;
  if (backend == "slurm")
    return SubmitToSlurm(worker, grid.name, jobs, (*vm)["slurm-args"].as<std::string>());

  InstallStopHandlers();
  const int exit_code = RunLocalWorkers(worker, jobs);
  PrintExperimentStatus(worker.db, grid.name);
  return exit_code;
}

}  // namespace ablate::runner
