// Data-parallel runs end to end (`ablate train --nproc 2`, and ranks started the way torchrun
// starts them): two Gloo ranks compute what one process computes, a lost rank ends the run
// without a hang, and the resumed run ends on the weights of an uninterrupted one.
#include <signal.h>
#include <sys/wait.h>
#include <torch/torch.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "core/checkpoint.h"
#include "core/collective.h"
#include "core/corpus.h"
#include "core/model.h"
#include "core/trainer.h"
#include "experiments/grid.h"
#include "results/query.h"
#include "runner/local_ranks.h"
#include "tests/support.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

struct Scratch : ablate::test::TempDir {
  fs::path dir = path();
  Scratch() : TempDir("ablate_ddp_") { fs::create_directories(dir / "data"); }
};

// Tiny runs on the small corpus, dropout on (the model's default 0.1), 4 micro-batches an update.
json Config(int steps, int checkpoint_every) {
  return {{"data.corpus", std::string(ABLATE_SOURCE_DIR) + "/tests/data/corpus_small"},
          {"data.tokenizer", "bpe-300"},
          {"data.format", "SEGMENT-PAIR+NSP"},
          {"data.masking", "dynamic"},
          {"data.seq_len", 32},
          {"train.batch_size", 8},
          {"train.micro_batch", 2},
          {"model.layers", 2},
          {"model.hidden", 16},
          {"model.heads", 2},
          {"model.ffn", 32},
          {"optim.lr", 1e-3},
          {"optim.warmup_steps", 4},
          {"train.steps", steps},
          {"train.checkpoint_every", checkpoint_every},
          {"eval.every", 10},
          {"eval.sequences", 16}};
}

int Shell(const std::string& command) {
  const int status = std::system(command.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string Train(const Scratch& s, const std::string& run, const std::string& flags) {
  return std::string(ABLATE_BINARY) + " train --config " + s.File("run.json") + " --db " +
         s.File(run + ".db") + " --run-dir " + s.File(run) + " --data-dir " + s.File("data") +
         " --threads 1 " + flags;
}

// name -> step -> value of every recorded metric point.
std::map<std::string, std::map<int64_t, double>> History(const Scratch& s, const std::string& run) {
  std::map<std::string, std::map<int64_t, double>> out;
  const auto rows = ablate::results::RunReadOnlyQuery(
      s.File(run + ".db"),
      "SELECT name, step, value FROM metrics WHERE name NOT IN ('train/step_seconds', "
      "'train/tokens_per_s')")[0];
  for (const auto& row : rows.rows)
    out[std::get<std::string>(row[0])][std::get<int64_t>(row[1])] = std::get<double>(row[2]);
  return out;
}

double RelativeDifference(double a, double b) {
  return std::abs(a - b) / std::max({std::abs(a), std::abs(b), 1e-12});
}

void CheckSameHistory(const Scratch& s, const std::string& a, const std::string& b) {
  const auto one = History(s, a), two = History(s, b);
  REQUIRE(one.size() == two.size());
  REQUIRE(one.count("train/loss") == 1);
  REQUIRE(one.count("valid/ppl") == 1);
  for (const auto& [name, points] : one) {
    REQUIRE(two.at(name).size() == points.size());
    for (const auto& [step, value] : points) {
      INFO(name << " at step " << step);
      CHECK(RelativeDifference(value, two.at(name).at(step)) <= 1e-5);
    }
  }
}

// Starts `command` (an `ablate train` line) in the background, its output in LOG: its pid.
pid_t StartTrain(const std::string& command, const std::string& log) {
  const pid_t pid = fork();
  if (pid == 0) {
    execl("/bin/sh", "sh", "-c", ("exec " + command + " >" + log + " 2>&1").c_str(),
          static_cast<char*>(nullptr));
    _exit(127);
  }
  return pid;
}

// That a stopped `ablate train` (wait status `status`) exited 130 and left run RUN interrupted,
// its error containing `why`: the next `ablate train` resumes it.
void CheckInterrupted(const Scratch& s, const std::string& run, int status,
                      const std::string& why) {
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 130);
  const auto recorded =
      ablate::results::RunReadOnlyQuery(s.File(run + ".db"), "SELECT status, error FROM runs")[0];
  CHECK(std::get<std::string>(recorded.rows[0][0]) == "interrupted");
  CHECK_THAT(std::get<std::string>(recorded.rows[0][1]), Catch::Contains(why));
}

// The weights of a run directory's final checkpoint.
std::vector<torch::Tensor> Weights(const Scratch& s, const std::string& run) {
  // The model's shape does not depend on the steps.
  auto run_spec = ablate::experiments::LoadRunConfig(Config(20, 5), "run.json");
  auto config = run_spec.config.Pretraining();
  auto prepared =
      ablate::core::PrepareCorpus(s.dir / "data", config.data.corpus, config.data.tokenizer);
  ablate::core::BertModel model(ablate::core::MakeModelOptions(config, prepared.tokenizer));
  auto checkpoint = ablate::core::LatestCheckpoint(s.dir / run);
  REQUIRE(checkpoint);
  ablate::core::LoadModelState(checkpoint->path.string(), *model);
  std::vector<torch::Tensor> out;
  for (const auto& p : model->parameters()) out.push_back(p.detach().clone());
  return out;
}

void CheckSameWeights(const Scratch& s, const std::string& a, const std::string& b,
                      double tolerance) {
  const auto x = Weights(s, a), y = Weights(s, b);
  REQUIRE(x.size() == y.size());
  for (size_t i = 0; i < x.size(); ++i) {
    const double scale = std::max(x[i].abs().max().item<double>(), 1e-12);
    INFO("parameter " << i);
    CHECK((x[i] - y[i]).abs().max().item<double>() / scale <= tolerance);
  }
}

}  // namespace

TEST_CASE("two ranks compute the updates one process computes, dropout on", "[ddp][slow]") {
  Scratch s;
  s.Write("run.json", Config(20, 5).dump());
  REQUIRE(Shell(Train(s, "one", "") + " >/dev/null 2>&1") == 0);
  REQUIRE(Shell(Train(s, "two", "--nproc 2") + " >/dev/null 2>&1") == 0);
  CheckSameHistory(s, "one", "two");
  CheckSameWeights(s, "one", "two", 1e-5);
  // Provenance says how the run was trained.
  const auto two = ablate::results::RunReadOnlyQuery(
      s.File("two.db"), "SELECT world_size, backend, ranks_per_node FROM runs")[0];
  REQUIRE(two.rows.size() == 1);
  CHECK(std::get<int64_t>(two.rows[0][0]) == 2);
  CHECK(std::get<std::string>(two.rows[0][1]) == "gloo");
  CHECK(std::get<int64_t>(two.rows[0][2]) == 2);
  const auto one = ablate::results::RunReadOnlyQuery(s.File("one.db"),
                                                     "SELECT world_size, backend FROM runs")[0];
  CHECK(std::get<int64_t>(one.rows[0][0]) == 1);
  CHECK(std::get<std::string>(one.rows[0][1]) == "none");
}

TEST_CASE("ranks started as torchrun starts them train one run together", "[ddp][slow]") {
  Scratch s;
  s.Write("run.json", Config(10, 0).dump());
  REQUIRE(Shell(Train(s, "one", "") + " >/dev/null 2>&1") == 0);
  const std::string env = "WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=" +
                          std::to_string(ablate::runner::FreeLocalPort()) + " ";
  // Rank 1 first, in the background: it waits for rank 0's store. It writes to no database.
  const int code =
      Shell("(" + env + "RANK=1 LOCAL_RANK=1 " + Train(s, "env", "") + " >/dev/null 2>&1 & " + env +
            "RANK=0 LOCAL_RANK=0 " + Train(s, "env", "") + " >/dev/null 2>&1; r=$?; wait $!; " +
            "exit $(( r + $? )))");
  CHECK(code == 0);
  CheckSameHistory(s, "one", "env");
  CheckSameWeights(s, "one", "env", 1e-5);
  // A rank number at or past the world size is refused, naming the variable.
  CHECK(Shell("WORLD_SIZE=2 RANK=2 " + Train(s, "bad", "") + " 2>" + s.File("err")) == 2);
  std::ifstream err(s.File("err"));
  std::string text((std::istreambuf_iterator<char>(err)), {});
  CHECK_THAT(text, Catch::Contains("RANK") && Catch::Contains("WORLD_SIZE"));
}

TEST_CASE("a rank killed mid-run ends the run, which resumes to the uninterrupted weights",
          "[ddp][slow]") {
  Scratch s;
  s.Write("run.json", Config(60, 5).dump());
  REQUIRE(Shell(Train(s, "straight", "--nproc 2") + " >/dev/null 2>&1") == 0);

  // The same run, with rank 1 killed once a checkpoint exists.
  const pid_t rank0 =
      StartTrain(Train(s, "killed", "--nproc 2 --rank-timeout 30"), s.File("killed.log"));
  const auto started = std::chrono::steady_clock::now();
  while (!fs::exists(s.dir / "killed" / "checkpoint.json") &&
         std::chrono::steady_clock::now() - started < std::chrono::seconds(60)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  REQUIRE(fs::exists(s.dir / "killed" / "checkpoint.json"));
  REQUIRE(Shell("pkill -KILL -P " + std::to_string(rank0)) == 0);  // its only child: rank 1
  const auto killed = std::chrono::steady_clock::now();
  int status = 0;
  waitpid(rank0, &status, 0);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - killed).count();
  CHECK(seconds < 30);  // the survivor noticed, rather than waiting out the timeout
  CheckInterrupted(s, "killed", status, "rank 1");

  // Resumed with 2 ranks: the uninterrupted run's weights. With 1 rank: refused, saying why.
  CHECK(Shell(Train(s, "killed", "--nproc 1") + " >/dev/null 2>" + s.File("err")) == 2);
  std::ifstream err(s.File("err"));
  std::string text((std::istreambuf_iterator<char>(err)), {});
  CHECK_THAT(text, Catch::Contains("2 rank(s)") && Catch::Contains("--nproc"));
  REQUIRE(Shell(Train(s, "killed", "--nproc 2") + " >/dev/null 2>&1") == 0);
  CheckSameWeights(s, "straight", "killed", 0);
}

TEST_CASE("waiting for ranks that never come ends when the caller gives up, with its reason",
          "[ddp]") {
  ablate::core::World world;
  world.rank = 0;
  world.size = 2;
  world.local_size = 2;
  world.master_addr = "127.0.0.1";
  world.master_port = ablate::runner::FreeLocalPort();
  ablate::core::CollectiveOptions options;
  options.timeout = std::chrono::seconds(120);
  int asked = 0;
  options.give_up = [&]() -> std::string { return ++asked < 5 ? "" : "rank 1 exited with code 3"; };
  try {
    ablate::core::JoinWorld(world, options);
    FAIL("joined a world of 2 with one rank");
  } catch (const ablate::core::RankLost& e) {
    CHECK_THAT(e.what(), Catch::Contains("rank 1 exited with code 3"));
  }
  CHECK(asked == 5);
}

TEST_CASE("a local rank that exits before the others join is seen at once, and waited for once",
          "[ddp]") {
  Scratch s;
  // The children run this test binary, which exits at once on train's arguments (Catch refuses
  // them), as a rank with a bad configuration would.
  ablate::runner::LocalRanks ranks(2, {s.dir / "run.json", s.dir / "run", s.dir / "data"});
  std::string exited;
  for (int i = 0; i < 3000 && exited.empty(); ++i) {
    exited = ranks.Exited();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  CHECK_THAT(exited, Catch::StartsWith("rank 1 exited with code "));
  CHECK(exited != "rank 1 exited with code 0");
  // Reaped while polling, it is still reported by Wait(), not taken for a clean exit.
  CHECK(ranks.Wait() == exited);
}

TEST_CASE("a stop while rank 0 waits for its peers interrupts the run without waiting them out",
          "[ddp][slow]") {
  Scratch s;
  s.Write("run.json", Config(10, 0).dump());
  // Rank 0 of 2, started as torchrun starts it; rank 1 never comes.
  const std::string env = "WORLD_SIZE=2 RANK=0 LOCAL_RANK=0 MASTER_ADDR=127.0.0.1 MASTER_PORT=" +
                          std::to_string(ablate::runner::FreeLocalPort()) + " ";
  const pid_t rank0 =
      StartTrain("env " + env + Train(s, "alone", "--rank-timeout 120"), s.File("alone.log"));
  // Once it has recorded its start, it is waiting for rank 1 (or about to).
  auto status_of = [&]() -> std::string {
    try {
      const auto rows =
          ablate::results::RunReadOnlyQuery(s.File("alone.db"), "SELECT status FROM runs")[0];
      return rows.rows.empty() ? "" : std::get<std::string>(rows.rows[0][0]);
    } catch (const std::exception&) {
      return "";  // not created yet
    }
  };
  for (int i = 0; i < 3000 && status_of() != "running"; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  REQUIRE(status_of() == "running");
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  kill(rank0, SIGTERM);
  int status = 0;
  waitpid(rank0, &status, 0);
  std::ifstream log(s.File("alone.log"));
  INFO(std::string((std::istreambuf_iterator<char>(log)), {}));
  // Interrupted, not failed after the 120 s timeout.
  CheckInterrupted(s, "alone", status, "ranks gathered");
}
