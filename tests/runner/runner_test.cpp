// `ablate run` and `ablate worker` end to end on a small real-text corpus: several workers on one
// database, a worker killed mid-run, runs that fail or diverge, and the fine-tuning stage.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "results/query.h"
#include "results/store.h"
#include "tests/support.h"

namespace fs = std::filesystem;

namespace {

struct Scratch : ablate::test::TempDir {
  fs::path dir = path();
  Scratch() : TempDir("ablate_runner_") { fs::create_directories(dir / "data"); }
  std::string Path(const std::string& name) const { return File(name); }
};

// A grid of tiny runs on the small corpus with a 300-unit BPE: no downloads, a second or so each.
std::string Grid(const std::string& name, const std::string& axes, int steps,
                 int checkpoint_every) {
  return R"({"name": ")" + name + R"(", "base": {
      "data": {"corpus": ")" +
         std::string(ABLATE_SOURCE_DIR) + R"(/tests/data/corpus_small",
               "tokenizer": "bpe-300", "format": "FULL-SENTENCES", "seq_len": 32},
      "model": {"layers": 2, "hidden": 16, "heads": 2, "ffn": 32},
      "train": {"batch_size": 4, "steps": )" +
         std::to_string(steps) + R"(, "checkpoint_every": )" + std::to_string(checkpoint_every) +
         R"(},
      "optim": {"lr": 1e-3, "warmup_steps": 2}, "eval": {"every": 0, "sequences": 16}},
    "axes": )" +
         axes + "}";
}

int Shell(const std::string& command) {
  int status = std::system(command.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string Ablate(const Scratch& s, const std::string& args) {
  return std::string(ABLATE_BINARY) + " " + args + " --data-dir " + s.Path("data") +
         " --runs-dir " + s.Path("runs");
}

ablate::results::ResultSet Query(const Scratch& s, const std::string& sql) {
  return ablate::results::RunReadOnlyQuery(s.Path("r.db"), sql).at(0);
}

int64_t Int(const ablate::results::Value& v) { return std::get<int64_t>(v); }

std::string Slurp(const fs::path& p) {
  std::ifstream in(p);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

TEST_CASE("three workers on one database run twelve runs exactly once", "[runner][slow]") {
  Scratch s;
  s.Write("g.json",
          Grid("twelve", R"({"optim.lr": [1e-3, 2e-3, 3e-3], "seed": [1, 2, 3, 4]})", 6, 0));
  // Prepare the corpus once so the workers race on runs, not on building the shards.
  REQUIRE(Shell(std::string(ABLATE_BINARY) + " data prepare --corpus " + ABLATE_SOURCE_DIR +
                "/tests/data/corpus_small --tokenizer bpe-300 --data-dir " + s.Path("data") +
                " >/dev/null 2>&1") == 0);
  REQUIRE(Shell(std::string(ABLATE_BINARY) + " submit " + s.Path("g.json") + " --db " +
                s.Path("r.db") + " >/dev/null") == 0);
  std::string worker = Ablate(s, "worker --db " + s.Path("r.db"));
  int code = Shell("(" + worker + " 2>" + s.Path("w1.err") + " & " + worker + " 2>" +
                   s.Path("w2.err") + " & " + worker + " 2>" + s.Path("w3.err") + " & wait)");
  REQUIRE(code == 0);
  auto runs = Query(s, "SELECT status, attempts, COUNT(*) FROM runs GROUP BY status, attempts");
  REQUIRE(runs.rows.size() == 1);
  CHECK(std::get<std::string>(runs.rows[0][0]) == "completed");
  CHECK(Int(runs.rows[0][1]) == 1);  // nobody ran a run twice
  CHECK(Int(runs.rows[0][2]) == 12);
  auto steps = Query(s, "SELECT COUNT(*) FROM metrics WHERE name = 'train/loss'");
  CHECK(Int(steps.rows[0][0]) == 12 * 6);
  for (const char* err : {"w1.err", "w2.err", "w3.err"}) {
    CHECK(Slurp(s.dir / err).find("locked") == std::string::npos);
  }
  // Running the grid again finds nothing to do.
  CHECK(Shell(Ablate(s, "run " + s.Path("g.json") + " --db " + s.Path("r.db")) + " >" +
              s.Path("again.out") + " 2>&1") == 0);
  CHECK(Slurp(s.dir / "again.out").find("12 runs (0 new)") != std::string::npos);
}

TEST_CASE("a worker killed mid-run is requeued and resumes from its checkpoint", "[runner][slow]") {
  Scratch s;
  const int kSteps = 60;
  s.Write("g.json", Grid("killed", R"({"seed": [7]})", kSteps, 10));
  s.Write("ref.json", Grid("reference", R"({"seed": [7]})", kSteps, 10));
  REQUIRE(Shell(Ablate(s, "run " + s.Path("ref.json") + " --db " + s.Path("ref.db")) +
                " >/dev/null 2>&1") == 0);

  REQUIRE(Shell(std::string(ABLATE_BINARY) + " submit " + s.Path("g.json") + " --db " +
                s.Path("r.db") + " >/dev/null") == 0);
  pid_t child = fork();
  if (child == 0) {
    std::string cmd = Ablate(s, "worker --db " + s.Path("r.db")) + " >/dev/null 2>&1";
    execl("/bin/sh", "sh", "-c", ("exec " + cmd).c_str(), nullptr);
    _exit(127);
  }
  // Wait for the first checkpoint, then kill -9 the worker in the middle of the run.
  bool checkpointed = false;
  for (int i = 0; i < 600 && !checkpointed; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (!fs::exists(s.dir / "r.db")) continue;
    auto rows = Query(s, "SELECT COUNT(*) FROM artifacts WHERE kind = 'checkpoint' AND step >= 10");
    checkpointed = Int(rows.rows[0][0]) > 0;
  }
  REQUIRE(checkpointed);
  ::kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
  auto mid = Query(s, "SELECT status, MAX(m.step) FROM runs r JOIN metrics m ON m.run_id = r.id");
  CHECK(std::get<std::string>(mid.rows[0][0]) == "running");
  CHECK(Int(mid.rows[0][1]) < kSteps);

  // A new worker on the same host sees the dead pid, requeues the run and resumes it.
  REQUIRE(Shell(Ablate(s, "worker --db " + s.Path("r.db")) + " >/dev/null 2>" + s.Path("w.err")) ==
          0);
  auto done = Query(s, "SELECT status, attempts FROM runs");
  CHECK(std::get<std::string>(done.rows[0][0]) == "completed");
  CHECK(Int(done.rows[0][1]) == 2);
  CHECK(Slurp(s.dir / "w.err").find("resuming from") != std::string::npos);
  // The history has every step once: no gap, no duplicate.
  auto history = Query(s,
                       "SELECT COUNT(*), COUNT(DISTINCT step), MIN(step), MAX(step) FROM metrics "
                       "WHERE name = 'train/loss'");
  CHECK(Int(history.rows[0][0]) == kSteps);
  CHECK(Int(history.rows[0][1]) == kSteps);
  CHECK(Int(history.rows[0][2]) == 1);
  CHECK(Int(history.rows[0][3]) == kSteps);
  // And it ends where an uninterrupted run ends (same key: same parameters, same seed).
  auto final_loss = [&](const std::string& db) {
    return std::get<double>(
        ablate::results::RunReadOnlyQuery(
            s.Path(db), "SELECT value FROM final_metrics WHERE name = 'valid/loss'")
            .at(0)
            .rows.at(0)
            .at(0));
  };
  CHECK(final_loss("r.db") == final_loss("ref.db"));
  auto key = std::get<std::string>(Query(s, "SELECT key FROM runs").rows[0][0]);
  CHECK(Slurp(s.dir / "runs" / "killed" / key / "checkpoint.json") ==
        Slurp(s.dir / "runs" / "reference" / key / "checkpoint.json"));
}

TEST_CASE("a run that fails or diverges is recorded and the grid carries on", "[runner][slow]") {
  Scratch s;
  s.Write("g.json", Grid("mixed", R"({"optim.lr": [1e-3]})", 30, 0));
  // Decoupled weight decay with lr x decay = 100 multiplies the weights by -99 each update: they
  // overflow within the 30 steps. A third run's corpus does not exist: it fails when it starts.
  std::string grid = Slurp(s.dir / "g.json");
  grid.insert(grid.rfind('}'), R"(, "include": [{"optim.lr": 10, "optim.weight_decay": 10},
                                                {"data.corpus": "/nonexistent/corpus"}])");
  s.Write("g.json", grid);
  int code =
      Shell(Ablate(s, "run " + s.Path("g.json") + " --db " + s.Path("r.db")) + " >/dev/null 2>&1");
  CHECK(code == 1);  // a failed run makes `ablate run` exit 1, after the others ran
  auto rows =
      Query(s,
            "SELECT r.status, r.error, p.value FROM runs r JOIN params p ON p.run_id = r.id "
            "AND p.name = 'optim.lr' ORDER BY r.id");
  REQUIRE(rows.rows.size() == 3);
  CHECK(std::get<std::string>(rows.rows[0][0]) == "completed");
  CHECK(std::get<std::string>(rows.rows[1][0]) == "diverged");
  CHECK_THAT(std::get<std::string>(rows.rows[1][1]), Catch::Contains("at step"));
  CHECK(std::get<std::string>(rows.rows[2][0]) == "failed");
  CHECK_THAT(std::get<std::string>(rows.rows[2][1]), Catch::Contains("/nonexistent/corpus"));
}

TEST_CASE("a run fine-tunes on eval.tasks after pretraining, and a resumed run does not again",
          "[runner][slow]") {
  Scratch s;
  // Two seeds of two epochs on the three-sentence SST-2 fixture: the plumbing, not the score.
  std::string grid = Grid("evaluated", R"({"seed": [5]})", 6, 0);
  const std::string eval = R"("eval": {"every": 0, "sequences": 16})";
  grid.replace(grid.find(eval), eval.size(),
               R"("eval": {"every": 0, "sequences": 16, "tasks": "sst=sst2:)" +
                   std::string(ABLATE_SOURCE_DIR) +
                   R"(/tests/data/tasks/sst2", "lrs": "1e-3", "epochs": 2, "seeds": 2,
                               "batch_size": 2})");
  s.Write("g.json", grid);
  REQUIRE(Shell(Ablate(s, "run " + s.Path("g.json") + " --db " + s.Path("r.db")) +
                " >/dev/null 2>" + s.Path("first.err")) == 0);
  auto first = Query(s, "SELECT value, time FROM final_metrics WHERE name = 'eval/sst/acc'");
  REQUIRE(first.rows.size() == 1);
  const double acc = std::get<double>(first.rows[0][0]);
  CHECK(acc >= 0);
  CHECK(acc <= 100);
  CHECK(Query(s, "SELECT value FROM final_metrics WHERE name = 'valid/loss'").rows.size() == 1);
  // The trivial baseline beside it: the training majority (0, 2 of 3) on the dev set's 1 of 3.
  auto baseline = Query(s, "SELECT value FROM final_metrics WHERE name = 'eval/sst/baseline/acc'");
  REQUIRE(baseline.rows.size() == 1);
  CHECK(std::get<double>(baseline.rows[0][0]) == Approx(100.0 / 3));
  const std::string log = Slurp(s.dir / "first.err");
  CHECK(log.find("eval sst 2/2: lr 0.001 seed 2") != std::string::npos);
  auto key = std::get<std::string>(Query(s, "SELECT key FROM runs").rows[0][0]);
  const fs::path units = s.dir / "runs" / "evaluated" / key / "finetune" / "sst";
  CHECK(fs::exists(units / "lr0.001-seed1.json"));
  CHECK(fs::exists(units / "lr0.001-seed2.json"));

  // As if a stop came after the scores were recorded: the resumed run skips both stages.
  {
    auto store = ablate::results::Store::Open(s.Path("r.db"));
    auto run = store.StartRun("evaluated", key, "test", ::getpid());
    store.Finish(run.run_id, ablate::results::RunStatus::kInterrupted, "stopped");
  }
  REQUIRE(Shell(Ablate(s, "run " + s.Path("g.json") + " --db " + s.Path("r.db")) +
                " >/dev/null 2>" + s.Path("again.err")) == 0);
  const std::string again = Slurp(s.dir / "again.err");
  CHECK(again.find("eval sst: skipped") != std::string::npos);
  CHECK(again.find("eval sst 1/2") == std::string::npos);
  auto second = Query(s, "SELECT value, time FROM final_metrics WHERE name = 'eval/sst/acc'");
  CHECK(std::get<double>(second.rows[0][1]) == std::get<double>(first.rows[0][1]));
  CHECK(std::get<std::string>(Query(s, "SELECT status FROM runs").rows[0][0]) == "completed");
}

TEST_CASE("a task that cannot be loaded fails the run and keeps its pretraining results",
          "[runner][slow]") {
  Scratch s;
  std::string grid = Grid("unfetched", R"({"seed": [5]})", 4, 0);
  const std::string eval = R"("eval": {"every": 0, "sequences": 16})";
  grid.replace(grid.find(eval), eval.size(),
               R"("eval": {"every": 0, "sequences": 16, "tasks": "gone=sst2:/nonexistent/task"})");
  s.Write("g.json", grid);
  CHECK(Shell(Ablate(s, "run " + s.Path("g.json") + " --db " + s.Path("r.db")) +
              " >/dev/null 2>&1") == 1);
  auto run = Query(s, "SELECT status, error FROM runs");
  CHECK(std::get<std::string>(run.rows[0][0]) == "failed");
  CHECK_THAT(std::get<std::string>(run.rows[0][1]), Catch::Contains("/nonexistent/task"));
  CHECK(Query(s, "SELECT value FROM final_metrics WHERE name = 'valid/loss'").rows.size() == 1);
}

TEST_CASE("eight workers and readers in a loop on one database lose and lock nothing",
          "[runner][slow][load]") {
  Scratch s;
  s.Write("g.json", Grid("load", R"({"optim.lr": [1e-3, 2e-3, 3e-3, 4e-3, 5e-3],
                                     "seed": [1, 2, 3, 4, 5, 6, 7, 8]})",
                         5, 0));
  REQUIRE(Shell(std::string(ABLATE_BINARY) + " data prepare --corpus " + ABLATE_SOURCE_DIR +
                "/tests/data/corpus_small --tokenizer bpe-300 --data-dir " + s.Path("data") +
                " >/dev/null 2>&1") == 0);
  s.Write("spec.json", R"({"tables": [{"id": "t", "runs": {"experiment": "load"},
    "rows": {"by": "optim.lr"}, "columns": [{"label": "ppl", "metric": "valid/ppl"}]}]})");
  // Readers loop until the grid is done: report and sql, each error kept.
  const std::string reader =
      "while [ ! -e " + s.Path("done") + " ]; do " + std::string(ABLATE_BINARY) + " report " +
      s.Path("spec.json") + " --db " + s.Path("r.db") + " >/dev/null 2>>" + s.Path("readers.err") +
      " || echo report-failed >>" + s.Path("readers.err") + "; " + std::string(ABLATE_BINARY) +
      " sql --db " + s.Path("r.db") + " 'SELECT status, count(*) FROM runs GROUP BY 1' " +
      ">/dev/null 2>>" + s.Path("readers.err") + " || echo sql-failed >>" + s.Path("readers.err") +
      "; done";
  REQUIRE(Shell(std::string(ABLATE_BINARY) + " submit " + s.Path("g.json") + " --db " +
                s.Path("r.db") + " >/dev/null") == 0);
  // The readers are waited for, so none outlives the test's directory.
  const int code =
      Shell("(" + reader + ") & readers=$!; " +
            Ablate(s, "run " + s.Path("g.json") + " --db " + s.Path("r.db") + " --jobs 8") + " >" +
            s.Path("run.out") + " 2>" + s.Path("run.err") + "; status=$?; touch " + s.Path("done") +
            "; wait $readers; exit $status");
  CHECK(code == 0);
  const std::string errors = Slurp(s.dir / "run.err") + Slurp(s.dir / "readers.err");
  CHECK(errors.find("locked") == std::string::npos);
  CHECK(errors.find("error") == std::string::npos);
  CHECK(errors.find("report-failed") == std::string::npos);
  CHECK(errors.find("sql-failed") == std::string::npos);
  auto runs = Query(s, "SELECT status, attempts, COUNT(*) FROM runs GROUP BY status, attempts");
  REQUIRE(runs.rows.size() == 1);
  CHECK(std::get<std::string>(runs.rows[0][0]) == "completed");
  CHECK(Int(runs.rows[0][1]) == 1);
  CHECK(Int(runs.rows[0][2]) == 40);
  auto points = Query(s,
                      "SELECT COUNT(*), COUNT(DISTINCT run_id || ':' || step) FROM metrics WHERE "
                      "name = 'train/loss'");
  CHECK(Int(points.rows[0][0]) == 40 * 5);
  CHECK(Int(points.rows[0][1]) == 40 * 5);
}
