// The loop every worker process runs (locally under `ablate run`, or as a Slurm array task):
// requeue runs whose worker died, claim the next queued run atomically, train it in its run
// directory (resuming from its checkpoint), record the outcome, repeat until nothing is queued.
// A failed or diverged run is recorded and the worker carries on.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace ablate::runner {

struct WorkerOptions {
  std::string db;
  std::optional<std::string> experiment;  // only this experiment's runs
  std::filesystem::path runs_dir = "runs";
  std::filesystem::path data_dir;
  std::string device = "cpu";
  int threads = 0;         // per rank
  int nproc_per_run = 1;   // data-parallel ranks per run, started on this machine
  int rank_timeout = 300;  // seconds
  int64_t max_runs = 0;    // stop after this many runs (0 = until the queue is empty)
  bool live_progress = false;
  std::string label;  // prefixes this worker's progress lines, e.g. "worker 2"
};

struct WorkerSummary {
  int completed = 0, failed = 0, diverged = 0, interrupted = 0;
  bool stopped = false;  // a stop signal ended the loop
};

// A run whose heartbeat is older than this is taken to have lost its worker (any host).
constexpr double kStaleHeartbeatSeconds = 300;

WorkerSummary RunWorker(const WorkerOptions& options);

// The `ablate worker ...` arguments (after the program name) that run a worker with `options`:
// the one place the local and Slurm backends turn options into a command line. Paths are made
// absolute, so the worker may start in another directory or on another node.
std::vector<std::string> WorkerArguments(const WorkerOptions& options);

// Requeues runs left running by a worker that is gone: on this host, at once when the worker's
// process no longer exists; on any host, when the heartbeat is older than kStaleHeartbeatSeconds.
int RequeueAbandonedRuns(const std::string& db);

std::string HostName();

}  // namespace ablate::runner
