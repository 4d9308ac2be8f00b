// Medians, quantiles, spreads, the Mann-Whitney test, Hodges-Lehmann intervals, detectable shifts
// and Holm's adjustment on hand-worked cases, and against brute-force enumerations of every split
// of the ranks, scans over every shift and Holm's step-down procedure itself.
#include "base/statistics.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <vector>

#include "base/rng.h"

using namespace ablate;

TEST_CASE("quantiles interpolate between order statistics, the spread of one value is 0",
          "[statistics]") {
  // numpy.quantile([1, 2, 4, 10], [0.25, 0.5, 0.75]) = 1.75, 3.0, 5.5
  CHECK(Quantile({10, 1, 4, 2}, 0.25) == Approx(1.75));
  CHECK(Quantile({10, 1, 4, 2}, 0.5) == Approx(3.0));
  CHECK(Quantile({10, 1, 4, 2}, 0.75) == Approx(5.5));
  CHECK(Quantile({7}, 0.25) == 7);
  CHECK(std::isnan(Quantile({}, 0.5)));
  // Sample standard deviation of 2, 4, 4, 4, 5, 5, 7, 9: sqrt(32 / 7).
  CHECK(SampleStdDev({2, 4, 4, 4, 5, 5, 7, 9}) == Approx(std::sqrt(32.0 / 7)));
  CHECK(SampleStdDev({3}) == 0);
}

TEST_CASE("Mann-Whitney on hand-worked cases", "[statistics]") {
  // Complete separation, 4 against 4: 1 of C(8, 4) = 70 splits is as extreme each way.
  auto sep = MannWhitney({1, 2, 3, 4}, {5, 6, 7, 8});
  CHECK(sep.exact);
  CHECK(sep.u == 0);
  CHECK(sep.p_less == Approx(1.0 / 70));
  CHECK(sep.p_greater == 1);
  CHECK(sep.p_two_sided == Approx(2.0 / 70));
  // 3 against 3 can never reach p <= 0.05 two-sided: at best 2 / 20.
  CHECK(MannWhitney({4, 5, 6}, {1, 2, 3}).p_two_sided == Approx(0.1));
  CHECK(MinimumTwoSidedP(3, 3) == Approx(0.1));
  CHECK(MinimumTwoSidedP(4, 4) == Approx(2.0 / 70));
  CHECK(MinimumTwoSidedP(1, 1) == 1);
  // n = 1 against 1: either order is half the splits.
  auto one = MannWhitney({2}, {1});
  CHECK(one.u == 1);
  CHECK(one.p_greater == Approx(0.5));
  CHECK(one.p_two_sided == 1);
  // Ties: a = {1, 1}, b = {1, 2}: midranks 2, 2, 2, 4; a's rank sum 4 of the 6 equally likely
  // sums {4, 4, 4, 6, 6, 6}, mean 5, so |4 - 5| is as extreme as any: two-sided p = 1.
  auto ties = MannWhitney({1, 1}, {1, 2});
  CHECK(ties.u == 1);  // each 1 of a ties the 1 of b (1/2) and loses to the 2
  CHECK(ties.p_less == Approx(0.5));
  CHECK(ties.p_greater == 1);
  CHECK(ties.p_two_sided == 1);
  // All values equal: no evidence either way.
  auto same = MannWhitney({3, 3, 3}, {3, 3, 3, 3});
  CHECK(same.p_two_sided == 1);
  CHECK(same.p_greater == 1);
  // Unequal sizes, 2 against 5, a above all of b: 1 of C(7, 2) = 21 splits.
  auto unequal = MannWhitney({10, 11}, {1, 2, 3, 4, 5});
  CHECK(unequal.u == 10);
  CHECK(unequal.p_greater == Approx(1.0 / 21));
  CHECK(unequal.p_two_sided == Approx(2.0 / 21));
  // An empty sample tests nothing.
  CHECK(MannWhitney({}, {1, 2}).p_two_sided == 1);
}

TEST_CASE("the exact test equals an enumeration of every split of the pooled values",
          "[statistics]") {
  Rng rng({17});
  for (int trial = 0; trial < 30; ++trial) {
    const size_t na = 1 + rng.Below(6), nb = 1 + rng.Below(6);
    std::vector<double> a, b, pooled;
    // Few distinct values, so ties are common.
    for (size_t i = 0; i < na; ++i) a.push_back(static_cast<double>(rng.Below(5)));
    for (size_t i = 0; i < nb; ++i)
      b.push_back(static_cast<double>(rng.Below(5)) + 0.5 * (trial % 2));
    pooled = a;
    pooled.insert(pooled.end(), b.begin(), b.end());
    const size_t n = pooled.size();
    // U by its definition, for the observed split and for every other split of size na.
    auto u_of = [&](const std::vector<bool>& in_a) {
      double u = 0;
      for (size_t i = 0; i < n; ++i)
        for (size_t j = 0; j < n; ++j)
          if (in_a[i] && !in_a[j])
            u += pooled[i] > pooled[j] ? 1 : pooled[i] == pooled[j] ? 0.5 : 0;
      return u;
    };
    std::vector<bool> observed(n, false);
    for (size_t i = 0; i < na; ++i) observed[i] = true;
    const double u = u_of(observed), mean = static_cast<double>(na * nb) / 2;
    double total = 0, greater = 0, less = 0, extreme = 0;
    for (uint32_t mask = 0; mask < (1u << n); ++mask) {
      if (static_cast<size_t>(__builtin_popcount(mask)) != na) continue;
      std::vector<bool> in_a(n);
      for (size_t i = 0; i < n; ++i) in_a[i] = (mask >> i) & 1u;
      const double v = u_of(in_a);
      total += 1;
      greater += v >= u - 1e-9;
      less += v <= u + 1e-9;
      extreme += std::abs(v - mean) >= std::abs(u - mean) - 1e-9;
    }
    auto test = MannWhitney(a, b);
    INFO("trial " << trial);
    CHECK(test.u == Approx(u));
    CHECK(test.p_greater == Approx(greater / total));
    CHECK(test.p_less == Approx(less / total));
    CHECK(test.p_two_sided == Approx(extreme / total));
  }
}

TEST_CASE("large samples use the normal approximation, close to the exact test at the boundary",
          "[statistics]") {
  std::vector<double> a, b;
  for (int i = 0; i < 100; ++i) {
    a.push_back(i);
    b.push_back(100 + i);
  }
  auto far = MannWhitney(a, b);
  CHECK(!far.exact);
  CHECK(far.p_two_sided < 1e-30);
  CHECK(far.p_less < 1e-30);
  // 25 against 25 (exact) and 26 against 25 (approximate) on overlapping samples agree closely.
  Rng rng({5});
  std::vector<double> x, y;
  for (int i = 0; i < 25; ++i) {
    x.push_back(rng.Uniform() + 0.3);
    y.push_back(rng.Uniform());
  }
  auto exact = MannWhitney(x, y);
  REQUIRE(exact.exact);
  x.push_back(x.front());
  auto approx = MannWhitney(x, y);
  REQUIRE(!approx.exact);
  CHECK(approx.p_two_sided == Approx(exact.p_two_sided).margin(0.02));
}

namespace {

// Every a_i - b_j, sorted: the brute-force reference for the Hodges-Lehmann functions.
std::vector<double> AllDifferences(const std::vector<double>& a, const std::vector<double>& b) {
  std::vector<double> d;
  for (double x : a)
    for (double y : b) d.push_back(x - y);
  std::sort(d.begin(), d.end());
  return d;
}

double MiddleOf(const std::vector<double>& sorted) {
  const size_t n = sorted.size();
  return n % 2 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
}

// cdf[u] = P(U <= u), u = 0..m*n, counted over every split of the ranks {1..m+n} into m for the
// first sample and n for the second (each equally likely under the null, no ties).
std::vector<double> EnumeratedUCdf(size_t m, size_t n) {
  std::vector<double> count(m * n + 1, 0);
  double total = 0;
  for (uint32_t mask = 0; mask < (1u << (m + n)); ++mask) {
    if (static_cast<size_t>(__builtin_popcount(mask)) != m) continue;
    size_t rank_sum = 0;
    for (size_t i = 0; i < m + n; ++i)
      if ((mask >> i) & 1u) rank_sum += i + 1;
    count[rank_sum - m * (m + 1) / 2] += 1;
    total += 1;
  }
  std::vector<double> cdf(count.size());
  double running = 0;
  for (size_t u = 0; u < count.size(); ++u) cdf[u] = (running += count[u]) / total;
  return cdf;
}

// Levels such as (1 - 0.8) / 2 round just below the probability they name (7/70 for 4 against
// 4); the functions count such a level as attained, and so does this reference.
bool AtMostLevel(double p, double level) { return p <= level * (1 + 1e-9); }

// Draws of sizes 2..5, either on a coarse grid of halves (many ties) or continuous.
std::vector<double> Draw(Rng& rng, size_t n, bool ties) {
  std::vector<double> values;
  for (size_t i = 0; i < n; ++i)
    values.push_back(ties ? 0.5 * static_cast<double>(rng.Below(6)) : 10 * rng.Uniform());
  return values;
}

}  // namespace

TEST_CASE("Hodges-Lehmann shift and interval on hand-worked cases", "[statistics]") {
  // a = {1, 2, 3, 4}, b = {5, 6, 7, 8}: a_i - b_j = (i - j) - 4, so the 16 sorted differences are
  // -7, -6 -6, -5 -5 -5, -4 -4 -4 -4, -3 -3 -3, -2 -2, -1 (positions 1, 2-3, 4-6, 7-10, 11-13,
  // 14-15, 16), median (D_8 + D_9) / 2 = -4.
  // The null counts of U for 4 against 4 are the coefficients of the Gaussian binomial [8 4]:
  // 1 1 2 3 5 5 7 7 8 7 7 5 5 3 2 1 1 (70 in all), so P(U <= 0) = 1/70, P(U <= 1) = 2/70,
  // P(U <= 2) = 4/70, P(U <= 3) = 7/70.
  // 95%: 1/70 <= 0.025 < 2/70, k = 1: [D_1, D_16] = [-7, -1], coverage 1 - 2/70.
  // 90%: 2/70 <= 0.05 < 4/70, k = 2: [D_2, D_15] = [-6, -2], coverage 1 - 4/70.
  // 80%: 7/70 = 0.1 exactly, k = 4: [D_4, D_13] = [-5, -3], coverage 1 - 14/70 = 0.8 (R's
  // qwilcox counts the equality as a miss and would give k = 3).
  const std::vector<double> a{1, 2, 3, 4}, b{5, 6, 7, 8};
  auto s95 = HodgesLehmannShift(a, b);
  CHECK(s95.estimate == -4);
  CHECK(s95.low == -7);
  CHECK(s95.high == -1);
  CHECK(s95.confidence == Approx(1 - 2.0 / 70));
  CHECK(s95.reached);
  auto s90 = HodgesLehmannShift(a, b, 0.90);
  CHECK(s90.low == -6);
  CHECK(s90.high == -2);
  CHECK(s90.confidence == Approx(1 - 4.0 / 70));
  auto s80 = HodgesLehmannShift(a, b, 0.80);
  CHECK(s80.low == -5);
  CHECK(s80.high == -3);
  CHECK(s80.confidence == Approx(0.8));
  CHECK(s80.reached);
  // The shift of b against a mirrors it.
  auto mirrored = HodgesLehmannShift(b, a);
  CHECK(mirrored.estimate == 4);
  CHECK(mirrored.low == 1);
  CHECK(mirrored.high == 7);

  // 3 against 3: P(U <= 0) = 1/20 = 0.05 > 0.025, so 95% is out of reach; the widest interval
  // [min D, max D] covers 1 - 2/20 = 0.9. Differences of {1, 2, 3} - {10, 20, 30}: -29 .. -7.
  auto small = HodgesLehmannShift({1, 2, 3}, {10, 20, 30});
  CHECK(!small.reached);
  CHECK(small.confidence == Approx(0.9));
  CHECK(small.low == -29);
  CHECK(small.high == -7);
  CHECK(small.estimate == -18);  // the 9 differences' median: 2 - 20
  CHECK(HodgesLehmannShift({1, 2, 3}, {10, 20, 30}, 0.9).reached);

  // Unequal sizes: 1 against 2 has P(U <= 0) = 1/3; 30% asks for P <= 0.35, so k = 1.
  auto one = HodgesLehmannShift({5}, {1, 2}, 0.30);
  CHECK(one.reached);
  CHECK(one.estimate == 3.5);
  CHECK(one.low == 3);
  CHECK(one.high == 4);
  CHECK(one.confidence == Approx(1.0 / 3));

  auto empty = HodgesLehmannShift({}, {1, 2});
  CHECK(std::isnan(empty.estimate));
  CHECK(std::isnan(empty.low));
  CHECK(std::isnan(empty.confidence));
  CHECK(!empty.reached);

  CHECK(MinimumOneSidedP(4, 4) == Approx(1.0 / 70));
  CHECK(MinimumOneSidedP(3, 3) == Approx(0.05));
  CHECK(MinimumOneSidedP(2, 5) == Approx(1.0 / 21));
  CHECK(MinimumOneSidedP(1, 1) == Approx(0.5));
  CHECK(MinimumOneSidedP(0, 3) == 1);
}

TEST_CASE("Hodges-Lehmann estimate and interval equal an enumeration of every split of the ranks",
          "[statistics]") {
  Rng rng({23});
  const double confidences[] = {0.5, 0.8, 0.9, 0.95, 0.99};
  for (int trial = 0; trial < 200; ++trial) {
    const size_t m = 2 + rng.Below(4), n = 2 + rng.Below(4);
    const bool ties = trial % 2 == 0;
    const std::vector<double> a = Draw(rng, m, ties), b = Draw(rng, n, ties);
    const std::vector<double> d = AllDifferences(a, b);
    const std::vector<double> cdf = EnumeratedUCdf(m, n);
    for (double confidence : confidences) {
      INFO("trial " << trial << ", " << m << " against " << n << ", confidence " << confidence);
      // The widest interval k = 1 is the fallback when no k reaches the level.
      size_t k = 1;
      while (k < m * n && AtMostLevel(cdf[k], (1 - confidence) / 2)) ++k;
      const bool reached = AtMostLevel(cdf[0], (1 - confidence) / 2);
      auto shift = HodgesLehmannShift(a, b, confidence);
      CHECK(shift.estimate == MiddleOf(d));
      CHECK(shift.reached == reached);
      CHECK(shift.low == d[k - 1]);
      CHECK(shift.high == d[m * n - k]);
      CHECK(shift.confidence == Approx(1 - 2 * cdf[k - 1]).margin(1e-12));
      if (reached) CHECK(shift.confidence >= confidence - 1e-9);
    }
  }
}

TEST_CASE("beyond 50 values the interval index comes from the normal approximation",
          "[statistics]") {
  // 30 against 30 with distinct differences 31 i - j (i, j in 0..29), so the interval's ends tell
  // the index k. The exact P(U <= u) by the same recursion in probabilities (C(60, 30) > 2^53
  // rules out exact counts) puts the 95% index within one of the approximate one.
  const size_t m = 30, n = 30;
  std::vector<double> a, b;
  for (size_t i = 0; i < m; ++i) a.push_back(31.0 * static_cast<double>(i));
  for (size_t j = 0; j < n; ++j) b.push_back(static_cast<double>(j));
  const std::vector<double> d = AllDifferences(a, b);
  // p[i][j][u]: P(U = u) for sizes i, j; the largest value is in the first sample with
  // probability i / (i + j), then beating all j of the second.
  std::vector<std::vector<std::vector<double>>> p(m + 1, std::vector<std::vector<double>>(n + 1));
  for (size_t i = 0; i <= m; ++i) {
    for (size_t j = 0; j <= n; ++j) {
      p[i][j].assign(i * j + 1, 0);
      if (i == 0 || j == 0) {
        p[i][j][0] = 1;
        continue;
      }
      const double first = static_cast<double>(i) / static_cast<double>(i + j);
      for (size_t u = 0; u < p[i - 1][j].size(); ++u) p[i][j][u + j] += first * p[i - 1][j][u];
      for (size_t u = 0; u < p[i][j - 1].size(); ++u) p[i][j][u] += (1 - first) * p[i][j - 1][u];
    }
  }
  double cumulative = 0;
  size_t exact_k = 0;
  while (cumulative + p[m][n][exact_k] <= 0.025) cumulative += p[m][n][exact_k++];
  auto shift = HodgesLehmannShift(a, b);
  const auto approximate_k =
      static_cast<size_t>(std::find(d.begin(), d.end(), shift.low) - d.begin()) + 1;
  CHECK(shift.reached);
  CHECK(shift.high == d[m * n - approximate_k]);
  CHECK(static_cast<double>(approximate_k) == Approx(static_cast<double>(exact_k)).margin(1));
  CHECK(shift.confidence == Approx(0.95).margin(0.002));
}

TEST_CASE("the detectable shift on a hand-worked case, and none where no test can reject",
          "[statistics]") {
  // a = {1, 2, 3, 4}, b = {5, 6, 7, 8}: HL = -4, so a centred is {5, 6, 7, 8}, b itself. One
  // sided at 0.05, U must reach 15 (P(U >= 15) = P(U <= 1) = 2/70 <= 0.05 < P(U >= 14) = 4/70).
  // a centred + 2 = {7, 8, 9, 10} against {5, 6, 7, 8}: 2 + 3 + 4 + 4 wins and two ties, U = 14;
  // any shift above 2 makes the ties wins, U = 15: the infimum is 2 = HL - D_(2) = -4 - (-6).
  CHECK(DetectableShift({1, 2, 3, 4}, {5, 6, 7, 8}, 0.05) == 2);
  // At 0.01 not even U = 16 (1/70 = 0.014) rejects.
  CHECK(std::isinf(DetectableShift({1, 2, 3, 4}, {5, 6, 7, 8}, 0.01)));
  // 3 against 3: 1/20 = 0.05 is reached exactly by U = 9: {1, 2, 3} + 2 against {1, 2, 3} has
  // U = 8.5 (3 ties 3), anything above 2 gives 9. At 0.025 no shift can be separated.
  CHECK(DetectableShift({1, 2, 3}, {1, 2, 3}, 0.05) == 2);
  CHECK(std::isinf(DetectableShift({1, 2, 3}, {1, 2, 3}, 0.025)));
  CHECK(std::isinf(DetectableShift({}, {1, 2, 3}, 0.5)));
  // Spread sets the detectable shift, not location: moving a or b changes nothing.
  CHECK(DetectableShift({101, 102, 103, 104}, {5, 6, 7, 8}, 0.05) == 2);
}

TEST_CASE("the detectable shift equals a scan of the exact one-sided test over every shift",
          "[statistics]") {
  Rng rng({29});
  const double alphas[] = {0.05, 0.1, 0.2};
  for (int trial = 0; trial < 120; ++trial) {
    const size_t m = 2 + rng.Below(4), n = 2 + rng.Below(4);
    const bool ties = trial % 2 == 0;
    const std::vector<double> a = Draw(rng, m, ties), b = Draw(rng, n, ties);
    const std::vector<double> cdf = EnumeratedUCdf(m, n);
    const double hl = MiddleOf(AllDifferences(a, b));
    // U of (a - hl + delta) against b changes only at the shifts hl - (a_i - b_j): test once
    // inside each gap between them (and past both ends), where no value of a ties one of b.
    std::vector<double> points;
    for (double x : a)
      for (double y : b) points.push_back(hl - (x - y));
    std::sort(points.begin(), points.end());
    points.erase(std::unique(points.begin(), points.end()), points.end());
    for (double alpha : alphas) {
      INFO("trial " << trial << ", " << m << " against " << n << ", alpha " << alpha);
      double expected = std::numeric_limits<double>::infinity();
      for (size_t gap = 0; gap <= points.size(); ++gap) {
        const double delta = gap == 0               ? points.front() - 1
                             : gap == points.size() ? points.back() + 1
                                                    : (points[gap - 1] + points[gap]) / 2;
        size_t u = 0;
        for (double x : a)
          for (double y : b) u += x - hl + delta > y;
        // P(U >= u) = P(U <= mn - u) by the symmetry of the null distribution.
        const double p = cdf[m * n - u];
        if (!ties) {
          std::vector<double> shifted;
          for (double x : a) shifted.push_back(x - hl + delta);
          CHECK(MannWhitney(shifted, b).p_greater == Approx(p));
        }
        if (AtMostLevel(p, alpha)) {
          expected = gap == 0 ? 0 : std::max(0.0, points[gap - 1]);
          break;
        }
      }
      const double detectable = DetectableShift(a, b, alpha);
      if (std::isinf(expected)) {
        CHECK(std::isinf(detectable));
      } else {
        CHECK(detectable == Approx(expected).margin(1e-12));
      }
    }
  }
}

TEST_CASE("Holm's adjustment on a hand-worked table, negative entries untested", "[statistics]") {
  // p = {0.01, 0.04, 0.03, 0.005}, m = 4. Ascending: 0.005 (#3), 0.01 (#0), 0.03 (#2), 0.04 (#1)
  // times 4, 3, 2, 1: 0.02, 0.03, 0.06, 0.04; running maximum: 0.02, 0.03, 0.06, 0.06.
  const std::vector<double> adjusted = HolmAdjust({0.01, 0.04, 0.03, 0.005});
  REQUIRE(adjusted.size() == 4);
  CHECK(adjusted[0] == Approx(0.03));
  CHECK(adjusted[1] == Approx(0.06));
  CHECK(adjusted[2] == Approx(0.06));
  CHECK(adjusted[3] == Approx(0.02));
  // The untested entries keep their place and value and do not enlarge the family.
  const std::vector<double> with_gaps = HolmAdjust({-1, 0.01, 0.04, -1, 0.03, 0.005});
  CHECK(with_gaps[0] == -1);
  CHECK(with_gaps[3] == -1);
  CHECK(with_gaps[1] == Approx(0.03));
  CHECK(with_gaps[2] == Approx(0.06));
  CHECK(with_gaps[4] == Approx(0.06));
  CHECK(with_gaps[5] == Approx(0.02));
  // Capped at 1: 0.01 * 3, min(1, 0.6 * 2), max(that, 0.6 * 1).
  const std::vector<double> capped = HolmAdjust({0.6, 0.01, 0.6});
  CHECK(capped[0] == 1);
  CHECK(capped[1] == Approx(0.03));
  CHECK(capped[2] == 1);
  // Ties share a value: 0.1 * 3, max(0.3, 0.1 * 2), max(0.3, 0.3 * 1). One test is its own.
  const std::vector<double> tied = HolmAdjust({0.3, 0.1, 0.1});
  CHECK(tied[0] == Approx(0.3));
  CHECK(tied[1] == Approx(0.3));
  CHECK(tied[2] == Approx(0.3));
  CHECK(HolmAdjust({0.3})[0] == Approx(0.3));
  CHECK(HolmAdjust({}).empty());
  CHECK(std::isnan(HolmAdjust({std::nan(""), 0.2})[0]));
}

TEST_CASE("rejecting Holm-adjusted p-values at alpha is Holm's step-down procedure",
          "[statistics]") {
  Rng rng({31});
  for (int trial = 0; trial < 300; ++trial) {
    std::vector<double> p;
    const size_t size = 1 + rng.Below(8);
    for (size_t i = 0; i < size; ++i)
      p.push_back(rng.Below(5) == 0 ? -1 : 0.1 * rng.Uniform() * rng.Uniform());
    const std::vector<double> adjusted = HolmAdjust(p);
    for (double alpha : {0.01, 0.05, 0.1}) {
      // Step down: compare the j-th smallest of the m tested p-values with alpha / (m - j + 1),
      // and stop at the first that fails; every one before it is rejected.
      std::vector<size_t> tested;
      for (size_t i = 0; i < p.size(); ++i)
        if (p[i] >= 0) tested.push_back(i);
      std::sort(tested.begin(), tested.end(), [&](size_t l, size_t r) { return p[l] < p[r]; });
      std::vector<bool> rejected(p.size(), false);
      for (size_t j = 0; j < tested.size(); ++j) {
        if (p[tested[j]] > alpha / static_cast<double>(tested.size() - j)) break;
        rejected[tested[j]] = true;
      }
      for (size_t i = 0; i < p.size(); ++i) {
        INFO("trial " << trial << ", alpha " << alpha << ", p[" << i << "] = " << p[i]);
        if (p[i] < 0) {
          CHECK(adjusted[i] == p[i]);
        } else {
          CHECK((adjusted[i] <= alpha) == rejected[i]);
          CHECK(adjusted[i] >= p[i]);
        }
      }
    }
  }
}
