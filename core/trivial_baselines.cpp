#include "core/trivial_baselines.h"

#include <algorithm>
#include <cmath>

#include "base/error.h"

namespace ablate::core {

// The rule at a chosen position whose original is t: the input is <mask> with probability m, a
// uniformly drawn ordinary id with probability r (each of the V ids r q, q = 1 / V, t itself
// included), and t left as it was with probability k = 1 - m - r. So, for an ordinary v,
//   P(x = v | t) = k [t = v] + r q,        P(x = <mask> | t) = m, whatever t.
// Bayes with prior p_u: p(t | v) = p_u(t) (k [t = v] + r q) / Z(v), where
//   Z(v) = sum_t p_u(t) (k [t = v] + r q) = k p_u(v) + r q sum_t p_u(t) = k p_u(v) + r q,
// since p_u sums to 1 over the ordinary ids. A <mask> (or any id the rule never draws) has the same
// likelihood for every t, so the posterior is the prior p_u.
TrivialBaselines::TrivialBaselines(const TokenCorpus& train, const MaskingOptions& masking,
                                   const std::function<void(uint64_t, uint64_t)>& after_stretch)
    : first_(masking.first_ordinary), end_(masking.end_ordinary) {
  ABLATE_CHECK(end_ > first_, "empty ordinary-token range");
  const auto ids = static_cast<size_t>(end_ - first_);
  std::vector<uint64_t> counts(ids, 0);
  uint64_t counted = 0;
  constexpr uint64_t kStretch = 1u << 24;
  for (uint64_t begin = 0; begin < train.TokenCount(); begin += kStretch) {
    const uint64_t end = std::min(train.TokenCount(), begin + kStretch);
    for (uint64_t i = begin; i < end; ++i) {
      const int32_t id = train.Token(i);
      if (!IsOrdinary(id)) continue;
      ++counts[static_cast<size_t>(id - first_)];
      ++counted;
    }
    if (after_stretch) after_stretch(begin, end);
  }
  const double denominator = static_cast<double>(counted + ids);
  unigram_.resize(ids);
  for (size_t i = 0; i < ids; ++i) unigram_[i] = static_cast<double>(counts[i] + 1) / denominator;
  // Counts are integers, so ties among them are exact: the first maximum is the smallest id.
  const auto best = std::max_element(counts.begin(), counts.end()) - counts.begin();
  most_frequent_ = first_ + static_cast<int32_t>(best);
  runner_up_ = most_frequent_;
  for (size_t i = 0; i < ids; ++i) {
    if (static_cast<ptrdiff_t>(i) == best) continue;
    if (runner_up_ == most_frequent_ ||
        counts[i] > counts[static_cast<size_t>(runner_up_ - first_)])
      runner_up_ = first_ + static_cast<int32_t>(i);
  }
  // 1 - m - r rounds to a hair below 0 when m + r = 1.
  keep_ = std::max(0.0, 1.0 - masking.mask_fraction - masking.random_fraction);
  random_each_ = masking.random_fraction / static_cast<double>(ids);
}

double TrivialBaselines::UnigramProbability(int32_t target) const {
  ABLATE_CHECK(IsOrdinary(target), "a baseline target outside the ordinary ids");
  return unigram_[static_cast<size_t>(target - first_)];
}

double TrivialBaselines::InputProbability(int32_t input) const {
  return keep_ * UnigramProbability(input) + random_each_;
}

double TrivialBaselines::CopyProbability(int32_t target, int32_t input) const {
  const double prior = UnigramProbability(target);
  if (!IsOrdinary(input)) return prior;
  const double z = InputProbability(input);
  // z = 0: the rule never leaves an ordinary id at a masked position, so it says nothing.
  if (z == 0) return prior;
  return prior * ((target == input ? keep_ : 0.0) + random_each_) / z;
}

int32_t TrivialBaselines::CopyPrediction(int32_t input) const {
  if (!IsOrdinary(input) || InputProbability(input) == 0) return most_frequent_;
  // Every t != v has the same likelihood r q, so the best of them is the unigram argmax among them;
  // v itself scores p_u(v) (k + r q). Z(v) is common to both and left out.
  const int32_t other = input != most_frequent_ ? most_frequent_ : runner_up_;
  if (other == input) return input;  // V = 1
  const double stay = UnigramProbability(input) * (keep_ + random_each_);
  const double move = UnigramProbability(other) * random_each_;
  if (stay == move) return std::min(input, other);
  return stay > move ? input : other;
}

void TrivialBaselines::Score(const Batch& batch, BaselineSums& sums) const {
  ABLATE_CHECK(batch.labels.size() == batch.input_ids.size(), "batch labels and inputs differ");
  for (size_t i = 0; i < batch.labels.size(); ++i) {
    const int32_t target = batch.labels[i];
    if (target == kIgnoreLabel) continue;
    const int32_t input = batch.input_ids[i];
    ++sums.predictions;
    sums.unigram_loss_sum -= std::log(UnigramProbability(target));
    sums.unigram_correct += target == most_frequent_;
    sums.copy_loss_sum -= std::log(CopyProbability(target, input));
    sums.copy_correct += target == CopyPrediction(input);
  }
}

}  // namespace ablate::core
