#include "runner/worker_process.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "results/clock.h"
#include "results/store.h"

namespace ablate::runner {
namespace {

namespace fs = std::filesystem;

// Whether the worker process `pid` of this host still runs. A process killed with its parent (a
// power cut of the whole group) can linger as a zombie until init reaps it, and its pid can be
// taken by another program afterwards: neither is a worker, so on Linux /proc must show a live
// process (not Z or X) running an ablate binary.
bool ProcessExists(int64_t pid) {
  if (pid <= 0 || (::kill(static_cast<pid_t>(pid), 0) != 0 && errno != EPERM)) return false;
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  if (!in || !std::getline(in, stat)) return true;  // no /proc: kill() is all there is
  const size_t open = stat.find('('), close = stat.rfind(')');
  if (open == std::string::npos || close == std::string::npos || close + 2 >= stat.size())
    return true;
  const char state = stat[close + 2];
  if (state == 'Z' || state == 'X') return false;
  // Workers are started through /proc/self/exe, so their name is "exe": read the binary instead.
  std::error_code error;
  const auto binary = fs::read_symlink("/proc/" + std::to_string(pid) + "/exe", error);
  return error || binary.filename().string().rfind("ablate", 0) == 0;
}

}  // namespace

std::string HostName() {
  char buf[256] = {};
  gethostname(buf, sizeof buf - 1);
  return buf;
}

int RequeueAbandonedRuns(const std::string& db) {
  auto store = results::Store::Open(db);
  const std::string host = HostName();
  const double now = results::UnixNow();
  int requeued = 0;
  for (const auto& run : store.RunningRuns()) {
    std::string reason;
    if (run.host == host && !ProcessExists(run.pid)) {
      reason = "worker process " + std::to_string(run.pid) + " on " + host + " died";
    } else if (now - run.heartbeat_at > kStaleHeartbeatSeconds) {
      reason = "no heartbeat from " + run.host + " for " +
               std::to_string(int(now - run.heartbeat_at)) + " s";
    } else {
      continue;
    }
    if (store.RequeueRunning(run.run_id, reason)) {
      std::cerr << "ablate: requeued run " << run.run_id << ": " << reason << "\n";
      ++requeued;
    }
  }
  return requeued;
}

std::vector<std::string> WorkerArguments(const WorkerOptions& options) {
  std::vector<std::string> args = {"worker",
                                   "--db",
                                   fs::absolute(options.db).string(),
                                   "--runs-dir",
                                   fs::absolute(options.runs_dir).string(),
                                   "--data-dir",
                                   fs::absolute(options.data_dir).string(),
                                   "--device",
                                   options.device};
  auto add = [&](const std::string& flag, const std::string& value) {
    args.push_back(flag);
    args.push_back(value);
  };
  if (options.experiment) add("--experiment", *options.experiment);
  if (options.threads > 0) add("--threads", std::to_string(options.threads));
  if (options.nproc_per_run > 1) add("--nproc-per-run", std::to_string(options.nproc_per_run));
  if (options.rank_timeout != 300) add("--rank-timeout", std::to_string(options.rank_timeout));
  if (options.max_runs > 0) add("--max-runs", std::to_string(options.max_runs));
  if (!options.label.empty()) add("--label", options.label);
  return args;
}

}  // namespace ablate::runner
