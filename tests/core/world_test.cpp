// The launchers' table read from a real process environment (setenv, restored after each case),
// against what torchrun's and Slurm's documentation say their variables mean.
#include "core/world.h"

#include <stdlib.h>

#include <catch2/catch.hpp>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "tests/support.h"

namespace ablate::core {
namespace {

// Every variable a launcher reads, cleared for the scope and then restored as it was: the tests
// may themselves run inside a Slurm job or under torchrun.
class LauncherEnvironment {
 public:
  LauncherEnvironment() {
    for (const char* name : kNames)
      cleared_.push_back(std::make_unique<test::ScopedEnv>(name, std::nullopt));
  }

  void Set(const char* name, const std::string& value) { ::setenv(name, value.c_str(), 1); }

 private:
  static constexpr const char* kNames[] = {"WORLD_SIZE",          "RANK",
                                           "LOCAL_RANK",          "LOCAL_WORLD_SIZE",
                                           "MASTER_ADDR",         "MASTER_PORT",
                                           "SLURM_NTASKS",        "SLURM_PROCID",
                                           "SLURM_LOCALID",       "SLURM_JOB_ID",
                                           "SLURM_STEP_ID",       "SLURM_NTASKS_PER_NODE",
                                           "SLURM_NODELIST",      "SLURM_JOB_NODELIST",
                                           "SLURM_TASKS_PER_NODE"};
  std::vector<std::unique_ptr<test::ScopedEnv>> cleared_;
};

std::optional<World> FromProcess() { return WorldFromEnvironment(ProcessEnvironment()); }

// Whether `launcher` says it started this process: its world-size variable is set.
bool Started(const Launcher& launcher) {
  return ProcessEnvironment()(launcher.size_variable).has_value();
}

TEST_CASE("the launchers are asked torchrun first, then Slurm", "[world]") {
  std::vector<std::string> names;
  for (const Launcher& launcher : Launchers()) names.emplace_back(launcher.name);
  CHECK(names == std::vector<std::string>{"torchrun", "slurm"});
}

TEST_CASE("torchrun's variables give the rank, size, local rank and rendezvous", "[world]") {
  LauncherEnvironment env;
  env.Set("WORLD_SIZE", "8");
  env.Set("RANK", "5");
  env.Set("LOCAL_RANK", "1");
  env.Set("LOCAL_WORLD_SIZE", "4");
  env.Set("MASTER_ADDR", "node3");
  env.Set("MASTER_PORT", "29411");
  const auto world = FromProcess();
  REQUIRE(world);
  CHECK(*world == World{5, 8, 1, 4, "node3", 29411, "torchrun"});
  CHECK(Started(Launchers()[0]));
  CHECK_FALSE(Started(Launchers()[1]));
}

TEST_CASE("torchrun without local or rendezvous variables is one node at 127.0.0.1:29500",
          "[world]") {
  LauncherEnvironment env;
  env.Set("WORLD_SIZE", "2");
  env.Set("RANK", "1");
  CHECK(FromProcess() == World{1, 2, 1, 2, "127.0.0.1", 29500, "torchrun"});
}

TEST_CASE("Slurm's variables give the rank, size, local rank and the first node's rendezvous",
          "[world]") {
  LauncherEnvironment env;
  env.Set("SLURM_NTASKS", "6");
  env.Set("SLURM_PROCID", "4");
  env.Set("SLURM_LOCALID", "1");
  env.Set("SLURM_TASKS_PER_NODE", "2(x3)");
  env.Set("SLURM_JOB_NODELIST", "gpu[07-09]");
  env.Set("SLURM_JOB_ID", "1234");
  env.Set("SLURM_STEP_ID", "2");
  const auto world = FromProcess();
  REQUIRE(world);
  // The port is one per job step: 20000 + (1234 * 7 + 2) % 20000.
  CHECK(*world == World{4, 6, 1, 2, "gpu07", 28640, "slurm"});
  CHECK_FALSE(Started(Launchers()[0]));
  CHECK(Started(Launchers()[1]));
}

TEST_CASE("under Slurm, MASTER_ADDR, MASTER_PORT and SLURM_NTASKS_PER_NODE win", "[world]") {
  LauncherEnvironment env;
  env.Set("SLURM_NTASKS", "4");
  env.Set("SLURM_PROCID", "0");
  env.Set("SLURM_LOCALID", "0");
  env.Set("SLURM_NTASKS_PER_NODE", "4");
  env.Set("SLURM_TASKS_PER_NODE", "1(x4)");
  env.Set("SLURM_NODELIST", "cpu1,cpu2");
  env.Set("MASTER_ADDR", "head");
  env.Set("MASTER_PORT", "40000");
  CHECK(FromProcess() == World{0, 4, 0, 4, "head", 40000, "slurm"});
}

TEST_CASE("torchrun's variables win over Slurm's, even when they describe one rank", "[world]") {
  LauncherEnvironment env;
  env.Set("SLURM_NTASKS", "4");
  env.Set("SLURM_PROCID", "3");
  env.Set("SLURM_LOCALID", "3");
  env.Set("SLURM_JOB_NODELIST", "n1");
  env.Set("WORLD_SIZE", "2");
  env.Set("RANK", "0");
  CHECK(FromProcess()->launcher == "torchrun");
  CHECK(FromProcess()->size == 2);
  env.Set("WORLD_SIZE", "1");
  CHECK_FALSE(FromProcess());
}

TEST_CASE("no launcher, or one that started a single rank, is no world", "[world]") {
  LauncherEnvironment env;
  CHECK_FALSE(FromProcess());
  env.Set("SLURM_NTASKS", "1");
  env.Set("SLURM_PROCID", "0");
  CHECK_FALSE(FromProcess());
}

TEST_CASE("a malformed or inconsistent launcher variable is bad input naming it", "[world]") {
  LauncherEnvironment env;
  env.Set("WORLD_SIZE", "2");
  env.Set("RANK", "2");
  CHECK_THROWS_MATCHES(FromProcess(), InputError,
                       Catch::Message("RANK: 2 is not below WORLD_SIZE 2"));
  env.Set("RANK", "one");
  CHECK_THROWS_AS(FromProcess(), InputError);
  ::unsetenv("WORLD_SIZE");
  env.Set("SLURM_NTASKS", "2");
  env.Set("SLURM_PROCID", "1");
  env.Set("SLURM_LOCALID", "0");
  CHECK_THROWS_MATCHES(FromProcess(), InputError,
                       Catch::Message("SLURM_JOB_NODELIST: is not set: cannot find rank 0's host"));
}

TEST_CASE("the first host of a Slurm node list", "[world]") {
  CHECK(FirstSlurmHost("node[07-09,12],gpu1") == "node07");
  CHECK(FirstSlurmHost("a1,b[1-2]") == "a1");
  CHECK(FirstSlurmHost("solo") == "solo");
  CHECK_THROWS_AS(FirstSlurmHost("node[07"), InputError);
}

}  // namespace
}  // namespace ablate::core
