#include "core/world.h"

#include <cstdlib>

#include "base/error.h"

namespace ablate::core {
namespace {

int ParseCount(const Environment& env, const std::string& name, int min) {
  const std::string text = env(name).value_or("");
  char* end = nullptr;
  const long value = std::strtol(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || value < min || value > 1000000) {
    throw InputError(
        "", name,
        "\"" + text + "\" is not a count: expected an integer of at least " + std::to_string(min));
  }
  return static_cast<int>(value);
}

void CheckRank(const World& w, const std::string& rank_name, const std::string& size_name) {
  if (w.rank >= w.size) {
    throw InputError(
        "", rank_name,
        std::to_string(w.rank) + " is not below " + size_name + " " + std::to_string(w.size));
  }
}

}  // namespace

Environment ProcessEnvironment() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

std::string FirstSlurmHost(const std::string& nodelist) {
  const size_t bracket = nodelist.find('[');
  const size_t comma = nodelist.find(',');
  if (bracket == std::string::npos || (comma != std::string::npos && comma < bracket)) {
    return nodelist.substr(0, comma);
  }
  const std::string prefix = nodelist.substr(0, bracket);
  const size_t end = nodelist.find_first_of(",-]", bracket + 1);
  if (end == std::string::npos)
    throw InputError("", "SLURM_JOB_NODELIST", "unclosed [ in " + nodelist);
  return prefix + nodelist.substr(bracket + 1, end - bracket - 1);
}

namespace {

void TorchrunRest(const Environment& env, World& w) {
  w.local_rank = env("LOCAL_RANK") ? ParseCount(env, "LOCAL_RANK", 0) : w.rank;
  w.local_size = env("LOCAL_WORLD_SIZE") ? ParseCount(env, "LOCAL_WORLD_SIZE", 1) : w.size;
  w.master_addr = env("MASTER_ADDR").value_or("127.0.0.1");
  w.master_port = env("MASTER_PORT") ? ParseCount(env, "MASTER_PORT", 1) : 29500;
}

void SlurmRest(const Environment& env, World& w) {
  w.local_rank = ParseCount(env, "SLURM_LOCALID", 0);
  // "2(x3),1": the tasks on each node; this node's count is what local ranks need.
  w.local_size = w.size;
  if (auto per_node = env("SLURM_NTASKS_PER_NODE")) {
    w.local_size = std::atoi(per_node->c_str()) > 0 ? std::atoi(per_node->c_str()) : w.size;
  } else if (auto per_node_list = env("SLURM_TASKS_PER_NODE")) {
    w.local_size =
        std::atoi(per_node_list->c_str()) > 0 ? std::atoi(per_node_list->c_str()) : w.size;
  }
  const std::string nodes = env("SLURM_JOB_NODELIST").value_or(env("SLURM_NODELIST").value_or(""));
  if (nodes.empty()) {
    throw InputError("", "SLURM_JOB_NODELIST", "is not set: cannot find rank 0's host");
  }
  w.master_addr = env("MASTER_ADDR").value_or(FirstSlurmHost(nodes));
  if (env("MASTER_PORT")) {
    w.master_port = ParseCount(env, "MASTER_PORT", 1);
  } else {
    // One port per job step, so two jobs sharing a node do not meet each other.
    const long job = std::atol(env("SLURM_JOB_ID").value_or("0").c_str());
    const long step = std::atol(env("SLURM_STEP_ID").value_or("0").c_str());
    w.master_port = 20000 + static_cast<int>((job * 7 + step) % 20000);
  }
}

}  // namespace

const std::vector<Launcher>& Launchers() {
  static const std::vector<Launcher> launchers = {
      {"torchrun", "WORLD_SIZE", "RANK", TorchrunRest},
      {"slurm", "SLURM_NTASKS", "SLURM_PROCID", SlurmRest},
  };
  return launchers;
}

std::optional<World> WorldFromEnvironment(const Environment& env) {
  for (const Launcher& launcher : Launchers()) {
    if (!env(launcher.size_variable)) continue;
    World w;
    w.size = ParseCount(env, launcher.size_variable, 1);
    if (w.size == 1) return std::nullopt;
    w.rank = ParseCount(env, launcher.rank_variable, 0);
    CheckRank(w, launcher.rank_variable, launcher.size_variable);
    launcher.read_rest(env, w);
    w.launcher = launcher.name;
    return w;
  }
  return std::nullopt;
}

}  // namespace ablate::core
