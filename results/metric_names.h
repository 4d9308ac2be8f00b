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

}  // namespace ablate::results::metric
