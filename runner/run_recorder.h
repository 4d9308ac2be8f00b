// Records a training run as it goes: every step's and evaluation's metrics into its records
// (results/run_records.h: the database or the run's record log, batched), final metrics when the
// trainer marks them, checkpoints as artifacts, a heartbeat, and progress a person can watch (a
// live line on a terminal, periodic lines in a log). It observes; the trainer decides what happens.
#pragma once

#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>

#include "core/trainer.h"
#include "results/run_records.h"

namespace ablate::runner {

class RunRecorder : public core::TrainObserver {
 public:
  // `records` may be null (nothing recorded: progress only). `label` names the run in progress
  // lines.
  RunRecorder(results::RunRecords* records, std::string label, std::ostream& progress, bool live);
  ~RunRecorder() override;

  void OnStart(const core::TrainStart& start) override;
  void OnStep(const core::StepMetrics& m) override;
  void OnEval(const core::EvalMetrics& m, bool final) override;
  void BeforeCheckpoint(int64_t step) override;
  void OnCheckpoint(const std::filesystem::path& path, int64_t step) override;
  // A SIGINT/SIGTERM (signals.h) asks the trainer to checkpoint and stop.
  bool StopRequested() override;

  // Writes buffered metrics now (also done on every checkpoint and evaluation).
  void Flush();
  std::optional<core::StepMetrics> last_step() const { return last_; }

 private:
  void Progress(const core::StepMetrics& m, bool force);
  void RecordSequenceOutcomes(const core::EvalMetrics& m);

  results::RunRecords* records_;
  std::string label_;
  std::ostream& out_;
  bool live_;
  core::TrainStart start_;
  std::optional<core::StepMetrics> last_;
  std::chrono::steady_clock::time_point started_, last_print_, last_heartbeat_;
};

}  // namespace ablate::runner
