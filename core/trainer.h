// Pretraining of one run: data pipeline -> model -> AdamW with BERT's schedule, with gradient
// accumulation, checkpoints that resume exactly, validation on held-out documents, and
// divergence detection. Progress goes out through TrainObserver, so core/ knows nothing of
// databases or terminals. One process may train many runs: no global state is kept.
#pragma once

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <optional>
#include <string>

#include "core/data_pipeline.h"
#include "core/train_config.h"

namespace ablate::core {

constexpr double kNoValue = std::numeric_limits<double>::quiet_NaN();

struct StepMetrics {
  int64_t step = 0;    // updates done, from 1
  uint64_t epoch = 0;  // of the update's first sequence
  double epochs = 0;   // passes over the training data so far, fractional
  double loss = 0, mlm_loss = 0, nsp_loss = kNoValue;
  double lr = 0, grad_norm = 0;
  double step_seconds = 0, tokens_per_second = 0;
  int64_t sequences = 0, tokens = 0;  // in this update
  int64_t sequences_seen = 0, tokens_seen = 0;
};

struct EvalMetrics {
  int64_t step = 0;
  double mlm_loss = 0, perplexity = 0;
  double nsp_accuracy = kNoValue;  // formats with NSP only
  int64_t predictions = 0;         // masked tokens scored
};

struct TrainStart {
  int64_t start_step = 0;  // > 0 when resumed from a checkpoint
  int64_t total_steps = 0;
  int64_t parameters = 0;
  uint64_t examples_per_epoch = 0;
  int64_t micro_batch = 0;  // sequences per forward/backward, as asked or as chosen to fit
  // Resumed: the last step the checkpoint saw (step, loss, epochs, sequences and tokens seen),
  // so that a run resumed at its final step can still record them; step 0 otherwise.
  StepMetrics last;
};

class TrainObserver {
 public:
  virtual ~TrainObserver() = default;
  virtual void OnStart(const TrainStart&) {}
  virtual void OnStep(const StepMetrics&) {}
  // `final` marks the evaluation after the last update: the run's final metrics.
  virtual void OnEval(const EvalMetrics&, bool /*final*/) {}
  // Before a checkpoint is written: whatever the observer holds of the steps so far must be kept
  // now, because a run resumed from this checkpoint does not repeat them.
  virtual void BeforeCheckpoint(int64_t /*step*/) {}
  virtual void OnCheckpoint(const std::filesystem::path&, int64_t /*step*/) {}
  // Polled between updates; true makes the trainer checkpoint and return kInterrupted.
  virtual bool StopRequested() { return false; }
};

enum class TrainOutcome { kCompleted, kDiverged, kInterrupted };

// TrainResult::reason of a run stopped by its observer (a signal), not by a lost rank.
inline constexpr const char* kStopRequested = "stopped by request";

struct TrainResult {
  TrainOutcome outcome = TrainOutcome::kCompleted;
  int64_t step = 0;    // updates done
  std::string reason;  // why it diverged or was interrupted
};

class Collective;

// Trains in `run_dir` (created if needed), resuming from its last checkpoint if there is one.
// With a collective (collective.h), this process is one rank of a data-parallel run: each update's
// micro-batches are shared among the ranks and their gradients summed, so every rank computes the
// update one process would (up to the grouping of float sums); rank 0 alone writes checkpoints,
// other ranks' observers see the same reduced metrics. A lost peer ends the call as interrupted.
// Throws InputError for a config that cannot run (unknown device, inconsistent sizes, a checkpoint
// of another world size) and std::runtime_error for failures while running.
TrainResult Train(const TrainConfig& config, const std::filesystem::path& data_dir,
                  const std::filesystem::path& run_dir, TrainObserver& observer,
                  const Log& log = {}, Collective* collective = nullptr);

struct ModelOptions;
// The model a config trains: sizes from the config; vocabulary, positions and segments from the
// tokenizer, data.seq_len and data.format. Throws InputError for inconsistent sizes.
ModelOptions MakeModelOptions(const TrainConfig& config, const BpeTokenizer& tokenizer);

// The LibTorch version this build links ("1.13.0"), for run provenance.
std::string LibTorchVersion();

// The checkpoint a run directory holds, if any: {step, path}.
struct CheckpointInfo {
  int64_t step = 0;
  std::filesystem::path path;
};
std::optional<CheckpointInfo> LatestCheckpoint(const std::filesystem::path& run_dir);

}  // namespace ablate::core
