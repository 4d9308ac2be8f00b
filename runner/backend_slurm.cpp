// The Slurm backend of `ablate run --backend slurm`. Slurm schedules runs, not workers: each
// queued run goes to one element of a job array, whose task (`ablate task`) trains exactly that
// run and writes its records to the run's own log (no process on a compute node opens the
// database); the head collects the logs and joins them with what Slurm says of the tasks. The
// database never leaves the head's disk. slurm.h is its contact with Slurm's commands.
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>

#include "base/error.h"
#include "results/collect.h"
#include "results/run_log.h"
#include "results/run_reads.h"
#include "runner/backend.h"
#include "runner/cli.h"
#include "runner/slurm.h"

namespace ablate::runner {
namespace {

namespace fs = std::filesystem;
namespace po = boost::program_options;

constexpr const char* kName = "slurm";

class SlurmBackend : public Backend {
 public:
  void AddRunOptions(po::options_description& options) const override {
    options.add_options()(
        "requeue-before", po::value<int>()->default_value(120),
        "slurm: seconds before a job's time limit at which a run checkpoints and its element is "
        "requeued (0 = never)")("slurm-args", po::value<std::string>()->default_value(""),
                                "extra sbatch options, e.g. \"-p gpu --gres=gpu:1\"");
  }

  // Slurm's nodes may have a device the head lacks: the tasks find out.
  bool TrainsHere() const override { return false; }

  // Writes every queued, unassigned run's config.json into its run directory, lists the run
  // directories, and submits one array with an element per run (ranks per run: the worker's
  // nproc_per_run, as Slurm tasks of the element). Prints the job id.
  int Submit(const Submission& submission, std::ostream& out) const override {
    const WorkerOptions& worker = submission.worker;
    const std::string& experiment = *worker.experiment;
    const po::variables_map& options = *submission.options;
    SlurmSubmission slurm;
    slurm.max_running = submission.jobs_given ? submission.jobs : 0;
    slurm.extra_args = options["slurm-args"].as<std::string>();
    slurm.requeue_signal_seconds = options["requeue-before"].as<int>();
    if (slurm.requeue_signal_seconds < 0)
      throw InputError("", "--requeue-before", "must be 0 or more seconds");

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
    slurm.job_name = "ablate-" + experiment;
    slurm.array_tasks = static_cast<int>(runs.size());
    slurm.worker_argv = argv;
    slurm.log_dir = log_dir.string();
    slurm.workdir = fs::current_path().string();
    slurm.ntasks = worker.nproc_per_run;
    const std::string job_id = SubmitArray(slurm);
    for (size_t i = 0; i < runs.size(); ++i) {
      results::RegisterRemoteTask(store, kName, runs[i].run_id,
                                  runs_dir / runs[i].key / results::kRunLogName, job_id,
                                  static_cast<int>(i));
    }
    store.RecordRemoteJob(kName, experiment, job_id, static_cast<int>(runs.size()),
                          log_dir.string());
    out << "submitted Slurm job array " << job_id << " (" << runs.size() << " run"
        << (runs.size() == 1 ? "" : "s");
    if (slurm.max_running > 0) out << ", at most " << slurm.max_running << " at once";
    out << "); logs in " << log_dir.string() << "\nfollow it with: ablate status --db " << worker.db
        << "\n";
    return 0;
  }

  // A task Slurm reports finished (failed, cancelled, out of time, node failure, or gone) whose
  // run's log has no end makes the run `interrupted`, to be submitted again by the next run.
  void Reconcile(results::Store& store, const std::string& experiment,
                 std::ostream& err) const override {
    const auto pending = results::PendingRemoteRuns(store, kName, experiment);
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
    std::vector<std::pair<results::PendingRemoteRun, std::string>> lost;
    for (const auto& run : pending) {
      const std::string task_id = run.job_id + "_" + std::to_string(run.task);
      for (const auto& state : states[run.job_id]) {
        if (state.task_id == task_id && IsFinished(state.state))
          lost.emplace_back(run, state.state);
      }
    }
    if (lost.empty()) return;
    // A task may have written its end just before it finished: read the logs once more first.
    CollectLogs(store, experiment, err);
    const auto still = results::PendingRemoteRuns(store, kName, experiment);
    for (const auto& [run, state] : lost) {
      const bool pending_still = std::any_of(still.begin(), still.end(), [&](const auto& s) {
        return s.run_id == run.run_id && s.job_id == run.job_id && s.task == run.task;
      });
      if (!pending_still) continue;
      results::MarkTaskLost(store, run.run_id,
                            "Slurm task " + run.job_id + "_" + std::to_string(run.task) +
                                " ended " + state +
                                " before the run's log recorded an end; resumes when run again");
    }
  }

  // "slurm array JOB (EXPERIMENT): 2 COMPLETED, 1 RUNNING" per job array submitted.
  void DescribeState(const std::string& db, std::ostream& out) const override {
    for (const auto& job : results::ReadRemoteJobs(db, kName)) {
      out << "slurm array " << job.job_id << " (" << job.experiment << "): ";
      try {
        out << SummarizeStates(QueryArray(job.job_id, static_cast<int>(job.tasks))) << "\n";
      } catch (const std::exception& e) {
        out << "state unknown (" << e.what() << ")\n";
      }
    }
  }

  Scheduler scheduler() const override {
    return {"Slurm", "SLURM_JOB_ID", "SLURM_ARRAY_TASK_ID", "SLURM_CPUS_PER_TASK",
            "SLURM_CPUS_ON_NODE"};
  }
};

}  // namespace

std::unique_ptr<Backend> MakeSlurmBackend() { return std::make_unique<SlurmBackend>(); }

}  // namespace ablate::runner
