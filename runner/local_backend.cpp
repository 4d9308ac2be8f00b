#include "runner/local_backend.h"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string>
#include <thread>
#include <vector>

#include "runner/local_ranks.h"

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

}  // namespace

int RunLocalWorkers(WorkerOptions options, int jobs) {
  if (jobs == 1) {
    options.live_progress = isatty(STDERR_FILENO) != 0;
    if (options.threads == 0 && options.nproc_per_run > 1)
      options.threads = ThreadsPerRank(options.nproc_per_run);
    const auto summary = RunWorker(options);
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

}  // namespace ablate::runner
