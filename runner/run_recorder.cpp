#include "runner/run_recorder.h"

#include <cmath>
#include <cstdio>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "core/checkpoint_pointer.h"
#include "results/metric_names.h"
#include "runner/signals.h"

namespace ablate::runner {
namespace {

namespace metric = results::metric;

using Clock = std::chrono::steady_clock;
constexpr auto kPrintEvery = std::chrono::seconds(10);         // plain log lines
constexpr auto kRedrawEvery = std::chrono::milliseconds(200);  // the live line
constexpr auto kHeartbeatEvery = std::chrono::seconds(15);

std::string Duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  long s = std::lround(seconds);
  char buf[32];
  if (s >= 3600) {
    std::snprintf(buf, sizeof buf, "%ldh%02ldm", s / 3600, s % 3600 / 60);
  } else {
    std::snprintf(buf, sizeof buf, "%ldm%02lds", s / 60, s % 60);
  }
  return buf;
}

// The metrics of held-out scores under their prefix: <prefix>/loss, /ppl, /mlm_acc and
// /baseline/{unigram,copy}/{ppl,mlm_acc} (for the whole sample, metric_names.h's kValid* names).
std::vector<std::pair<std::string, double>> NamedScores(const core::HeldOutScores& h) {
  return {{h.prefix + "/loss", h.mlm_loss},
          {h.prefix + "/ppl", h.perplexity},
          {h.prefix + "/mlm_acc", h.mlm_accuracy},
          {h.prefix + "/baseline/unigram/ppl", h.unigram_perplexity},
          {h.prefix + "/baseline/unigram/mlm_acc", h.unigram_accuracy},
          {h.prefix + "/baseline/copy/ppl", h.copy_perplexity},
          {h.prefix + "/baseline/copy/mlm_acc", h.copy_accuracy}};
}

}  // namespace

RunRecorder::RunRecorder(results::RunRecords* records, std::string label, std::ostream& progress,
                         bool live)
    : records_(records), label_(std::move(label)), out_(progress), live_(live) {}

RunRecorder::~RunRecorder() {
  if (live_ && last_) out_ << "\n";
}

void RunRecorder::OnStart(const core::TrainStart& start) {
  start_ = start;
  if (start.last.step > 0) last_ = start.last;  // a run resumed at its final step records it
  started_ = last_print_ = last_heartbeat_ = Clock::now();
  out_ << label_ << ": "
       << (start.start_step > 0 ? "resuming at step " + std::to_string(start.start_step)
                                : "starting")
       << ", " << start.total_steps << " steps, " << start.parameters << " parameters, "
       << start.examples_per_epoch << " sequences per epoch\n";
  // The micro-batch asked for, or the one chosen to fit this machine's memory.
  if (records_)
    records_->SetFinalMetric(metric::kTrainMicroBatch, static_cast<double>(start.micro_batch),
                             start.start_step);
}

void RunRecorder::OnStep(const core::StepMetrics& m) {
  last_ = m;
  if (records_) {
    records_->AddPoint(metric::kTrainLoss, m.step, m.loss);
    records_->AddPoint(metric::kTrainMlmLoss, m.step, m.mlm_loss);
    if (!std::isnan(m.nsp_loss)) records_->AddPoint(metric::kTrainNspLoss, m.step, m.nsp_loss);
    records_->AddPoint(metric::kTrainLr, m.step, m.lr);
    records_->AddPoint(metric::kTrainGradNorm, m.step, m.grad_norm);
    records_->AddPoint(metric::kTrainTokensPerSecond, m.step, m.tokens_per_second);
    records_->AddPoint(metric::kTrainStepSeconds, m.step, m.step_seconds);
    records_->AddPoint(metric::kTrainSequencesSeen, m.step, static_cast<double>(m.sequences_seen));
    records_->AddPoint(metric::kTrainTokensSeen, m.step, static_cast<double>(m.tokens_seen));
    records_->AddPoint(metric::kTrainEpochs, m.step, m.epochs);
    if (Clock::now() - last_heartbeat_ > kHeartbeatEvery) {
      Flush();
      records_->Heartbeat();
      last_heartbeat_ = Clock::now();
    }
  }
  Progress(m, m.step == start_.total_steps);
}

// Per held-out sequence of the final evaluation, what the report's Multi-Bootstrap resamples:
// (loss sum, masked tokens) behind valid/ppl and (correct, masked tokens) behind valid/mlm_acc.
// Sequences without a masked token carry nothing and are left out; every run scored on the same
// sample leaves out the same ones, so the sequences stay aligned across runs.
void RunRecorder::RecordSequenceOutcomes(const core::EvalMetrics& m) {
  results::ExampleOutcomes loss, correct;
  for (size_t i = 0; i < m.sequence_loss_sums.size(); ++i) {
    const auto tokens = static_cast<double>(m.sequence_predictions[i]);
    if (tokens <= 0) continue;
    loss.emplace_back(m.sequence_loss_sums[i], tokens);
    correct.emplace_back(static_cast<double>(m.sequence_correct[i]), tokens);
  }
  if (loss.empty()) return;
  records_->SetExampleOutcomes(metric::kValidPpl, 0, loss);
  records_->SetExampleOutcomes(metric::kValidMlmAcc, 0, correct);
}

void RunRecorder::OnEval(const core::EvalMetrics& m, bool final) {
  if (records_) {
    // Each metric that has a value, as a point and, at the end, a final metric: the whole
    // sample's (valid/loss and valid/ppl always), its halves' and the further corpora's.
    std::vector<std::pair<std::string, double>> scored;
    for (const auto& [name, value] : NamedScores(m)) {
      if (!std::isnan(value) || name == metric::kValidLoss || name == metric::kValidPpl)
        scored.emplace_back(name, value);
    }
    if (!std::isnan(m.nsp_accuracy)) scored.emplace_back(metric::kValidNspAcc, m.nsp_accuracy);
    for (const auto& h : m.held_out) {
      for (const auto& [name, value] : NamedScores(h))
        if (!std::isnan(value)) scored.emplace_back(name, value);
    }
    for (const auto& [name, value] : scored) records_->AddPoint(name, m.step, value);
    Flush();
    if (final) {
      RecordSequenceOutcomes(m);
      for (const auto& [name, value] : scored) records_->SetFinalMetric(name, value, m.step);
      if (last_) {
        records_->SetFinalMetric(metric::kTrainLoss, last_->loss, last_->step);
        records_->SetFinalMetric(metric::kTrainTokensSeen, static_cast<double>(last_->tokens_seen),
                                 last_->step);
        records_->SetFinalMetric(metric::kTrainSequencesSeen,
                                 static_cast<double>(last_->sequences_seen), last_->step);
        records_->SetFinalMetric(metric::kTrainEpochs, last_->epochs, last_->step);
        // What makes the rows of a table comparable in compute: the mean over all updates.
        records_->SetFinalMetric(
            metric::kTrainTokensPerUpdate,
            static_cast<double>(last_->tokens_seen) / static_cast<double>(last_->step),
            last_->step);
      }
      records_->SetFinalMetric(metric::kTrainSteps, static_cast<double>(m.step), m.step);
    }
  }
  if (live_ && last_) out_ << "\n";
  char line[240];
  // The floors beside the model's numbers: a model that does not beat them shows it at once.
  std::snprintf(line, sizeof line,
                "%s: step %lld %s: valid loss %.4f  ppl %.2f  acc %.3f  (unigram ppl %.2f acc "
                "%.3f, copy ppl %.2f acc %.3f)",
                label_.c_str(), static_cast<long long>(m.step), final ? "final" : "eval",
                m.mlm_loss, m.perplexity, m.mlm_accuracy, m.unigram_perplexity, m.unigram_accuracy,
                m.copy_perplexity, m.copy_accuracy);
  out_ << line;
  if (!std::isnan(m.nsp_accuracy)) out_ << "  nsp acc " << m.nsp_accuracy;
  for (const auto& h : m.held_out) {
    if (h.prefix.rfind("valid-", 0) != 0) continue;  // the further corpora, not the halves
    std::snprintf(line, sizeof line, "  %s: ppl %.2f acc %.3f (copy ppl %.2f)",
                  h.prefix.substr(6).c_str(), h.perplexity, h.mlm_accuracy, h.copy_perplexity);
    out_ << line;
  }
  out_ << "\n";
}

// A process killed after the checkpoint is written but before buffered metric points are would
// resume after steps whose points were never recorded: a gap in the history. Flushing first
// leaves at worst points past the checkpoint, which the resumed run writes again (replacing).
void RunRecorder::BeforeCheckpoint(int64_t) { Flush(); }

void RunRecorder::OnCheckpoint(const std::filesystem::path& path, int64_t step) {
  if (!records_) return;
  // One artifact row per run: checkpoint.json always names the newest checkpoint file (older
  // files are deleted), and re-adding the same path updates the row's step.
  records_->AddArtifact(
      "checkpoint",
      std::filesystem::absolute(core::CheckpointPointerPath(path.parent_path())).string(), step);
}

bool RunRecorder::StopRequested() { return StopSignalled(); }

void RunRecorder::Flush() {
  if (records_) records_->Flush();
}

void RunRecorder::Progress(const core::StepMetrics& m, bool force) {
  auto now = Clock::now();
  if (!force && now - last_print_ < (live_ ? kRedrawEvery : kPrintEvery)) return;
  last_print_ = now;
  double elapsed = std::chrono::duration<double>(now - started_).count();
  int64_t done = m.step - start_.start_step;
  double eta = done > 0 ? elapsed / static_cast<double>(done) *
                              static_cast<double>(start_.total_steps - m.step)
                        : NAN;
  char line[200];
  std::snprintf(
      line, sizeof line, "%s: step %lld/%lld (%.0f%%)  loss %.4f  lr %.2e  %.0f tok/s  ETA %s",
      label_.c_str(), static_cast<long long>(m.step), static_cast<long long>(start_.total_steps),
      100.0 * static_cast<double>(m.step) / static_cast<double>(start_.total_steps), m.loss, m.lr,
      m.tokens_per_second, Duration(eta).c_str());
  if (live_) {
    out_ << "\r" << line << "\x1b[K" << std::flush;
  } else {
    out_ << line << "\n" << std::flush;
  }
}

}  // namespace ablate::runner
