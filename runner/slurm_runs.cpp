#include "runner/slurm_runs.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <ostream>

#include "base/error.h"
#include "results/collect.h"
#include "results/run_log.h"
#include "results/sqlite.h"
#include "runner/cli.h"
#include "runner/slurm.h"

namespace ablate::runner {

namespace fs = std::filesystem;

namespace {

void Report(const results::CollectResult& collected, std::ostream& err) {
  for (const auto& problem : collected.problems) err << "ablate collect: " << problem << "\n";
  if (collected.skipped > 0) {
    err << "ablate collect: left out " << collected.skipped
        << " torn record(s) (a task died while writing them)\n";
  }
}

}  // namespace

void CollectAndReconcile(results::Store& store, const std::string& experiment, bool ask_slurm,
                         std::ostream& err) {
  const std::optional<std::string> which =
      experiment.empty() ? std::nullopt : std::optional<std::string>(experiment);
  Report(results::Collect(store, which), err);
  if (!ask_slurm || experiment.empty()) return;
  const auto pending = results::PendingSlurmRuns(store, experiment);
  if (pending.empty()) return;
  std::map<std::string, int> tasks_per_job;
  for (const auto& run : pending)
    tasks_per_job[run.job_id] = std::max(tasks_per_job[run.job_id], run.task + 1);
  std::map<std::string, std::vector<SlurmTaskState>> states;
  try {
    for (const auto& [job, tasks] : tasks_per_job) states[job] = QueryArray(job, tasks);
  } catch (const std::exception& e) {
    err << "ablate: cannot ask Slurm about the tasks (" << e.what()
        << "); statuses are what the runs' logs say\n";
    return;
  }
  std::vector<std::pair<results::PendingSlurmRun, std::string>> lost;
  for (const auto& run : pending) {
    const std::string task_id = run.job_id + "_" + std::to_string(run.task);
    for (const auto& state : states[run.job_id]) {
      if (state.task_id == task_id && IsFinished(state.state)) lost.emplace_back(run, state.state);
    }
  }
  if (lost.empty()) return;
  // A task may have written its end just before it finished: read the logs once more first.
  Report(results::Collect(store, experiment), err);
  const auto still = results::PendingSlurmRuns(store, experiment);
  for (const auto& [run, state] : lost) {
    const bool pending_still = std::any_of(still.begin(), still.end(), [&](const auto& s) {
      return s.run_id == run.run_id && s.job_id == run.job_id && s.task == run.task;
    });
    if (!pending_still) continue;
    results::MarkTaskLost(store, run.run_id,
                          "Slurm task " + run.job_id + "_" + std::to_string(run.task) + " ended " +
                              state +
                              " before the run's log recorded an end; resumes when run again");
  }
}

void CollectBeforeReading(const std::string& db, const std::optional<std::string>& experiment,
                          bool ask_slurm, std::ostream& err) {
  if (!fs::exists(db)) return;
  {
    const auto reader = results::Connection::Open(db, results::Connection::Mode::kReadOnly);
    if (!results::HasRunLogs(reader, experiment)) return;
  }
  if (::access(db.c_str(), W_OK) != 0) {
    err << "ablate: " << db << " is read-only here: showing what it holds, without the run logs' "
        << "newest records (ablate collect adds them)\n";
    return;
  }
  auto store = results::Store::Open(db);
  if (experiment) {
    CollectAndReconcile(store, *experiment, ask_slurm, err);
    return;
  }
  for (const auto& name : results::ExperimentsWithRunLogs(store.connection()))
    CollectAndReconcile(store, name, ask_slurm, err);
}

int SubmitRunsToSlurm(const WorkerOptions& worker, const std::string& experiment,
                      const SlurmRunOptions& options, std::ostream& out) {
  auto store = results::Store::Open(worker.db);
  const auto runs = store.QueuedWithoutTask(experiment);
  if (runs.empty()) {
    out << "nothing to submit: every queued run of " << experiment
        << " is already with a Slurm task\n";
    return 0;
  }
  const fs::path runs_dir = fs::absolute(worker.runs_dir) / experiment;
  const fs::path log_dir = runs_dir / "slurm";
  fs::create_directories(log_dir);
  // The list the array's elements index: line i is the run directory of element i.
  const auto stamp = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
  const fs::path list = log_dir / ("runs-" + std::to_string(stamp) + ".txt");
  {
    std::ofstream listing(list);
    for (const auto& run : runs) {
      const fs::path run_dir = runs_dir / run.key;
      WriteRunConfigFile(run_dir.string(), run.params);
      listing << run_dir.string() << "\n";
    }
    if (!listing) throw std::runtime_error("cannot write " + list.string());
  }
  // Inside the batch script /proc/self/exe is bash: name this binary by its real path.
  std::vector<std::string> argv = {fs::read_symlink("/proc/self/exe").string(),
                                   "task",
                                   "--list",
                                   list.string(),
                                   "--data-dir",
                                   fs::absolute(worker.data_dir).string(),
                                   "--device",
                                   worker.device,
                                   "--rank-timeout",
                                   std::to_string(worker.rank_timeout)};
  if (worker.threads > 0) {
    argv.push_back("--threads");
    argv.push_back(std::to_string(worker.threads));
  }
  SlurmSubmission submission;
  submission.job_name = "ablate-" + experiment;
  submission.array_tasks = static_cast<int>(runs.size());
  submission.max_running = options.max_running;
  submission.worker_argv = argv;
  submission.extra_args = options.extra_args;
  submission.log_dir = log_dir.string();
  submission.workdir = fs::current_path().string();
  submission.ntasks = worker.nproc_per_run;
  submission.requeue_signal_seconds = options.requeue_signal_seconds;
  const std::string job_id = SubmitArray(submission);
  for (size_t i = 0; i < runs.size(); ++i) {
    results::RegisterSlurmTask(store, runs[i].run_id, runs_dir / runs[i].key / results::kRunLogName,
                               job_id, static_cast<int>(i));
  }
  store.RecordSlurmArray(experiment, job_id, static_cast<int>(runs.size()), log_dir.string());
  out << "submitted Slurm job array " << job_id << " (" << runs.size() << " run"
      << (runs.size() == 1 ? "" : "s");
  if (options.max_running > 0) out << ", at most " << options.max_running << " at once";
  out << "); logs in " << log_dir.string() << "\nfollow it with: ablate status --db " << worker.db
      << "\n";
  return 0;
}

}  // namespace ablate::runner
