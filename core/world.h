// The ranks of one data-parallel run: who this process is among them and where they meet. Read
// from a launcher's environment (torchrun's RANK/WORLD_SIZE/LOCAL_RANK/MASTER_ADDR/MASTER_PORT,
// or Slurm's SLURM_PROCID/SLURM_NTASKS/SLURM_LOCALID/SLURM_JOB_NODELIST) or set by ablate's own
// local launcher. It joins nothing (collective.h does) and needs no LibTorch.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace ablate::core {

struct World {
  int rank = 0;
  int size = 1;
  int local_rank = 0;
  int local_size = 1;       // ranks on this node
  std::string master_addr;  // where rank 0 serves the rendezvous store
  int master_port = 0;
  std::string launcher = "none";  // none, local, torchrun or slurm

  bool distributed() const { return size > 1; }
  bool operator==(const World&) const = default;
};

// Reads an environment variable; nullopt when unset. Tests pass a map instead of the process's.
using Environment = std::function<std::optional<std::string>(const std::string&)>;
Environment ProcessEnvironment();

// A launcher that starts every rank of a run itself and tells each who it is in its environment.
// Adding one (mpirun, Flux, ...) is a row of Launchers() and its function in world.cpp.
struct Launcher {
  const char* name;  // World::launcher
  // The world size, whose presence says this launcher started the process, and the rank.
  const char* size_variable;
  const char* rank_variable;
  // The rest of the world it describes, given its size (at least 2) and rank: the local rank and
  // size and the rendezvous. Throws InputError naming the variable when one is malformed.
  void (*read_rest)(const Environment& env, World& world);
};

// In precedence order: torchrun (RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR,
// MASTER_PORT; what ablate's local launcher sets, too), then Slurm (SLURM_PROCID, SLURM_NTASKS,
// SLURM_LOCALID, the tasks per node, the first host of SLURM_JOB_NODELIST at MASTER_PORT or a port
// derived from SLURM_JOB_ID and SLURM_STEP_ID).
const std::vector<Launcher>& Launchers();

// The world of the first launcher in Launchers() that started this process: nullopt when none did,
// or when the one that did describes a single rank (a later one is then not asked). Throws
// InputError naming the variable when one is malformed or inconsistent (RANK >= WORLD_SIZE, ...).
std::optional<World> WorldFromEnvironment(const Environment& env);

// The first host of a Slurm node list: "node[07-09,12],gpu1" -> "node07".
std::string FirstSlurmHost(const std::string& nodelist);

}  // namespace ablate::core
