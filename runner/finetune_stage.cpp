#include "runner/finetune_stage.h"

#include <chrono>
#include <cstdio>
#include <ostream>

#include "base/number_text.h"
#include "downstream/finetune.h"
#include "experiments/run_config.h"
#include "results/metric_names.h"
#include "runner/signals.h"

namespace ablate::runner {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kHeartbeatEvery = std::chrono::seconds(15);

std::string Metrics(const std::map<std::string, double>& metrics) {
  std::string out;
  char value[32];
  for (const auto& [name, v] : metrics) {
    std::snprintf(value, sizeof value, "%.2f", v);
    out += (out.empty() ? "" : "  ") + name + " " + value;
  }
  return out;
}

// Heartbeats while fine-tuning, a line per finished unit, and SIGINT/SIGTERM as a stop request.
class FinetuneRecorder : public downstream::FinetuneObserver {
 public:
  FinetuneRecorder(results::RunRecords* records, const std::string& label, std::ostream& out)
      : records_(records), label_(label), out_(out) {}

  void OnUpdate(const downstream::FinetuneProgress&) override { Heartbeat(); }
  // Waiting for another worker's unit of a shared baseline: alive, though nothing is updated.
  void OnWaiting(const std::string&) override { Heartbeat(); }

  // Units from now on are the no-pretraining baseline's (or again the run's own).
  void SetUntrained(bool untrained) { untrained_ = untrained; }

  void OnUnit(const std::string& task, const downstream::FinetuneUnit& unit, int64_t index,
              int64_t count) override {
    char timing[48];
    std::snprintf(timing, sizeof timing, "%.1f s", unit.seconds);
    out_ << label_ << ": eval " << task << (untrained_ ? " (no pretraining)" : "") << " " << index
         << "/" << count << ": lr " << ShortestText(unit.lr) << " seed " << unit.seed << ": "
         << Metrics(unit.best()) << " at epoch " << unit.best_epoch << "/" << unit.epochs.size()
         << " (" << (unit.cached ? std::string("done before") : std::string(timing)) << ")\n"
         << std::flush;
  }

  bool StopRequested() override { return StopSignalled(); }

 private:
  void Heartbeat() {
    if (records_ && Clock::now() - last_heartbeat_ > kHeartbeatEvery) {
      records_->Heartbeat();
      last_heartbeat_ = Clock::now();
    }
  }

  results::RunRecords* records_;
  std::string label_;
  std::ostream& out_;
  Clock::time_point last_heartbeat_ = Clock::now();
  bool untrained_ = false;
};

// The runs root holds <experiment>/<run key>/ (worker.cpp, ablate train, remote tasks): the shared
// no-pretraining baselines go beside the experiments, where every run of every grid finds them.
std::filesystem::path NoPretrainingDir(const std::filesystem::path& run_dir) {
  std::filesystem::path dir = std::filesystem::absolute(run_dir).lexically_normal();
  if (!dir.has_filename()) dir = dir.parent_path();  // "runs/e/key/"
  const std::filesystem::path root = dir.parent_path().parent_path();
  // A run directory given by hand just below the filesystem's root (ablate train --run-dir
  // /tmp/x) has no runs root above it: its baselines go beside it, not into "/".
  if (root == root.root_path()) return dir.parent_path() / "no-pretraining";
  return root / "no-pretraining";
}

}  // namespace

FinetuneStageResult RunFinetuneStage(const experiments::RunConfig& run,
                                     const core::TrainConfig& train,
                                     const std::filesystem::path& data_dir,
                                     const std::filesystem::path& run_dir,
                                     results::RunRecords* records, const std::string& label,
                                     std::ostream& progress) {
  if (run.eval.tasks.empty()) return {};
  std::vector<downstream::TaskSpec> specs;
  for (const auto& spec : run.eval.tasks) specs.push_back(downstream::InDataDir(spec, data_dir));
  auto config = run.eval.finetune;
  config.device = train.device;
  config.threads = train.threads;
  auto log = [&](const std::string& line) { progress << label << ": " << line << "\n"; };
  FinetuneRecorder recorder(records, label, progress);
  for (const auto& spec : specs) {
    const downstream::Task task = downstream::LoadTask(spec);
    const std::string prefix = results::metric::kEvalPrefix + task.name + "/";
    if (records && records->FinalMetricNames().count(prefix + task.primary_metric) > 0) {
      log("eval " + task.name + ": skipped (its scores are recorded)");
      continue;
    }
    auto result = downstream::Finetune(task, config, train, data_dir, run_dir, recorder, log);
    if (result.outcome == downstream::FinetuneOutcome::kInterrupted) return {true, task.name};
    log("eval " + task.name + ": " + Metrics(result.metrics) + " (lr " + ShortestText(result.lr) +
        ", median of " + std::to_string(config.seeds) + " seeds)");
    // The floor pretraining must beat: the same protocol from the encoder it started from.
    recorder.SetUntrained(true);
    auto untrained = downstream::FinetuneUntrained(task, config, train, data_dir,
                                                   NoPretrainingDir(run_dir), recorder, log);
    recorder.SetUntrained(false);
    if (untrained.outcome == downstream::FinetuneOutcome::kInterrupted) return {true, task.name};
    log("eval " + task.name + " (no pretraining): " + Metrics(untrained.metrics) + " (lr " +
        ShortestText(untrained.lr) + ", median of " + std::to_string(config.seeds) + " seeds)");
    if (!records) continue;
    // The primary metric goes last: its presence says the task's scores are all recorded.
    // Each seed's per-example outcomes at the chosen lr, behind the medians (for a bootstrap
    // over seeds and examples); replicate = the fine-tuning seed.
    for (const auto& [seed, by_metric] : result.examples) {
      for (const auto& [name, outcomes] : by_metric)
        records->SetExampleOutcomes(prefix + name, seed, outcomes);
    }
    for (const auto& [name, value] : result.metrics) {
      if (name != task.primary_metric)
        records->SetFinalMetric(prefix + name, value, train.train.steps);
    }
    records->SetFinalMetric(prefix + results::metric::kEvalLr, result.lr, train.train.steps);
    for (const auto& [name, value] : result.baseline)
      records->SetFinalMetric(prefix + results::metric::kEvalBaseline + "/" + name, value,
                              train.train.steps);
    const std::string untrained_prefix = prefix + results::metric::kEvalUntrained + "/";
    for (const auto& [name, value] : untrained.metrics)
      records->SetFinalMetric(untrained_prefix + name, value, train.train.steps);
    records->SetFinalMetric(untrained_prefix + results::metric::kEvalLr, untrained.lr,
                            train.train.steps);
    records->SetFinalMetric(prefix + task.primary_metric, result.metrics.at(task.primary_metric),
                            train.train.steps);
  }
  return {};
}

}  // namespace ablate::runner
