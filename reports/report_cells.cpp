// Aggregation: cells from the runs' final metrics (aggregate, spread, per-run values), the
// counts behind them, the tested best of each column, and the paper's claims tested on the same
// per-run values. Also the small text helpers every part uses.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <map>
#include <set>

#include "base/error.h"
#include "base/number_text.h"
#include "base/statistics.h"
#include "base/suggest.h"
#include "reports/table_builder.h"
#include "results/metric_names.h"
#include "results/run_status.h"

namespace ablate::reports {

// Integral values as integers (1000000, not 1e+06: step counts and batch sizes read better so);
// others in their shortest exact form.
std::string NumberText(double x) {
  if (std::abs(x) < 1e15 && x == std::floor(x)) return std::to_string(static_cast<int64_t>(x));
  return ShortestText(x);
}

std::string Display(const ParamValue& value) {
  if (value.is_number) return NumberText(value.number);
  return value.text.empty() ? "\"\"" : value.text;
}

bool Matches(const ParamValue& value, const json& wanted) {
  if (wanted.is_boolean()) return value.is_number && value.number == (wanted.get<bool>() ? 1 : 0);
  if (wanted.is_number()) return value.is_number && value.number == wanted.get<double>();
  return !value.is_number && wanted.is_string() && value.text == wanted.get<std::string>();
}

bool MatchesFilter(const RunData& run, const ParamFilter& filter) {
  for (const auto& [name, values] : filter) {
    auto it = run.params.find(name);
    if (it == run.params.end()) return false;
    if (std::none_of(values.begin(), values.end(),
                     [&](const json& v) { return Matches(it->second, v); })) {
      return false;
    }
  }
  return true;
}

std::string Fixed(double value, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, value);
  // "-0.0" reads as a sign error in a table.
  if (buf[0] == '-' && std::strspn(buf + 1, "0.") == std::strlen(buf + 1)) return buf + 1;
  return buf;
}

double Mean(const std::vector<double>& v) {
  double sum = 0;
  for (double x : v) sum += x;
  return sum / static_cast<double>(v.size());
}

// The baseline metric of a downstream metric: eval/<task>/<m> -> eval/<task>/baseline/<m>.
std::string BaselineMetric(const std::string& metric) {
  if (metric.rfind("eval/", 0) != 0) return "";
  const size_t slash = metric.rfind('/');
  if (slash <= 5 || (slash >= 9 && metric.compare(slash - 9, 9, "/baseline") == 0)) return "";
  return metric.substr(0, slash) + "/baseline" + metric.substr(slash);
}

// p-values as a reader wants them: two significant digits, or "< 0.001".
std::string PText(double p) {
  if (p < 0.001) return "< 0.001";
  char buf[32];
  std::snprintf(buf, sizeof buf, "= %.2g", p);
  return buf;
}

CellPart AggregatePart(const std::vector<double>& values, const std::vector<std::string>& keys,
                       const ColumnSpec& column, Aggregate aggregate, Spread spread) {
  CellPart part;
  part.count = static_cast<int64_t>(values.size());
  if (values.empty()) {
    part.text = kMissing;
    return part;
  }
  for (double v : values) part.values.push_back(v * column.scale);
  part.keys = keys;
  part.missing = false;
  part.numeric = true;
  const std::vector<double>& scaled = part.values;
  part.value = aggregate == Aggregate::kMedian ? Median(scaled) : Mean(scaled);
  part.text = Fixed(part.value, column.decimals);
  if (aggregate == Aggregate::kMeanStd) {
    part.text += " ± " + Fixed(SampleStdDev(scaled), column.decimals);
  } else if (scaled.size() >= 2) {
    const int d = column.decimals;
    switch (spread) {
      case Spread::kRange:
        part.spread = "(" + Fixed(*std::min_element(scaled.begin(), scaled.end()), d) + "–" +
                      Fixed(*std::max_element(scaled.begin(), scaled.end()), d) + ")";
        break;
      case Spread::kIqr:
        part.spread = "(IQR " + Fixed(Quantile(scaled, 0.25), d) + "–" +
                      Fixed(Quantile(scaled, 0.75), d) + ")";
        break;
      case Spread::kStd:
        part.spread = "± " + Fixed(SampleStdDev(scaled), d);
        break;
      case Spread::kNone:
        break;
    }
  }
  return part;
}

// The distinct values a parameter takes over `runs`, in order.
std::vector<ParamValue> Distinct(const std::vector<const RunData*>& runs, const std::string& name) {
  std::set<ParamValue> seen;
  for (const RunData* run : runs) {
    if (auto it = run->params.find(name); it != run->params.end()) seen.insert(it->second);
  }
  return {seen.begin(), seen.end()};
}

std::string Plural(int64_t n, const std::string& word) {
  return std::to_string(n) + " " + word + (n == 1 ? "" : "s");
}

ReportCell TableBuilder::OurCell(const ColumnSpec& column, const Runs& runs) const {
  const Spread spread = column.spread.value_or(table_.spread);
  ReportCell cell;
  if (!column.param.empty()) {
    std::vector<ParamValue> values = Distinct(runs, column.param);
    CellPart part;
    part.count = static_cast<int64_t>(runs.size());
    part.missing = values.empty();
    for (const auto& v : values) part.text += (part.text.empty() ? "" : ", ") + Display(v);
    if (part.missing) part.text = kMissing;
    if (values.size() == 1 && values[0].is_number) {
      part.numeric = true;
      part.value = values[0].number;
    }
    cell.parts.push_back(part);
    return cell;
  }
  for (const auto& metric : column.metrics) {
    std::vector<double> values;
    std::vector<std::string> keys;
    for (const RunData* run : runs) {
      if (auto it = run->finals.find(metric);
          it != run->finals.end() && std::isfinite(it->second)) {
        values.push_back(it->second);
        keys.push_back(run->key);
      }
    }
    cell.parts.push_back(AggregatePart(values, keys, column, table_.aggregate, spread));
  }
  return cell;
}

// The paper's cells are medians of five seeds; when our cells stand on different numbers of
// runs, each cell off the most common count says how many.
void TableBuilder::MarkCounts(ReportTable& table) {
  std::map<int64_t, int> counts;
  for (const auto& row : table.rows) {
    for (size_t c = 0; c < row.cells.size(); ++c) {
      if (!table.columns[c]->param.empty()) continue;
      for (const auto& part : row.cells[c].parts) {
        if (!part.missing) ++counts[part.count];
      }
    }
  }
  if (counts.size() < 2) return;
  const int64_t modal =
      std::max_element(counts.begin(), counts.end(), [](const auto& a, const auto& b) {
        return a.second < b.second;
      })->first;
  for (auto& row : table.rows) {
    for (size_t c = 0; c < row.cells.size(); ++c) {
      if (!table.columns[c]->param.empty()) continue;
      int64_t n = -1;
      for (const auto& part : row.cells[c].parts) {
        if (!part.missing && part.count != modal) n = part.count;
      }
      if (n >= 0) row.cells[c].note = "n=" + std::to_string(n);
    }
  }
}

// Per column and part, the best of our rows by its aggregate (as printed; ties share it). It is
// bold only when a two-sided Mann-Whitney test on the per-run values separates it from the
// runner-up at the table's alpha; otherwise it is marked best but not bold.
void TableBuilder::MarkBest(ReportTable& table) const {
  for (size_t c = 0; c < table.columns.size(); ++c) {
    const ColumnSpec& column = *table.columns[c];
    if (column.better == Better::kNone || !column.param.empty()) continue;
    for (size_t p = 0; p < column.metrics.size(); ++p) {
      std::vector<CellPart*> parts;
      for (auto& row : table.rows) {
        CellPart& part = row.cells[c].parts[p];
        if (!row.reference && !row.baseline && !part.missing) parts.push_back(&part);
      }
      if (parts.size() < 2) continue;
      auto rounded = [&](const CellPart* part) {
        return std::stod(Fixed(part->value, column.decimals));
      };
      const bool higher = column.better == Better::kHigher;
      std::stable_sort(parts.begin(), parts.end(), [&](const CellPart* a, const CellPart* b) {
        return higher ? rounded(a) > rounded(b) : rounded(a) < rounded(b);
      });
      if (rounded(parts[0]) == rounded(parts[1])) continue;  // a tie has no best
      CellPart& best = *parts[0];
      best.best = true;
      const auto test = MannWhitney(best.values, parts[1]->values);
      best.p_value = test.p_two_sided;
      best.bold = test.p_two_sided <= table_.alpha;
      exact_ = exact_ && test.exact;
      tested_ = true;
    }
  }
}

// Each claim of the paper against the runs: a one-sided Mann-Whitney test in the paper's
// direction on the pooled per-run values of its rows, per column.
void TableBuilder::TestClaims(ReportTable& out) const {
  std::vector<std::string> labels;
  for (const auto& row : out.rows) {
    if (!row.reference && !row.baseline) labels.push_back(row.label);
  }
  for (const auto& claim : table_.claims) {
    auto find_rows = [&](const std::vector<std::string>& wanted, const std::string& key) {
      std::vector<const ReportRow*> found;
      for (size_t i = 0; i < wanted.size(); ++i) {
        const ReportRow* match = nullptr;
        for (const auto& row : out.rows) {
          if (!row.reference && !row.baseline && row.label == wanted[i]) match = &row;
        }
        if (match == nullptr) {
          throw InputError(spec_.source, claim.path + "/" + key + "/" + std::to_string(i),
                           "\"" + wanted[i] + "\" is not a row of this table" +
                               DidYouMean(ClosestNames(wanted[i], labels)));
        }
        found.push_back(match);
      }
      return found;
    };
    const auto better = find_rows(claim.better, "better");
    const auto than = find_rows(claim.than, "than");
    ClaimLine line;
    line.spec = &claim;
    for (size_t c = 0; c < out.columns.size(); ++c) {
      const ColumnSpec& column = *out.columns[c];
      if (column.better == Better::kNone || !column.param.empty()) continue;
      if (!claim.columns.empty() && std::find(claim.columns.begin(), claim.columns.end(),
                                              column.label) == claim.columns.end()) {
        continue;
      }
      for (size_t p = 0; p < column.metrics.size(); ++p) {
        auto pool = [&](const std::vector<const ReportRow*>& rows) {
          std::vector<double> values;
          for (const ReportRow* row : rows) {
            const auto& v = row->cells[c].parts[p].values;
            values.insert(values.end(), v.begin(), v.end());
          }
          return values;
        };
        ClaimResult result;
        result.column = column.label + (column.metrics.size() > 1 ? " [" + column.metrics[p] + "]"
                                                                  : std::string());
        const auto a = pool(better), b = pool(than);
        if (a.empty() || b.empty()) {
          result.verdict = "no data";
        } else {
          const auto test = MannWhitney(a, b);
          const bool higher = column.better == Better::kHigher;
          result.p = higher ? test.p_greater : test.p_less;
          result.p_against = higher ? test.p_less : test.p_greater;
          result.verdict = result.p <= table_.alpha            ? "reproduced"
                           : result.p_against <= table_.alpha  ? "reversed"
                           : claim.kind == ClaimKind::kAtLeast ? "consistent"
                                                               : "not separable";
        }
        line.results.push_back(result);
      }
    }
    line.text = "Claim: " + claim.text + ". Here: ";
    for (size_t i = 0; i < line.results.size(); ++i) {
      const auto& r = line.results[i];
      line.text += (i > 0 ? "; " : "") + r.column + ": **" + r.verdict + "**";
      if (r.verdict == "reversed") {
        line.text += " (one-sided p " + PText(r.p_against) + " against the claim)";
      } else if (r.p >= 0) {
        line.text += " (one-sided p " + PText(r.p) + ")";
      }
    }
    if (line.results.empty()) line.text += "no column to test";
    line.text += ".";
    out.claims.push_back(std::move(line));
  }
}

}  // namespace ablate::reports
