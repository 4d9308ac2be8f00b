// ablate's own launcher for a data-parallel run on one machine: this process is rank 0, and it
// starts ranks 1..N-1 as `ablate train` children of the same binary, told who they are through
// torchrun's environment variables. The children die with this process (PDEATHSIG) and are
// stopped and reaped when this object goes. Launchers such as srun and torchrun start every rank
// themselves and need none of this.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "core/world.h"

namespace ablate::runner {

struct RankCommand {
  std::filesystem::path config;  // the run's config.json
  std::filesystem::path run_dir;
  std::filesystem::path data_dir;
  std::string device = "cpu";
  int threads = 0;
  std::chrono::seconds timeout{300};
};

class LocalRanks {
 public:
  // Starts ranks 1..ranks-1; world() is rank 0's view, to join with core::JoinWorld.
  LocalRanks(int ranks, const RankCommand& command);
  LocalRanks(const LocalRanks&) = delete;
  LocalRanks& operator=(const LocalRanks&) = delete;
  ~LocalRanks();

  const core::World& world() const { return world_; }
  // Waits for the children; the first failing one's description, or "" when all exited 0.
  std::string Wait();
  // Without waiting: the first child found to have exited, described ("rank 1 exited with code
  // 2"); "" while all run. Rank 0 asks while the ranks gather, where any exit is a failure.
  std::string Exited();

 private:
  core::World world_;
  std::vector<pid_t> children_;
  std::vector<int> statuses_;  // each child's wait status once reaped, else -1
};

// CPU threads for each of `processes` processes sharing this machine (at least 1).
int ThreadsPerRank(int processes);

// A TCP port on the loopback interface that was free a moment ago.
int FreeLocalPort();

}  // namespace ablate::runner
