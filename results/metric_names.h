// The names of the metrics a run records, shared by what writes them (the run recorder, the
// fine-tuning stage) and what reads them (reports, status). One spelling, no string typos.
#pragma once

namespace ablate::results::metric {

// Per update (metric history) and, for the totals, final metrics too.
inline constexpr const char* kTrainLoss = "train/loss";  // MLM (+ NSP for the NSP formats)
inline constexpr const char* kTrainMlmLoss = "train/mlm_loss";
inline constexpr const char* kTrainNspLoss = "train/nsp_loss";
inline constexpr const char* kTrainLr = "train/lr";
inline constexpr const char* kTrainGradNorm = "train/grad_norm";
inline constexpr const char* kTrainTokensPerSecond = "train/tokens_per_s";
inline constexpr const char* kTrainStepSeconds = "train/step_seconds";
inline constexpr const char* kTrainSequencesSeen = "train/sequences_seen";
inline constexpr const char* kTrainTokensSeen = "train/tokens_seen";
inline constexpr const char* kTrainEpochs = "train/epochs";
// Final metrics only.
inline constexpr const char* kTrainTokensPerUpdate = "train/tokens_per_update";
inline constexpr const char* kTrainMicroBatch = "train/micro_batch";
inline constexpr const char* kTrainSteps = "train/steps";
// Every eval.every updates and at the end.
inline constexpr const char* kValidLoss = "valid/loss";
inline constexpr const char* kValidPpl = "valid/ppl";
inline constexpr const char* kValidNspAcc = "valid/nsp_acc";
inline constexpr const char* kValidMlmAcc = "valid/mlm_acc";  // argmax == label, masked tokens
// The floors on the same masked tokens (core/trivial_baselines.h): a unigram model of the run's
// training tokens, and the predictor that sees only the input token at the masked position.
inline constexpr const char* kValidUnigramPpl = "valid/baseline/unigram/ppl";
inline constexpr const char* kValidUnigramAcc = "valid/baseline/unigram/mlm_acc";
inline constexpr const char* kValidCopyPpl = "valid/baseline/copy/ppl";
inline constexpr const char* kValidCopyAcc = "valid/baseline/copy/mlm_acc";
// Downstream: eval/<task>/<metric> of the run (<metric> one of downstream/task_metrics.h's
// kMetric* names), eval/<task>/lr (the learning rate chosen), eval/<task>/baseline/<metric> (the
// task's constant prediction), and eval/<task>/untrained/<metric> (and .../lr) of the
// no-pretraining baseline, the same protocol from the run's encoder before pretraining.
inline constexpr const char* kEvalPrefix = "eval/";
inline constexpr const char* kEvalLr = "lr";
inline constexpr const char* kEvalBaseline = "baseline";
inline constexpr const char* kEvalUntrained = "untrained";

}  // namespace ablate::results::metric
