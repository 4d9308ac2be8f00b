// A worker process seen from outside: the command line that starts one, the host it runs on, and
// the runs left `running` when one dies. The local backend starts workers with it, and every
// process that claims runs (a worker, `ablate train --db`) first takes up the runs of dead ones.
// It trains nothing (worker.h does), so `ablate`, which never links LibTorch, links it too.
#pragma once

#include <string>
#include <vector>

#include "runner/worker.h"

namespace ablate::runner {

// A run whose heartbeat is older than this is taken to have lost its worker (any host).
constexpr double kStaleHeartbeatSeconds = 300;

// The `ablate worker ...` arguments (after the program name) that run a worker with `options`:
// the one place options become a worker's command line. Paths are made absolute, so the worker
// may start in another directory or on another node.
std::vector<std::string> WorkerArguments(const WorkerOptions& options);

// Requeues runs left running by a worker that is gone: on this host, at once when the worker's
// process no longer exists; on any host, when the heartbeat is older than kStaleHeartbeatSeconds.
int RequeueAbandonedRuns(const std::string& db);

std::string HostName();

}  // namespace ablate::runner
