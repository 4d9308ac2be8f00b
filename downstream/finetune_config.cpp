#include "downstream/finetune_config.h"

#include <algorithm>
#include <cmath>

#include "base/error.h"
#include "base/number_text.h"

namespace ablate::downstream {
namespace {

void Require(bool ok, const std::string& field, const std::string& message) {
  if (!ok) throw InputError("", field, message);
}

}  // namespace

std::string_view PoolingName(Pooling pooling) {
  return pooling == Pooling::kMean ? "mean" : "first";
}

std::vector<std::string> PoolingNames() {
  return {std::string(PoolingName(Pooling::kFirst)), std::string(PoolingName(Pooling::kMean))};
}

Pooling ParsePooling(std::string_view name) {
  for (const Pooling pooling : {Pooling::kFirst, Pooling::kMean}) {
    if (PoolingName(pooling) == name) return pooling;
  }
  throw InputError("", "eval.pooling", "unknown pooling \"" + std::string(name) + "\"");
}

void FinetuneConfig::Validate() const {
  for (double lr : lrs) {
    Require(std::isfinite(lr) && lr > 0, "lrs",
            "learning rates must be positive, got " + ShortestText(lr));
    Require(std::count(lrs.begin(), lrs.end(), lr) == 1, "lrs",
            ShortestText(lr) + " is listed twice");
  }
  Require(batch_size >= 0, "batch_size", "must not be negative");
  Require(epochs >= 0, "epochs", "must not be negative");
  Require(!weight_decay || (std::isfinite(*weight_decay) && *weight_decay >= 0), "weight_decay",
          "must not be negative");
  Require(warmup_ratio >= 0 && warmup_ratio < 1, "warmup_ratio", "must be in [0, 1)");
  Require(seeds >= 1, "seeds", "must be at least 1, got " + std::to_string(seeds));
  Require(max_train_examples >= 0, "max_train_examples", "must not be negative");
  Require(max_dev_examples >= 0, "max_dev_examples", "must not be negative");
  Require(seq_len == 0 || seq_len >= 8, "seq_len",
          "must be 0 (the pretraining length) or at least 8, got " + std::to_string(seq_len));
  Require(doc_stride >= 0, "doc_stride", "must not be negative");
  Require(threads >= 0, "threads", "must not be negative");
}

FinetuneConfig Resolve(const FinetuneConfig& config, TaskKind kind) {
  struct Paper {
    std::vector<double> lrs;
    int64_t batch_size, epochs;
    double weight_decay;
  };
  const Paper paper = kind == TaskKind::kSpan             ? Paper{{1.5e-5}, 48, 2, 0.01}
                      : kind == TaskKind::kMultipleChoice ? Paper{{1e-5}, 16, 4, 0.1}
                                                          : Paper{{1e-5, 2e-5, 3e-5}, 32, 10, 0.1};
  FinetuneConfig c = config;
  if (c.lrs.empty()) c.lrs = paper.lrs;
  if (c.batch_size == 0) c.batch_size = paper.batch_size;
  if (c.epochs == 0) c.epochs = paper.epochs;
  if (!c.weight_decay) c.weight_decay = paper.weight_decay;
  return c;
}

}  // namespace ablate::downstream
