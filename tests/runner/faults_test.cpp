// Faults injected into real runs. A disk that fills (a file-size limit, ulimit -f) while a
// checkpoint or a report is written: the run fails saying which file and why, the checkpoints and
// the database stay whole, and once there is room again the run resumes and ends where an
// uninterrupted run ends. SIGKILL at random moments of a grid with two workers: running the grid
// again completes every run once, with every step once and the uninterrupted run's numbers.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>
#include <vector>

#include "results/query.h"
#include "tests/support.h"

namespace fs = std::filesystem;

namespace {

using ablate::test::Shell;

// An `ablate train` config on the small corpus with a 300-unit BPE, FULL-SENTENCES: `settings`
// (a JSON object) over lr 1e-3 with 2 warm-up steps.
std::string RunConfig(const std::string& settings) {
  nlohmann::json run = {
      {"data.tokenizer", "bpe-300"},
      {"data.format", "FULL-SENTENCES"},
      {"data.corpus", std::string(ABLATE_SOURCE_DIR) + "/tests/data/corpus_small"},
      {"optim.lr", 0.001},
      {"optim.warmup_steps", 2}};
  run.update(nlohmann::json::parse(settings));
  return run.dump();
}

// A run whose checkpoints (about 4 MB: model and AdamW moments) are larger than its database.
const std::string kRun = RunConfig(R"({"data.seq_len": 32, "train.batch_size": 4,
  "train.steps": 40, "train.checkpoint_every": 5, "model.layers": 2, "model.hidden": 128,
  "model.heads": 2, "model.ffn": 256, "eval.every": 0, "eval.sequences": 8})");

}  // namespace

TEST_CASE("a disk that fills while a checkpoint is written loses nothing, and the run resumes",
          "[faults][slow]") {
  ablate::test::TempDir dir;
  dir.Write("run.json", kRun);
  auto train = [&](const std::string& db, const std::string& run_dir) {
    return std::string(ABLATE_BINARY) + " train --config " + dir.File("run.json") + " --db " +
           dir.File(db) + " --run-dir " + dir.File(run_dir) + " --data-dir " + dir.File("data") +
           " --threads 1";
  };
  REQUIRE(Shell(train("straight.db", "straight")).code == 0);

  // Stopped after its first checkpoint (SIGTERM checkpoints and stops).
  const pid_t child = fork();
  if (child == 0) {
    execl("/bin/sh", "sh", "-c", ("exec " + train("r.db", "run") + " >/dev/null 2>&1").c_str(),
          static_cast<char*>(nullptr));
    _exit(127);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!fs::exists(dir / "run" / "checkpoint.json") &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  kill(child, SIGTERM);
  int status = 0;
  waitpid(child, &status, 0);
  REQUIRE(WEXITSTATUS(status) == 130);
  std::ifstream pointer(dir / "run" / "checkpoint.json");
  const std::string before((std::istreambuf_iterator<char>(pointer)), {});

  // The disk "fills": no file may grow past 3 MB, less than a checkpoint.
  const auto full = Shell("bash -c 'ulimit -f 3000; exec " + train("r.db", "run") + "'");
  INFO(full.out);
  CHECK(full.code == 1);
  CHECK_THAT(full.out, Catch::Contains("cannot write checkpoint") &&
                           Catch::Contains("checkpoint-") && Catch::Contains("File too large"));
  // The checkpoint it resumed from is as it was, and no half-written file is left.
  std::ifstream after_pointer(dir / "run" / "checkpoint.json");
  CHECK(std::string((std::istreambuf_iterator<char>(after_pointer)), {}) == before);
  for (const auto& e : fs::directory_iterator(dir / "run")) CHECK(e.path().extension() != ".tmp");
  const auto db = Shell("sqlite3 " + dir.File("r.db") +
                        " 'PRAGMA integrity_check; SELECT status, error FROM runs'");
  CHECK_THAT(db.out, Catch::StartsWith("ok\nfailed|cannot write checkpoint"));

  // Room again: it resumes and ends on the uninterrupted run's numbers.
  REQUIRE(Shell(train("r.db", "run")).code == 0);
  const std::string finals = "SELECT name, value FROM final_metrics ORDER BY name";
  const auto ours = Shell("sqlite3 " + dir.File("r.db") + " '" + finals + "'");
  const auto theirs = Shell("sqlite3 " + dir.File("straight.db") + " '" + finals + "'");
  CHECK(ours.out == theirs.out);
  CHECK_THAT(ours.out, Catch::Contains("valid/ppl|"));
}

TEST_CASE("a disk that fills while metrics are written fails the run whole, and it resumes",
          "[faults][slow]") {
  ablate::test::TempDir dir;
  // A model small enough that its checkpoints (170 KB) fit under the limit below and the
  // database's write-ahead log, which grows with every flush of metric points, does not.
  dir.Write("run.json", RunConfig(R"({"data.seq_len": 32, "train.batch_size": 4,
    "train.steps": 60, "train.checkpoint_every": 10, "model.layers": 2, "model.hidden": 16,
    "model.heads": 2, "model.ffn": 32, "eval.every": 10, "eval.sequences": 8})"));
  auto train = [&](const std::string& db, const std::string& run_dir) {
    return std::string(ABLATE_BINARY) + " train --config " + dir.File("run.json") + " --db " +
           dir.File(db) + " --run-dir " + dir.File(run_dir) + " --data-dir " + dir.File("data") +
           " --threads 1";
  };
  REQUIRE(Shell(train("straight.db", "straight")).code == 0);

  // No file may grow past 1000 KB: the log of the database's writes outgrows it.
  const auto full = Shell("bash -c 'ulimit -f 1000; exec " + train("r.db", "run") + "'");
  INFO(full.out);
  CHECK(full.code == 1);
  CHECK_THAT(full.out, Catch::Contains("disk I/O error") && Catch::Contains(dir.File("r.db")));
  CHECK(Shell("sqlite3 " + dir.File("r.db") + " 'PRAGMA integrity_check'").out == "ok\n");

  // Room again: the same command takes the run up (its process is gone), resumes from a whole
  // checkpoint and ends on the uninterrupted run's numbers, with every step recorded once.
  const auto again = Shell(train("r.db", "run"));
  INFO(again.out);
  REQUIRE(again.code == 0);
  CHECK_THAT(again.out, !Catch::Contains("damaged"));
  const std::string finals = "SELECT name, value FROM final_metrics ORDER BY name";
  CHECK(Shell("sqlite3 " + dir.File("r.db") + " '" + finals + "'").out ==
        Shell("sqlite3 " + dir.File("straight.db") + " '" + finals + "'").out);
  CHECK(Shell("sqlite3 " + dir.File("r.db") +
              " \"SELECT COUNT(*), COUNT(DISTINCT step) FROM metrics WHERE name = 'train/loss'\"")
            .out == "60|60\n");
}

TEST_CASE("a report that cannot be written names the file and leaves no partial one", "[faults]") {
  ablate::test::TempDir dir;
  dir.Write("g.json", R"({"name": "g", "axes": {"seed": [1, 2, 3]}})");
  REQUIRE(Shell(std::string(ABLATE_BINARY) + " submit " + dir.File("g.json") + " --db " +
                dir.File("r.db"))
              .code == 0);
  dir.Write("spec.json", R"({"tables": [{"id": "t", "runs": {"experiment": "g"},
    "rows": {"by": "seed"}, "columns": [{"label": "ppl", "metric": "valid/ppl"}]}]})");
  // 40 KB (bash counts KB): room for SQLite's files, not for the page (its charting library
  // alone is 50 KB).
  const auto written = Shell("bash -c 'ulimit -f 40; exec " + std::string(ABLATE_BINARY) +
                             " report " + dir.File("spec.json") + " --db " + dir.File("r.db") +
                             " --format html -o " + dir.File("out.html") + "'");
  INFO(written.out);
  CHECK(written.code != 0);
  CHECK_THAT(written.out, Catch::Contains("out.html") && Catch::Contains("File too large"));
  CHECK_FALSE(fs::exists(dir / "out.html"));
  for (const auto& e : fs::directory_iterator(dir.path()))
    CHECK(e.path().filename().string().find("out.html") == std::string::npos);
}

TEST_CASE("a micro-batch that cannot fit in memory is refused at once, and 0 picks one that fits",
          "[faults][memory]") {
  ablate::test::TempDir dir;
  dir.Write("run.json", RunConfig(R"({"data.seq_len": 512, "train.batch_size": 64,
    "train.steps": 2, "train.checkpoint_every": 0, "model.layers": 4, "model.hidden": 256,
    "model.heads": 4, "model.ffn": 1024, "optim.warmup_steps": 1, "eval.every": 0,
    "eval.sequences": 8})"));
  // 4 GB of address space: 64 sequences of 512 tokens need about 5 GB of activations.
  auto train = [&](const std::string& flags) {
    return Shell("bash -c 'ulimit -v 4000000; exec " + std::string(ABLATE_BINARY) +
                 " train --config " + dir.File("run.json") + " --db " + dir.File("r.db") +
                 " --data-dir " + dir.File("data") + " --run-dir " + dir.File("run") +
                 " --threads 1 " + flags + "'");
  };
  const auto refused = train("--set train.micro_batch=64");
  INFO(refused.out);
  CHECK(refused.code == 2);
  CHECK_THAT(refused.out,
             Catch::Contains("train.micro_batch") && Catch::Contains("64 sequences need about"));
  const auto chosen = train("");
  INFO(chosen.out);
  REQUIRE(chosen.code == 0);
  CHECK_THAT(chosen.out, Catch::Contains("chosen to fit"));
  const auto recorded = Shell("sqlite3 " + dir.File("r.db") +
                              " \"SELECT value FROM final_metrics WHERE name = "
                              "'train/micro_batch' ORDER BY run_id DESC LIMIT 1\"");
  const double micro = std::stod(recorded.out);
  CHECK(micro >= 1);
  CHECK(micro < 32);  // the old rule's 16K tokens would be 32 sequences: too many here
}

namespace {

// A small grid that pretrains and fine-tunes: 4 runs, 2 workers, checkpoints every 8 steps,
// fine-tuning units of 2 seeds on the SST-2 fixture.
std::string KillGrid(const std::string& name) {
  return R"({"name": ")" + name + R"(", "base": {
      "data": {"corpus": ")" +
         std::string(ABLATE_SOURCE_DIR) + R"(/tests/data/corpus_small",
               "tokenizer": "bpe-300", "format": "FULL-SENTENCES", "seq_len": 32},
      "model": {"layers": 2, "hidden": 16, "heads": 2, "ffn": 32},
      "train": {"batch_size": 4, "steps": 96, "checkpoint_every": 8},
      "optim": {"lr": 1e-3, "warmup_steps": 2},
      "eval": {"every": 0, "sequences": 16, "tasks": "sst=sst2:)" +
         std::string(ABLATE_SOURCE_DIR) +
         R"(/tests/data/tasks/sst2", "lrs": "1e-3", "epochs": 2, "seeds": 2, "batch_size": 2}},
    "axes": {"data.masking": ["static", "dynamic"], "seed": [1, 2]}})";
}

// Starts `command` in a process group of its own, so that the whole group can be killed at once
// (the machine losing power) or one worker alone.
pid_t StartGroup(const std::string& command) {
  const pid_t child = fork();
  if (child == 0) {
    setpgid(0, 0);
    execl("/bin/sh", "sh", "-c", ("exec " + command + " >/dev/null 2>&1").c_str(),
          static_cast<char*>(nullptr));
    _exit(127);
  }
  setpgid(child, child);
  return child;
}

// The train/loss points the grid has recorded so far (0 before there is a database).
int64_t StepsRecorded(const std::string& db) {
  if (!fs::exists(db)) return 0;
  try {
    const auto rows = ablate::results::RunReadOnlyQuery(
                          db, "SELECT COUNT(*) FROM metrics WHERE name = 'train/loss'")
                          .at(0)
                          .rows;
    return std::get<int64_t>(rows.at(0).at(0));
  } catch (const std::exception&) {
    return 0;  // the schema is being created
  }
}

std::vector<pid_t> Children(pid_t parent) {
  std::ifstream in("/proc/" + std::to_string(parent) + "/task/" + std::to_string(parent) +
                   "/children");
  std::vector<pid_t> out;
  for (pid_t pid; in >> pid;) out.push_back(pid);
  return out;
}

}  // namespace

TEST_CASE("SIGKILL at random moments in 20 trials loses and repeats nothing", "[faults][slow]") {
  ablate::test::TempDir dir;
  dir.Write("g.json", KillGrid("killed"));
  dir.Write("ref.json", KillGrid("reference"));
  auto ablate = [&](const std::string& grid, const std::string& db, const std::string& runs) {
    return std::string(ABLATE_BINARY) + " run " + dir.File(grid) + " --db " + dir.File(db) +
           " --jobs 2 --threads 1 --data-dir " + dir.File("data") + " --runs-dir " + dir.File(runs);
  };
  // The uninterrupted grid, and its numbers.
  REQUIRE(Shell(ablate("ref.json", "ref.db", "ref-runs")).code == 0);
  const std::string finals =
      "SELECT r.key, f.name, f.value FROM final_metrics f JOIN runs r ON r.id = f.run_id "
      "ORDER BY 1, 2";
  const auto reference = Shell("sqlite3 " + dir.File("ref.db") + " \"" + finals + "\"");
  REQUIRE(reference.out.find("eval/sst/acc") != std::string::npos);

  std::mt19937 random(20261130);
  int interrupted = 0;
  for (int trial = 0; trial < 20; ++trial) {
    const std::string db = "t" + std::to_string(trial) + ".db";
    const std::string runs = "t" + std::to_string(trial) + "-runs";
    // Half the trials lose the whole machine, half one worker while the other goes on.
    const bool whole = trial % 2 == 0;
    // A random moment: once the workers have recorded a random share of the grid's 384 steps
    // (0 to all of them: before any claim, mid-run, at a checkpoint, during fine-tuning).
    const int64_t target = std::uniform_int_distribution<int64_t>(0, 4 * 96)(random);
    INFO("trial " << trial << ": SIGKILL to " << (whole ? "every process" : "one worker")
                  << " after " << target << " of 384 steps");
    const pid_t group = StartGroup(ablate("g.json", db, runs));
    for (int i = 0; i < 6000 && StepsRecorded(dir.File(db)) < target; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    if (whole) {
      kill(-group, SIGKILL);
    } else {
      const auto workers = Children(group);
      if (!workers.empty()) kill(workers[random() % workers.size()], SIGKILL);
    }
    int status = 0;
    waitpid(group, &status, 0);
    if (whole) kill(-group, SIGKILL);  // nothing of the group outlives the "power cut"

    const auto before = Shell("sqlite3 " + dir.File(db) +
                              " \"SELECT COUNT(*) FROM runs WHERE status = 'completed'\"");

    // Running the grid again finishes it.
    const auto again = Shell(ablate("g.json", db, runs));
    INFO(again.out);
    REQUIRE(again.code == 0);
    auto sql = [&](const std::string& query) {
      return Shell("sqlite3 " + dir.File(db) + " \"" + query + "\"").out;
    };
    CHECK(sql("PRAGMA integrity_check") == "ok\n");
    // Every run once, completed.
    CHECK(sql("SELECT COUNT(*), COUNT(DISTINCT key), SUM(status = 'completed') FROM runs") ==
          "4|4|4\n");
    // Every step of every run once: no gap, no duplicate.
    CHECK(sql("SELECT COUNT(*) FROM (SELECT run_id, COUNT(*) n, COUNT(DISTINCT step) d, MIN(step) "
              "lo, MAX(step) hi FROM metrics WHERE name = 'train/loss' GROUP BY run_id) WHERE n = "
              "96 AND d = 96 AND lo = 1 AND hi = 96") == "4\n");
    // And the same final metrics as the uninterrupted grid, every one of them: pretraining and
    // fine-tuning scores, and the training totals even of a run resumed at its last step.
    CHECK(sql(finals) == reference.out);
    // The kill cut into the grid's work: runs were left unfinished, or one was run again (the
    // other worker of a one-worker kill finishes the grid, its dead peer's run included).
    if (before.out != "4\n" || sql("SELECT SUM(attempts) FROM runs") != "4\n") ++interrupted;
  }
  // The kills fall inside the grid's work.
  CHECK(interrupted >= 15);
}
