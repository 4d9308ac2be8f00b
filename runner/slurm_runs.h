// Slurm schedules runs, not workers: `ablate run --backend slurm` hands each queued run to one
// element of a job array, whose task trains exactly that run and writes its records to the run's
// own log (no process on a compute node opens the database); the head collects the logs and
// joins them with what Slurm says of the tasks. The database never leaves the head's disk.
#pragma once

#include <iosfwd>
#include <string>

#include "results/store.h"
#include "runner/worker.h"

namespace ablate::runner {

struct SlurmRunOptions {
  int max_running = 0;               // --jobs: at most this many tasks at once
  std::string extra_args;            // --slurm-args
  int requeue_signal_seconds = 120;  // USR1 this long before the time limit; 0 = no requeue
};

// Writes every queued, unassigned run's config.json into its run directory, lists the run
// directories, and submits one array with an element per run (ranks per run: `worker`'s
// nproc_per_run, as Slurm tasks of the element). Prints the job id; 0 when nothing was queued.
int SubmitRunsToSlurm(const WorkerOptions& worker, const std::string& experiment,
                      const SlurmRunOptions& options, std::ostream& out);

// Collects `experiment`'s logs (all when empty), then asks Slurm about runs whose log has no end
// yet: a task Slurm reports finished (failed, cancelled, out of time, node failure, or gone)
// makes its run `interrupted`, to be submitted again by the next `ablate run`. Problems reading a
// log, or Slurm not answering, are reported on `err` and do not stop the caller.
void CollectAndReconcile(results::Store& store, const std::string& experiment, bool ask_slurm,
                         std::ostream& err);

// The same for a database path, for the readers (status, report, sql): opened for writing only
// when it has run logs; a database that cannot be written is read as it is, with a warning.
void CollectBeforeReading(const std::string& db, const std::optional<std::string>& experiment,
                          bool ask_slurm, std::ostream& err);

}  // namespace ablate::runner
