// End-to-end tests of the `ablate` binary: exit codes, one-line errors, and that bad input never
// changes a database.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "results/run_status.h"
#include "results/store.h"
#include "tests/support.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

struct Result {
  int code;
  std::string out;
  std::string err;
};

using ablate::test::Slurp;

using ablate::test::TempDir;

// Runs `BINARY ARGS` through the shell with stdout/stderr captured.
Result RunBinary(const TempDir& dir, const std::string& binary, const std::string& args,
                 const std::string& stdin_text = "") {
  dir.Write("stdin", stdin_text);
  std::string cmd = binary + " " + args + " <" + (dir / "stdin").string() + " >" +
                    (dir / "stdout").string() + " 2>" + (dir / "stderr").string();
  int status = std::system(cmd.c_str());
  return {WEXITSTATUS(status), Slurp(dir / "stdout"), Slurp(dir / "stderr")};
}

// Runs `ablate ARGS`.
Result Ablate(const TempDir& dir, const std::string& args, const std::string& stdin_text = "") {
  return RunBinary(dir, ABLATE_BINARY, args, stdin_text);
}

std::string Q(const fs::path& p) { return "'" + p.string() + "'"; }

const std::string kGrid = R"({
  "name": "masking",
  "base": {"train.steps": 100, "optim.warmup_steps": 10, "model.layers": 2},
  "axes": {"data.masking": ["static", "dynamic"]},
  "linked": [{"train.batch_size": [16, 64], "optim.lr": [1e-4, 7e-4]}],
  "seeds": 3
})";

size_t Lines(const std::string& s) { return std::count(s.begin(), s.end(), '\n'); }

}  // namespace

TEST_CASE("ablate --help lists the commands, no command is bad input", "[cli]") {
  TempDir dir;
  auto help = Ablate(dir, "--help");
  CHECK(help.code == 0);
  for (const char* cmd : {"expand", "submit", "status", "sql", "params", "schema"}) {
    CHECK_THAT(help.out, Catch::Contains(std::string("  ") + cmd));
  }
  CHECK(Ablate(dir, "").code == 2);
  auto unknown = Ablate(dir, "frobnicate");
  CHECK(unknown.code == 2);
  CHECK(unknown.err == "ablate: unknown command \"frobnicate\" (see ablate --help)\n");
  auto sub_help = Ablate(dir, "sql --help");
  CHECK(sub_help.code == 0);
  CHECK_THAT(sub_help.out, Catch::StartsWith("usage: ablate sql --db FILE"));
  auto bad_option = Ablate(dir, "expand g.json --colour");
  CHECK(bad_option.code == 2);
  CHECK(Lines(bad_option.err) == 1);
  // Every command of both binaries, from the one table, in the help.
  for (const char* cmd : {"run", "worker", "task", "train", "export", "tokenize", "report"}) {
    CHECK_THAT(help.out, Catch::Contains(std::string("  ") + cmd));
  }
}

TEST_CASE("a misspelt command or option gets the closest names", "[cli]") {
  TempDir dir;
  auto command = Ablate(dir, "stauts --db x.db");
  CHECK(command.code == 2);
  CHECK(command.err ==
        "ablate: unknown command \"stauts\" (did you mean \"status\"?) (see ablate --help)\n");
  // An option shared through an option group, and one of the command's own.
  auto shared = Ablate(dir, "data corpora --data-dri d");
  CHECK(shared.code == 2);
  CHECK_THAT(shared.err, Catch::Contains("(did you mean \"--data-dir\"?)"));
  CHECK_THAT(shared.err, Catch::EndsWith("(see ablate data --help)\n"));
  auto own = Ablate(dir, "expand g.json --plann");
  CHECK(own.code == 2);
  CHECK_THAT(own.err, Catch::Contains("(did you mean \"--plan\"?)"));
  // Nothing close: boost's message alone.
  auto far = Ablate(dir, "expand g.json --colour");
  CHECK_THAT(far.err, !Catch::Contains("did you mean"));
}

TEST_CASE("ablate-train names the command of the table it does not run", "[cli][ablate-train]") {
  TempDir dir;
  auto train_binary =
      RunBinary(dir, (fs::path(ABLATE_BINARY).parent_path() / "ablate-train").string(), "status");
  CHECK(train_binary.code == 2);
  CHECK(train_binary.err == "ablate-train: \"status\" does not train: run it as ablate status\n");
}

TEST_CASE("expand prints the runs as a table and as JSON", "[cli]") {
  TempDir dir;
  dir.Write("g.json", kGrid);
  auto table = Ablate(dir, "expand " + Q(dir / "g.json"));
  REQUIRE(table.code == 0);
  CHECK_THAT(table.out, Catch::StartsWith("masking: 12 runs\n"));
  // Header, rule and 12 rows under the title; columns are the parameters that vary.
  CHECK(Lines(table.out) == 1 + 2 + 12);
  CHECK_THAT(table.out, Catch::Contains("data.masking  train.batch_size  optim.lr  seed"));

  auto js = Ablate(dir, "expand " + Q(dir / "g.json") + " --format json");
  REQUIRE(js.code == 0);
  auto runs = json::parse(js.out);
  REQUIRE(runs.size() == 12);
  CHECK(runs[0]["params"]["data.masking"] == "static");
  CHECK(runs[0]["params"]["train.batch_size"] == 16);
  CHECK(runs[11]["params"]["optim.lr"] == 7e-4);
  CHECK(runs[11]["params"]["seed"] == 3);
  CHECK(runs[0]["key"].get<std::string>().size() == 16);
  // The table shows the same keys in the same order.
  CHECK_THAT(table.out, Catch::Contains("1  " + runs[0]["key"].get<std::string>()));
}

TEST_CASE("a bad grid is one line on stderr with exit code 2", "[cli]") {
  TempDir dir;
  dir.Write("bad.json", R"({"name": "x", "axes": {"optim.lrr": [1]}})");
  auto r = Ablate(dir, "expand " + Q(dir / "bad.json"));
  CHECK(r.code == 2);
  CHECK(r.out.empty());
  CHECK(r.err == "ablate expand: " + (dir / "bad.json").string() +
                     ": /axes/optim.lrr: unknown parameter \"optim.lrr\" (did you mean "
                     "\"optim.lr\"?) (`ablate params` lists them)\n");
  auto missing = Ablate(dir, "expand " + Q(dir / "nope.json"));
  CHECK(missing.code == 2);
  CHECK_THAT(missing.err, Catch::Contains("nope.json: cannot read grid file"));
}

TEST_CASE("submit registers runs once, sql reads them with typed params", "[cli]") {
  TempDir dir;
  dir.Write("g.json", kGrid);
  auto db = Q(dir / "r.db");
  auto first = Ablate(dir, "submit " + Q(dir / "g.json") + " --db " + db);
  REQUIRE(first.code == 0);
  CHECK_THAT(first.out, Catch::Contains("12 runs, 12 new, 0 already registered"));
  auto again = Ablate(dir, "submit " + Q(dir / "g.json") + " --db " + db);
  REQUIRE(again.code == 0);
  CHECK_THAT(again.out, Catch::Contains("12 runs, 0 new, 12 already registered"));

  auto count =
      Ablate(dir, "sql --db " + db +
                      " \"SELECT status, COUNT(*) AS n FROM runs GROUP BY status\" --format csv");
  REQUIRE(count.code == 0);
  CHECK(count.out == "status,n\r\nqueued,12\r\n");

  // Numbers compare as numbers: 7e-4 > 1e-4 > 5e-5 although "1e-4" > "7e-4" as text.
  auto typed = Ablate(dir, "sql --db " + db +
                               " \"SELECT COUNT(*) AS n FROM params WHERE name = 'optim.lr' AND "
                               "value > 0.0005\" --format json");
  REQUIRE(typed.code == 0);
  CHECK(json::parse(typed.out) == json::parse(R"([{"n": 6}])"));

  auto status = Ablate(dir, "status --db " + db + " --format csv");
  REQUIRE(status.code == 0);
  CHECK(status.out ==
        "experiment,queued,running,completed,failed,diverged,interrupted,total\r\n"
        "masking,12,0,0,0,0,0,12\r\n");

  auto md =
      Ablate(dir, "sql --db " + db +
                      " \"SELECT name, COUNT(*) AS runs FROM experiments JOIN runs ON "
                      "runs.experiment_id = experiments.id GROUP BY name\" --format markdown");
  REQUIRE(md.code == 0);
  CHECK(md.out == "| name | runs |\n| --- | ---: |\n| masking | 12 |\n");
}

TEST_CASE("more seeds in a resubmitted grid add only the new runs", "[cli]") {
  TempDir dir;
  dir.Write("g.json", kGrid);
  auto db = Q(dir / "r.db");
  REQUIRE(Ablate(dir, "submit " + Q(dir / "g.json") + " --db " + db).code == 0);
  std::string more = kGrid;
  more.replace(more.find("\"seeds\": 3"), 10, "\"seeds\": 5");
  dir.Write("g.json", more);
  auto r = Ablate(dir, "submit " + Q(dir / "g.json") + " --db " + db);
  REQUIRE(r.code == 0);
  CHECK_THAT(r.out, Catch::Contains("20 runs, 8 new, 12 already registered"));
  CHECK_THAT(r.out, Catch::Contains("note: the grid differs"));
}

TEST_CASE("bad input never changes a database", "[cli]") {
  TempDir dir;
  dir.Write("g.json", kGrid);
  auto db = Q(dir / "r.db");
  REQUIRE(Ablate(dir, "submit " + Q(dir / "g.json") + " --db " + db).code == 0);
  auto before = Ablate(dir, "sql --db " + db + " 'SELECT * FROM runs' --format json").out;

  dir.Write("bad.json",
            R"({"name": "masking", "axes": {"data.masking": ["static", "sometimes"]}})");
  auto bad = Ablate(dir, "submit " + Q(dir / "bad.json") + " --db " + db);
  CHECK(bad.code == 2);
  CHECK(Lines(bad.err) == 1);
  CHECK_THAT(bad.err, Catch::Contains("/axes/data.masking/1"));

  auto write = Ablate(dir, "sql --db " + db + " \"DELETE FROM runs\"");
  CHECK(write.code == 2);
  CHECK(Lines(write.err) == 1);
  CHECK_THAT(write.err, Catch::Contains("read-only"));
  auto sneaky = Ablate(dir, "sql --db " + db + " \"SELECT 1; DROP TABLE metrics\"");
  CHECK(sneaky.code == 2);
  CHECK(sneaky.out.empty());  // nothing ran, not even the harmless first statement

  auto syntax = Ablate(dir, "sql --db " + db + " \"SELEC 1\"");
  CHECK(syntax.code == 2);
  CHECK(Lines(syntax.err) == 1);

  CHECK(Ablate(dir, "sql --db " + db + " 'SELECT * FROM runs' --format json").out == before);
  CHECK(Ablate(dir, "sql --db " + db + " 'SELECT 1' --format yaml").code == 2);
}

TEST_CASE("sql on a missing database is bad input and creates nothing", "[cli]") {
  TempDir dir;
  auto r = Ablate(dir, "sql --db " + Q(dir / "none.db") + " 'SELECT 1'");
  CHECK(r.code == 2);
  CHECK_THAT(r.err, Catch::Contains("none.db"));
  CHECK(!fs::exists(dir / "none.db"));
  CHECK(Ablate(dir, "status --db " + Q(dir / "none.db")).code == 2);
  CHECK(!fs::exists(dir / "none.db"));
}

TEST_CASE("sql reads the query from stdin", "[cli]") {
  TempDir dir;
  dir.Write("g.json", kGrid);
  auto db = Q(dir / "r.db");
  REQUIRE(Ablate(dir, "submit " + Q(dir / "g.json") + " --db " + db).code == 0);
  auto r = Ablate(dir, "sql --db " + db + " --format csv", "SELECT COUNT(*) AS n FROM runs;\n");
  REQUIRE(r.code == 0);
  CHECK(r.out == "n\r\n12\r\n");
}

TEST_CASE("params and schema describe the same parameters", "[cli]") {
  TempDir dir;
  auto params = Ablate(dir, "params --format json");
  REQUIRE(params.code == 0);
  auto list = json::parse(params.out);
  auto schema_run = Ablate(dir, "schema");
  REQUIRE(schema_run.code == 0);
  auto schema = json::parse(schema_run.out);
  CHECK(list.size() == schema["properties"]["axes"]["properties"].size());
  for (const auto& p : list) {
    INFO(p["name"]);
    CHECK(schema["properties"]["axes"]["properties"].contains(p["name"].get<std::string>()));
  }
  CHECK(Ablate(dir, "params").code == 0);
}

TEST_CASE("docs/grids.md's parameter table is what `ablate params` prints", "[cli][docs]") {
  // Regenerate: replace the lines between the params markers in docs/grids.md with the output of
  // `build/bin/ablate params --format markdown`.
  TempDir dir;
  std::string page = Slurp(fs::path(ABLATE_SOURCE_DIR) / "docs" / "grids.md");
  auto begin = page.find("<!-- params:begin");
  auto end = page.find("<!-- params:end");
  REQUIRE(begin != std::string::npos);
  REQUIRE(end != std::string::npos);
  begin = page.find('\n', begin) + 1;
  CHECK(page.substr(begin, end - begin) == Ablate(dir, "params --format markdown").out);
}

TEST_CASE(
    "expand --plan shows what each run spends and warns about grids that cannot show their "
    "ablation",
    "[cli][plan][ablate-train]") {
  TempDir dir;
  const std::string corpus = std::string(ABLATE_SOURCE_DIR) + "/tests/data/corpus_small";
  const std::string data = " --data-dir " + Q(dir / "data");
  auto grid = [&](const std::string& name, const std::string& rest) {
    dir.Write(name, R"({"name": ")" + name + R"(", "base": {"data.corpus": ")" + corpus +
                        R"(", "data.tokenizer": "bpe-300", "data.seq_len": 32,
        "data.format": "FULL-SENTENCES", "model.layers": 1, "model.hidden": 16,
        "model.heads": 2, "model.ffn": 32, "optim.warmup_steps": 1, "eval.sequences": 4,
        "train.checkpoint_every": 0, "eval.every": 0)" +
                        rest);
    return Q(dir / name);
  };
  const auto quiet = grid("quiet.json", R"(, "train.batch_size": 4, "train.steps": 10}})");
  // Not prepared yet: every figure is "?", and nothing is built to find out.
  auto unknown = Ablate(dir, "expand " + quiet + " --plan" + data);
  REQUIRE(unknown.code == 0);
  CHECK_THAT(unknown.out, Catch::Contains("tokens/update"));
  CHECK_THAT(unknown.out, Catch::Contains("?"));
  CHECK(unknown.err.empty());
  CHECK(!fs::exists(dir / "data" / "shards"));

  REQUIRE(Ablate(dir, "data prepare --corpus " + Q(corpus) + " --tokenizer bpe-300" + data).code ==
          0);
  auto ok = Ablate(dir, "expand " + quiet + " --plan --format json" + data);
  REQUIRE(ok.code == 0);
  CHECK(ok.err.empty());
  const auto plan = json::parse(ok.out).at(0).at("plan");
  CHECK(plan.at("tokens_per_update").get<double>() > 4 * 2);
  CHECK(plan.at("total_tokens").get<double>() == plan.at("tokens_per_update").get<double>() * 10);
  CHECK(plan.at("epochs").get<double>() > 0);
  CHECK(plan.at("flops").get<double>() ==
        6 * plan.at("parameters").get<double>() * plan.at("total_tokens").get<double>());

  auto unequal =
      Ablate(dir, "expand " + grid("unequal.json", R"(}, "linked": [{"train.batch_size": [4, 8],
                                 "train.steps": [10, 10]}]})") +
                      " --plan" + data);
  CHECK(unequal.code == 0);
  CHECK_THAT(unequal.err, Catch::Contains("warning: /linked/0 varies train.batch_size, but its "
                                          "runs are not at equal compute"));
  auto long_run = Ablate(
      dir, "expand " + grid("epochs.json", R"(, "train.batch_size": 8, "train.steps": 5000}})") +
               " --plan" + data);
  CHECK(long_run.code == 0);
  CHECK_THAT(long_run.err, Catch::Contains("would go through their corpus more than 100 times"));
  const auto masking = grid("masking.json", R"(, "train.batch_size": 2, "train.steps": 2,
      "data.static_copies": 10}, "axes": {"data.masking": ["static", "dynamic"]}})");
  auto same = Ablate(dir, "expand " + masking + " --plan" + data);
  CHECK(same.code == 0);
  CHECK_THAT(same.err, Catch::Contains("warning: the grid varies data.masking, but 1 of 1 static "
                                       "runs end within data.static_copies epochs"));
  // A run its data cannot feed (NSP pairs from a single document) gets "?", not an error: the plan
  // advises, the run itself fails with the reason when it trains.
  auto unfed =
      Ablate(dir, "expand " + grid("onedoc.json", R"(, "train.batch_size": 2, "train.steps": 2,
      "data.max_tokens": 5}, "axes": {"data.format": ["SEGMENT-PAIR+NSP"]}})") +
                      " --plan --format json" + data);
  CHECK(unfed.code == 0);
  CHECK(json::parse(unfed.out).at(0).at("plan").at("tokens_per_update").is_null());
  // `ablate run` says it once before it trains, and trains anyway.
  auto run = Ablate(
      dir, "run " + masking + " --db " + Q(dir / "r.db") + " --runs-dir " + Q(dir / "runs") + data);
  CHECK(run.code == 0);
  const std::string warning = "warning: the grid varies data.masking";
  const auto first = run.err.find(warning);
  CHECK(first != std::string::npos);
  CHECK(run.err.find(warning, first + 1) == std::string::npos);
}

TEST_CASE("data preview shows a run's first sequences with masks and NSP labels", "[cli][data]") {
  TempDir dir;
  std::string corpus = std::string(ABLATE_SOURCE_DIR) + "/tests/data/corpus_small";
  dir.Write("run.json", R"({"data.corpus": ")" + corpus + R"(", "data.tokenizer": "bpe-300",
      "data.format": "SEGMENT-PAIR+NSP", "data.seq_len": 48, "train.batch_size": 2})");
  auto data_dir = " --data-dir " + Q(dir / "data");
  auto js = Ablate(
      dir, "data preview --config " + Q(dir / "run.json") + " -n 3 --format json" + data_dir);
  REQUIRE(js.code == 0);
  auto rows = json::parse(js.out);
  REQUIRE(rows.size() == 3);
  for (const auto& row : rows) {
    const auto& ids = row["ids"];
    CHECK(ids[0] == 300);      // <s> follows the 300 BPE units
    CHECK(ids.back() == 302);  // </s>
    CHECK(ids.size() <= 48);
    CHECK((row["nsp"] == 0 || row["nsp"] == 1));
    for (const auto& m : row["masked"]) {
      int p = m["position"];
      CHECK(row["labels"][p] == m["original"]);
      CHECK(ids[p] == m["input"]);
    }
    CHECK(row["segment_ids"].back() == 1);
  }
  auto text = Ablate(dir, "data preview --config " + Q(dir / "run.json") + " -n 1" + data_dir);
  REQUIRE(text.code == 0);
  CHECK_THAT(text.out, Catch::Contains("[segment B]"));
  CHECK_THAT(text.out, Catch::Contains("NSP: "));

  dir.Write("bad.json", R"({"data.format": "FULL-SENTENCE"})");
  auto bad = Ablate(dir, "data preview --config " + Q(dir / "bad.json") + data_dir);
  CHECK(bad.code == 2);
  CHECK_THAT(bad.err, Catch::Contains("/data.format"));
}

TEST_CASE("tokenize prints GPT-2's ids for stdin", "[cli][data]") {
  TempDir dir;
  // scripts/fetch-data puts GPT-2's files under $ABLATE_DATA_DIR, by default the repository's
  // data/.
  const char* env = std::getenv("ABLATE_DATA_DIR");
  fs::path data =
      env != nullptr && *env != '\0' ? fs::path(env) : fs::path(ABLATE_SOURCE_DIR) / "data";
  auto r = Ablate(dir, "tokenize --tokenizer gpt2 --data-dir " + Q(data), "Hello world!");
  REQUIRE(r.code == 0);
  CHECK(r.out == "15496 995 0\n");
  CHECK(Ablate(dir, "tokenize --tokenizer nope --data-dir " + Q(dir / "data"), "x").code == 2);
}

TEST_CASE("report builds the tables of a spec, a bad spec is exit 2", "[cli][report]") {
  TempDir dir;
  dir.Write("g.json", kGrid);
  auto db = Q(dir / "r.db");
  REQUIRE(Ablate(dir, "submit " + Q(dir / "g.json") + " --db " + db).code == 0);
  dir.Write("spec.json", R"({"tables": [{"id": "masking", "caption": "Masking",
    "runs": {"experiment": "masking", "where": {"train.batch_size": 16}},
    "rows": {"by": "data.masking"},
    "columns": [{"label": "ppl", "metric": "valid/ppl", "better": "lower"},
                {"label": "lr", "param": "optim.lr"}]}]})");
  auto report = Ablate(dir, "report " + Q(dir / "spec.json") + " --db " + db);
  REQUIRE(report.code == 0);
  CHECK_THAT(report.out, Catch::StartsWith("## Masking\n\n"
                                           "|  | ppl | lr |\n| :-- | --: | --: |\n"
                                           "| dynamic | – | – |\n| static | – | – |\n\n"
                                           "Each cell is the median over its row's pretraining "
                                           "seeds (0 completed runs per row) of "
                                           "experiment `masking` (6 runs in the table). Held "
                                           "fixed in this slice of the grid: optim.lr = 0.0001, "
                                           "train.batch_size = 16.\n\n"));
  CHECK_THAT(report.out, Catch::Contains("data.tokenizer = gpt2, eval.batch_size = 0"));
  CHECK_THAT(report.out, Catch::Contains("eval.tasks = \"\""));
  CHECK_THAT(report.out, Catch::EndsWith("> Row \"dynamic\": 3 runs queued, not included.\n"
                                         "> Row \"static\": 3 runs queued, not included.\n\n"));
  auto written = Ablate(dir, "report " + Q(dir / "spec.json") + " --db " + db + " -o " +
                                 Q(dir / "out.md") + " --format latex");
  REQUIRE(written.code == 0);
  CHECK_THAT(Slurp(dir / "out.md"), Catch::Contains("\\toprule"));

  dir.Write("bad.json", R"({"tables": [{"id": "x", "runs": {"experiment": "masking"},
    "rows": {"by": "data.maskng"}, "columns": [{"metric": "valid/ppl"}]}]})");
  auto bad = Ablate(dir, "report " + Q(dir / "bad.json") + " --db " + db);
  CHECK(bad.code == 2);
  CHECK_THAT(bad.err,
             Catch::Contains("/tables/0/rows/by/0: no run of experiment \"masking\" has "
                             "parameter \"data.maskng\" (did you mean \"data.masking\"?)"));
  CHECK(Ablate(dir, "report " + Q(dir / "spec.json") + " --db " + db + " --format pdf").code == 2);
}

TEST_CASE("overrides from --set resize a grid from the shell and are stored and shown",
          "[cli][set]") {
  TempDir dir;
  dir.Write("g.json", kGrid);
  auto db = Q(dir / "r.db");
  auto bad = Ablate(dir, "submit " + Q(dir / "g.json") + " --db " + db + " --set train.steps=-5");
  CHECK(bad.code == 2);
  CHECK_THAT(bad.err, Catch::Contains("train.steps"));
  CHECK_FALSE(fs::exists(dir / "r.db"));  // bad input writes nothing
  auto axis = Ablate(dir, "expand " + Q(dir / "g.json") + " --set data.masking=static");
  CHECK(axis.code == 2);
  CHECK_THAT(axis.err, Catch::Contains("/axes/data.masking"));

  auto ok = Ablate(dir, "submit " + Q(dir / "g.json") + " --db " + db +
                            " --set train.steps=2000 --set optim.warmup_steps=100");
  REQUIRE(ok.code == 0);
  auto steps = Ablate(dir, "sql --db " + db +
                               " \"SELECT DISTINCT value FROM params WHERE name IN "
                               "('train.steps', 'optim.warmup_steps') ORDER BY 1\" --format csv");
  CHECK(steps.out == "value\r\n100\r\n2000\r\n");
  auto status = Ablate(dir, "status --db " + db);
  CHECK_THAT(status.out, Catch::Contains("masking was submitted with --set "
                                         "optim.warmup_steps=100 --set train.steps=2000"));
}

TEST_CASE("sql prints large values in full and stops a runaway query at its timeout", "[cli]") {
  TempDir dir;
  dir.Write("g.json", kGrid);
  auto db = Q(dir / "r.db");
  REQUIRE(Ablate(dir, "submit " + Q(dir / "g.json") + " --db " + db).code == 0);
  auto times = Ablate(dir, "sql --db " + db +
                               " \"SELECT created_at, 123456789.25 AS x FROM runs LIMIT 1\" "
                               "--format csv");
  REQUIRE(times.code == 0);
  CHECK(times.out.find("e+") == std::string::npos);
  CHECK_THAT(times.out, Catch::Contains(",123456789.25"));

  const auto start = std::chrono::steady_clock::now();
  auto runaway = Ablate(dir, "sql --db " + db +
                                 " --timeout 0.5 \"WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL "
                                 "SELECT x + 1 FROM c) SELECT count(*) FROM c\"");
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(10));
  CHECK(runaway.code == 2);
  CHECK_THAT(runaway.err, Catch::Contains("longer than --timeout 0.5 s"));
}

TEST_CASE("a cuda device without CUDA is refused before anything is queued",
          "[cli][ablate-train]") {
  if (std::system("command -v nvidia-smi >/dev/null 2>&1") == 0) return;  // a GPU machine
  TempDir dir;
  dir.Write("g.json", kGrid);
  auto run =
      Ablate(dir, "run " + Q(dir / "g.json") + " --db " + Q(dir / "r.db") + " --device cuda");
  CHECK(run.code == 2);
  CHECK_THAT(run.err, Catch::Contains("CUDA section"));
  CHECK_FALSE(fs::exists(dir / "r.db"));
}

TEST_CASE("hostile names are refused and hostile paths stay inside the data directory", "[cli]") {
  TempDir dir;
  for (const std::string& name :
       std::vector<std::string>{"..", ".", "a/b", "a b", "x\"y", std::string(200, 'n')}) {
    dir.Write("g.json", json{{"name", name}, {"axes", {{"seed", {1}}}}}.dump());
    auto expanded = Ablate(dir, "expand " + Q(dir / "g.json"));
    INFO(name);
    CHECK(expanded.code == 2);
    CHECK_THAT(expanded.err, Catch::Contains("/name"));
  }
  // A corpus directory with a space, a quote and "..": its shards and tokenizer are named by a
  // hash inside the data directory, and nothing is written anywhere else.
  const fs::path corpus = dir / "my corp'us" / ".." / "my corp'us";
  fs::create_directories(dir / "my corp'us");
  for (const auto& e :
       fs::directory_iterator(fs::path(ABLATE_SOURCE_DIR) / "tests/data/corpus_small"))
    fs::copy(e.path(), dir / "my corp'us" / e.path().filename());
  std::string quoted = "'";
  for (char c : corpus.string()) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  quoted += "'";
  auto prepared = Ablate(dir, "data prepare --corpus " + quoted +
                                  " --tokenizer bpe-300 --data-dir " + Q(dir / "data"));
  INFO(prepared.err);
  REQUIRE(prepared.code == 0);
  std::set<std::string> top;
  for (const auto& e : fs::directory_iterator(dir.path())) top.insert(e.path().filename().string());
  CHECK(top == std::set<std::string>{"data", "my corp'us", "stdin", "stdout", "stderr", "g.json"});
  for (const auto& e : fs::recursive_directory_iterator(dir / "data")) {
    const std::string name = e.path().filename().string();
    CHECK(name.find('\'') == std::string::npos);
    CHECK(name.find(' ') == std::string::npos);
  }
}

TEST_CASE("report warns on stderr of a row pooling more than seeds, or refuses it",
          "[cli][report]") {
  TempDir dir;
  const std::string db = (dir / "r.db").string();
  {
    // The grid with optim.lr 0.001, then its static row again with --set optim.lr=5e-4.
    ablate::results::Store store = ablate::results::Store::Open(db);
    ablate::results::ExperimentSubmission submission{"masking", "", "{}", {}};
    int n = 0;
    for (const auto& [masking, lr] : std::vector<std::pair<std::string, double>>{
             {"static", 1e-3}, {"dynamic", 1e-3}, {"static", 5e-4}}) {
      for (int seed = 1; seed <= 2; ++seed) {
        submission.runs.push_back(
            {"run" + std::to_string(n++),
             json{{"seed", seed}, {"data.masking", masking}, {"optim.lr", lr}}});
      }
    }
    store.Submit(submission);
    for (int i = 0; i < n; ++i) {
      auto claimed = store.StartRun("masking", "run" + std::to_string(i), "host", 1);
      store.SetFinalMetric(claimed.run_id, "valid/ppl", 10 + i, 10);
      store.Finish(claimed.run_id, ablate::results::RunStatus::kCompleted);
    }
  }
  const std::string spec = R"({"tables": [{"id": "masking", "caption": "Masking",
    "runs": {"experiment": "masking"}, "rows": {"by": "data.masking"},
    "columns": [{"label": "ppl", "metric": "valid/ppl", "better": "lower"}]}]})";
  dir.Write("spec.json", spec);
  auto warned = Ablate(dir, "report " + Q(dir / "spec.json") + " --db " + Q(db));
  REQUIRE(warned.code == 0);
  CHECK(warned.err ==
        "ablate report: warning: table \"masking\" (/tables/0), row \"static\": optim.lr takes "
        "0.001 (2 runs), 0.0005 (2 runs); pooled in one row\n");
  CHECK_THAT(warned.out, Catch::Contains("> Row \"static\": optim.lr takes 0.001 (2 runs), 0.0005 "
                                         "(2 runs); its cells pool these settings"));

  std::string split = spec;
  split.replace(split.find("\"rows\""), 0, "\"mixed\": \"split\", ");
  dir.Write("split.json", split);
  auto rows = Ablate(dir, "report " + Q(dir / "split.json") + " --db " + Q(db));
  REQUIRE(rows.code == 0);
  CHECK(rows.err.empty());
  CHECK_THAT(rows.out, Catch::Contains("| static (optim.lr=0.001) |"));
  CHECK_THAT(rows.out, Catch::Contains("| static (optim.lr=0.0005) |"));

  dir.Write("error.json", "{\"mixed\": \"error\", " + spec.substr(1));
  auto refused = Ablate(dir, "report " + Q(dir / "error.json") + " --db " + Q(db));
  CHECK(refused.code == 2);
  CHECK(Lines(refused.err) == 1);
  CHECK_THAT(refused.err, Catch::Contains("error.json: /tables/0/rows: row \"static\" pools runs "
                                          "that differ in more than the seed: optim.lr takes "
                                          "0.001 (2 runs), 0.0005 (2 runs)"));
  CHECK(refused.out.empty());
}

TEST_CASE("sql: a double-quoted name that is no column is an error, not a string", "[cli]") {
  TempDir dir;
  dir.Write("g.json", kGrid);
  auto db = Q(dir / "r.db");
  REQUIRE(Ablate(dir, "submit " + Q(dir / "g.json") + " --db " + db).code == 0);
  auto column =
      Ablate(dir, "sql --db " + db +
                      " 'SELECT COUNT(*) AS n FROM runs_wide WHERE \"optim.lr\" > 0.0005' "
                      "--format csv");
  REQUIRE(column.code == 0);
  CHECK(column.out == "n\r\n6\r\n");
  // Before, SQLite answered the misspelt name with the text 'optim.lt' on every row.
  auto typo = Ablate(dir, "sql --db " + db + " 'SELECT \"optim.lt\" FROM runs_wide'");
  CHECK(typo.code == 2);
  CHECK(Lines(typo.err) == 1);
  CHECK_THAT(typo.err, Catch::Contains("statement 1: no such column: optim.lt"));
  CHECK(typo.out.empty());
}

TEST_CASE("expand --plan shows each run's fine-tuning, and with --db its time at measured rates",
          "[cli][plan]") {
  TempDir dir;
  const std::string corpus = std::string(ABLATE_SOURCE_DIR) + "/tests/data/corpus_small";
  const std::string data = " --data-dir " + Q(dir / "data");
  // A built-in task as scripts/fetch-data leaves it says its size in source.json.
  fs::create_directories(dir / "data" / "tasks" / "uci-sentiment");
  dir.Write("data/tasks/uci-sentiment/source.json", R"({"format": "sst2", "train": 100})");
  dir.Write("g.json", R"({"name": "ft", "base": {"data.corpus": ")" + corpus +
                          R"(", "data.tokenizer": "bpe-300", "data.seq_len": 32,
      "data.format": "FULL-SENTENCES", "model.layers": 1, "model.hidden": 16, "model.heads": 2,
      "model.ffn": 32, "optim.warmup_steps": 1, "eval.sequences": 4, "eval.every": 0,
      "train.checkpoint_every": 0, "train.batch_size": 4, "train.steps": 10,
      "eval.tasks": "uci-sentiment", "eval.lrs": "1e-4", "eval.seeds": 1, "eval.epochs": 2,
      "eval.seq_len": 16}, "seeds": 2})");
  const std::string grid = Q(dir / "g.json");
  REQUIRE(Ablate(dir, "data prepare --corpus " + Q(corpus) + " --tokenizer bpe-300" + data).code ==
          0);

  auto plain = Ablate(dir, "expand " + grid + " --plan" + data);
  REQUIRE(plain.code == 0);
  CHECK_THAT(plain.out, Catch::Contains("fine-tune ex.  est. time"));
  CHECK_THAT(plain.out, Catch::Contains("fine-tuning of runs 1-2: uci-sentiment: 1 lr x 1 seed x 2 "
                                        "epochs x 100 training examples = 200 example passes\n"));
  CHECK_THAT(plain.out, Catch::EndsWith("est. time: no measured rate yet (--db DB gives the rates "
                                        "earlier runs of ft measured)\n"));

  // The first run trained 1,000 tokens in 10 updates of 0.5 s (200 tokens/s), then fine-tuned 2
  // epochs of 100 examples in 4 s (50 examples/s); the second has not run.
  const auto runs = json::parse(Ablate(dir, "expand " + grid + " --format json").out);
  const std::string key = runs[0]["key"];
  const std::string db = (dir / "r.db").string();
  {
    auto store = ablate::results::Store::Open(db);
    store.Submit({"ft", "", "{}", {{key, runs[0]["params"]}}});
    const auto run = store.StartRun("ft", key, "host", 1);
    auto writer = store.Metrics();
    for (int step = 1; step <= 10; ++step) writer.Add(run.run_id, "train/step_seconds", step, 0.5);
    writer.Flush();
    store.SetFinalMetric(run.run_id, "train/tokens_seen", 1000, 10);
    const fs::path run_dir = dir / "runs" / "ft" / key;
    fs::create_directories(run_dir / "finetune" / "uci-sentiment");
    std::ofstream(run_dir / "finetune" / "uci-sentiment" / "lr0.0001-seed1.json")
        << R"({"lr": 1e-4, "seed": 1, "epochs": [{"acc": 50}, {"acc": 60}], "best_epoch": 2,
               "seconds": 4, "settings": {"train_items": 100, "epochs": 2}})";
    store.AddArtifact(run.run_id, "run_dir", run_dir.string(), std::nullopt);
    store.Finish(run.run_id, ablate::results::RunStatus::kCompleted, "");
  }
  auto timed = Ablate(dir, "expand " + grid + " --plan --db " + Q(db) + data);
  REQUIRE(timed.code == 0);
  CHECK_THAT(timed.out, Catch::Contains("est. time: at the rates 1 earlier run of ft in " + db +
                                        " measured (a run's own where it has one), pretraining "
                                        "200 tokens/s, fine-tuning 50 examples/s; "));
  CHECK_THAT(timed.out,
             Catch::EndsWith(" of run time for the 2 runs (parallel workers share it)\n"));
  auto js = Ablate(dir, "expand " + grid + " --plan --format json --db " + Q(db) + data);
  REQUIRE(js.code == 0);
  for (const auto& run : json::parse(js.out)) {
    const auto& plan = run.at("plan");
    CHECK(plan.at("finetune").at(0).at("train_examples") == 100);
    CHECK(plan.at("finetune_example_passes") == 200);
    // Both at the first run's rates: its own, and the pooled one of its experiment.
    CHECK(plan.at("est_seconds").get<double>() ==
          Approx(plan.at("total_tokens").get<double>() / 200 + 200.0 / 50));
  }
  // --db serves the plan only; a database that is not one is bad input.
  CHECK(Ablate(dir, "expand " + grid + " --db " + Q(db)).code == 2);
  dir.Write("not.db", "hello");
  CHECK(Ablate(dir, "expand " + grid + " --plan --db " + Q(dir / "not.db") + data).code == 2);
}

namespace {

// A database of one experiment whose four completed runs have learning curves, and a spec of one
// table over it: a report of it writes two SVGs beside its output file.
std::string CurvesDatabase(const TempDir& dir) {
  const std::string db = (dir / "r.db").string();
  ablate::results::Store store = ablate::results::Store::Open(db);
  ablate::results::ExperimentSubmission submission{"masking", "", "{}", {}};
  for (const std::string masking : {"static", "dynamic"}) {
    for (int seed = 1; seed <= 2; ++seed)
      submission.runs.push_back(
          {masking + std::to_string(seed), json{{"seed", seed}, {"data.masking", masking}}});
  }
  store.Submit(submission);
  auto writer = store.Metrics();
  for (const auto& run : submission.runs) {
    auto claimed = store.StartRun("masking", run.key, "host", 1);
    for (int step = 1; step <= 3; ++step) {
      writer.Add(claimed.run_id, "train/mlm_loss", step, 5.0 - step);
      writer.Add(claimed.run_id, "train/tokens_seen", step, 100.0 * step);
      writer.Add(claimed.run_id, "valid/ppl", step, 50.0 - step);
    }
    writer.Flush();
    store.SetFinalMetric(claimed.run_id, "valid/ppl", 47, 3);
    store.Finish(claimed.run_id, ablate::results::RunStatus::kCompleted);
  }
  dir.Write("spec.json", R"({"tables": [{"id": "masking", "caption": "Masking",
    "runs": {"experiment": "masking"}, "rows": {"by": "data.masking"},
    "columns": [{"label": "ppl", "metric": "valid/ppl", "better": "lower"}]}]})");
  return db;
}

// The names in `dir`, less SQLite's -wal and -shm files, which come and go with readers.
std::set<std::string> Names(const fs::path& dir) {
  std::set<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (!name.ends_with("-wal") && !name.ends_with("-shm")) names.insert(name);
  }
  return names;
}

}  // namespace

TEST_CASE("report -o never writes through a link planted at a temporary's name", "[cli][report]") {
  TempDir dir;
  const std::string db = CurvesDatabase(dir);
  dir.Write("victim", "precious");
  // The names the earlier scheme gave the temporaries: <file>.tmp<pid>. The shell's $$ is the
  // pid of ablate, which exec puts in its place.
  std::string plant;
  for (const std::string name : {"out.md", "out-masking-loss.svg", "out-masking-ppl.svg"})
    plant += "ln -s " + Q(dir / "victim") + " " + Q(dir / name) + ".tmp$$ && ";
  auto r =
      RunBinary(dir, plant + "exec " + ABLATE_BINARY,
                "report " + Q(dir / "spec.json") + " --db " + Q(db) + " -o " + Q(dir / "out.md"));
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(Slurp(dir / "victim") == "precious");
  CHECK_FALSE(fs::is_symlink(dir / "out.md"));
  CHECK_THAT(Slurp(dir / "out.md"), Catch::StartsWith("## Masking"));
  for (const char* svg : {"out-masking-loss.svg", "out-masking-ppl.svg"}) {
    CHECK_FALSE(fs::is_symlink(dir / svg));
    CHECK_THAT(Slurp(dir / svg), Catch::Contains("<svg"));
  }
  size_t links = 0;
  for (const auto& e : fs::directory_iterator(dir.path())) {
    const std::string name = e.path().filename().string();
    if (fs::is_symlink(e.symlink_status())) {
      ++links;
    } else {
      CHECK(name.find(".tmp") == std::string::npos);  // no temporary of ablate's is left
    }
  }
  CHECK(links == 3);
}

TEST_CASE("report -o onto a directory is exit 2 and writes nothing, no SVG either",
          "[cli][report]") {
  TempDir dir;
  const std::string db = CurvesDatabase(dir);
  fs::create_directory(dir / "outdir");
  auto before = Names(dir.path());
  before.insert({"stdin", "stdout", "stderr"});  // RunBinary's
  for (const std::string format : {"markdown", "html"}) {
    auto r = Ablate(dir, "report " + Q(dir / "spec.json") + " --db " + Q(db) + " -o " +
                             Q(dir / "outdir") + " --format " + format);
    INFO(format);
    CHECK(r.code == 2);
    CHECK(Lines(r.err) == 1);
    CHECK_THAT(r.err, Catch::Contains("outdir is a directory"));
    CHECK(Names(dir.path()) == before);
    CHECK(fs::is_empty(dir / "outdir"));
  }
  // A file written where a directory was meant: the same name with a file's ending works.
  auto ok = Ablate(dir, "report " + Q(dir / "spec.json") + " --db " + Q(db) + " -o " +
                            Q(dir / "outdir" / "report.md"));
  REQUIRE(ok.code == 0);
  CHECK(Names(dir / "outdir") ==
        std::set<std::string>{"report-masking-loss.svg", "report-masking-ppl.svg", "report.md"});
}
