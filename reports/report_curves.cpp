// Learning curves of a report's rows: each row's median over its runs at every step they all
// logged, against tokens seen, read through results/ (report.h, ReadCurves). A tuned table's
// perplexity is its report half's, like its cells. A perplexity curve carries the row's floor:
// the trivial baselines its runs scored on the same masked tokens (BaselineKinds).
#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <unordered_map>
#include <vector>

#include "base/statistics.h"
#include "reports/report.h"
#include "reports/report_render.h"
#include "reports/svg_plot.h"
#include "reports/table_builder.h"
#include "results/metric_names.h"
#include "results/run_reads.h"

namespace ablate::reports {

std::map<std::string, TableCurves> ReadCurves(const Report& report, const std::string& db_path) {
  std::map<std::string, TableCurves> curves;
  std::set<int64_t> ids, tuned_ids;
  for (const auto& table : report.tables) {
    if (!table.spec->curves) continue;
    for (const auto& row : table.rows) {
      ids.insert(row.run_ids.begin(), row.run_ids.end());
      if (table.spec->tune) tuned_ids.insert(row.run_ids.begin(), row.run_ids.end());
    }
  }
  // Per run, the four series as (step, value), each sorted by step. The MLM loss alone, so the
  // NSP formats (whose train/loss adds the NSP loss) share an axis; the report half's perplexity
  // only for the runs of tuned tables.
  using results::Series;
  constexpr size_t kTokens = 2, kReportPpl = 3;
  const std::array<std::string, 4> names = {
      results::metric::kTrainMlmLoss, results::metric::kValidPpl, results::metric::kTrainTokensSeen,
      HalfMetric(results::metric::kValidPpl, "report")};
  std::unordered_map<int64_t, std::array<Series, 4>> series;
  for (size_t which = 0; which < names.size(); ++which) {
    const std::set<int64_t>& of = which == kReportPpl ? tuned_ids : ids;
    if (which == kReportPpl && of.empty()) continue;
    for (auto& [id, points] :
         results::ReadSeries(db_path, std::vector<int64_t>(of.begin(), of.end()), names[which]))
      series[id][which] = std::move(points);
  }
  // Per run, its best floor under each perplexity curve's metric: the lowest last value of the
  // trivial baselines it recorded beside that metric.
  auto best_floors = [&](const std::string& metric, const std::set<int64_t>& of) {
    std::unordered_map<int64_t, double> best;
    if (of.empty()) return best;
    const std::vector<int64_t> run_ids(of.begin(), of.end());
    for (const BaselineKind& kind : BaselineKinds()) {
      const std::string name = kind.metric(metric);
      if (name.empty()) continue;
      for (const auto& [id, points] : results::ReadSeries(db_path, run_ids, name)) {
        const double last = points.back().second;
        if (!std::isfinite(last)) continue;
        auto [it, added] = best.emplace(id, last);
        if (!added) it->second = std::min(it->second, last);
      }
    }
    return best;
  };
  const auto floors = best_floors(names[1], ids);
  const auto report_floors = best_floors(names[kReportPpl], tuned_ids);
  auto floor = [](const ReportRow& row, const std::unordered_map<int64_t, double>& of) {
    std::vector<double> values;
    for (int64_t id : row.run_ids) {
      if (auto it = of.find(id); it != of.end()) values.push_back(it->second);
    }
    return values.empty() ? std::numeric_limits<double>::quiet_NaN() : Median(values);
  };
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
      for (const auto& [step, value] : series_of(id, kTokens)) ++seen[step];
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
      gather(series_of(row.run_ids[r], kTokens), tokens);
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
      if (row.reference || row.baseline) continue;  // rows without curves of their own
      out.loss.push_back(line(row, 0));
      out.perplexity.push_back(line(row, table.spec->tune ? kReportPpl : 1));
      out.perplexity.back().floor = floor(row, table.spec->tune ? report_floors : floors);
    }
  }
  return curves;
}

namespace {

std::vector<PlotSeries> Series(const std::vector<CurveLine>& lines) {
  std::vector<PlotSeries> series;
  for (const auto& line : lines)
    series.push_back({line.label, line.tokens, line.values, line.floor});
  return series;
}

bool HasPoints(const std::vector<CurveLine>& lines) {
  for (const auto& line : lines) {
    if (!line.tokens.empty()) return true;
  }
  return false;
}

}  // namespace

CurvePlots DrawCurvePlots(const Report& report, const std::map<std::string, TableCurves>& curves,
                          const std::string& stem) {
  CurvePlots plots;
  for (const auto& table : report.tables) {
    const auto it = curves.find(table.spec->id);
    if (it == curves.end()) continue;
    const std::string caption = table.caption.empty() ? table.spec->id : table.caption;
    PlotLinks link;
    if (HasPoints(it->second.loss)) {
      PlotOptions options;
      options.title = caption + ": training MLM loss";
      options.x_label = "tokens seen";
      options.y_label = "training MLM loss (without NSP)";
      link.loss = stem + "-" + table.spec->id + "-loss.svg";
      plots.files.push_back({link.loss, RenderLinePlot(Series(it->second.loss), options)});
    }
    if (HasPoints(it->second.perplexity)) {
      PlotOptions options;
      options.title = caption + ": validation perplexity";
      options.x_label = "tokens seen";
      options.y_label = "held-out MLM perplexity (log scale)";
      options.log_y = true;
      link.perplexity = stem + "-" + table.spec->id + "-ppl.svg";
      plots.files.push_back(
          {link.perplexity, RenderLinePlot(Series(it->second.perplexity), options)});
    }
    if (!link.loss.empty() || !link.perplexity.empty()) plots.links[table.spec->id] = link;
  }
  return plots;
}

}  // namespace ablate::reports
