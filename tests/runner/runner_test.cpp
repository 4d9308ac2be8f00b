// `ablate run` and `ablate worker` end to end on a small real-text corpus: several workers on one
// database, a worker killed mid-run, runs that fail or diverge, and the fine-tuning stage.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "results/metric_names.h"
#include "results/query.h"
#include "results/run_reads.h"
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

using ablate::test::Slurp;

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

namespace {

// The three-sentence SST-2 fixture with two seeds of two epochs after `steps` updates: the
// plumbing, not the score.
std::string EvaluatedGrid(const std::string& name, const std::string& axes, int steps) {
  std::string grid = Grid(name, axes, steps, 0);
  const std::string eval = R"("eval": {"every": 0, "sequences": 16})";
  grid.replace(grid.find(eval), eval.size(),
               R"("eval": {"every": 0, "sequences": 16, "tasks": "sst=sst2:)" +
                   std::string(ABLATE_SOURCE_DIR) +
                   R"(/tests/data/tasks/sst2", "lrs": "1e-3", "epochs": 2, "seeds": 2,
                               "batch_size": 2})");
  return grid;
}

}  // namespace

TEST_CASE("a run fine-tunes on eval.tasks after pretraining, and a resumed run does not again",
          "[runner][slow]") {
  Scratch s;
  s.Write("g.json", EvaluatedGrid("evaluated", R"({"seed": [5]})", 6));
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

namespace {

int64_t Count(const std::string& text, const std::string& part) {
  int64_t n = 0;
  for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++n;
  return n;
}

}  // namespace

TEST_CASE("every run records the no-pretraining baseline, computed once per encoder and task",
          "[runner][slow]") {
  Scratch s;
  // Two pretraining learning rates of each of two seeds: two untrained encoders, four runs.
  s.Write("g.json", EvaluatedGrid("floor", R"({"optim.lr": [1e-3, 2e-3], "seed": [5, 6]})", 4));
  REQUIRE(Shell(Ablate(s, "run " + s.Path("g.json") + " --db " + s.Path("r.db")) +
                " >/dev/null 2>" + s.Path("run.err")) == 0);
  // Each run: the baseline's scores and lr beside its own, the same for the runs of one seed.
  auto rows = Query(s,
                    "SELECT p.value, u.value, l.value FROM runs r "
                    "JOIN params p ON p.run_id = r.id AND p.name = 'seed' "
                    "JOIN final_metrics u ON u.run_id = r.id AND u.name = 'eval/sst/untrained/acc' "
                    "JOIN final_metrics l ON l.run_id = r.id AND l.name = 'eval/sst/untrained/lr' "
                    "JOIN final_metrics a ON a.run_id = r.id AND a.name = 'eval/sst/acc' "
                    "ORDER BY p.value");
  REQUIRE(rows.rows.size() == 4);
  for (const auto& row : rows.rows) {
    CHECK(std::get<double>(row[1]) >= 0);
    CHECK(std::get<double>(row[1]) <= 100);
    CHECK(std::get<double>(row[2]) == 1e-3);
  }
  CHECK(rows.rows[0][1] == rows.rows[1][1]);  // seed 5
  CHECK(rows.rows[2][1] == rows.rows[3][1]);  // seed 6
  // Two cache entries beside the experiment, one per seed, each with its key and its units.
  std::set<int64_t> seeds;
  for (const auto& entry : fs::directory_iterator(s.dir / "runs" / "no-pretraining")) {
    const auto key = nlohmann::json::parse(Slurp(entry.path() / "key.json"));
    seeds.insert(key.at("seed").get<int64_t>());
    CHECK(fs::exists(entry.path() / "finetune" / "sst" / "lr0.001-seed1.json"));
    CHECK(fs::exists(entry.path() / "finetune" / "sst" / "lr0.001-seed2.json"));
  }
  CHECK(seeds == std::set<int64_t>{5, 6});
  // The first run of each seed computes the baseline's two units, the second reads them back.
  const std::string log = Slurp(s.dir / "run.err");
  CHECK(Count(log,
              "no-pretraining baseline for sst (an untrained encoder, fine-tuned alike): "
              "computing all 2 units") == 2);
  CHECK(Count(log,
              "no-pretraining baseline for sst (an untrained encoder, fine-tuned alike): "
              "reusing all 2 units") == 2);
  CHECK(Count(log, "eval sst (no pretraining) 2/2: lr 0.001 seed 2") == 4);
  CHECK(Count(log, "(done before)") == 4);
  CHECK(Count(log, "eval sst (no pretraining): acc ") == 4);
}

TEST_CASE("two runs that reach one no-pretraining baseline at once compute each unit once",
          "[runner][slow]") {
  Scratch s;
  REQUIRE(Shell(std::string(ABLATE_BINARY) + " data prepare --corpus " + ABLATE_SOURCE_DIR +
                "/tests/data/corpus_small --tokenizer bpe-300 --data-dir " + s.Path("data") +
                " >/dev/null 2>&1") == 0);
  // Two runs of one seed that differ in their pretraining lr, started together; four units.
  auto grid = nlohmann::json::parse(EvaluatedGrid("together", R"({"seed": [5]})", 4));
  grid["base"]["eval"]["lrs"] = "1e-3,2e-3";
  auto expanded = [&](double lr) {
    grid["base"]["optim"]["lr"] = lr;
    s.Write("g.json", grid.dump());
    REQUIRE(Shell(std::string(ABLATE_BINARY) + " expand " + s.Path("g.json") + " --format json >" +
                  s.Path("runs.json")) == 0);
    return nlohmann::json::parse(Slurp(s.dir / "runs.json")).at(0);
  };
  s.Write("a.json", expanded(1e-3).dump());
  s.Write("b.json", expanded(2e-3).dump());
  auto train = [&](const std::string& run) {
    return std::string(ABLATE_BINARY) + " train --config " + s.Path(run + ".json") + " --run-dir " +
           s.Path("runs/train/" + run) + " --data-dir " + s.Path("data") +
           " --threads 1 >/dev/null 2>" + s.Path(run + ".err");
  };
  REQUIRE(Shell("(" + train("a") + " & " + train("b") + " & wait)") == 0);
  // Each process reports all four units, and between them each unit was computed once.
  const std::string a = Slurp(s.dir / "a.err"), b = Slurp(s.dir / "b.err");
  CHECK(Count(a, "eval sst (no pretraining) ") == 4);
  CHECK(Count(b, "eval sst (no pretraining) ") == 4);
  CHECK(Count(a + b, "(done before)") == 4);
  int64_t entries = 0;
  for (const auto& entry : fs::directory_iterator(s.dir / "runs" / "no-pretraining")) {
    ++entries;
    for (const auto& unit : fs::directory_iterator(entry.path() / "finetune" / "sst")) {
      if (unit.path().extension() == ".json")
        CHECK(nlohmann::json::parse(Slurp(unit.path())).is_object());
    }
  }
  CHECK(entries == 1);
}

TEST_CASE("a run records each fine-tuning seed's per-example outcomes behind its median",
          "[runner][slow][outcomes]") {
  Scratch s;
  // Two seeds on the three-sentence SST-2 fixture: the median of two is their mean, so the
  // outcomes of both seeds pooled give the recorded accuracy.
  s.Write("g.json", EvaluatedGrid("outcomes", R"({"seed": [5]})", 4));
  REQUIRE(Shell(Ablate(s, "run " + s.Path("g.json") + " --db " + s.Path("r.db")) +
                " >/dev/null 2>" + s.Path("run.err")) == 0);
  const int64_t run = Int(Query(s, "SELECT id FROM runs").rows.at(0).at(0));
  const double acc = std::get<double>(
      Query(s, "SELECT value FROM final_metrics WHERE name = 'eval/sst/acc'").rows.at(0).at(0));
  const auto outcomes = ablate::results::ReadExampleOutcomes(s.Path("r.db"), {run}, "eval/sst/acc");
  REQUIRE(outcomes.count(run) == 1);
  const auto& by_seed = outcomes.at(run);
  REQUIRE(by_seed.size() == 2);
  double numerators = 0, denominators = 0;
  for (const auto& [seed, list] : by_seed) {
    CHECK((seed == 1 || seed == 2));
    CHECK(list.size() == 3);
    for (const auto& [n, d] : list) {
      numerators += n;
      denominators += d;
    }
  }
  CHECK(numerators / denominators == Approx(acc));
  // SST-2 has accuracy only: nothing else of the task is recorded per example.
  CHECK(Int(Query(s,
                  "SELECT count(DISTINCT source) FROM example_outcomes WHERE source LIKE "
                  "'eval/%'")
                .rows.at(0)
                .at(0)) == 1);
  // Pretraining's own: per held-out sequence, (loss sum, masked tokens) pooled give the recorded
  // perplexity, and (correct, masked tokens) the recorded masked-token accuracy.
  auto pooled = [&](const std::string& source) {
    const auto all = ablate::results::ReadExampleOutcomes(s.Path("r.db"), {run}, source);
    REQUIRE(all.count(run) == 1);
    REQUIRE(all.at(run).size() == 1);
    const auto& list = all.at(run).at(0);
    CHECK(list.size() <= 16);  // eval.sequences, less those without a masked token
    double n = 0, d = 0;
    for (const auto& [num, den] : list) {
      CHECK(den > 0);
      n += num;
      d += den;
    }
    return n / d;
  };
  auto final_metric = [&](const std::string& name) {
    return std::get<double>(
        Query(s, "SELECT value FROM final_metrics WHERE name = '" + name + "'").rows.at(0).at(0));
  };
  // The model sums its float32 token losses on the device, the outcomes in double: they agree
  // to float32's precision.
  CHECK(std::exp(pooled("valid/ppl")) == Approx(final_metric("valid/ppl")).epsilon(1e-6));
  CHECK(pooled("valid/mlm_acc") == Approx(final_metric("valid/mlm_acc")).epsilon(1e-12));
  // Every held-out metric under the names its readers use, for the whole sample, and for each of
  // its halves that holds a sequence (this fixture's few held-out documents may all fall in one).
  namespace metric = ablate::results::metric;
  int halves = 0;
  for (const std::string prefix : {"", "select/", "report/"}) {
    int recorded = 0;
    for (const char* name :
         {metric::kValidLoss, metric::kValidPpl, metric::kValidMlmAcc, metric::kValidUnigramPpl,
          metric::kValidUnigramAcc, metric::kValidCopyPpl, metric::kValidCopyAcc}) {
      const std::string full = "valid/" + prefix + std::string(name).substr(6);
      recorded += static_cast<int>(
          Int(Query(s, "SELECT count(*) FROM final_metrics WHERE name = '" + full + "'")
                  .rows.at(0)
                  .at(0)));
    }
    INFO(prefix);
    if (prefix.empty()) {
      CHECK(recorded == 7);
    } else {
      CHECK((recorded == 0 || recorded == 7));
      halves += recorded == 7 ? 1 : 0;
    }
  }
  CHECK(halves >= 1);
}
