// The head's side of runs trained away from the database (the tasks of a remote backend such as
// Slurm): which runs write record logs and which remote task last ran each, and `ablate collect`,
// which reads the logs' new records into the database — idempotently and incrementally, one
// transaction per run (its records and how far it was read move together). It starts no jobs and
// asks no scheduler anything (runner/'s backends do both).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "results/store.h"

namespace ablate::results {

struct CollectResult {
  int logs = 0;                       // logs that had new records
  int records = 0;                    // records applied
  int64_t points = 0;                 // metric points among them
  int skipped = 0;                    // torn records left out
  std::vector<std::string> problems;  // logs that could not be read (named), the rest collected
};

// Reads every registered log of `experiment` (all experiments when nullopt) from where the last
// collection stopped.
CollectResult Collect(Store& store, const std::optional<std::string>& experiment);

// Whether `experiment` (any when nullopt) has runs that write record logs, so a reader should
// collect before it reads. Read-only; false on a database older than schema v3.
bool HasRunLogs(const Connection& connection, const std::optional<std::string>& experiment);

// The experiments that have runs writing record logs, in order of creation.
std::vector<std::string> ExperimentsWithRunLogs(const Connection& connection);

// A run handed to task `task` of job `job_id` of `backend` ("slurm", ...): its log is registered
// (kept if it was already: an earlier attempt's records stay collected) and its task remembered,
// replacing the one before (and any older run the scheduler gave the same task id).
void RegisterRemoteTask(Store& store, const std::string& backend, int64_t run_id,
                        const std::filesystem::path& log, const std::string& job_id, int task);

// The runs of `experiment` handed to `backend` whose log has not recorded an end and that are not
// in a final state in the database: the ones whose task the scheduler may have lost.
struct PendingRemoteRun {
  int64_t run_id = 0;
  std::string key;
  std::string job_id;
  int task = 0;
};
std::vector<PendingRemoteRun> PendingRemoteRuns(const Store& store, const std::string& backend,
                                                const std::string& experiment);

// The task of a pending run ended without its log saying so (killed, cancelled, out of time,
// node failure): the run becomes `interrupted` with `reason`, and forgets the task, so the next
// `ablate run` submits it again and it resumes from its checkpoint.
void MarkTaskLost(Store& store, int64_t run_id, const std::string& reason);

}  // namespace ablate::results
