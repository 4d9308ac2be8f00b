// The loop every worker process runs (started by `ablate run`'s local backend, or by hand):
// requeue runs whose worker died, claim the next queued run atomically, train it in its run
// directory (resuming from its checkpoint), record the outcome, repeat until nothing is queued.
// A failed or diverged run is recorded and the worker carries on.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

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

WorkerSummary RunWorker(const WorkerOptions& options);

}  // namespace ablate::runner
