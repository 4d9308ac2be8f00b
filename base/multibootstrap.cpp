#include "base/multibootstrap.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

#include "base/error.h"
#include "base/statistics.h"

namespace ablate {
namespace {

// The row's runs in ascending seed order, after checking every outcome the draws will touch.
std::vector<const BootstrapRun*> CheckedRuns(const std::vector<BootstrapRun>& row,
                                             const std::string& name, size_t examples) {
  if (row.empty()) throw InputError("multi-bootstrap: " + name + " has no runs");
  std::vector<const BootstrapRun*> runs;
  for (const BootstrapRun& run : row) runs.push_back(&run);
  std::sort(runs.begin(), runs.end(),
            [](const BootstrapRun* l, const BootstrapRun* r) { return l->seed < r->seed; });
  for (size_t i = 0; i < runs.size(); ++i) {
    const std::string where = name + ", seed " + std::to_string(runs[i]->seed);
    if (i > 0 && runs[i - 1]->seed == runs[i]->seed)
      throw InputError("multi-bootstrap: " + where + " appears twice");
    if (runs[i]->replicates.empty())
      throw InputError("multi-bootstrap: " + where + " has no replicates");
    for (const BootstrapReplicate& replicate : runs[i]->replicates) {
      if (replicate.numerator.size() != examples || replicate.denominator.size() != examples) {
        throw InputError("multi-bootstrap: " + where + ": outcomes on " +
                         std::to_string(replicate.numerator.size()) + "/" +
                         std::to_string(replicate.denominator.size()) + " examples, expected " +
                         std::to_string(examples) + " (every row is scored on the same examples)");
      }
      for (size_t e = 0; e < examples; ++e) {
        if (!std::isfinite(replicate.numerator[e]) || !std::isfinite(replicate.denominator[e]) ||
            replicate.denominator[e] <= 0) {
          throw InputError("multi-bootstrap: " + where + ": example " + std::to_string(e) +
                           " has outcome " + std::to_string(replicate.numerator[e]) + " / " +
                           std::to_string(replicate.denominator[e]) +
                           " (finite, denominator > 0 expected)");
        }
      }
    }
  }
  if (examples == 0) throw InputError("multi-bootstrap: " + name + ": no examples to resample");
  return runs;
}

// The metric of one replicate on the examples listed (repeats counted), summed in list order.
double Metric(const BootstrapReplicate& replicate, const std::vector<uint64_t>& examples,
              BootstrapTransform transform) {
  double numerator = 0, denominator = 0;
  for (uint64_t e : examples) {
    numerator += replicate.numerator[e];
    denominator += replicate.denominator[e];
  }
  const double ratio = numerator / denominator;
  return transform == BootstrapTransform::kExp ? std::exp(ratio) : ratio;
}

// One row's side of the resampling: its runs and, per bootstrap sample, the metric of each
// replicate it has needed so far (a replicate drawn twice is scored once).
class RowSampler {
 public:
  RowSampler(std::vector<const BootstrapRun*> runs, uint64_t row)
      : runs_(std::move(runs)), row_(row), stamp_(runs_.size()), cache_(runs_.size()) {
    for (size_t r = 0; r < runs_.size(); ++r) {
      stamp_[r].assign(runs_[r]->replicates.size(), 0);
      cache_[r].assign(runs_[r]->replicates.size(), 0);
    }
  }

  // The row's statistic on bootstrap sample `sample` (steps 2 and 3 of the header's draw order).
  double Statistic(const MultiBootstrapOptions& options, uint64_t sample, bool paired,
                   const std::vector<uint64_t>& examples) {
    const uint64_t runs = runs_.size();
    Rng run_rng({options.seed, kBootstrapRunDomain, sample, paired ? 0 : row_});
    double total = 0;
    for (uint64_t j = 0; j < runs; ++j) {
      const uint64_t r = run_rng.Below(runs);
      const uint64_t replicates = runs_[r]->replicates.size();
      Rng replicate_rng({options.seed, kBootstrapReplicateDomain, sample, row_, j});
      double run_total = 0;
      for (uint64_t t = 0; t < replicates; ++t) {
        const uint64_t q = replicate_rng.Below(replicates);
        // Stamps are sample + 1, so 0 means "not scored in this sample".
        if (stamp_[r][q] != sample + 1) {
          cache_[r][q] = Metric(runs_[r]->replicates[q], examples, options.transform);
          stamp_[r][q] = sample + 1;
        }
        run_total += cache_[r][q];
      }
      total += run_total / static_cast<double>(replicates);
    }
    return total / static_cast<double>(runs);
  }

 private:
  std::vector<const BootstrapRun*> runs_;
  uint64_t row_;
  std::vector<std::vector<uint64_t>> stamp_;
  std::vector<std::vector<double>> cache_;
};

// The example count of the row's first replicate, which every other must match.
size_t ExampleCount(const std::vector<BootstrapRun>& row) {
  for (const BootstrapRun& run : row)
    if (!run.replicates.empty()) return run.replicates.front().numerator.size();
  return 0;
}

double FullStatistic(const std::vector<const BootstrapRun*>& runs, size_t examples,
                     BootstrapTransform transform) {
  std::vector<uint64_t> all(examples);
  std::iota(all.begin(), all.end(), uint64_t{0});
  double total = 0;
  for (const BootstrapRun* run : runs) {
    double run_total = 0;
    for (const BootstrapReplicate& replicate : run->replicates)
      run_total += Metric(replicate, all, transform);
    total += run_total / static_cast<double>(run->replicates.size());
  }
  return total / static_cast<double>(runs.size());
}

}  // namespace

double MultiBootstrapStatistic(const std::vector<BootstrapRun>& row, BootstrapTransform transform) {
  const size_t examples = ExampleCount(row);
  return FullStatistic(CheckedRuns(row, "the row", examples), examples, transform);
}

BootstrapComparison MultiBootstrapCompare(const std::vector<BootstrapRun>& a,
                                          const std::vector<BootstrapRun>& b,
                                          const MultiBootstrapOptions& options) {
  ABLATE_CHECK(options.samples > 0, "multi-bootstrap with no samples");
  ABLATE_CHECK(options.confidence > 0 && options.confidence < 1, "confidence outside (0, 1)");
  const size_t examples = ExampleCount(a);
  std::vector<const BootstrapRun*> runs_a = CheckedRuns(a, "row a", examples);
  std::vector<const BootstrapRun*> runs_b = CheckedRuns(b, "row b", examples);

  BootstrapComparison comparison;
  comparison.samples = options.samples;
  comparison.paired =
      options.pair_seeds && runs_a.size() == runs_b.size() &&
      std::equal(runs_a.begin(), runs_a.end(), runs_b.begin(),
                 [](const BootstrapRun* l, const BootstrapRun* r) { return l->seed == r->seed; });
  comparison.estimate = FullStatistic(runs_a, examples, options.transform) -
                        FullStatistic(runs_b, examples, options.transform);

  RowSampler sampler_a(std::move(runs_a), 0), sampler_b(std::move(runs_b), 1);
  std::vector<double> differences(options.samples);
  std::vector<uint64_t> drawn(examples);
  for (uint64_t s = 0; s < options.samples; ++s) {
    Rng example_rng({options.seed, kBootstrapExampleDomain, s});
    for (uint64_t& e : drawn) e = example_rng.Below(examples);
    differences[s] = sampler_a.Statistic(options, s, comparison.paired, drawn) -
                     sampler_b.Statistic(options, s, comparison.paired, drawn);
  }

  size_t at_most_zero = 0, at_least_zero = 0;
  for (double d : differences) {
    at_most_zero += d <= 0;
    at_least_zero += d >= 0;
  }
  const auto samples = static_cast<double>(options.samples);
  comparison.p_greater = static_cast<double>(at_most_zero) / samples;
  comparison.p_less = static_cast<double>(at_least_zero) / samples;
  comparison.low = Quantile(differences, (1 - options.confidence) / 2);
  comparison.high = Quantile(std::move(differences), (1 + options.confidence) / 2);
  return comparison;
}

}  // namespace ablate
