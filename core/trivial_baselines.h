// Two context-free floors for the masked-LM metrics, scored on the very masked positions the model
// is: a unigram model of the run's training tokens, and the Bayes predictor that sees only the
// input token at the masked position under the run's masking rule. It trains and runs no model.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "core/batcher.h"
#include "core/masking.h"
#include "core/token_corpus.h"

namespace ablate::core {

// Sums over scored masked positions, added over batches and ranks before dividing.
struct BaselineSums {
  int64_t predictions = 0;                         // masked positions scored
  double unigram_loss_sum = 0, copy_loss_sum = 0;  // of -ln p(target)
  int64_t unigram_correct = 0, copy_correct = 0;   // argmax == target
};

class TrivialBaselines {
 public:
  // Counts the ordinary tokens of `train` (one pass). `masking` names the ordinary ids, <mask> and
  // the fractions of the rule the scored positions were masked with.
  // `after_stretch(begin, end)`, when given, is called after each stretch of tokens is counted
  // (the data pipeline hands a mapped shard's pages back there).
  TrivialBaselines(const TokenCorpus& train, const MaskingOptions& masking,
                   const std::function<void(uint64_t, uint64_t)>& after_stretch = {});

  // p_u(t) = (count of t + 1) / (N + V) for an ordinary t: N ordinary training tokens, V ordinary
  // ids. Add-one smoothing, so that no target gets probability 0.
  double UnigramProbability(int32_t target) const;
  // p(t | x): the posterior of an ordinary target t given the input x at a masked position, with
  // prior p_u and the masking rule as likelihood (derivation in the source).
  double CopyProbability(int32_t target, int32_t input) const;
  // The argmaxes, ties to the smallest id.
  int32_t UnigramPrediction() const { return most_frequent_; }
  int32_t CopyPrediction(int32_t input) const;

  // Adds the positions of `batch` whose label is not kIgnoreLabel to `sums`. Labels must be
  // ordinary ids, as MaskSequence makes them.
  void Score(const Batch& batch, BaselineSums& sums) const;

 private:
  bool IsOrdinary(int32_t id) const { return id >= first_ && id < end_; }
  // k p_u(v) + r q: the probability that an ordinary v is read at a masked position, over all
  // targets; 0 only when the rule never leaves an ordinary token there (k = r = 0).
  double InputProbability(int32_t input) const;

  int32_t first_, end_;
  double keep_, random_each_;    // k, and r q = r / V
  std::vector<double> unigram_;  // p_u(first_ + i)
  int32_t most_frequent_ = 0;    // argmax of p_u, smallest id of a tie
  int32_t runner_up_ = 0;        // argmax of p_u over the other ids; == most_frequent_ if V = 1
};

}  // namespace ablate::core
