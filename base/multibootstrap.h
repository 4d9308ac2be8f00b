// The Multi-Bootstrap of Sellam et al. (2022, "The MultiBERTs", section 3): compares two systems
// by resampling pretraining seeds, fine-tuning replicates and evaluation examples together. A pure
// function of the outcomes and a seed; it neither reads runs nor chooses which rows to compare.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "base/rng.h"

namespace ablate {

// One replicate (a fine-tuning seed, or the only evaluation of a pretrained model) on the example
// set every row shares, index for index. Its metric on a multiset E of examples is
// transform(sum_E numerator / sum_E denominator): accuracy is (correct, 1) with kIdentity,
// perplexity (summed masked-token loss, masked tokens) with kExp. Denominators are > 0.
struct BootstrapReplicate {
  std::vector<double> numerator;
  std::vector<double> denominator;
};

// One pretraining run of a row: its seed (runs of two rows with one seed are the same draw of
// the pretraining randomness, which is what pairing uses) and its replicates.
struct BootstrapRun {
  uint64_t seed = 0;
  std::vector<BootstrapReplicate> replicates;
};

enum class BootstrapTransform { kIdentity, kExp };

struct MultiBootstrapOptions {
  size_t samples = 1000;
  double confidence = 0.95;          // of the percentile interval, in (0, 1)
  uint64_t seed = kFixedSampleSeed;  // names every draw: a report recomputes the same numbers
  BootstrapTransform transform = BootstrapTransform::kIdentity;
  bool pair_seeds = true;  // pair when both rows hold the same seeds; false never pairs
};

struct BootstrapComparison {
  double estimate = 0;       // statistic(a) - statistic(b) on the full data, nothing resampled
  double low = 0, high = 0;  // percentile interval of the bootstrap differences
  double p_greater = 1;      // evidence that a > b: the fraction of differences <= 0
  double p_less = 1;         // evidence that a < b: the fraction of differences >= 0
  size_t samples = 0;
  bool paired = false;  // the same sampled seeds were used for both rows
};

// A row's statistic on the full data: the mean over its runs of the mean over each run's
// replicates of the metric on every example. Throws InputError on malformed rows (see below).
double MultiBootstrapStatistic(const std::vector<BootstrapRun>& row, BootstrapTransform transform);

// Draw coordinates (ASCII names), part of the documented draw order below.
constexpr uint64_t kBootstrapExampleDomain = 0x6265786d;    // "bexm"
constexpr uint64_t kBootstrapRunDomain = 0x6272756e;        // "brun"
constexpr uint64_t kBootstrapReplicateDomain = 0x62726570;  // "brep"

// Compares row a with row b. Beyond the paper's library, which averages a seed's fine-tuning runs,
// the replicates are resampled within each drawn run too: fine-tuning seeds vary as well (Dodge et
// al. 2020), and a row with one replicate per run draws the same numbers either way. Both rows'
// runs are taken in ascending seed order, replicates in the order given; N examples, R_x runs in
// row x (x = 0 for a, 1 for b). Paired means options.pair_seeds and both rows hold the same set of
// seeds. For bootstrap sample s = 0, 1, ..., samples - 1, with S = options.seed and every Rng of
// base/rng.h:
//   1. examples, shared by both rows: g = Rng({S, kBootstrapExampleDomain, s});
//      e_i = g.Below(N) for i = 0, ..., N - 1.
//   2. runs of row x: g = Rng({S, kBootstrapRunDomain, s, paired ? 0 : x});
//      p_j = g.Below(R_x) for j = 0, ..., R_x - 1, a position in the row's seed order (paired
//      rows draw the same positions of the same seed list: the same seeds).
//   3. replicates of the j-th drawn run of row x, which has Q of them:
//      g = Rng({S, kBootstrapReplicateDomain, s, x, j}); q_t = g.Below(Q) for t = 0, ..., Q - 1.
//   The row's statistic is (sum_j (sum_t M(p_j, q_t)) / Q_j) / R_x, where M(p, q) is the
//   transform of (sum_i numerator[e_i]) / (sum_i denominator[e_i]) of replicate q of run p; every
//   sum runs left to right in the index order written, so an implementation that follows this
//   gets the same doubles (tests/data/multibootstrap_reference.py does). The sample's difference
//   is statistic(a) - statistic(b). The estimate is the same with every run, replicate and example
//   taken once, in order.
// The interval is Quantile (type 7) of the differences at (1 - confidence) / 2 and
// (1 + confidence) / 2. p_greater is the paper's one-sided p-value for "a is better when larger".
// Throws InputError when a row is empty, a run has no replicates, a seed repeats within a row, a
// replicate's outcomes do not cover the N examples of the first, or an outcome is not finite or a
// denominator not > 0.
BootstrapComparison MultiBootstrapCompare(const std::vector<BootstrapRun>& a,
                                          const std::vector<BootstrapRun>& b,
                                          const MultiBootstrapOptions& options = {});

}  // namespace ablate
