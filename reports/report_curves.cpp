// Learning curves of a report's rows: each row's median over its runs at every step they all
// logged, against tokens seen, read through results/ (report.h, ReadCurves).
#include <algorithm>
#include <array>
#include <unordered_map>

#include "base/statistics.h"
#include "reports/report.h"
#include "results/metric_names.h"
#include "results/run_reads.h"

namespace ablate::reports {

std::map<std::string, TableCurves> ReadCurves(const Report& report, const std::string& db_path) {
  std::map<std::string, TableCurves> curves;
  std::set<int64_t> ids;
  for (const auto& table : report.tables) {
    if (!table.spec->curves) continue;
    for (const auto& row : table.rows) ids.insert(row.run_ids.begin(), row.run_ids.end());
  }
  // Per run, the three series as (step, value), each sorted by step. The MLM loss alone, so the
  // NSP formats (whose train/loss adds the NSP loss) share an axis.
  using results::Series;
  const std::array<std::string, 3> names = {results::metric::kTrainMlmLoss,
                                            results::metric::kValidPpl,
                                            results::metric::kTrainTokensSeen};
  std::unordered_map<int64_t, std::array<Series, 3>> series;
  const std::vector<int64_t> run_ids(ids.begin(), ids.end());
  for (size_t which = 0; which < names.size(); ++which) {
    for (auto& [id, points] : results::ReadSeries(db_path, run_ids, names[which]))
      series[id][which] = std::move(points);
  }
  static const Series kEmpty;
  auto series_of = [&](int64_t id, size_t which) -> const Series& {
    auto it = series.find(id);
    return it == series.end() ? kEmpty : it->second[which];
  };

  auto line = [&](const ReportRow& row, size_t which) {
    CurveLine out;
    out.label = row.label;
    if (row.run_ids.empty()) return out;
    // The steps every run of the row logged, for both the metric and the token count.
    std::unordered_map<int64_t, size_t> seen;
    for (int64_t id : row.run_ids) {
      for (const auto& [step, value] : series_of(id, which)) ++seen[step];
      for (const auto& [step, value] : series_of(id, 2)) ++seen[step];
    }
    std::vector<int64_t> steps;
    for (const auto& [step, count] : seen) {
      if (count == 2 * row.run_ids.size()) steps.push_back(step);
    }
    std::sort(steps.begin(), steps.end());
    // A plot line needs no more than a few hundred points; keep them evenly spread by step.
    constexpr size_t kMaxPoints = 400;
    if (steps.size() > kMaxPoints) {
      std::vector<int64_t> kept;
      for (size_t i = 0; i < kMaxPoints; ++i) {
        kept.push_back(steps[i * (steps.size() - 1) / (kMaxPoints - 1)]);
      }
      steps = std::move(kept);
    }
    // One pass along each run's sorted series collects its values at the chosen steps.
    const size_t n = row.run_ids.size();
    std::vector<double> tokens(steps.size() * n), values(steps.size() * n);
    for (size_t r = 0; r < n; ++r) {
      auto gather = [&](const Series& points, std::vector<double>& into) {
        auto it = points.begin();
        for (size_t i = 0; i < steps.size(); ++i) {
          while (it->first < steps[i]) ++it;  // every chosen step is present in every run
          into[i * n + r] = it->second;
        }
      };
      gather(series_of(row.run_ids[r], 2), tokens);
      gather(series_of(row.run_ids[r], which), values);
    }
    for (size_t i = 0; i < steps.size(); ++i) {
      out.tokens.push_back(MedianInPlace(tokens.data() + i * n, n));
      out.values.push_back(MedianInPlace(values.data() + i * n, n));
    }
    return out;
  };
  for (const auto& table : report.tables) {
    if (!table.spec->curves) continue;
    TableCurves& out = curves[table.spec->id];
    for (const auto& row : table.rows) {
      if (row.reference) continue;
      out.loss.push_back(line(row, 0));
      out.perplexity.push_back(line(row, 1));
    }
  }
  return curves;
}

}  // namespace ablate::reports
