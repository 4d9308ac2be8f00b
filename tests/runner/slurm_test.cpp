// Tests of the Slurm backend: --slurm-args splitting and error cases without Slurm, then job arrays
// on a real one-node cluster (started with scripts/start-slurm when run as root). Where no cluster
// can run, the cluster tests WARN why and pass.
#include "runner/slurm.h"

#include <stdlib.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include "base/error.h"
#include "tests/support.h"

namespace fs = std::filesystem;
using ablate::InputError;
using namespace ablate::runner;
using namespace std::chrono_literals;

namespace {

using ablate::test::Slurp;

// Every path handed to Slurm must survive a space, a quote and a '%' in it.
struct TempDir : ablate::test::TempDir {
  TempDir() : ablate::test::TempDir("ablate slurm it's 100% ") {}
};

using ablate::test::Shell;

std::string Tail(const std::string& text, size_t max_chars = 1500) {
  return text.size() <= max_chars ? text : "..." + text.substr(text.size() - max_chars);
}

bool NodeIsUp() {
  auto sinfo = Shell("sinfo --noheader --format=%T");
  std::istringstream states(sinfo.out);
  std::string state;
  while (sinfo.code == 0 && states >> state) {
    if (state == "idle" || state == "mixed" || state == "allocated" || state == "completing") {
      return true;
    }
  }
  return false;
}

// Empty when a cluster answers, starting one if need be; otherwise why there is none.
std::string FindCluster() {
  if (NodeIsUp()) return "";
  if (::geteuid() != 0) {
    return "no Slurm cluster answers, and only root can start one (scripts/start-slurm)";
  }
  auto start = Shell("'" ABLATE_SOURCE_DIR "/scripts/start-slurm'");
  if (start.code != 0) {
    return "scripts/start-slurm could not start a one-node cluster (exit " +
           std::to_string(start.code) + "):\n" + Tail(start.out);
  }
  return "";
}

// True when the test can use a cluster; otherwise WARNs the reason, once per test.
bool HaveCluster() {
  static const std::string problem = FindCluster();
  if (!problem.empty()) WARN("Slurm test skipped: " << problem);
  return problem.empty();
}

// The tail of every task log in `dir` (sbatch's --output files), for a failing test's messages.
std::string TaskLogs(const fs::path& dir) {
  std::string out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.path().extension() != ".out") continue;
    out += "== " + entry.path().filename().string() + "\n" + Tail(Slurp(entry.path())) + "\n";
  }
  return out;
}

// Polls the array until every task has finished; FAILs the test after `limit`.
std::vector<SlurmTaskState> WaitForArray(const std::string& job_id, int array_tasks,
                                         std::chrono::seconds limit = 120s) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    auto tasks = QueryArray(job_id, array_tasks);
    bool finished = std::all_of(tasks.begin(), tasks.end(),
                                [](const SlurmTaskState& t) { return IsFinished(t.state); });
    if (finished) return tasks;
    if (std::chrono::steady_clock::now() > deadline) {
      FAIL("job array " << job_id << " unfinished after " << limit.count()
                        << " s: " << SummarizeStates(tasks));
    }
    std::this_thread::sleep_for(200ms);
  }
}

// Cancels the array when a test leaves early, so no task outlives it; harmless once finished.
class CancelOnExit {
 public:
  explicit CancelOnExit(std::string job_id) : job_id_(std::move(job_id)) {}
  ~CancelOnExit() { Shell("scancel " + job_id_); }

 private:
  std::string job_id_;
};

std::vector<std::string> States(const std::vector<SlurmTaskState>& tasks) {
  std::vector<std::string> states;
  for (const auto& t : tasks) states.push_back(t.state);
  return states;
}

// Points PATH at an empty directory for the scope, as on a machine without Slurm.

SlurmSubmission Submission(const TempDir& dir, int array_tasks,
                           std::vector<std::string> worker_argv) {
  fs::create_directories(dir / "work dir");
  return {.job_name = "ablate-test",
          .array_tasks = array_tasks,
          .worker_argv = std::move(worker_argv),
          .extra_args = "",
          .log_dir = (dir / "logs").string(),
          .workdir = (dir / "work dir").string()};
}

}  // namespace

TEST_CASE("the words of --slurm-args split as a POSIX shell splits them, expanding nothing",
          "[slurm]") {
  using Words = std::vector<std::string>;
  CHECK(SplitShellWords("") == Words{});
  CHECK(SplitShellWords(" \t\n") == Words{});
  CHECK(SplitShellWords("  --time=10   --mem=4G\t-c 2 ") ==
        Words{"--time=10", "--mem=4G", "-c", "2"});
  CHECK(SplitShellWords("--comment='two  words' --x=\"a \\\"b\\\" \\$c\"") ==
        Words{"--comment=two  words", "--x=a \"b\" $c"});
  CHECK(SplitShellWords(R"(a\ b c\\d 'e\f' "g\h")") == Words{"a b", "c\\d", "e\\f", "g\\h"});
  CHECK(SplitShellWords("'' \"\" x''y") == Words{"", "", "xy"});
  CHECK(SplitShellWords("$HOME '$HOME' \"$HOME\" * ~ $(id)") ==
        Words{"$HOME", "$HOME", "$HOME", "*", "~", "$(id)"});
  CHECK(SplitShellWords("--a=b\\\n--c") == Words{"--a=b--c"});

  for (const char* bad : {"--comment='open", "--comment=\"open", "--a \\"}) {
    INFO(bad);
    CHECK_THROWS_AS(SplitShellWords(bad), InputError);
    CHECK_THROWS_WITH(SplitShellWords(bad), Catch::StartsWith("--slurm-args: "));
  }
}

TEST_CASE("task states summarize by count, and only final states count as finished", "[slurm]") {
  std::vector<SlurmTaskState> tasks = {
      {"7_0", "COMPLETED"}, {"7_1", "RUNNING"}, {"7_2", "COMPLETED"}, {"7_3", "PENDING"}};
  CHECK(SummarizeStates(tasks) == "2 COMPLETED, 1 PENDING, 1 RUNNING");
  CHECK(SummarizeStates({}) == "");
  for (const char* state :
       {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "OUT_OF_MEMORY", "ENDED"}) {
    CHECK(IsFinished(state));
  }
  for (const char* state : {"PENDING", "RUNNING", "CONFIGURING", "COMPLETING", "SUSPENDED"}) {
    CHECK_FALSE(IsFinished(state));
  }
}

TEST_CASE("without Slurm installed, submitting and querying say so", "[slurm]") {
  TempDir dir;
  fs::create_directories(dir / "empty");
  auto submission = Submission(dir, 2, {"/bin/true"});
  ablate::test::ScopedEnv no_slurm("PATH", (dir / "empty").string());
  CHECK_THROWS_AS(SubmitArray(submission), InputError);
  CHECK_THROWS_WITH(SubmitArray(submission),
                    Catch::StartsWith("sbatch not found: is Slurm installed?"));
  CHECK_THROWS_WITH(QueryArray("12", 2),
                    Catch::StartsWith("squeue not found: is Slurm installed?"));
  // The batch script of a submission that never happened is not left behind.
  CHECK(fs::is_empty(dir / "logs"));
}

TEST_CASE("submissions Slurm could not honour are bad input before anything runs", "[slurm]") {
  TempDir dir;
  auto no_tasks = Submission(dir, 0, {"/bin/true"});
  CHECK_THROWS_WITH(SubmitArray(no_tasks), Catch::Contains("at least one task, not 0"));
  auto slash = Submission(dir, 1, {"/bin/true"});
  slash.job_name = "grid/one";
  CHECK_THROWS_WITH(SubmitArray(slash), Catch::Contains("without '/'"));
  auto backslash = Submission(dir, 1, {"/bin/true"});
  backslash.log_dir = (dir / "a\\b").string();
  CHECK_THROWS_AS(SubmitArray(backslash), InputError);
  auto quotes = Submission(dir, 1, {"/bin/true"});
  quotes.extra_args = "--comment='open";
  CHECK_THROWS_AS(SubmitArray(quotes), InputError);
  CHECK_THROWS_AS(QueryArray("12_3", 1), InputError);
  CHECK_FALSE(fs::exists(dir / "logs"));
}

TEST_CASE("a job array runs every task once, with the worker's arguments verbatim",
          "[slurm][cluster]") {
  if (!HaveCluster()) return;
  TempDir dir;
  // sh -c SCRIPT NAME ARGS...: the script sees ARGS as "$@"; each is one awkward word.
  auto submission =
      Submission(dir, 3,
                 {"/bin/sh", "-c",
                  "printf '%s\\n' \"$@\" > \"out-$SLURM_ARRAY_TASK_ID\"; "
                  "echo \"task $SLURM_ARRAY_TASK_ID of $SLURM_ARRAY_JOB_ID: $ABLATE_TEST_VALUE\"",
                  "sh", "it's", "two  words", "$HOME", "*", ""});
  submission.extra_args = "--export=ALL,ABLATE_TEST_VALUE='from --slurm-args' --time=5";
  std::string job_id = SubmitArray(submission);
  CancelOnExit cancel(job_id);
  REQUIRE(job_id.find_first_not_of("0123456789") == std::string::npos);

  auto tasks = WaitForArray(job_id, 3);
  REQUIRE(tasks.size() == 3);
  for (int i = 0; i < 3; ++i) {
    INFO("task " << i);
    CHECK(tasks[i].task_id == job_id + "_" + std::to_string(i));
    CHECK(tasks[i].state == "COMPLETED");
    CHECK(Slurp(dir / "work dir" / ("out-" + std::to_string(i))) ==
          "it's\ntwo  words\n$HOME\n*\n\n");
    CHECK(Slurp(dir / "logs" / ("ablate-test-" + job_id + "_" + std::to_string(i) + ".out")) ==
          "task " + std::to_string(i) + " of " + job_id + ": from --slurm-args\n");
  }
}

TEST_CASE("QueryArray follows tasks from pending and running to how they ended",
          "[slurm][cluster]") {
  if (!HaveCluster()) return;
  TempDir dir;
  // Every task waits for a go file (bounded, so none outlives a failed test), then task 1 fails.
  auto submission = Submission(dir, 3,
                               {"/bin/sh", "-c",
                                "for i in $(seq 600); do [ -e go ] && break; sleep 0.1; done; "
                                "[ \"$SLURM_ARRAY_TASK_ID\" != 1 ]"});
  std::string job_id = SubmitArray(submission);
  CancelOnExit cancel(job_id);

  const std::set<std::string> waiting = {"PENDING", "CONFIGURING", "RUNNING"};
  auto deadline = std::chrono::steady_clock::now() + 30s;
  std::vector<SlurmTaskState> tasks;
  for (;;) {
    tasks = QueryArray(job_id, 3);
    REQUIRE(tasks.size() == 3);
    for (const auto& t : tasks) CHECK(waiting.count(t.state) == 1);
    auto running = [](const SlurmTaskState& t) { return t.state == "RUNNING"; };
    if (std::any_of(tasks.begin(), tasks.end(), running)) break;
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    std::this_thread::sleep_for(200ms);
  }
  INFO("before go: " << SummarizeStates(tasks));

  std::ofstream(dir / "work dir" / "go").put('\n');
  tasks = WaitForArray(job_id, 3);
  CHECK(States(tasks) == std::vector<std::string>{"COMPLETED", "FAILED", "COMPLETED"});
}

TEST_CASE("tasks Slurm no longer lists are reported as ENDED", "[slurm][cluster]") {
  if (!HaveCluster()) return;
  // Far above any id this cluster hands out: squeue answers "Invalid job id", as it does for
  // arrays finished longer than MinJobAge ago.
  auto tasks = QueryArray("4000000", 2);
  REQUIRE(tasks.size() == 2);
  CHECK(tasks[0].task_id == "4000000_0");
  CHECK(States(tasks) == std::vector<std::string>{"ENDED", "ENDED"});
}

TEST_CASE("sbatch's refusal is a runtime error carrying its message", "[slurm][cluster]") {
  if (!HaveCluster()) return;
  TempDir dir;
  auto submission = Submission(dir, 2, {"/bin/true"});
  submission.extra_args = "--partition=no-such-partition";
  try {
    SubmitArray(submission);
    FAIL("sbatch accepted a job for a partition that does not exist");
  } catch (const InputError& e) {
    FAIL("refused by sbatch is not bad input to ablate: " << e.what());
  } catch (const std::runtime_error& e) {
    CHECK_THAT(e.what(), Catch::StartsWith("sbatch refused the job array") &&
                             Catch::Contains("invalid partition"));
  }
  CHECK(fs::is_empty(dir / "logs"));
}

TEST_CASE("a small grid runs to completion through ablate run --backend slurm",
          "[slurm][cluster]") {
  if (!HaveCluster()) return;
  TempDir dir;
  const std::string corpus = std::string(ABLATE_SOURCE_DIR) + "/tests/data/corpus_small";
  std::ofstream(dir / "g.json") << R"({"name": "slurm-grid", "base": {
      "data": {"corpus": ")" << corpus
                                << R"(", "tokenizer": "bpe-300", "seq_len": 32},
      "model": {"layers": 1, "hidden": 16, "heads": 2, "ffn": 32},
      "train": {"batch_size": 4, "steps": 5, "checkpoint_every": 0},
      "optim": {"warmup_steps": 1}, "eval": {"every": 0, "sequences": 8}},
    "axes": {"data.format": ["FULL-SENTENCES", "DOC-SENTENCES"], "seed": [1, 2]}})";
  auto q = [](const fs::path& p) {  // single-quoted for sh, quotes inside escaped
    std::string out = "'";
    for (char c : p.string()) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
  };
  const std::string common = " --db " + q(dir / "r.db") + " --data-dir " + q(dir / "data") +
                             " --runs-dir " + q(dir / "runs");
  // Tokenize once before the workers start, as a user would with a shared filesystem.
  REQUIRE(Shell(std::string(ABLATE_BINARY) + " data prepare --corpus " + q(corpus) +
                " --tokenizer bpe-300 --data-dir " + q(dir / "data"))
              .code == 0);
  auto submitted = Shell(std::string(ABLATE_BINARY) + " run " + q(dir / "g.json") + common +
                         " --backend slurm --jobs 2 --threads 1");
  INFO(submitted.out);
  REQUIRE(submitted.code == 0);
  auto at = submitted.out.find("submitted Slurm job array ");
  REQUIRE(at != std::string::npos);
  std::string job_id = submitted.out.substr(at + 26);
  job_id = job_id.substr(0, job_id.find(' '));
  CancelOnExit cancel(job_id);
  // No task may touch the database: it is read-only while the array runs, and no task's command
  // line names it.
  fs::permissions(dir / "r.db", fs::perms::owner_read | fs::perms::group_read);
  WaitForArray(job_id, 4, 180s);
  fs::permissions(dir / "r.db", fs::perms::owner_read | fs::perms::owner_write);
  for (const auto& entry : fs::directory_iterator(dir / "runs" / "slurm-grid" / "slurm")) {
    if (entry.path().extension() != ".sh") continue;
    std::ifstream script(entry.path());
    const std::string text((std::istreambuf_iterator<char>(script)), {});
    CHECK(text.find("r.db") == std::string::npos);
    CHECK(text.find("--db") == std::string::npos);
  }

  auto status =
      Shell(std::string(ABLATE_BINARY) + " status --db " + q(dir / "r.db") + " --format csv");
  INFO(status.out);
  CHECK(status.out.find("slurm-grid,0,0,4,0,0,0,4") != std::string::npos);
  CHECK(status.out.find("slurm array " + job_id + " (slurm-grid): 4 COMPLETED") !=
        std::string::npos);
  // Collecting again changes nothing.
  const std::string checksum =
      std::string(ABLATE_BINARY) + " sql --db " + q(dir / "r.db") +
      " --format csv \"SELECT count(*), sum(step), total(value) FROM metrics UNION ALL SELECT "
      "count(*), sum(step), total(value) FROM final_metrics UNION ALL SELECT count(*), "
      "sum(attempts), group_concat(status) FROM runs\"";
  const auto before = Shell(checksum);
  auto collected = Shell(std::string(ABLATE_BINARY) + " collect --db " + q(dir / "r.db"));
  CHECK(collected.code == 0);
  CHECK(collected.out.find("slurm-grid: 0 records") != std::string::npos);
  CHECK(Shell(checksum).out == before.out);
}

TEST_CASE("a corpus prepared as a Slurm array of parts joins to the shards of one preparation",
          "[slurm][cluster][pieces]") {
  if (!HaveCluster()) return;
  TempDir dir;
  // 240 documents in two JSON Lines files, cut into pieces of 3,000 bytes: about 30 pieces.
  fs::create_directories(dir / "corpus");
  for (int f = 0; f < 2; ++f) {
    std::ofstream out(dir / "corpus" / ("part" + std::to_string(f) + ".jsonl"));
    for (int d = 0; d < 120; ++d) {
      const std::string n = std::to_string(f * 120 + d);
      out << R"({"id": "doc/)" << n << R"(", "paragraphs": ["Document )" << n
          << R"( begins here. It has a second sentence, and then a third one ends it."]})"
          << "\n";
    }
  }
  auto q = [](const fs::path& p) {
    std::string out = "'";
    for (char c : p.string()) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
  };
  const std::string prepare = std::string(ABLATE_BINARY) + " data prepare --corpus " +
                              q(dir / "corpus") + " --tokenizer bpe-300 --piece-bytes 3000";
  // One machine, one process: the reference.
  const auto one = Shell(prepare + " --data-dir " + q(dir / "one"));
  INFO(one.out);
  REQUIRE(one.code == 0);

  // Three array tasks, each its share of the pieces (the first to need the vocabulary trains it;
  // the others' copies lose the rename), then a join that tokenizes nothing itself.
  // The logs' folder has no '%' in its name (sbatch would read it as a pattern).
  ablate::test::TempDir logs("ablate_prepare_logs_");
  const auto submitted =
      Shell("sbatch --parsable --array=0-2 --output=" + q(logs / "%A_%a.out") + " --wrap " +
            q(prepare + " --data-dir " + q(dir / "array") +
              " --part $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT --jobs 1"));
  INFO(submitted.out);
  REQUIRE(submitted.code == 0);
  const std::string job_id = submitted.out.substr(0, submitted.out.find_first_of(";\n"));
  CancelOnExit cancel(job_id);
  const auto tasks = WaitForArray(job_id, 3, 180s);
  INFO(TaskLogs(logs.path()));
  CHECK(States(tasks) == std::vector<std::string>(3, "COMPLETED"));
  const auto joined = Shell(prepare + " --data-dir " + q(dir / "array"));
  INFO(joined.out);
  REQUIRE(joined.code == 0);
  CHECK(joined.out.find("tokenizing") == std::string::npos);  // every piece came from the array
  CHECK(Slurp(dir / "corpus" / "part0.jsonl").size() > 9000);
  for (const char* shard : {"train.shard", "valid.shard"}) {
    std::vector<fs::path> found[2];
    for (int i = 0; i < 2; ++i) {
      for (const auto& entry : fs::recursive_directory_iterator(dir / (i == 0 ? "one" : "array")))
        if (entry.path().filename() == shard) found[i].push_back(entry.path());
    }
    REQUIRE(found[0].size() == 1);
    REQUIRE(found[1].size() == 1);
    CHECK(Slurp(found[0][0]) == Slurp(found[1][0]));
  }
}

TEST_CASE("runs of two data-parallel ranks each complete through the Slurm backend and srun",
          "[slurm][cluster][ddp]") {
  if (!HaveCluster()) return;
  TempDir dir;
  const std::string corpus = std::string(ABLATE_SOURCE_DIR) + "/tests/data/corpus_small";
  const std::string base = R"("data": {"corpus": ")" + corpus +
                           R"(", "tokenizer": "bpe-300", "seq_len": 32},
      "model": {"layers": 1, "hidden": 16, "heads": 2, "ffn": 32},
      "train": {"batch_size": 4, "micro_batch": 2, "steps": 5, "checkpoint_every": 0},
      "optim": {"warmup_steps": 1}, "eval": {"every": 0, "sequences": 8})";
  std::ofstream(dir / "g.json") << R"({"name": "slurm-ddp", "base": {)" << base
                                << R"(}, "axes": {"seed": [1, 2]}})";
  auto q = [](const fs::path& p) {  // single-quoted for sh, quotes inside escaped
    std::string out = "'";
    for (char c : p.string()) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
  };
  REQUIRE(Shell(std::string(ABLATE_BINARY) + " data prepare --corpus " + q(corpus) +
                " --tokenizer bpe-300 --data-dir " + q(dir / "data"))
              .code == 0);
  // The grid: one array task, whose runs each train on 2 ranks it starts (2 CPUs asked for).
  auto submitted = Shell(std::string(ABLATE_BINARY) + " run " + q(dir / "g.json") + " --db " +
                         q(dir / "r.db") + " --data-dir " + q(dir / "data") + " --runs-dir " +
                         q(dir / "runs") + " --backend slurm --jobs 1 --nproc-per-run 2");
  INFO(submitted.out);
  REQUIRE(submitted.code == 0);
  auto at = submitted.out.find("submitted Slurm job array ");
  REQUIRE(at != std::string::npos);
  std::string job_id = submitted.out.substr(at + 26);
  job_id = job_id.substr(0, job_id.find(' '));
  CancelOnExit cancel(job_id);
  // One array task per run, at most one at once (--jobs 1).
  const auto tasks = WaitForArray(job_id, 2, 180s);
  INFO(SummarizeStates(tasks));
  auto ranks = Shell(std::string(ABLATE_BINARY) + " sql --db " + q(dir / "r.db") +
                     " --format csv \"SELECT status, world_size, backend, count(*) FROM runs "
                     "GROUP BY 1, 2, 3\"");
  INFO(ranks.out);
  // Should a run not complete, its error and its tasks' logs say why.
  INFO(Shell(std::string(ABLATE_BINARY) + " sql --db " + q(dir / "r.db") +
             " --format csv \"SELECT key, status, attempts, error FROM runs\"")
           .out);
  INFO(TaskLogs(dir / "runs" / "slurm-ddp" / "slurm"));
  CHECK(ranks.out.find("completed,2,gloo,2") != std::string::npos);

  // One run under srun -n 2: Slurm starts both ranks (SLURM_PROCID); rank 0 alone records.
  std::ofstream(dir / "run.json") << R"({"data.corpus": ")" << corpus << R"(",
      "data.tokenizer": "bpe-300", "data.seq_len": 32, "model.layers": 1, "model.hidden": 16,
      "model.heads": 2, "model.ffn": 32, "train.batch_size": 4, "train.micro_batch": 2,
      "train.steps": 5, "train.checkpoint_every": 0, "optim.warmup_steps": 1, "eval.every": 0,
      "eval.sequences": 8})";
  auto trained = Shell("srun -n 2 --time=5 " + std::string(ABLATE_BINARY) + " train --config " +
                       q(dir / "run.json") + " --db " + q(dir / "t.db") + " --run-dir " +
                       q(dir / "t") + " --data-dir " + q(dir / "data") + " --threads 1");
  INFO(trained.out);
  CHECK(trained.code == 0);
  CHECK(trained.out.find("on 2 ranks") != std::string::npos);
  auto recorded = Shell(std::string(ABLATE_BINARY) + " sql --db " + q(dir / "t.db") +
                        " --format csv \"SELECT status, world_size, backend FROM runs\"");
  INFO(recorded.out);
  CHECK(recorded.out.find("completed,2,gloo") != std::string::npos);
}

namespace {

// A one-run grid long enough to be caught in the middle (checkpoints every 20 updates).
struct LongRun {
  TempDir dir;
  std::string corpus = std::string(ABLATE_SOURCE_DIR) + "/tests/data/corpus_small";
  std::string common;
  int steps;

  LongRun(const std::string& name, int steps) : steps(steps) {
    std::ofstream(dir / "g.json") << R"({"name": ")" << name << R"(", "base": {
        "data": {"corpus": ")" << corpus
                                  << R"(", "tokenizer": "bpe-300", "seq_len": 32},
        "model": {"layers": 1, "hidden": 16, "heads": 2, "ffn": 32},
        "train": {"batch_size": 4, "steps": )"
                                  << steps << R"(, "checkpoint_every": 20},
        "optim": {"warmup_steps": 1}, "eval": {"every": 0, "sequences": 8}}})";
    common = " --db " + Q(dir / "r.db") + " --data-dir " + Q(dir / "data") + " --runs-dir " +
             Q(dir / "runs");
    REQUIRE(Shell(std::string(ABLATE_BINARY) + " data prepare --corpus " + Q(corpus) +
                  " --tokenizer bpe-300 --data-dir " + Q(dir / "data"))
                .code == 0);
  }
  static std::string Q(const fs::path& p) {
    std::string out = "'";
    for (char c : p.string()) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
  }
  // `ablate run --backend slurm`; the job id it printed.
  std::string Submit(const std::string& flags) {
    auto submitted = Shell(std::string(ABLATE_BINARY) + " run " + Q(dir / "g.json") + common +
                           " --backend slurm --threads 1 " + flags);
    INFO(submitted.out);
    REQUIRE(submitted.code == 0);
    auto at = submitted.out.find("submitted Slurm job array ");
    REQUIRE(at != std::string::npos);
    std::string job_id = submitted.out.substr(at + 26);
    return job_id.substr(0, job_id.find(' '));
  }
  // The query's rows as CSV, with plain line ends.
  std::string Sql(const std::string& query) {
    std::string out = Shell(std::string(ABLATE_BINARY) + " sql --db " + Q(dir / "r.db") +
                            " --format csv \"" + query + "\"")
                          .out;
    out.erase(std::remove(out.begin(), out.end(), '\r'), out.end());
    return out;
  }
  void WaitForCheckpoint() {
    auto deadline = std::chrono::steady_clock::now() + 60s;
    while (std::chrono::steady_clock::now() < deadline) {
      for (const auto& e : fs::recursive_directory_iterator(dir / "runs")) {
        if (e.path().filename() == "checkpoint.json") return;
      }
      std::this_thread::sleep_for(100ms);
    }
    FAIL("no checkpoint within 60 s");
  }
  // Every update's loss recorded exactly once.
  void CheckHistoryComplete() {
    CHECK(Sql("SELECT count(*), count(DISTINCT step), min(step), max(step) FROM metrics WHERE "
              "name = 'train/loss'") == "count(*),count(DISTINCT step),min(step),max(step)\n" +
                                            std::to_string(steps) + "," + std::to_string(steps) +
                                            ",1," + std::to_string(steps) + "\n");
  }
};

}  // namespace

TEST_CASE("a task killed mid-run is interrupted, resubmitted, and resumes with every step once",
          "[slurm][cluster]") {
  if (!HaveCluster()) return;
  LongRun run("slurm-kill", 3000);
  const std::string first = run.Submit("");
  CancelOnExit cancel_first(first);
  run.WaitForCheckpoint();
  Shell("scancel --signal=KILL --full " + first + "_0");
  WaitForArray(first, 1, 60s);
  auto status = Shell(std::string(ABLATE_BINARY) + " status" +
                      run.common.substr(0, run.common.find(" --data-dir")) + " --format csv");
  INFO(status.out);
  CHECK(status.out.find("slurm-kill,0,0,0,0,0,1,1") != std::string::npos);
  const std::string second = run.Submit("");
  CHECK(second != first);
  CancelOnExit cancel_second(second);
  WaitForArray(second, 1, 120s);
  CHECK(run.Sql("SELECT status, attempts FROM runs") == "status,attempts\ncompleted,2\n");
  run.CheckHistoryComplete();
}

TEST_CASE("a run near its job's time limit checkpoints, is requeued, and goes on in a new job",
          "[slurm][cluster]") {
  if (!HaveCluster()) return;
  LongRun run("slurm-requeue", 3000);
  const std::string job = run.Submit("--requeue-before 60 --slurm-args \"--time=10\"");
  CancelOnExit cancel(job);
  run.WaitForCheckpoint();
  // What Slurm does --requeue-before seconds ahead of the limit (--signal=B:USR1@60), now, so the
  // test does not wait for it.
  REQUIRE(Shell("scancel --batch --signal=USR1 " + job + "_0").code == 0);
  auto deadline = std::chrono::steady_clock::now() + 60s;
  std::string state;
  while (std::chrono::steady_clock::now() < deadline) {
    state = run.Sql("SELECT status, error FROM runs");
    if (state.find("queued,the job reached its time limit") != std::string::npos) break;
    std::this_thread::sleep_for(200ms);
  }
  INFO(state);
  REQUIRE(state.find("queued,the job reached its time limit") != std::string::npos);
  // Slurm holds a requeued job back for a while; release it.
  Shell("scontrol update JobId=" + job + "_0 StartTime=now");
  // The array's state alone can read as finished between the first attempt's end and the
  // requeued one's start (seen once in a full run): wait for the run itself to complete.
  const std::string completed = "status,attempts\ncompleted,2\n";
  deadline = std::chrono::steady_clock::now() + 180s;
  while (std::chrono::steady_clock::now() < deadline &&
         run.Sql("SELECT status, attempts FROM runs") != completed) {
    std::this_thread::sleep_for(500ms);
  }
  WaitForArray(job, 1, 180s);
  CHECK(run.Sql("SELECT status, attempts FROM runs") == completed);
  run.CheckHistoryComplete();
}
