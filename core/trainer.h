// Pretraining of one run: data pipeline -> model -> AdamW with BERT's schedule, with gradient
// accumulation, checkpoints that resume exactly, validation on held-out documents, and
// divergence detection. Progress goes out through TrainObserver, so core/ knows nothing of
// databases or terminals. One process may train many runs: no global state is kept.
#pragma once

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

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

// The MLM scores of held-out text, named by the prefix of their metrics: "valid" for the whole
// validation sample, "valid/select" and "valid/report" for its halves (DataPipeline::SampleHalves),
// "valid-<corpus>" for a further eval.corpus. kNoValue where nothing was scored.
struct HeldOutScores {
  std::string prefix;
  int64_t predictions = 0;  // masked tokens scored
  double mlm_loss = kNoValue, perplexity = kNoValue;
  double mlm_accuracy = kNoValue;  // masked tokens whose argmax is the label
  // The floors (trivial_baselines.h) on the same masked tokens: a unigram model of the run's
  // training tokens, and the predictor that sees only the input token at the masked position.
  // They do not depend on training: every evaluation of a run reports the same ones.
  double unigram_perplexity = kNoValue, unigram_accuracy = kNoValue;
  double copy_perplexity = kNoValue, copy_accuracy = kNoValue;
};

// Scores of the fixed validation sample (DataPipeline::ValidationSample), prefix "valid".
struct EvalMetrics : HeldOutScores {
  int64_t step = 0;
  double nsp_accuracy = kNoValue;  // formats with NSP only
  // The same scores on the halves of the sample and on every further eval.corpus (those with a
  // masked token).
  std::vector<HeldOutScores> held_out;
  // The final evaluation only, empty otherwise: per row of the MLM validation sample, the
  // selection half's rows and then the report half's, each in the sample's order (whatever the
  // micro-batch and the number of ranks, so the same sequence has the same index in every run
  // scored on that sample): the MLM loss sum (nats), the masked tokens and those whose argmax is
  // the label. What a Multi-Bootstrap over sequences resamples.
  std::vector<double> sequence_loss_sums;
  std::vector<int64_t> sequence_predictions, sequence_correct;
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

}  // namespace ablate::core
