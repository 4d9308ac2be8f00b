#include "reports/report.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <set>
#include <unordered_map>

#include "base/error.h"
#include "base/number_text.h"
#include "base/statistics.h"
#include "base/suggest.h"
#include "results/metric_names.h"
#include "results/run_reads.h"
#include "results/run_status.h"

namespace ablate::reports {
namespace {

using ablate::Median;
using ablate::MedianInPlace;
using nlohmann::json;

constexpr const char* kMissing = "–";

// Integral values as integers (1000000, not 1e+06: step counts and batch sizes read better so);
// others in their shortest exact form.
std::string NumberText(double x) {
  if (std::abs(x) < 1e15 && x == std::floor(x)) return std::to_string(static_cast<int64_t>(x));
  return ShortestText(x);
}

using results::ParamValue;
using RunData = results::RunRecord;

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

class TableBuilder {
 public:
  TableBuilder(const ReportSpec& spec, const TableSpec& table, const std::vector<RunData>& runs)
      : spec_(spec), table_(table), runs_(runs) {}

  ReportTable Build() {
    ReportTable out;
    out.spec = &table_;
    const RunSource* source = ChooseSource();
    if (source == nullptr) {
      std::string names;
      for (const auto& s : table_.runs) names += (names.empty() ? "" : ", ") + s.experiment;
      out.notes.push_back("No runs in the database match this table (experiments tried: " + names +
                          ").");
    } else {
      out.experiment = source->experiment;
      CheckParamNames(*source);
    }
    // Without runs, explicit rows still show (as missing values); generated ones cannot exist.
    std::vector<std::pair<RowSpec, Runs>> rows;
    if (source != nullptr) {
      rows = MakeRows(*source);
    } else {
      for (const auto& row : table_.rows) rows.push_back({row, {}});
    }

    // Columns: optional ones stay only when some row of ours has a value.
    std::vector<std::vector<ReportCell>> cells(rows.size());
    for (const auto& column : table_.columns) {
      std::vector<ReportCell> column_cells;
      bool any = false;
      for (const auto& [row, row_runs] : rows) {
        column_cells.push_back(OurCell(column, Completed(row_runs)));
        for (const auto& p : column_cells.back().parts) any = any || !p.missing;
      }
      if (column.optional && !any) continue;
      out.columns.push_back(&column);
      for (size_t r = 0; r < rows.size(); ++r) cells[r].push_back(std::move(column_cells[r]));
    }
    for (size_t r = 0; r < rows.size(); ++r) {
      ReportRow row;
      row.label = rows[r].first.label;
      row.group = rows[r].first.group;
      row.cells = std::move(cells[r]);
      for (const RunData* run : Completed(rows[r].second)) row.run_ids.push_back(run->id);
      out.rows.push_back(std::move(row));
    }
    MarkBest(out);
    MarkCounts(out);

    Runs all, completed;
    for (const auto& [row, row_runs] : rows) {
      all.insert(all.end(), row_runs.begin(), row_runs.end());
      for (const RunData* run : Completed(row_runs)) completed.push_back(run);
    }
    AddBaselineRow(completed, out);
    out.summary = Summary(out, all);
    FixedParams(all, source ? SourceExperimentRuns(*source) : Runs{}, out);
    out.caption = ResolveCaption(completed);
    LeftOut(rows, out.notes);
    Footnotes(rows, completed, out);
    AddReferenceRows(completed, out);
    TestClaims(out);
    return out;
  }

 private:
  using Runs = std::vector<const RunData*>;

  // The caption with each {parameter} replaced by the value(s) the table's runs take.
  std::string ResolveCaption(const Runs& runs) const {
    std::string caption = table_.caption;
    for (size_t pos = caption.find('{'); pos != std::string::npos;
         pos = caption.find('{', pos + 1)) {
      const size_t end = caption.find('}', pos);
      if (end == std::string::npos) break;
      const std::string name = caption.substr(pos + 1, end - pos - 1);
      std::string text;
      for (const auto& v : Distinct(runs, name)) text += (text.empty() ? "" : ", ") + Display(v);
      if (text.empty()) text = "?";
      caption.replace(pos, end - pos + 1, text);
      pos += text.size() - 1;
    }
    return caption;
  }

  // The tasks' trivial baselines (recorded by fine-tuning as eval/<task>/baseline/<metric>, on
  // the dev examples the runs were scored on) as one row, so a reader sees whether fine-tuning
  // learned anything.
  void AddBaselineRow(const Runs& runs, ReportTable& out) const {
    ReportRow row;
    row.baseline = true;
    row.group = "Trivial baseline (the same dev examples):";
    row.label = "constant prediction";
    bool any = false;
    for (const ColumnSpec* column : out.columns) {
      ReportCell cell;
      const size_t parts = column->param.empty() ? column->metrics.size() : 1;
      for (size_t p = 0; p < parts; ++p) {
        CellPart part;
        part.text = kMissing;
        const std::string metric = column->param.empty() ? BaselineMetric(column->metrics[p]) : "";
        std::vector<double> values;
        for (const RunData* run : runs) {
          if (auto it = run->finals.find(metric); !metric.empty() && it != run->finals.end())
            values.push_back(it->second * column->scale);
        }
        if (!values.empty()) {
          part.missing = false;
          part.numeric = true;
          part.value = Median(values);
          part.text = Fixed(part.value, column->decimals);
          any = true;
        }
        cell.parts.push_back(part);
      }
      row.cells.push_back(std::move(cell));
    }
    if (any) out.rows.push_back(std::move(row));
  }

  // What the numbers are, in words; the rule behind the bold; the compute each row got; and the
  // columns' own notes.
  void Footnotes(const std::vector<std::pair<RowSpec, Runs>>& rows, const Runs& completed,
                 ReportTable& out) const {
    bool downstream = false;
    for (const ColumnSpec* column : out.columns) {
      for (const auto& m : column->metrics) downstream = downstream || m.rfind("eval/", 0) == 0;
    }
    if (downstream && !completed.empty()) {
      std::string seeds, lrs;
      for (const auto& v : Distinct(completed, "eval.seeds"))
        seeds += (seeds.empty() ? "" : ", ") + Display(v);
      for (const auto& v : Distinct(completed, "eval.lrs")) {
        const std::string list = v.is_number ? Display(v) : v.text;
        const size_t count =
            list.empty() ? 0 : 1 + static_cast<size_t>(std::count(list.begin(), list.end(), ','));
        lrs +=
            (lrs.empty() ? "" : ", ") +
            (count == 0 ? std::string("the paper's learning rates (Table 10)")
                        : Plural(static_cast<int64_t>(count), "learning rate") + " (" + list + ")");
      }
      if (!seeds.empty()) {
        out.footnotes.push_back("Downstream scores: each run's is the median over " + seeds +
                                (seeds == "1" ? " fine-tuning seed" : " fine-tuning seeds") +
                                ", each at its best epoch, at the best of " +
                                (lrs.empty() ? std::string("its learning rates") : lrs) + ".");
      }
    }
    if (tested_) {
      char alpha[32];
      std::snprintf(alpha, sizeof alpha, "%g", table_.alpha);
      out.footnotes.push_back(
          std::string("**Bold**: the column's best row, separated from the runner-up by a "
                      "two-sided Mann–Whitney test on their per-run values, p ≤ ") +
          alpha + " (" +
          (exact_ ? "exact permutation distribution"
                  : "exact for up to 50 runs, normal approximation beyond") +
          "). *Italic*: the best by the " +
          (table_.aggregate == Aggregate::kMedian ? "median" : "mean") +
          " but not separable from the runner-up at that level. The smallest p a test can reach is "
          "0.1 for 3 runs against 3 and 0.029 for 4 against 4.");
    }
    // Compute per row, from the runs' final metrics: equal compute is visible, not assumed.
    std::string per_update, total;
    for (const auto& [row, row_runs] : rows) {
      std::vector<double> update, seen;
      for (const RunData* run : Completed(row_runs)) {
        if (auto it = run->finals.find("train/tokens_per_update"); it != run->finals.end())
          update.push_back(it->second);
        if (auto it = run->finals.find("train/tokens_seen"); it != run->finals.end())
          seen.push_back(it->second);
      }
      if (update.empty() || seen.empty()) continue;
      per_update += (per_update.empty() ? "" : ", ") + row.label + " " + SiText(Mean(update));
      total += (total.empty() ? "" : ", ") + row.label + " " + SiText(Mean(seen));
    }
    if (!per_update.empty()) {
      out.footnotes.push_back("Compute (means over each row's runs): tokens per update " +
                              per_update + "; training tokens " + total + ".");
    }
    for (const ColumnSpec* column : out.columns) {
      if (!column->note.empty()) out.footnotes.push_back(column->label + ": " + column->note);
    }
  }

  // Each claim of the paper against the runs: a one-sided Mann-Whitney test in the paper's
  // direction on the pooled per-run values of its rows, per column.
  void TestClaims(ReportTable& out) const {
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

  const RunSource* ChooseSource() {
    for (const auto& source : table_.runs) {
      for (const auto& run : runs_) {
        if (run.experiment == source.experiment && MatchesFilter(run, source.where)) return &source;
      }
    }
    return nullptr;
  }

  Runs SourceRuns(const RunSource& source) const {
    Runs out;
    for (const auto& run : runs_) {
      if (run.experiment == source.experiment && MatchesFilter(run, source.where)) {
        out.push_back(&run);
      }
    }
    return out;
  }

  // A misspelt parameter would silently select nothing: every name the table uses must be a
  // parameter of the chosen experiment's runs.
  void CheckParamNames(const RunSource& source) const {
    std::set<std::string> known;
    for (const RunData* run : SourceRuns(source)) {
      for (const auto& [name, value] : run->params) known.insert(name);
    }
    const std::vector<std::string> names(known.begin(), known.end());
    auto check = [&](const std::string& name, const std::string& path) {
      if (!known.count(name)) {
        throw InputError(spec_.source, path,
                         "no run of experiment \"" + source.experiment + "\" has parameter \"" +
                             name + "\"" + DidYouMean(ClosestNames(name, names)));
      }
    };
    for (const auto& [name, values] : source.where) check(name, source.path + "/where/" + name);
    for (const auto& row : table_.rows) {
      for (const auto& [name, values] : row.where) check(name, row.path + "/where/" + name);
    }
    if (table_.generated) {
      for (size_t i = 0; i < table_.generated->by.size(); ++i) {
        check(table_.generated->by[i], table_.generated->path + "/by/" + std::to_string(i));
      }
    }
    for (const auto& column : table_.columns) {
      if (!column.param.empty()) check(column.param, column.path + "/param");
    }
    // Only now, with every parameter known to exist: a placeholder outside "by" is the label's
    // own mistake, not a misspelt parameter.
    if (table_.generated) {
      const GeneratedRows& g = *table_.generated;
      for (size_t pos = g.label.find('{'); pos != std::string::npos;
           pos = g.label.find('{', pos + 1)) {
        const std::string name = g.label.substr(pos + 1, g.label.find('}', pos) - pos - 1);
        if (std::find(g.by.begin(), g.by.end(), name) == g.by.end()) {
          throw InputError(spec_.source, g.path + "/label",
                           "{" + name + "} is not one of the \"by\" parameters" +
                               DidYouMean(ClosestNames(name, g.by)));
        }
      }
    }
  }

  std::vector<std::pair<RowSpec, Runs>> MakeRows(const RunSource& source) const {
    const Runs candidates = SourceRuns(source);
    std::vector<std::pair<RowSpec, Runs>> rows;
    if (!table_.generated) {
      for (const auto& row : table_.rows) {
        Runs matched;
        for (const RunData* run : candidates) {
          if (MatchesFilter(*run, row.where)) matched.push_back(run);
        }
        rows.push_back({row, std::move(matched)});
      }
      return rows;
    }
    const GeneratedRows& g = *table_.generated;
    std::map<std::vector<ParamValue>, Runs,
             std::function<bool(const std::vector<ParamValue>&, const std::vector<ParamValue>&)>>
        groups([&](const std::vector<ParamValue>& a, const std::vector<ParamValue>& b) {
          for (size_t i = 0; i < a.size(); ++i) {
            const int ra = OrderRank(g, g.by[i], a[i]), rb = OrderRank(g, g.by[i], b[i]);
            if (ra != rb) return ra < rb;
            if (a[i] < b[i]) return true;
            if (b[i] < a[i]) return false;
          }
          return false;
        });
    for (const RunData* run : candidates) {
      std::vector<ParamValue> key;
      for (const auto& name : g.by) key.push_back(run->params.at(name));
      groups[key].push_back(run);
    }
    for (auto& [key, group_runs] : groups) {
      RowSpec row;
      row.group = g.group;
      row.label = g.label;
      for (size_t i = 0; i < g.by.size(); ++i) {
        const std::string placeholder = "{" + g.by[i] + "}";
        for (size_t pos = row.label.find(placeholder); pos != std::string::npos;
             pos = row.label.find(placeholder, pos)) {
          row.label.replace(pos, placeholder.size(), Display(key[i]));
          pos += Display(key[i]).size();
        }
      }
      rows.push_back({row, group_runs});
    }
    return rows;
  }

  // Values listed in "order" come first, in that order; others after, in natural order.
  static int OrderRank(const GeneratedRows& g, const std::string& name, const ParamValue& value) {
    auto it = g.order.find(name);
    if (it == g.order.end()) return 0;
    for (size_t i = 0; i < it->second.size(); ++i) {
      if (Matches(value, it->second[i])) return static_cast<int>(i);
    }
    return static_cast<int>(it->second.size());
  }

  static Runs Completed(const Runs& runs) {
    Runs out;
    for (const RunData* run : runs) {
      if (run->status == results::StatusName(results::RunStatus::kCompleted)) out.push_back(run);
    }
    return out;
  }

  ReportCell OurCell(const ColumnSpec& column, const Runs& runs) const {
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

  // Per column and part, the best of our rows by its aggregate (as printed; ties share it). It is
  // bold only when a two-sided Mann-Whitney test on the per-run values separates it from the
  // runner-up at the table's alpha; otherwise it is marked best but not bold.
  void MarkBest(ReportTable& table) const {
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

  // The paper's cells are medians of five seeds; when our cells stand on different numbers of
  // runs, each cell off the most common count says how many.
  static void MarkCounts(ReportTable& table) {
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

  std::string Summary(const ReportTable& table, const Runs& all) const {
    if (table.experiment.empty()) return "";
    std::map<int64_t, int> per_row;
    for (const auto& row : table.rows) {
      if (!row.reference && !row.baseline) ++per_row[static_cast<int64_t>(row.run_ids.size())];
    }
    std::string counts;
    if (per_row.size() == 1) {
      counts = Plural(per_row.begin()->first, "completed run") + " per row";
    } else {
      counts = std::to_string(per_row.begin()->first) + "–" +
               std::to_string(per_row.rbegin()->first) + " completed runs per row";
    }
    const std::string what = table_.aggregate == Aggregate::kMedian ? "the median"
                             : table_.aggregate == Aggregate::kMean ? "the mean"
                                                                    : "the mean ± sample std";
    std::string spread;
    bool any_spread = false;
    for (const auto& row : table.rows) {
      for (const auto& cell : row.cells) {
        for (const auto& part : cell.parts) any_spread = any_spread || !part.spread.empty();
      }
    }
    if (any_spread) {
      spread = table_.spread == Spread::kRange ? "; in brackets their range"
               : table_.spread == Spread::kIqr ? "; in brackets their interquartile range"
               : table_.spread == Spread::kStd ? "; after ± their sample standard deviation"
                                               : "";
    }
    return "Each cell is " + what + " over its row's pretraining seeds (" + counts + spread +
           ") of experiment `" + table.experiment + "` (" +
           Plural(static_cast<int64_t>(all.size()), "run") + " in the table).";
  }

  Runs SourceExperimentRuns(const RunSource& source) const {
    Runs out;
    for (const auto& run : runs_) {
      if (run.experiment == source.experiment) out.push_back(&run);
    }
    return out;
  }

  // Parameters with one value across every run of the table, except the seed (a varied
  // replicate) — what the table holds fixed. Those that do vary elsewhere in the experiment are
  // what a reader most needs (the table's slice of a larger grid), so they are listed apart.
  static void FixedParams(const Runs& all, const Runs& experiment, ReportTable& out) {
    if (all.empty()) return;
    for (const auto& [name, value] : all.front()->params) {
      if (name == "seed") continue;
      auto same_in = [&](const Runs& runs) {
        for (const RunData* run : runs) {
          auto it = run->params.find(name);
          if (it == run->params.end() || !(it->second == value)) return false;
        }
        return true;
      };
      if (!same_in(all)) continue;
      const std::string text = name + " = " + Display(value);
      out.fixed += (out.fixed.empty() ? "" : ", ") + text;
      ++out.fixed_count;
      if (!same_in(experiment)) out.fixed_key += (out.fixed_key.empty() ? "" : ", ") + text;
    }
  }

  static void LeftOut(const std::vector<std::pair<RowSpec, Runs>>& rows,
                      std::vector<std::string>& notes) {
    for (const auto& [row, runs] : rows) {
      std::map<std::string, int64_t> by_status;
      for (const RunData* run : runs) {
        if (run->status != results::StatusName(results::RunStatus::kCompleted))
          ++by_status[run->status];
      }
      if (by_status.empty()) continue;
      std::string what;
      for (const auto& [status, n] : by_status) {
        what += (what.empty() ? "" : ", ") + Plural(n, "run") + " " + status;
      }
      notes.push_back("Row \"" + row.label + "\": " + what + ", not included.");
    }
  }

  // How the reference table's conditions ("conditions": {parameter: value}) differ from the
  // runs': "model.layers 12 (here 2)". `blocking` collects those that make an intrinsic metric
  // (perplexity) incomparable: the model and the vocabulary.
  static std::vector<std::string> ConditionDifferences(const json& conditions, const Runs& runs,
                                                       std::vector<std::string>& blocking) {
    std::vector<std::string> out;
    if (!conditions.is_object() || runs.empty()) return out;
    for (const auto& [name, wanted] : conditions.items()) {
      const auto values = Distinct(runs, name);
      if (values.empty()) continue;  // not a parameter of these runs
      if (values.size() == 1 && Matches(values[0], wanted)) continue;
      std::string ours;
      for (const auto& v : values) ours += (ours.empty() ? "" : ", ") + Display(v);
      const std::string text = name + " " +
                               (wanted.is_string() ? wanted.get<std::string>() : wanted.dump()) +
                               " (here " + ours + ")";
      out.push_back(text);
      if (name.rfind("model.", 0) == 0 || name == "data.tokenizer" || name == "data.seq_len")
        blocking.push_back(text);
    }
    return out;
  }

  static std::string Join(const std::vector<std::string>& items) {
    std::string out;
    for (const auto& item : items) out += (out.empty() ? "" : ", ") + item;
    return out;
  }

  void AddReferenceRows(const Runs& runs, ReportTable& out) const {
    if (!table_.reference) return;
    const ReferenceSpec& ref = *table_.reference;
    out.reference_header = ref.header;
    const json& table = spec_.reference.at(ref.table);
    const json& columns = table.at("columns");
    std::vector<std::string> blocking;
    const auto differences =
        ConditionDifferences(table.value("conditions", json()), runs, blocking);
    auto column_index = [&](const std::string& name) -> size_t {
      for (size_t i = 0; i < columns.size(); ++i) {
        if (columns[i] == name) return i;
      }
      return columns.size();
    };
    std::vector<std::string> withheld;
    size_t added = 0;
    for (const auto& name : ref.rows) {
      const json* row = nullptr;
      for (const auto& r : table.at("rows")) {
        if (r.value("name", "") == name) row = &r;
      }
      if (row == nullptr) continue;
      ReportRow out_row;
      out_row.reference = true;
      out_row.label = ref.labels.count(name) ? ref.labels.at(name) : name;
      bool any = false;
      for (const ColumnSpec* column : out.columns) {
        ReportCell cell;
        const size_t parts = column->param.empty() ? column->metrics.size() : 1;
        // A published perplexity under another model or vocabulary is not the same quantity.
        const bool withhold = column->Intrinsic() && !blocking.empty();
        for (size_t p = 0; p < parts; ++p) {
          CellPart part;
          part.text = kMissing;
          if (p < column->reference.size()) {
            const size_t i = column_index(column->reference[p]);
            const json& values = row->at("values");
            if (i < values.size() && !values[i].is_null() && withhold) {
              if (std::find(withheld.begin(), withheld.end(), column->label) == withheld.end())
                withheld.push_back(column->label);
            } else if (i < values.size() && !values[i].is_null()) {
              const json& v = values[i];
              part.missing = false;
              if (v.is_number()) {
                part.numeric = true;
                part.value = v.get<double>();
                part.text = column->param.empty() ? Fixed(part.value, column->decimals)
                                                  : NumberText(part.value);
              } else {
                part.text = v.is_string() ? v.get<std::string>() : v.dump();
              }
              any = any || column->param.empty();
            }
          }
          cell.parts.push_back(part);
        }
        out_row.cells.push_back(std::move(cell));
      }
      // A reference row with no result under the metric columns shown says nothing here.
      if (any) {
        out.rows.push_back(std::move(out_row));
        ++added;
      }
    }
    if (!withheld.empty()) {
      out.footnotes.push_back("The published " + Join(withheld) +
                              " is left out: it was measured under other conditions (" +
                              Join(blocking) + "), so it is not the same quantity as ours.");
    }
    if (added > 0 && !differences.empty()) {
      out.footnotes.push_back(
          "The reported rows are the paper's numbers under its conditions, "
          "which differ from these runs in " +
          Join(differences) +
          ": compare the direction of the differences, not the values. "
          "Reported rows never take part in the bold.");
    }
  }

  const ReportSpec& spec_;
  const TableSpec& table_;
  const std::vector<RunData>& runs_;
  mutable bool tested_ = false;  // some column's best was tested
  mutable bool exact_ = true;    // every test used the exact distribution
};

}  // namespace

Report BuildReport(const ReportSpec& spec, const std::vector<results::RunRecord>& runs) {
  Report report;
  report.spec = &spec;
  for (const auto& table : spec.tables)
    report.tables.push_back(TableBuilder(spec, table, runs).Build());
  return report;
}

ReportInputs InputsOf(const ReportSpec& spec) {
  ReportInputs inputs;
  for (const auto& table : spec.tables) {
    for (const auto& source : table.runs) inputs.experiments.insert(source.experiment);
    for (const auto& column : table.columns) {
      for (const auto& metric : column.metrics) {
        inputs.metrics.insert(metric);
        if (const std::string baseline = BaselineMetric(metric); !baseline.empty())
          inputs.metrics.insert(baseline);
      }
    }
  }
  // What every table's footnote reports of each row's compute.
  inputs.metrics.insert(
      {results::metric::kTrainTokensPerUpdate, results::metric::kTrainTokensSeen});
  return inputs;
}

Report BuildReport(const ReportSpec& spec, const std::string& db_path) {
  const ReportInputs inputs = InputsOf(spec);
  return BuildReport(spec, results::ReadRunRecords(db_path, inputs.experiments, inputs.metrics));
}

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
