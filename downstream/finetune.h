// Downstream evaluation of a pretrained run with the paper's protocol (Liu et al. 2019, Table 10):
// fine-tunes the run's final checkpoint on a task (task_data.h) over a grid of learning rates and
// seeds, scores the dev set after every epoch, and reports the median over seeds of the best epoch
// at the best learning rate; and the same protocol from an encoder never pretrained, the floor
// pretraining must beat. Each finished (lr, seed) unit is kept as a file, so an interrupted
// evaluation resumes. It does not read task files or write to a database.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/statistics.h"
#include "core/bpe_tokenizer.h"
#include "core/model.h"
#include "core/trainer.h"
#include "downstream/finetune_config.h"
#include "downstream/task_data.h"
#include "downstream/task_metrics.h"

namespace ablate::downstream {

// One (lr, seed) fine-tuning run: the dev metrics (percent) of each epoch, and its best epoch by
// the task's primary metric (early stopping, as the paper).
struct FinetuneUnit {
  double lr = 0;
  int64_t seed = 0;
  std::vector<std::map<std::string, double>> epochs;
  int64_t best_epoch = 0;  // from 1
  // At the best epoch, each dev example's outcome in the metrics that are means over examples
  // (task_metrics.h). Empty when read from a unit file written before they were kept.
  ExampleOutcomesByMetric examples;
  double seconds = 0;
  bool cached = false;  // read back from an earlier run's file

  const std::map<std::string, double>& best() const { return epochs.at(best_epoch - 1); }
};

struct FinetuneProgress {
  std::string task;
  double lr = 0;
  int64_t seed = 0;
  int64_t epoch = 0, epochs = 0;  // epoch from 1
  int64_t step = 0, steps = 0;    // updates of this unit, step from 1
  double loss = 0;
};

class FinetuneObserver {
 public:
  virtual ~FinetuneObserver() = default;
  // After every update: cheap, for heartbeats and live progress.
  virtual void OnUpdate(const FinetuneProgress&) {}
  // Each unit, computed or read back; `index` of `count` units of the task, from 1.
  virtual void OnUnit(const std::string& /*task*/, const FinetuneUnit&, int64_t /*index*/,
                      int64_t /*count*/) {}
  // Polled between updates; true stops the evaluation (finished units stay on disk).
  virtual bool StopRequested() { return false; }
  // About once a second while another process computes a shared unit this one needs (see
  // FinetuneUntrained): no update happens meanwhile, but the caller is alive.
  virtual void OnWaiting(const std::string& /*task*/) {}
};

enum class FinetuneOutcome { kCompleted, kInterrupted };

struct FinetuneResult {
  FinetuneOutcome outcome = FinetuneOutcome::kCompleted;
  // At the chosen lr: each metric's median over seeds, each seed at its best epoch (percent).
  std::map<std::string, double> metrics;
  double lr = 0;  // the chosen learning rate
  // Every lr's median of the primary metric.
  std::map<double, double> primary_by_lr;
  std::vector<FinetuneUnit> units;
  // At the chosen lr, by seed: the per-example outcomes of the units the medians are taken over
  // (FinetuneUnit::examples). A seed whose unit file predates them is absent.
  std::map<int64_t, ExampleOutcomesByMetric> examples;
  // The task's trivial baseline on the same dev examples (percent): a constant prediction (the
  // training set's majority class; for F1, always the positive class; no answer for spans).
  std::map<std::string, double> baseline;
};

// Fine-tunes the final checkpoint of the run in `run_dir`, pretrained with `pretrain` (its
// data.corpus and data.tokenizer name the tokenizer, prepared under `data_dir`), on `task`. Units
// are kept in <run_dir>/finetune/<task.name>/ and reused when their settings match. Throws
// InputError when the run has no final checkpoint, the config is invalid or the task is empty.
FinetuneResult Finetune(const Task& task, const FinetuneConfig& config,
                        const core::TrainConfig& pretrain, const std::filesystem::path& data_dir,
                        const std::filesystem::path& run_dir, FinetuneObserver& observer,
                        const core::Log& log = {});

// The encoder `pretrain`'s run starts from: its architecture and tokenizer, initialized from its
// seed as core::Train initializes step 0. Fine-tuning it is the no-pretraining baseline.
core::BertModel UntrainedEncoder(const core::TrainConfig& pretrain,
                                 const core::BpeTokenizer& tokenizer);

// The no-pretraining baseline: Finetune's protocol (same lrs, seeds, epochs and examples) from
// UntrainedEncoder(pretrain) instead of the run's checkpoint. Its result depends only on the
// architecture, the tokenizer, the task, the fine-tuning settings and the seed, so its units are
// shared by every run that agrees on those: they are kept in <cache_dir>/<key>/finetune/<task>/,
// <key> a hash of those settings, written out in <cache_dir>/<key>/key.json. Processes that reach
// one key at once share its units: each takes a lock file per unit it computes, does the units no
// other process holds first, then waits for the rest (every file is written atomically). Throws
// as Finetune, except that no checkpoint is needed.
FinetuneResult FinetuneUntrained(const Task& task, const FinetuneConfig& config,
                                 const core::TrainConfig& pretrain,
                                 const std::filesystem::path& data_dir,
                                 const std::filesystem::path& cache_dir, FinetuneObserver& observer,
                                 const core::Log& log = {});

}  // namespace ablate::downstream
