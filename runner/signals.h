// SIGINT/SIGTERM handling for commands that train: the first signal asks the trainer to
// checkpoint and stop; a second SIGINT exits at once. Process-wide by nature (signals are).
#pragma once

namespace ablate::runner {

void InstallStopHandlers();
bool StopSignalled();

}  // namespace ablate::runner
