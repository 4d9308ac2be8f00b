// Report speed on a large study: a results database of 10,000 runs with 1,000 logged steps each
// (training loss and tokens seen: 20M metric points) and three final metrics per run; a spec with
// two tables (4 rows, and 25 generated rows) aggregated as medians over 100 seeds. Times `ablate
// report` (the CLI, process start included) for the tables alone and with the learning curves
// (which read every point), and the report library in-process, against the sqlite3 command-line
// shell running the equivalent median aggregation in SQL. Prints the times and ratios; asserts
// nothing.
#include <stdlib.h>
#include <sys/wait.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "reports/report.h"
#include "reports/report_render.h"
#include "reports/report_spec.h"
#include "results/metric_names.h"
#include "results/store.h"

namespace {

namespace fs = std::filesystem;
using ablate::results::ExperimentSubmission;
using ablate::results::Store;

constexpr int kSeeds = 100;
constexpr int kSteps = 1000;
constexpr std::array<const char*, 4> kFormats = {"SEGMENT-PAIR+NSP", "SENTENCE-PAIR+NSP",
                                                 "FULL-SENTENCES", "DOC-SENTENCES"};
constexpr std::array<int, 5> kBatches = {256, 512, 1024, 2048, 8192};
constexpr std::array<double, 5> kLrs = {1e-4, 2e-4, 4e-4, 7e-4, 1e-3};

double Seconds(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// 4 formats x 5 batch sizes x 5 learning rates x 100 seeds = 10,000 completed runs.
void BuildDatabase(const std::string& path) {
  Store store = Store::Open(path);
  ExperimentSubmission grid{"bench", "", "{}", {}};
  for (const char* format : kFormats) {
    for (int batch : kBatches) {
      for (double lr : kLrs) {
        for (int seed = 1; seed <= kSeeds; ++seed) {
          grid.runs.push_back({std::string(format) + "/" + std::to_string(batch) + "/" +
                                   std::to_string(lr) + "/" + std::to_string(seed),
                               {{"seed", seed},
                                {"data.format", format},
                                {"train.batch_size", batch},
                                {"optim.lr", lr},
                                {"model.layers", 12},
                                {"data.corpus", "books"}}});
        }
      }
    }
  }
  store.Submit(grid);
  auto writer = store.Metrics();
  uint64_t state = 12345;
  auto noise = [&] {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<double>(state >> 11) / 9007199254740992.0;
  };
  for (const auto& run : grid.runs) {
    auto claimed = store.StartRun("bench", run.key, "bench", 1);
    for (int step = 1; step <= kSteps; ++step) {
      writer.Add(claimed.run_id, ablate::results::metric::kTrainMlmLoss, step,
                 10.0 / (1 + 0.01 * step) + noise());
      writer.Add(claimed.run_id, ablate::results::metric::kTrainTokensSeen, step, 131072.0 * step);
    }
    store.SetFinalMetric(claimed.run_id, "valid/ppl", 3.5 + noise(), kSteps);
    store.SetFinalMetric(claimed.run_id, "eval/mnli/acc", 84 + noise(), kSteps);
    store.SetFinalMetric(claimed.run_id, "eval/sst-2/acc", 92 + noise(), kSteps);
    store.Finish(claimed.run_id, ablate::results::RunStatus::kCompleted);
  }
  writer.Flush();
}

const char* kSpec = R"({
  "tables": [
    {"id": "formats", "caption": "Input format", "runs": {"experiment": "bench"},
     "rows": [
       {"label": "SEGMENT-PAIR", "where": {"data.format": "SEGMENT-PAIR+NSP"}},
       {"label": "SENTENCE-PAIR", "where": {"data.format": "SENTENCE-PAIR+NSP"}},
       {"label": "FULL-SENTENCES", "where": {"data.format": "FULL-SENTENCES"}},
       {"label": "DOC-SENTENCES", "where": {"data.format": "DOC-SENTENCES"}}],
     "columns": [
       {"label": "MNLI-m", "metric": "eval/mnli/acc", "better": "higher"},
       {"label": "SST-2", "metric": "eval/sst-2/acc", "better": "higher"},
       {"label": "ppl", "metric": "valid/ppl", "decimals": 2, "better": "lower"}]},
    {"id": "batch", "caption": "Batch size and learning rate", "runs": {"experiment": "bench"},
     "rows": {"by": ["train.batch_size", "optim.lr"], "label": "{train.batch_size}, lr {optim.lr}"},
     "columns": [
       {"label": "MNLI-m", "metric": "eval/mnli/acc", "better": "higher"},
       {"label": "SST-2", "metric": "eval/sst-2/acc", "better": "higher"},
       {"label": "ppl", "metric": "valid/ppl", "decimals": 2, "better": "lower"}]}
  ]
})";

// The same medians in SQL through the same views, grouped by `row` (an SQL expression of the
// run's parameters); the shell has no median(), so it is taken with window functions.
std::string PeerSql(const std::string& row) {
  return R"(
WITH v AS (
  SELECT f.run_id, f.name AS metric, f.value AS value FROM run_finals f
  WHERE f.experiment = 'bench' AND f.status = 'completed'
    AND f.name IN ('eval/mnli/acc', 'eval/sst-2/acc', 'valid/ppl')
), keyed AS (
  SELECT v.metric, v.value, )" +
         row + R"( AS row FROM v
), ranked AS (
  SELECT row, metric, value, ROW_NUMBER() OVER (PARTITION BY row, metric ORDER BY value) AS i,
         COUNT(*) OVER (PARTITION BY row, metric) AS n FROM keyed
)
SELECT row, metric, AVG(value) FROM ranked WHERE i IN ((n + 1) / 2, (n + 2) / 2)
GROUP BY row, metric ORDER BY row, metric;
)";
}

std::string Param(const std::string& name) {
  return "(SELECT value FROM run_params p WHERE p.run_id = v.run_id AND p.name = '" + name + "')";
}

double TimeCommand(const std::string& command) {
  const auto start = std::chrono::steady_clock::now();
  const int rc = std::system(command.c_str());
  const double seconds = Seconds(start);
  if (rc != 0) {
    std::fprintf(stderr, "bench_report: failed (%d): %s\n", rc, command.c_str());
    std::exit(1);
  }
  return seconds;
}

// The best of `repeats`: the machine is shared, and the fastest run is the least disturbed.
template <typename F>
double Best(int repeats, F measure) {
  double best = 1e300;
  for (int i = 0; i < repeats; ++i) best = std::min(best, measure());
  return best;
}

}  // namespace

int main() {
  const fs::path dir = fs::path(ABLATE_SOURCE_DIR) / "bench" / "out";
  fs::create_directories(dir);
  const std::string db = (dir / "report_bench_v3.db").string();
  if (!fs::exists(db)) {
    const auto start = std::chrono::steady_clock::now();
    BuildDatabase(db + ".tmp");
    fs::rename(db + ".tmp", db);
    std::fprintf(stderr, "bench_report: built %s (10,000 runs x 1,000 steps) in %.0f s\n",
                 db.c_str(), Seconds(start));
  }
  const std::string spec_path = (dir / "report_bench_spec.json").string();
  std::ofstream(spec_path) << kSpec;
  const std::string sql_path = (dir / "report_bench_peer.sql").string();
  std::ofstream(sql_path) << PeerSql(Param("data.format"))
                          << PeerSql(Param("train.batch_size") + " || ', lr ' || " +
                                     Param("optim.lr"));

  const double in_process = Best(3, [&] {
    const auto start = std::chrono::steady_clock::now();
    const auto spec = ablate::reports::ReadReportSpec(spec_path);
    const auto report = ablate::reports::BuildReport(spec, db);
    std::ostringstream out;
    ablate::reports::RenderReport(out, report, "markdown");
    return Seconds(start);
  });
  const std::string report = std::string(ABLATE_BINARY) + " report " + spec_path + " --db " + db +
                             " -o " + (dir / "report_bench.md").string();
  const double cli = Best(3, [&] { return TimeCommand(report + " --no-plots 2>/dev/null"); });
  const double with_curves = Best(3, [&] { return TimeCommand(report + " 2>/dev/null"); });
  const double peer = Best(3, [&] {
    return TimeCommand("sqlite3 -readonly " + db + " < " + sql_path + " > " +
                       (dir / "report_bench_peer.txt").string());
  });
  // A query that asks almost nothing, so the figure is the command's own start-up.
  const std::string query = "\"SELECT status, count(*) FROM runs GROUP BY 1\" > /dev/null";
  const double sql_ours = Best(
      5, [&] { return TimeCommand(std::string(ABLATE_BINARY) + " sql --db " + db + " " + query); });
  const double sql_peer =
      Best(5, [&] { return TimeCommand("sqlite3 -readonly " + db + " " + query); });
  std::printf(
      "cli_sql: ours=%.4f peer=%.4f ratio=%.2f (s for `ablate sql` vs the sqlite3 shell, "
      "SELECT status, count(*) FROM runs GROUP BY 1 over 10,000 runs; lower is better)\n",
      sql_ours, sql_peer, sql_ours / sql_peer);
  std::printf(
      "report: ours=%.3f peer=%.3f ratio=%.2f (s for 2 tables over 10,000 runs; CLI "
      "incl. process start vs the sqlite3 shell; lower is better)\n",
      cli, peer, cli / peer);
  std::printf(
      "report_with_curves: ours=%.3f peer=%.3f ratio=%.2f (s; also reads all 20M points "
      "and writes 4 SVGs)\n",
      with_curves, peer, with_curves / peer);
  std::printf("report_in_process: ours=%.3f peer=%.3f ratio=%.2f (s; library, no process start)\n",
              in_process, peer, in_process / peer);
  return 0;
}
