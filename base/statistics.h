// Order statistics, rank tests, shift intervals and Holm's correction shared by fine-tuning
// (medians over seeds) and reports (medians, spreads, tests and effect sizes over runs). Plain
// functions of numbers; nothing here knows where the numbers come from.
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

// The smallest one-sided p-value any outcome can reach with these sizes and no ties:
// 1 / C(n_a + n_b, n_a) (1 when a sample is empty). 3 against 3 reach 0.05, 4 against 4 1/70.
double MinimumOneSidedP(size_t n_a, size_t n_b);

// The Hodges-Lehmann shift of a against b with its distribution-free interval (Hollander &
// Wolfe ch. 4, Bauer 1972, R's wilcox.test(conf.int = TRUE, exact = TRUE)). With D_(1..mn) the
// sorted differences a_i - b_j (m = n_a, n = n_b), the estimate is their median and the interval
// [D_(k), D_(mn+1-k)], k the largest integer with P(U <= k - 1) <= (1 - confidence) / 2 under the
// null distribution of the Mann-Whitney U without ties; its coverage is exactly
// 1 - 2 P(U <= k - 1) for continuous data, which `confidence` reports. That distribution is
// exact (counted) for n_a + n_b <= kExactRankTestMax and the normal approximation with a
// continuity correction beyond. Where even k = 1 misses the requested confidence (3 against 3:
// P(U <= 0) = 0.05 > 0.025), the interval is [min D, max D] with its own coverage
// (1 - 2 / C(n_a + n_b, n_a), 0.9 for 3 against 3) and reached = false. A probability within
// 1e-9 (relative) of the level counts as equal, so 1 - 0.8 rounding to 0.19999... does not drop
// an exactly attainable level; R's qwilcox instead treats equality as a miss (k one smaller).
// Ties among the values are allowed, but the coverage statement then holds only approximately.
// Every field is NaN (reached false) when a sample is empty; 0 < confidence < 1.
struct ShiftEstimate {
  double estimate = 0, low = 0, high = 0;
  double confidence = 0;  // the coverage achieved, >= the one asked for when reached
  bool reached = false;
};
ShiftEstimate HodgesLehmannShift(const std::vector<double>& a, const std::vector<double>& b,
                                 double confidence = 0.95);

// How large a location shift the spread of these runs lets a one-sided test separate: the
// infimum of the shifts delta >= 0 for which the one-sided exact Mann-Whitney test (the null
// distribution of U without ties, as above) of (a - HL + delta) against b rejects "not larger"
// at level alpha, HL the Hodges-Lehmann shift of a against b (so the centred samples show no
// shift of their own). U only changes where delta crosses HL - D_ij, and the infimum is
// HL - D_(k), k the largest with P(U <= k - 1) <= alpha: the distance from the estimate to the
// one-sided lower confidence bound (0 if that bound lies above the estimate). +infinity when
// MinimumOneSidedP(n_a, n_b) > alpha or a sample is empty: no shift, however large, can be
// separated. 0 < alpha < 1.
double DetectableShift(const std::vector<double>& a, const std::vector<double>& b, double alpha);

// Holm's step-down adjusted p-values, in the input order: with the m tested p-values sorted
// ascending, adj_(i) = max_{j <= i} min(1, (m - j + 1) p_(j)) (R's p.adjust(method = "holm")).
// Rejecting every adj <= alpha is Holm's procedure, which holds the family-wise error at alpha.
// Negative entries (and NaN) mean "no test": passed through unchanged and not counted in m.
std::vector<double> HolmAdjust(const std::vector<double>& p);

}  // namespace ablate
