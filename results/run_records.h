// Where one run's records go while it trains: the results database (a local worker, `ablate
// train --db`), or the run's own record log (run_log.h; a Slurm task, which never opens the
// database). The recorder, the fine-tuning stage and the run executor write through this and do
// not know which.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "results/example_outcomes.h"
#include "results/metric_writer.h"
#include "results/run_log.h"
#include "results/run_status.h"
#include "results/store.h"

namespace ablate::results {

class RunRecords {
 public:
  virtual ~RunRecords() = default;
  // The attempt begins (a database run was marked running when it was claimed).
  virtual void Start(const std::string& host, int64_t pid) = 0;
  // One point of metric history; buffered.
  virtual void AddPoint(std::string_view name, int64_t step, double value) = 0;
  // Writes what is buffered (at least every few seconds, and at every checkpoint).
  virtual void Flush() = 0;
  virtual void SetFinalMetric(const std::string& name, double value, int64_t step) = 0;
  virtual std::set<std::string> FinalMetricNames() const = 0;
  // The per-example outcomes (example_outcomes.h) behind final metric `source`, for fine-tuning
  // seed `replicate` (0 for pretraining's own scores): over all the examples, the sum of the
  // numerators over the sum of the denominators is that metric as recorded, in its units
  // ("eval/<task>/acc": (100 or 0, 1) per dev example; "valid/mlm_acc": (correct, masked tokens)
  // per sequence), except "valid/ppl", whose outcomes (loss sum, masked tokens) give its log.
  // Recorded before the metric itself, whose presence says a stage is done. Recording the same
  // (source, replicate) again replaces it.
  virtual void SetExampleOutcomes(const std::string& source, int64_t replicate,
                                  const ExampleOutcomes& outcomes) = 0;
  virtual void AddArtifact(const std::string& kind, const std::string& path,
                           std::optional<int64_t> step) = 0;
  virtual void SetProvenance(const Provenance& provenance) = 0;
  virtual void Heartbeat() = 0;
  // The attempt's outcome (a final status); flushes first.
  virtual void Finish(RunStatus status, const std::string& reason) = 0;
};

// Records straight into the database, for run `run_id` (running).
class DatabaseRecords : public RunRecords {
 public:
  DatabaseRecords(Store& store, int64_t run_id);
  void Start(const std::string&, int64_t) override {}
  void AddPoint(std::string_view name, int64_t step, double value) override;
  void Flush() override;
  void SetFinalMetric(const std::string& name, double value, int64_t step) override;
  std::set<std::string> FinalMetricNames() const override;
  void SetExampleOutcomes(const std::string& source, int64_t replicate,
                          const ExampleOutcomes& outcomes) override;
  void AddArtifact(const std::string& kind, const std::string& path,
                   std::optional<int64_t> step) override;
  void SetProvenance(const Provenance& provenance) override;
  void Heartbeat() override;
  void Finish(RunStatus status, const std::string& reason) override;

 private:
  Store& store_;
  int64_t run_id_;
  MetricWriter writer_;
};

// Records into the record log of a run directory; `ablate collect` brings them into a database.
class LogRecords : public RunRecords {
 public:
  static constexpr std::chrono::seconds kFlushEvery{5};

  explicit LogRecords(const std::filesystem::path& run_dir);
  ~LogRecords() override;

  void Start(const std::string& host, int64_t pid) override;
  void AddPoint(std::string_view name, int64_t step, double value) override;
  void Flush() override;
  void SetFinalMetric(const std::string& name, double value, int64_t step) override;
  std::set<std::string> FinalMetricNames() const override { return finals_; }
  void SetExampleOutcomes(const std::string& source, int64_t replicate,
                          const ExampleOutcomes& outcomes) override;
  void AddArtifact(const std::string& kind, const std::string& path,
                   std::optional<int64_t> step) override;
  void SetProvenance(const Provenance& provenance) override;
  void Heartbeat() override;
  void Finish(RunStatus status, const std::string& reason) override;
  // Instead of Finish when the attempt stopped for its job's time limit and Slurm requeues it:
  // the run is queued again, not ended.
  void Requeued(const std::string& reason);

 private:
  void FlushPoints();

  RunLogWriter writer_;
  nlohmann::json points_ = nlohmann::json::array();  // [name, step, value, time] each
  std::set<std::string> finals_;                     // every final metric the log holds
  std::chrono::steady_clock::time_point last_flush_ = std::chrono::steady_clock::now();
};

}  // namespace ablate::results
