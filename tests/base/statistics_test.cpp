// Medians, quantiles, spreads and the Mann-Whitney test on hand-worked cases, and the exact test
// against a brute-force enumeration of every split of the pooled values.
#include "base/statistics.h"

#include <catch2/catch.hpp>
#include <cmath>

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
