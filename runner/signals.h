// SIGINT/SIGTERM handling for commands that train: the first signal asks the trainer to
// checkpoint and stop; a second SIGINT exits at once. Process-wide by nature (signals are).
#pragma once

namespace ablate::runner {

void InstallStopHandlers();
bool StopSignalled();

// SIGUSR1, which a remote task's batch script forwards when its job nears its time limit: a stop
// like the others, after which the task is requeued rather than finished.
void InstallTimeLimitHandler();
bool TimeLimitSignalled();

// The exit code with which a task's command says "stopped for the time limit: requeue me".
inline constexpr int kRequeueExitCode = 75;  // EX_TEMPFAIL

}  // namespace ablate::runner
