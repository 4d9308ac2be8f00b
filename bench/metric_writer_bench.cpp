// Metric-history write rate: ablate's MetricWriter against optuna's RDBStorage on SQLite (run as
// a subprocess with Debian's python3-optuna), each into a fresh file database. Prints one line of
// rates and their ratio; asserts nothing.
#include <stdlib.h>
#include <sys/wait.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "results/store.h"

namespace {

using ablate::results::ExperimentSubmission;
using ablate::results::MetricWriter;
using ablate::results::Store;

constexpr int kRuns = 100;
constexpr int kSteps = 5000;
constexpr std::array<const char*, 4> kNames = {"train/loss", "train/lr", "train/grad_norm",
                                               "valid/loss"};
constexpr int kPeerReports = 2000;

// Points per second for kRuns runs logging kNames every step, the way training loops log.
double MeasureOurs(const std::string& db_path) {
  Store store = Store::Open(db_path);
  ExperimentSubmission grid{"bench", "", "{}", {}};
  for (int run = 0; run < kRuns; ++run) {
    grid.runs.push_back({"run-" + std::to_string(run), {{"seed", run}}});
  }
  store.Submit(grid);
  std::vector<int64_t> run_ids;
  ablate::results::Statement select = store.connection().Prepare("SELECT id FROM runs ORDER BY id");
  while (select.Step()) run_ids.push_back(select.ColumnInt(0));

  const auto start = std::chrono::steady_clock::now();
  {
    MetricWriter writer = store.Metrics(MetricWriter::kDefaultBatchSize);
    for (int64_t run : run_ids) {
      for (int64_t step = 0; step < kSteps; ++step) {
        for (size_t name = 0; name < kNames.size(); ++name) {
          writer.Add(run, kNames[name], step, 1.0 / static_cast<double>(step + 1) + name);
        }
      }
    }
  }
  const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
  return static_cast<double>(kRuns) * kSteps * kNames.size() / elapsed.count();
}

// nullopt when /usr/bin/python3 or its optuna is missing.
std::optional<double> MeasurePeer(const std::string& db_path) {
  const std::string command = std::string("/usr/bin/python3 ") + ABLATE_OPTUNA_PEER + " '" +
                              db_path + "' " + std::to_string(kPeerReports) + " 2>/dev/null";
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return std::nullopt;
  std::array<char, 256> line{};
  double rate = 0;
  bool parsed = false;
  while (fgets(line.data(), line.size(), pipe) != nullptr) {
    parsed = parsed || std::sscanf(line.data(), "points_per_s=%lf", &rate) == 1;
  }
  const int status = pclose(pipe);
  if (!parsed || !WIFEXITED(status) || WEXITSTATUS(status) != 0) return std::nullopt;
  return rate;
}

}  // namespace

int main() {
  std::string dir_template =
      (std::filesystem::temp_directory_path() / "ablate-bench-XXXXXX").string();
  if (mkdtemp(dir_template.data()) == nullptr) {
    std::perror("mkdtemp");
    return 1;
  }
  const std::filesystem::path dir = dir_template;
  const double ours = MeasureOurs((dir / "ours.db").string());
  const std::optional<double> peer = MeasurePeer((dir / "optuna.db").string());
  std::filesystem::remove_all(dir);

  if (peer) {
    std::printf("metric_writer: ours=%.0f peer=%.0f ratio=%.0f (points/s)\n", ours, *peer,
                ours / *peer);
  } else {
    std::printf("metric_writer: ours=%.0f peer=n/a ratio=n/a (points/s)\n", ours);
  }
  return 0;
}
