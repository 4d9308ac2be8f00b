#include "runner/worker.h"

#include <unistd.h>

#include <iostream>

#include "base/error.h"
#include "experiments/grid.h"
#include "experiments/run_config.h"
#include "results/run_records.h"
#include "results/store.h"
#include "runner/execute_run.h"
#include "runner/signals.h"
#include "runner/worker_process.h"

namespace ablate::runner {
namespace fs = std::filesystem;
using results::RunStatus;

WorkerSummary RunWorker(const WorkerOptions& options) {
  WorkerSummary summary;
  auto store = results::Store::Open(options.db);
  const std::string host = HostName();
  for (int64_t done = 0; options.max_runs == 0 || done < options.max_runs; ++done) {
    if (StopSignalled()) {
      summary.stopped = true;
      break;
    }
    RequeueAbandonedRuns(options.db);
    auto claimed = store.ClaimNext(options.experiment, host, ::getpid());
    if (!claimed) break;

    const fs::path run_dir = options.runs_dir / claimed->experiment / claimed->key;
    const std::string label = (options.label.empty() ? "" : options.label + ": ") +
                              claimed->experiment + "/" + claimed->key;
    RunOutcome outcome;
    try {
      // Params come back from the database: validate them as a run config again (defaults that a
      // newer ablate added are filled in, and bad values fail the run, not the worker).
      const auto run =
          experiments::LoadRunConfig(claimed->params, claimed->experiment + "/" + claimed->key);
      ExecuteOptions execute;
      execute.data_dir = options.data_dir;
      execute.device = options.device;
      execute.threads = options.threads;
      execute.label = label;
      execute.live_progress = options.live_progress;
      execute.nproc = options.nproc_per_run;
      execute.rank_timeout = std::chrono::seconds(options.rank_timeout);
      results::DatabaseRecords records(store, claimed->run_id);
      outcome = ExecuteRun(run, run_dir, &records, execute, std::cerr);
    } catch (const std::exception& e) {
      outcome.status = RunStatus::kFailed;
      outcome.reason = e.what();
      store.Finish(claimed->run_id, outcome.status, outcome.reason);
    }
    const RunStatus status = outcome.status;
    if (status != RunStatus::kCompleted)
      std::cerr << label << ": " << results::StatusName(status) << ": " << outcome.reason << "\n";
    if (status == RunStatus::kCompleted) ++summary.completed;
    if (status == RunStatus::kFailed) ++summary.failed;
    if (status == RunStatus::kDiverged) ++summary.diverged;
    if (status == RunStatus::kInterrupted) {
      ++summary.interrupted;
      summary.stopped = true;
      break;
    }
  }
  return summary;
}

}  // namespace ablate::runner
