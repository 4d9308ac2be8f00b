#include "base/statistics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace ablate {

double Median(std::vector<double> values) { return MedianInPlace(values.data(), values.size()); }

double MedianInPlace(double* values, size_t n) {
  if (n == 0) return std::numeric_limits<double>::quiet_NaN();
  std::nth_element(values, values + n / 2, values + n);
  const double upper = values[n / 2];
  if (n % 2 == 1) return upper;
  return (*std::max_element(values, values + n / 2) + upper) / 2;
}

double Quantile(std::vector<double> values, double q) {
  if (values.empty()) return std::numeric_limits<double>::quiet_NaN();
  std::sort(values.begin(), values.end());
  const double h = q * static_cast<double>(values.size() - 1);
  const auto below = static_cast<size_t>(std::floor(h));
  const size_t above = std::min(below + 1, values.size() - 1);
  return values[below] + (h - static_cast<double>(below)) * (values[above] - values[below]);
}

double SampleStdDev(const std::vector<double>& values) {
  if (values.size() < 2) return 0;
  const double mean =
      std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(values.size());
  double squares = 0;
  for (double x : values) squares += (x - mean) * (x - mean);
  return std::sqrt(squares / static_cast<double>(values.size() - 1));
}

RankTest MannWhitney(const std::vector<double>& a, const std::vector<double>& b) {
  RankTest test;
  const size_t na = a.size(), nb = b.size(), n = na + nb;
  if (na == 0 || nb == 0) return test;
  // Twice the midranks, so ties stay integers: a tie group over ranks i+1..j gets i + j + 1.
  std::vector<std::pair<double, bool>> all;  // (value, from a)
  for (double x : a) all.emplace_back(x, true);
  for (double y : b) all.emplace_back(y, false);
  std::sort(all.begin(), all.end(), [](const auto& l, const auto& r) { return l.first < r.first; });
  std::vector<int64_t> ranks2(n);
  int64_t sum_a2 = 0;
  double tie_term = 0;  // sum of t^3 - t over tie groups
  for (size_t i = 0; i < n;) {
    size_t j = i;
    while (j < n && all[j].first == all[i].first) ++j;
    const auto t = static_cast<double>(j - i);
    tie_term += t * t * t - t;
    for (size_t k = i; k < j; ++k) {
      ranks2[k] = static_cast<int64_t>(i + j + 1);
      if (all[k].second) sum_a2 += ranks2[k];
    }
    i = j;
  }
  test.u = static_cast<double>(sum_a2) / 2 - static_cast<double>(na * (na + 1)) / 2;
  const int64_t mean2 = static_cast<int64_t>(na * (n + 1));  // E[2W]

  if (n <= kExactRankTestMax) {
    // counts[k][s]: subsets of k of the values whose doubled ranks sum to s. Every split of the
    // pooled values into a and b is equally likely under H0 (C(50, 25) < 2^53: exact in double).
    const auto max_sum = static_cast<size_t>(std::accumulate(ranks2.begin(), ranks2.end(), 0LL));
    std::vector<std::vector<double>> counts(na + 1, std::vector<double>(max_sum + 1, 0));
    counts[0][0] = 1;
    for (size_t i = 0; i < n; ++i) {
      const auto r = static_cast<size_t>(ranks2[i]);
      for (size_t k = std::min(i + 1, na); k >= 1; --k) {
        for (size_t s = max_sum; s >= r; --s) counts[k][s] += counts[k - 1][s - r];
      }
    }
    double total = 0, greater = 0, less = 0, extreme = 0;
    const int64_t distance = std::llabs(sum_a2 - mean2);
    for (size_t s = 0; s <= max_sum; ++s) {
      const double c = counts[na][s];
      if (c == 0) continue;
      const auto sum = static_cast<int64_t>(s);
      total += c;
      if (sum >= sum_a2) greater += c;
      if (sum <= sum_a2) less += c;
      if (std::llabs(sum - mean2) >= distance) extreme += c;
    }
    test.p_greater = greater / total;
    test.p_less = less / total;
    test.p_two_sided = extreme / total;
    return test;
  }

  test.exact = false;
  const double mean_u = static_cast<double>(na * nb) / 2;
  const double variance = static_cast<double>(na * nb) / 12 *
                          (static_cast<double>(n + 1) -
                           tie_term / (static_cast<double>(n) * static_cast<double>(n - 1)));
  if (variance <= 0) return test;  // every value equal: no evidence either way
  const double sd = std::sqrt(variance);
  // Upper tail P(U >= u) and lower tail P(U <= u), each with a continuity correction of 1/2.
  auto upper = [&](double u) { return 0.5 * std::erfc((u - mean_u - 0.5) / sd / std::sqrt(2.0)); };
  auto lower = [&](double u) { return 0.5 * std::erfc((mean_u - u - 0.5) / sd / std::sqrt(2.0)); };
  test.p_greater = std::min(1.0, upper(test.u));
  test.p_less = std::min(1.0, lower(test.u));
  test.p_two_sided = std::min(1.0, 2 * std::min(test.p_greater, test.p_less));
  return test;
}

double MinimumTwoSidedP(size_t n_a, size_t n_b) {
  if (n_a == 0 || n_b == 0) return 1;
  double combinations = 1;  // C(n_a + n_b, n_a), built up exactly for small sizes
  for (size_t i = 1; i <= n_a; ++i)
    combinations = combinations * static_cast<double>(n_b + i) / static_cast<double>(i);
  return std::min(1.0, 2 / combinations);
}

}  // namespace ablate
