// Order statistics and rank tests shared by fine-tuning (medians over seeds) and reports (medians,
// spreads and tests over runs). Plain functions of numbers; nothing here knows where the numbers
// come from.
#pragma once

#include <cstddef>
#include <vector>

namespace ablate {

// The median of `values` (the mean of the middle two for an even count); NaN when empty.
double Median(std::vector<double> values);

// The same for values[0, n), which it reorders (no copy); NaN when n == 0.
double MedianInPlace(double* values, size_t n);

// The q-quantile (0 <= q <= 1), interpolating linearly between order statistics (R's type 7,
// numpy's default); NaN when empty.
double Quantile(std::vector<double> values, double q);

// Sample standard deviation (n - 1); 0 for fewer than two values.
double SampleStdDev(const std::vector<double>& values);

// The Mann-Whitney U test (Wilcoxon rank-sum) of samples a and b, ties given midranks. Its
// p-values come from the exact permutation distribution of the rank sum (ties included) when the
// two samples hold at most kExactRankTestMax values together, else from the normal approximation
// with tie and continuity corrections.
constexpr size_t kExactRankTestMax = 50;
struct RankTest {
  double u = 0;            // pairs (x of a, y of b) with x > y, ties counted 1/2
  double p_two_sided = 1;  // H1: the samples differ in location
  double p_greater = 1;    // H1: values of a tend to be larger than those of b
  double p_less = 1;       // H1: values of a tend to be smaller
  bool exact = true;
};
RankTest MannWhitney(const std::vector<double>& a, const std::vector<double>& b);

// The smallest two-sided p-value any outcome can reach with samples of these sizes and no ties:
// 2 / C(n_a + n_b, n_a). With 3 runs against 3 it is 0.1, so p <= 0.05 needs 4 a side.
double MinimumTwoSidedP(size_t n_a, size_t n_b);

}  // namespace ablate
