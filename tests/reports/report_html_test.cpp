// The HTML report in a real browser: Debian's chromium (headless) loads the page written by
// `ablate report --format html`, runs its scripts (uPlot included), and the page's #selftest
// writes back what a user would see: the tables and their rows, the value the legend shows when
// the cursor is over a chart, the order after a click on a column header, the runs left by the
// filter, and every script error.
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>

#include "results/metric_writer.h"
#include "results/store.h"
#include "tests/support.h"

using nlohmann::json;

namespace {

std::string Run(const std::string& command, int* code) {
  std::string out;
  FILE* pipe = ::popen(command.c_str(), "r");
  char buffer[4096];
  size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) out.append(buffer, n);
  const int status = ::pclose(pipe);
  *code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

// Two rows (masking static/dynamic) of three seeds, with loss and perplexity curves, and trivial
// baselines that differ by row (the copy-aware one the best).
void BuildDatabase(const std::string& path) {
  auto store = ablate::results::Store::Open(path);
  ablate::results::ExperimentSubmission submission{"masking", "", "{}", {}};
  for (const std::string masking : {"static", "dynamic"}) {
    for (int seed = 1; seed <= 3; ++seed) {
      submission.runs.push_back(
          {masking + std::to_string(seed), {{"data.masking", masking}, {"seed", seed}}});
    }
  }
  store.Submit(submission);
  ablate::results::MetricWriter writer = store.Metrics();
  for (const auto& run : submission.runs) {
    auto claimed = store.StartRun("masking", run.key, "host", 1);
    const bool dynamic = run.params["data.masking"] == "dynamic";
    const int seed = run.params["seed"];
    for (int step = 1; step <= 40; ++step) {
      writer.Add(claimed.run_id, "train/tokens_seen", step, 1000.0 * step);
      writer.Add(claimed.run_id, "train/mlm_loss", step,
                 9.0 - 0.05 * step - (dynamic ? 0.3 : 0.0) + 0.01 * seed);
      if (step % 10 == 0) {
        writer.Add(claimed.run_id, "valid/ppl", step, 500.0 - 5.0 * step - (dynamic ? 40 : 0));
        writer.Add(claimed.run_id, "valid/baseline/copy/ppl", step, dynamic ? 420 : 450);
        writer.Add(claimed.run_id, "valid/baseline/unigram/ppl", step, 600);
      }
    }
    writer.Flush();
    store.SetFinalMetric(claimed.run_id, "valid/ppl", 300.0 - (dynamic ? 40 : 0) + seed, 40);
    store.Finish(claimed.run_id, ablate::results::RunStatus::kCompleted, "");
  }
}

}  // namespace

TEST_CASE("the HTML report works in a real browser with no network", "[report][html][browser]") {
  ablate::test::TempDir dir;
  BuildDatabase(dir.File("r.db"));
  dir.Write("spec.json", R"({"title": "Masking", "tables": [{"id": "masking",
    "caption": "Static vs dynamic", "runs": {"experiment": "masking"},
    "rows": {"by": "data.masking"},
    "columns": [{"label": "ppl", "metric": "valid/ppl", "better": "lower"}]}]})");
  int code = 0;
  Run(std::string(ABLATE_BINARY) + " report " + dir.File("spec.json") + " --db " +
          dir.File("r.db") + " --format html -o " + dir.File("report.html") + " 2>&1",
      &code);
  REQUIRE(code == 0);
  std::ifstream in(dir / "report.html");
  const std::string page((std::istreambuf_iterator<char>(in)), {});
  // Self-contained: nothing is fetched from elsewhere.
  CHECK_FALSE(std::regex_search(page, std::regex(R"((src|href)=["']?(https?:)?//)")));
  CHECK(page.find("uPlot") != std::string::npos);
  CHECK(page.find("MIT License") != std::string::npos);

  const std::string dom =
      Run("chromium --headless --no-sandbox --disable-gpu --virtual-time-budget=5000 "
          "--dump-dom 'file://" +
              dir.File("report.html") + "#selftest' 2>/dev/null",
          &code);
  INFO(dom.substr(0, 2000));
  REQUIRE(code == 0);
  std::smatch match;
  REQUIRE(std::regex_search(dom, match, std::regex("<pre id=\"selftest\">(.*?)</pre>")));
  std::string text = match[1];
  text = std::regex_replace(text, std::regex("&quot;"), "\"");
  text = std::regex_replace(text, std::regex("&amp;"), "&");
  const json result = json::parse(text);
  INFO(result.dump());
  CHECK(result["errors"].empty());
  REQUIRE(result["tables"].size() == 1);
  CHECK(result["tables"][0]["rows"] == 2);
  CHECK(result["tables"][0]["columns"] == 2);
  CHECK(result["charts"] == 2);  // loss and perplexity
  // The legend at the cursor shows each row's value there (uPlot rounds for display).
  const auto& hover = result["hover"];
  REQUIRE(hover["series"].size() == 2);
  for (const auto& series : hover["series"]) {
    const double shown = std::stod(series[1].get<std::string>());
    CHECK(std::abs(shown - series[2].get<double>()) < 1e-3);
  }
  // The median loss of the rows at the hovered token count, by the fixture's formula.
  const double tokens = hover["tokens"];
  const double step = tokens / 1000.0;
  CHECK(hover["series"][0][0] == "dynamic");  // rows in the table's order
  CHECK(hover["series"][0][2].get<double>() == Approx(9.0 - 0.05 * step - 0.3 + 0.02));
  CHECK(hover["series"][1][2].get<double>() == Approx(9.0 - 0.05 * step + 0.02));
  // The perplexity chart's dashed floors, one per row, and the note that says what they are.
  CHECK(result["floors"] ==
        json::array({json::array(), json::array({json::array({"baseline: dynamic", 420}),
                                                 json::array({"baseline: static", 450})})}));
  CHECK(result["notes"] == json::array({"dashed: the row's best trivial baseline (context-free "
                                        "predictor) on the same positions"}));
  // Sorting by ppl (ascending): dynamic (262) before static (302).
  CHECK(result["sorted"] == json::array({"dynamic", "static"}));
  // The runs page: filtered by one run's key, one of six rows stays.
  CHECK(result["filtered"] == json::array({1, 6}));
}
