// ablate run GRID --db FILE [--jobs N]: submits the grid (idempotent) and trains its queued runs
// with N local worker processes until none is left.
#include <sys/wait.h>
#include <unistd.h>

#include <iostream>
#include <thread>

#include "base/error.h"
#include "experiments/grid.h"
#include "reports/table_format.h"
#include "results/query.h"
#include "results/store.h"
#include "runner/cli.h"
#include "runner/grid_plan.h"
#include "runner/signals.h"
#include "runner/slurm.h"
#include "runner/worker.h"

namespace ablate::runner {
namespace {

// Starts `ablate worker` as a child process with the given arguments.
pid_t SpawnWorker(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  static std::string self = "/proc/self/exe";
  argv.push_back(self.data());
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    execv("/proc/self/exe", argv.data());
    _exit(127);
  }
  return pid;
}

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
  std::vector<std::string> argv = {fs::read_symlink("/proc/self/exe").string(),
                                   "worker",
                                   "--db",
                                   fs::absolute(worker.db).string(),
                                   "--experiment",
                                   experiment,
                                   "--runs-dir",
                                   fs::absolute(worker.runs_dir).string(),
                                   "--data-dir",
                                   fs::absolute(worker.data_dir).string(),
                                   "--device",
                                   worker.device};
  if (worker.threads > 0) {
    argv.push_back("--threads");
    argv.push_back(std::to_string(worker.threads));
  }
  const fs::path log_dir = fs::absolute(worker.runs_dir) / experiment / "slurm";
  SlurmSubmission submission{"ablate-" + experiment,     jobs, argv, slurm_args, log_dir.string(),
                             fs::current_path().string()};
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
  int exit_code = 0;
  if (jobs == 1) {
    worker.live_progress = isatty(STDERR_FILENO) != 0;
    auto summary = RunWorker(worker);
    if (summary.stopped)
      exit_code = 130;
    else if (summary.failed > 0)
      exit_code = 1;
  } else {
    // Threads are shared out so the workers together use the machine, not N times it.
    int threads = worker.threads > 0
                      ? worker.threads
                      : std::max(1, static_cast<int>(std::thread::hardware_concurrency()) / jobs);
    std::vector<pid_t> children;
    for (int i = 0; i < jobs; ++i) {
      int64_t max_runs =
          worker.max_runs == 0 ? 0 : worker.max_runs / jobs + (i < worker.max_runs % jobs ? 1 : 0);
      if (worker.max_runs != 0 && max_runs == 0) continue;
      children.push_back(
          SpawnWorker({"worker", "--db", worker.db, "--experiment", grid.name, "--runs-dir",
                       worker.runs_dir.string(), "--data-dir", worker.data_dir.string(), "--device",
                       worker.device, "--threads", std::to_string(threads), "--max-runs",
                       std::to_string(max_runs), "--label", "worker " + std::to_string(i + 1)}));
    }
    for (pid_t child : children) {
      int status = 0;
      while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
      }
      int code = WIFEXITED(status) ? WEXITSTATUS(status) : 1;
      if (code == 130)
        exit_code = 130;
      else if (code != 0 && exit_code == 0)
        exit_code = 1;
    }
  }
  PrintExperimentStatus(worker.db, grid.name);
  return exit_code;
}

}  // namespace ablate::runner
