// The masked-LM floors against hand-worked numbers on a three-token vocabulary, the copy-aware
// posterior as a distribution, and the two floors under the real masking rule of masking.cpp.
#include "core/trivial_baselines.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <utility>
#include <vector>

#include "base/rng.h"

using namespace ablate::core;

namespace {

// Specials 0-3 (<s>, <pad>, </s>, <mask>); ordinary ids a, b, c = 4, 5, 6.
constexpr int32_t kBos = 0, kPad = 1, kEos = 2, kMask = 3, kA = 4, kB = 5, kC = 6;
constexpr int32_t kX = kIgnoreLabel;

MaskingOptions Rule() {
  MaskingOptions o;
  o.mask_prob = 0.15;
  o.mask_fraction = 0.8;
  o.random_fraction = 0.1;
  o.mask_id = kMask;
  o.first_ordinary = kA;
  o.end_ordinary = kC + 1;
  return o;
}

// Training tokens a a a a b, with specials and an id past the ordinary range that are not counted:
// counts (4, 1, 0), N = 5, V = 3, p_u = (4+1, 1+1, 0+1) / 8 = (5/8, 2/8, 1/8).
OwnedTokenCorpus HandCorpus() {
  OwnedTokenCorpus corpus;
  corpus.AddDocument({{kBos, kA, kA, kB, kEos}, {kA, 7, kA}});
  return corpus;
}

Batch MakeBatch(int64_t rows, std::vector<int32_t> inputs, std::vector<int32_t> labels) {
  Batch b;
  b.rows = rows;
  b.cols = static_cast<int64_t>(inputs.size()) / rows;
  b.input_ids = std::move(inputs);
  b.labels = std::move(labels);
  for (int32_t label : b.labels) b.predictions += label != kIgnoreLabel;
  return b;
}

}  // namespace

TEST_CASE("the unigram and copy-aware floors match hand-worked numbers", "[baselines]") {
  const OwnedTokenCorpus corpus = HandCorpus();
  const TrivialBaselines floors(corpus.View(), Rule());
  CHECK(floors.UnigramProbability(kA) == Approx(5.0 / 8));
  CHECK(floors.UnigramProbability(kB) == Approx(2.0 / 8));
  CHECK(floors.UnigramProbability(kC) == Approx(1.0 / 8));
  CHECK(floors.UnigramPrediction() == kA);

  // k = 1 - 0.8 - 0.1 = 0.1 = 3/30, r q = 0.1 / 3 = 1/30. For an ordinary input v,
  // p(t | v) = p_u(t) (k [t = v] + r q) / (k p_u(v) + r q) = w_t (1 + 3 [t = v]) / (8 + 3 w_v)
  // with w = (5, 2, 1) the smoothed counts (both sides times 240). So
  //   v = a: (20, 2, 1) / 23;   v = b: (5, 8, 1) / 14;   v = c: (5, 2, 4) / 11;
  // and <mask>, or any special, leaves the prior (5, 2, 1) / 8.
  CHECK(floors.CopyProbability(kA, kA) == Approx(20.0 / 23));
  CHECK(floors.CopyProbability(kC, kA) == Approx(1.0 / 23));
  CHECK(floors.CopyProbability(kA, kB) == Approx(5.0 / 14));
  CHECK(floors.CopyProbability(kB, kB) == Approx(8.0 / 14));
  CHECK(floors.CopyProbability(kA, kC) == Approx(5.0 / 11));
  CHECK(floors.CopyProbability(kC, kC) == Approx(4.0 / 11));
  CHECK(floors.CopyProbability(kB, kMask) == Approx(2.0 / 8));
  CHECK(floors.CopyProbability(kB, kBos) == Approx(2.0 / 8));
  // Argmaxes: a, b, and for c, a's 5 over c's 4.
  CHECK(floors.CopyPrediction(kA) == kA);
  CHECK(floors.CopyPrediction(kB) == kB);
  CHECK(floors.CopyPrediction(kC) == kA);
  CHECK(floors.CopyPrediction(kMask) == kA);

  // Two rows; five masked positions, X where not predicted:
  //   <mask> for a, <mask> for b, c drawn at random for a | b kept, a drawn at random for c.
  const Batch batch = MakeBatch(2, {kBos, kMask, kMask, kC, kEos, kBos, kB, kA, kA, kPad},
                                {kX, kA, kB, kA, kX, kX, kB, kC, kX, kX});
  BaselineSums sums;
  floors.Score(batch, sums);
  REQUIRE(sums.predictions == 5);
  // Unigram: p(target) = 5/8, 2/8, 5/8, 2/8, 1/8, so
  //   ppl = (8/5 * 4 * 8/5 * 4 * 8)^(1/5) = 327.68^(1/5) = 3.1848573644;
  // its argmax a is right at the two a targets: accuracy 2/5.
  CHECK(std::exp(sums.unigram_loss_sum / 5) == Approx(3.1848573644));
  CHECK(sums.unigram_correct == 2);
  // Copy-aware: p(target | input) = 5/8, 2/8, 5/11, 8/14, 1/23, so
  //   ppl = (8/5 * 4 * 11/5 * 14/8 * 23)^(1/5) = 566.72^(1/5) = 3.5536422766
  // (the random a for c costs more than the kept b gains); argmaxes a, a, a, b, a are right at
  // positions 1, 3 and 4: accuracy 3/5.
  CHECK(std::exp(sums.copy_loss_sum / 5) == Approx(3.5536422766));
  CHECK(sums.copy_correct == 3);

  // Sums add up over batches.
  floors.Score(batch, sums);
  CHECK(sums.predictions == 10);
  CHECK(sums.copy_correct == 6);
  CHECK(std::exp(sums.copy_loss_sum / 10) == Approx(3.5536422766));
}

TEST_CASE("tied counts go to the smallest id", "[baselines]") {
  OwnedTokenCorpus corpus;
  corpus.AddDocument({{kC, kB}});  // counts (0, 1, 1)
  const TrivialBaselines floors(corpus.View(), Rule());
  CHECK(floors.UnigramPrediction() == kB);
  CHECK(floors.CopyPrediction(kMask) == kB);
  // Read b: b against the best other, c (b's tie, and not b itself): b wins on k.
  CHECK(floors.CopyPrediction(kB) == kB);
  // Read a (w = 1): a scores 1 (k + r q) = 4/30, b 2 r q = 2/30: a.
  CHECK(floors.CopyPrediction(kA) == kA);
}

TEST_CASE("the copy-aware posterior sums to 1 for every input", "[baselines]") {
  OwnedTokenCorpus corpus;
  ablate::Rng rng({7});
  std::vector<uint32_t> tokens;
  for (int i = 0; i < 500; ++i) tokens.push_back(10 + static_cast<uint32_t>(rng.Below(i % 3 + 5)));
  corpus.AddDocument({tokens});
  // The paper's rule, another, and the two where nothing is kept (k = 0).
  const std::vector<std::pair<double, double>> rules = {{0.8, 0.1}, {0.5, 0.3}, {0.8, 0.2}, {1, 0}};
  for (const auto& [mask, random] : rules) {
    MaskingOptions rule = Rule();
    rule.mask_fraction = mask;
    rule.random_fraction = random;
    rule.first_ordinary = 10;
    rule.end_ordinary = 30;
    const TrivialBaselines floors(corpus.View(), rule);
    double prior = 0;
    for (int32_t t = 10; t < 30; ++t) prior += floors.UnigramProbability(t);
    CHECK(prior == Approx(1.0).epsilon(1e-12));
    for (int32_t input = 0; input < 32; ++input) {
      INFO("mask " << mask << ", random " << random << ", input " << input);
      double total = 0, best = -1;
      int32_t argmax = -1;
      for (int32_t t = 10; t < 30; ++t) {
        const double p = floors.CopyProbability(t, input);
        CHECK(p >= 0);
        total += p;
        if (p > best * (1 + 1e-12)) {  // a tie up to rounding goes to the smaller id
          best = p;
          argmax = t;
        }
      }
      CHECK(total == Approx(1.0).epsilon(1e-12));
      CHECK(floors.CopyPrediction(input) == argmax);
    }
  }
}

TEST_CASE("under the real masking rule the copy-aware floor beats the unigram one", "[baselines]") {
  // Zipf-distributed tokens over 40 ordinary ids [10, 50), as text roughly is.
  constexpr int32_t kFirst = 10, kIds = 40;
  std::vector<double> cumulative;
  double total = 0;
  for (int32_t i = 1; i <= kIds; ++i) cumulative.push_back(total += 1.0 / i);
  auto draw = [&](ablate::Rng& rng) {
    const double u = rng.Uniform() * total;
    const auto i = std::upper_bound(cumulative.begin(), cumulative.end(), u) - cumulative.begin();
    return kFirst + static_cast<int32_t>(std::min<ptrdiff_t>(i, kIds - 1));
  };
  MaskingOptions rule = Rule();
  rule.mode = MaskingMode::kDynamic;
  rule.first_ordinary = kFirst;
  rule.end_ordinary = kFirst + kIds;

  OwnedTokenCorpus corpus;
  ablate::Rng train_rng({1});
  for (int d = 0; d < 50; ++d) {
    std::vector<uint32_t> sentence;
    for (int i = 0; i < 400; ++i) sentence.push_back(static_cast<uint32_t>(draw(train_rng)));
    corpus.AddDocument({sentence});
  }
  const TrivialBaselines floors(corpus.View(), rule);

  // Held-out sequences drawn apart from the training ones, masked by MaskSequence.
  Batch batch;
  batch.rows = 300;
  batch.cols = 66;
  ablate::Rng valid_rng({2});
  MaskedTokens masked;
  for (int64_t row = 0; row < batch.rows; ++row) {
    std::vector<int32_t> sequence = {kBos};
    for (int i = 0; i < 64; ++i) sequence.push_back(draw(valid_rng));
    sequence.push_back(kEos);
    MaskSequence(sequence, rule, 5, 0, static_cast<uint64_t>(row), masked);
    batch.input_ids.insert(batch.input_ids.end(), masked.inputs.begin(), masked.inputs.end());
    batch.labels.insert(batch.labels.end(), masked.labels.begin(), masked.labels.end());
  }
  BaselineSums sums;
  floors.Score(batch, sums);
  REQUIRE(sums.predictions > 2000);
  const auto n = static_cast<double>(sums.predictions);
  const double unigram_ppl = std::exp(sums.unigram_loss_sum / n);
  const double copy_ppl = std::exp(sums.copy_loss_sum / n);
  INFO("unigram ppl " << unigram_ppl << ", copy ppl " << copy_ppl);
  CHECK(copy_ppl < unigram_ppl);
  // The copy floor gets nearly every kept token (10%) right, and the unigram floor's right answers
  // (the most frequent id, about 0.23 of targets) wherever <mask> is read (80%).
  CHECK(sums.copy_correct > sums.unigram_correct);
  CHECK(static_cast<double>(sums.unigram_correct) / n == Approx(1.0 / total).margin(0.03));
}
