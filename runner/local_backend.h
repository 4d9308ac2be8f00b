// The local backend of `ablate run`: N worker processes on this machine (fork + exec of this
// binary's `ablate worker`), each with its share of the runs cap and of the CPU threads, waited
// for together. Slurm's backend is slurm.h; what a worker does is worker.h.
#pragma once

#include "runner/worker.h"

namespace ablate::runner {

// Runs `jobs` workers (one in this process when jobs == 1) until the queue is empty. Returns the
// exit code of `ablate run`: 0, 1 when a run failed, 130 when stopped by a signal.
int RunLocalWorkers(WorkerOptions options, int jobs);

}  // namespace ablate::runner
