// The local backend of `ablate run`: --jobs worker processes on this machine (fork + exec of this
// binary's `ablate worker`; the worker loop in this process when --jobs is 1), each with its share
// of the runs cap and of the CPU threads, waited for together. Its workers write to the database
// themselves, so there is no scheduler to reconcile with: a run whose worker died is taken up by
// the next worker (worker_process.h).
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <iostream>
#include <string>
#include <vector>

#include "base/error.h"
#include "reports/table_format.h"
#include "results/query.h"
#include "results/store.h"
#include "runner/backend.h"
#include "runner/local_ranks.h"
#include "runner/signals.h"
#include "runner/worker_process.h"

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

// Runs `jobs` workers (one in this process when jobs == 1) until the queue is empty. Returns the
// exit code of `ablate run`: 0, 1 when a run failed, 130 when stopped by a signal.
int RunLocalWorkers(WorkerOptions options, int jobs,
                    WorkerSummary (*run_worker)(const WorkerOptions&)) {
  if (jobs == 1) {
    ABLATE_CHECK(run_worker != nullptr, "the local backend needs the worker loop to run here");
    options.live_progress = isatty(STDERR_FILENO) != 0;
    if (options.threads == 0 && options.nproc_per_run > 1)
      options.threads = ThreadsPerRank(options.nproc_per_run);
    const auto summary = run_worker(options);
    if (summary.stopped) return 130;
    return summary.failed > 0 ? 1 : 0;
  }
  // Threads are shared out so the workers together use the machine, not N times it.
  const int threads =
      options.threads > 0 ? options.threads : ThreadsPerRank(jobs * options.nproc_per_run);
  std::vector<pid_t> children;
  for (int i = 0; i < jobs; ++i) {
    WorkerOptions child = options;
    child.threads = threads;
    child.max_runs =
        options.max_runs == 0 ? 0 : options.max_runs / jobs + (i < options.max_runs % jobs ? 1 : 0);
    if (options.max_runs != 0 && child.max_runs == 0) continue;
    child.label = "worker " + std::to_string(i + 1);
    children.push_back(SpawnWorker(WorkerArguments(child)));
  }
  int exit_code = 0;
  for (pid_t child : children) {
    int status = 0;
    while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
    const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 1;
    if (code == 130) {
      exit_code = 130;
    } else if (code != 0 && exit_code == 0) {
      exit_code = 1;
    }
  }
  return exit_code;
}

// Runs per status of one experiment, in lifecycle order.
void PrintExperimentStatus(const std::string& db, const std::string& experiment,
                           std::ostream& out) {
  results::ResultSet set;
  set.columns = {"status", "runs"};
  for (const auto& count : results::Store::Open(db).StatusCounts()) {
    if (count.experiment == experiment) set.rows.push_back({count.status, count.count});
  }
  reports::WriteTable(out, set, reports::TableFormat::kTable);
}

class LocalBackend : public Backend {
 public:
  bool TrainsHere() const override { return true; }

  int Submit(const Submission& submission, std::ostream& out) const override {
    const WorkerOptions& worker = submission.worker;
    RequeueAbandonedRuns(worker.db);
    InstallStopHandlers();
    const int exit_code = RunLocalWorkers(worker, submission.jobs, submission.run_worker);
    PrintExperimentStatus(worker.db, *worker.experiment, out);
    return exit_code;
  }

  void Reconcile(results::Store&, const std::string&, std::ostream&) const override {}

  void DescribeState(const std::string&, std::ostream&) const override {}
};

}  // namespace

std::unique_ptr<Backend> MakeLocalBackend() { return std::make_unique<LocalBackend>(); }

}  // namespace ablate::runner
