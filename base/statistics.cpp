#include "base/statistics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "base/error.h"

namespace ablate {
namespace {

// counts[u], u = 0..m*n: how many of the C(m + n, m) equally likely splits of m + n distinct
// values have Mann-Whitney U = u. The largest value belongs either to the first sample, where it
// beats all n of the second (U shifts by n), or to the second, where it beats none:
// f(m, n)(u) = f(m - 1, n)(u - n) + f(m, n - 1)(u). Exact in double while C(m + n, m) < 2^53.
std::vector<double> MannWhitneyNullCounts(size_t m, size_t n) {
  std::vector<std::vector<double>> previous(n + 1, std::vector<double>{1}), current(n + 1);
  for (size_t i = 1; i <= m; ++i) {
    current[0] = {1};
    for (size_t j = 1; j <= n; ++j) {
      current[j].assign(i * j + 1, 0);
      for (size_t u = 0; u < previous[j].size(); ++u) current[j][u + j] += previous[j][u];
      for (size_t u = 0; u < current[j - 1].size(); ++u) current[j][u] += current[j - 1][u];
    }
    std::swap(previous, current);
  }
  return previous[n];
}

// p <= level, with a relative hair of slack: levels such as (1 - 0.8) / 2 round below the
// probability 7/70 they are meant to equal, and an attainable level should count as attained.
bool AtMost(double p, double level) { return p <= level * (1 + 1e-9); }

// The largest k >= 1 with P(U <= k - 1) <= level under the no-ties null distribution of U for
// sizes m and n, with that probability in *tail; 0 when even P(U <= 0) exceeds the level, with
// *tail = P(U <= 0). Counted exactly up to kExactRankTestMax values, beyond that the normal
// approximation P(U <= u) ~ Phi((u + 1/2 - mn/2) / sd), sd^2 = mn(m + n + 1)/12.
size_t LowerTailIndex(size_t m, size_t n, double level, double* tail) {
  const size_t mn = m * n;
  if (m + n <= kExactRankTestMax) {
    const std::vector<double> counts = MannWhitneyNullCounts(m, n);
    const double total = std::accumulate(counts.begin(), counts.end(), 0.0);
    double cumulative = counts[0];
    *tail = cumulative / total;
    if (!AtMost(*tail, level)) return 0;
    size_t k = 1;
    while (k <= mn) {
      const double next = cumulative + counts[k];
      if (!AtMost(next / total, level)) break;
      cumulative = next;
      *tail = cumulative / total;
      ++k;
    }
    return k;
  }
  const double mean = static_cast<double>(mn) / 2;
  const double sd = std::sqrt(static_cast<double>(mn) * static_cast<double>(m + n + 1) / 12);
  auto cdf = [&](size_t u) {
    return 0.5 * std::erfc((mean - static_cast<double>(u) - 0.5) / sd / std::sqrt(2.0));
  };
  *tail = cdf(0);
  if (!AtMost(*tail, level)) return 0;
  // The cdf rises with u: bisect for the last u = k - 1 at or below the level.
  size_t good = 0, bad = mn + 1;  // cdf(good) <= level; cdf(mn) = 1 > level
  while (bad - good > 1) {
    const size_t middle = good + (bad - good) / 2;
    (AtMost(cdf(middle), level) ? good : bad) = middle;
  }
  *tail = cdf(good);
  return good + 1;
}

// Every a_i - b_j, sorted ascending.
std::vector<double> SortedDifferences(const std::vector<double>& a, const std::vector<double>& b) {
  std::vector<double> differences;
  differences.reserve(a.size() * b.size());
  for (double x : a)
    for (double y : b) differences.push_back(x - y);
  std::sort(differences.begin(), differences.end());
  return differences;
}

double MedianOfSorted(const std::vector<double>& sorted) {
  const size_t n = sorted.size();
  return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
}

}  // namespace

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
  return std::min(1.0, 2 * MinimumOneSidedP(n_a, n_b));
}

double MinimumOneSidedP(size_t n_a, size_t n_b) {
  if (n_a == 0 || n_b == 0) return 1;
  double combinations = 1;  // C(n_a + n_b, n_a), built up exactly for small sizes
  for (size_t i = 1; i <= n_a; ++i)
    combinations = combinations * static_cast<double>(n_b + i) / static_cast<double>(i);
  return 1 / combinations;
}

ShiftEstimate HodgesLehmannShift(const std::vector<double>& a, const std::vector<double>& b,
                                 double confidence) {
  ABLATE_CHECK(confidence > 0 && confidence < 1, "confidence outside (0, 1)");
  constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
  ShiftEstimate shift{kNaN, kNaN, kNaN, kNaN, false};
  if (a.empty() || b.empty()) return shift;
  const std::vector<double> differences = SortedDifferences(a, b);
  shift.estimate = MedianOfSorted(differences);
  double tail = 0;
  size_t k = LowerTailIndex(a.size(), b.size(), (1 - confidence) / 2, &tail);
  shift.reached = k > 0;
  k = std::max<size_t>(k, 1);
  shift.low = differences[k - 1];
  shift.high = differences[differences.size() - k];
  shift.confidence = 1 - 2 * tail;
  return shift;
}

double DetectableShift(const std::vector<double>& a, const std::vector<double>& b, double alpha) {
  ABLATE_CHECK(alpha > 0 && alpha < 1, "alpha outside (0, 1)");
  constexpr double kInfinity = std::numeric_limits<double>::infinity();
  if (a.empty() || b.empty() || !AtMost(MinimumOneSidedP(a.size(), b.size()), alpha))
    return kInfinity;
  const std::vector<double> differences = SortedDifferences(a, b);
  double tail = 0;
  const size_t k = LowerTailIndex(a.size(), b.size(), alpha, &tail);
  if (k == 0) return kInfinity;  // only where the normal approximation disagrees with 1 / C
  return std::max(0.0, MedianOfSorted(differences) - differences[k - 1]);
}

std::vector<double> HolmAdjust(const std::vector<double>& p) {
  std::vector<size_t> order;
  for (size_t i = 0; i < p.size(); ++i)
    if (p[i] >= 0) order.push_back(i);  // NaN compares false: no test, like a negative entry
  std::stable_sort(order.begin(), order.end(), [&](size_t l, size_t r) { return p[l] < p[r]; });
  std::vector<double> adjusted = p;
  const size_t m = order.size();
  double running = 0;  // the max over j <= i keeps the adjusted values in the order of the p's
  for (size_t j = 0; j < m; ++j) {
    running = std::max(running, std::min(1.0, static_cast<double>(m - j) * p[order[j]]));
    adjusted[order[j]] = running;
  }
  return adjusted;
}

}  // namespace ablate
