// SIGINT/SIGTERM handling for commands that train: the first signal asks the trainer to
// checkpoint and stop; a second SIGINT exits at once. Process-wide by nature (signals are).
#pragma once

namespace ablate::runner {

void InstallStopHandlers();
bool StopSignalled();

// SIGUSR1, which a Slurm task's batch script forwards when the job nears its time limit: a stop
// like the others, after which the task is requeued rather than finished.
void InstallTimeLimitHandler();
bool TimeLimitSignalled();

}  // namespace ablate::runner
