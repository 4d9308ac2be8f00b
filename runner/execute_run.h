// One run's life after it is claimed, the same for a grid worker, `ablate train` and a remote task:
// write its config into the run directory, record the directory and provenance, pretrain (resuming
// from a checkpoint), fine-tune on its eval.tasks, and record the outcome. It claims nothing and
// loops over nothing (worker.h does); it reads no command line (cmd_train.cpp does).
#pragma once

#include <chrono>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <iosfwd>
#include <optional>
#include <string>

#include "core/world.h"
#include "experiments/grid.h"
#include "results/run_status.h"

namespace ablate::results {
class RunRecords;
}

namespace ablate::runner {

struct ExecuteOptions {
  std::filesystem::path data_dir;
  std::string device = "cpu";
  int threads = 0;    // per rank
  std::string label;  // names the run in progress lines
  bool live_progress = false;
  // Data-parallel ranks: nproc > 1 starts ranks 1..nproc-1 on this machine (local_ranks.h) with
  // this process as rank 0; a world from a launcher (srun, torchrun) says which rank this is.
  int nproc = 1;
  std::optional<core::World> world;
  std::chrono::seconds rank_timeout{300};  // to join, and for any one collective operation
};

struct RunOutcome {
  results::RunStatus status = results::RunStatus::kCompleted;
  std::string reason;            // why it did not complete
  int64_t step = 0;              // pretraining updates done
  std::string interrupted_task;  // set when a stop came while fine-tuning this task
  std::exception_ptr error;      // what failed the run (status kFailed)
};

// Executes `run` in `run_dir`. With records (the database's or the run's log), the run directory,
// provenance, metrics and the final status are recorded; without, nothing is. A rank other than 0
// only pretrains: it writes nothing and fine-tunes nothing (pass no records). A run that throws
// is failed (recorded, and returned with its exception), never an exception out of here.
RunOutcome ExecuteRun(const experiments::RunSpec& run, const std::filesystem::path& run_dir,
                      results::RunRecords* records, const ExecuteOptions& options,
                      std::ostream& progress);

}  // namespace ablate::runner
