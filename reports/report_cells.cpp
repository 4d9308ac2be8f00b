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
#include "base/multibootstrap.h"
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
// runner-up at the table's alpha; otherwise it is marked best but not bold. Either way it carries
// its Hodges–Lehmann shift from the runner-up with the exact interval.
void TableBuilder::MarkBest(ReportTable& table) const {
  for (size_t c = 0; c < table.columns.size(); ++c) {
    const ColumnSpec& column = *table.columns[c];
    if (column.better == Better::kNone || !column.param.empty()) continue;
    for (size_t p = 0; p < column.metrics.size(); ++p) {
      std::vector<std::pair<CellPart*, const ReportRow*>> parts;
      for (auto& row : table.rows) {
        CellPart& part = row.cells[c].parts[p];
        if (!row.reference && !row.baseline && !part.missing) parts.push_back({&part, &row});
      }
      if (parts.size() < 2) continue;
      auto rounded = [&](const CellPart* part) {
        return std::stod(Fixed(part->value, column.decimals));
      };
      const bool higher = column.better == Better::kHigher;
      std::stable_sort(parts.begin(), parts.end(), [&](const auto& a, const auto& b) {
        return higher ? rounded(a.first) > rounded(b.first) : rounded(a.first) < rounded(b.first);
      });
      if (rounded(parts[0].first) == rounded(parts[1].first)) continue;  // a tie has no best
      CellPart& best = *parts[0].first;
      const CellPart& runner_up = *parts[1].first;
      best.best = true;
      const auto test = MannWhitney(best.values, runner_up.values);
      best.p_value = test.p_two_sided;
      best.bold = test.p_two_sided <= table_.alpha;
      best.shift = ShiftOf(best.values, runner_up.values, 1 - table_.alpha);
      best.runner_up = parts[1].second->label;
      exact_ = exact_ && test.exact;
      tested_ = true;
      best_sizes_.insert({best.values.size(), runner_up.values.size()});
    }
  }
}

Shift ShiftOf(const std::vector<double>& a, const std::vector<double>& b, double confidence) {
  Shift shift;
  if (a.empty() || b.empty()) return shift;
  const ShiftEstimate e = HodgesLehmannShift(a, b, confidence);
  shift.estimate = e.estimate;
  shift.low = e.low;
  shift.high = e.high;
  shift.confidence = e.confidence;
  return shift;
}

// "−41", "+0.3": signed, with a real minus sign, at the column's decimals.
std::string SignedText(double value, int decimals) {
  std::string text = Fixed(value, decimals);
  if (text[0] == '-') return "−" + text.substr(1);
  return std::stod(text) == 0 ? text : "+" + text;
}

std::string ShiftText(const Shift& shift, int decimals, double asked) {
  if (!shift.Known()) return "";
  auto plain = [&](double v) {
    const std::string t = Fixed(v, decimals);
    return t[0] == '-' ? "−" + t.substr(1) : t;
  };
  std::string text = "Δ " + SignedText(shift.estimate, decimals) + " [" + plain(shift.low) + ", " +
                     plain(shift.high) + "]";
  if (shift.confidence + 1e-9 < asked) {
    char buf[64];
    std::snprintf(buf, sizeof buf, " (%.3g%% interval: the most these runs allow)",
                  100 * shift.confidence);
    text += buf;
  }
  return text;
}

// Each claim of the paper against the runs: a one-sided test in the paper's direction on the
// pooled per-run values of its rows, per column and part, with the shift and its interval. The
// table's tests form one family; with Holm's correction the verdicts are read off the adjusted p.
void TableBuilder::TestClaims(ReportTable& out) const {
  std::vector<std::string> labels;
  for (const auto& row : out.rows) {
    if (!row.reference && !row.baseline) labels.push_back(row.label);
  }
  // Per claim, per result: its column and the pooled per-run values of each side.
  struct Tested {
    const ColumnSpec* column;
    std::vector<double> better, than;
  };
  std::vector<std::vector<Tested>> tested;
  for (const auto& claim : table_.claims) {
    auto find_rows = [&](const std::vector<std::string>& wanted, const std::string& key) {
      std::vector<const ReportRow*> found;
      for (size_t i = 0; i < wanted.size(); ++i) {
        std::vector<const ReportRow*> matches;
        for (const auto& row : out.rows) {
          if (!row.reference && !row.baseline && row.label == wanted[i]) matches.push_back(&row);
        }
        if (matches.empty()) {
          throw InputError(spec_.source, claim.path + "/" + key + "/" + std::to_string(i),
                           "\"" + wanted[i] + "\" is not a row of this table" +
                               DidYouMean(ClosestNames(wanted[i], labels)));
        }
        found.insert(found.end(), matches.begin(), matches.end());
      }
      return found;
    };
    const auto better = find_rows(claim.better, "better");
    const auto than = find_rows(claim.than, "than");
    ClaimLine line;
    line.spec = &claim;
    tested.emplace_back();
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
        result.n_better = static_cast<int64_t>(a.size());
        result.n_than = static_cast<int64_t>(b.size());
        if (a.empty() || b.empty()) {
          result.verdict = "no data";
        } else if (table_.test == ClaimTest::kMultiBootstrap) {
          BootstrapClaim(column, p, better, than, result);
        } else {
          const auto test = MannWhitney(a, b);
          const bool higher = column.better == Better::kHigher;
          result.p = higher ? test.p_greater : test.p_less;
          result.p_against = higher ? test.p_less : test.p_greater;
          result.shift = ShiftOf(a, b, 1 - table_.alpha);
          result.min_p = MinimumOneSidedP(a.size(), b.size());
          exact_ = exact_ && test.exact;
        }
        line.results.push_back(result);
        tested.back().push_back({&column, a, b});
      }
    }
    out.claims.push_back(std::move(line));
  }

  // The family: every result with data, in the paper's direction and against it alike.
  std::vector<double> p, against;
  for (const auto& line : out.claims) {
    for (const auto& r : line.results) {
      p.push_back(r.p);
      against.push_back(r.p_against);
    }
  }
  out.family.test = table_.test;
  out.family.correction = table_.correction;
  out.family.tests =
      static_cast<int64_t>(std::count_if(p.begin(), p.end(), [](double x) { return x >= 0; }));
  if (table_.correction == Correction::kHolm) {
    p = HolmAdjust(p);
    against = HolmAdjust(against);
  }
  // Holm's first step tests the smallest p at alpha / m: the most lenient level any test meets.
  const double lenient =
      table_.alpha / static_cast<double>(table_.correction == Correction::kHolm
                                             ? std::max<int64_t>(1, out.family.tests)
                                             : 1);
  std::vector<std::string> detectable;  // "claim 1 ppl 27.77", for the footnote
  size_t k = 0;
  for (size_t l = 0; l < out.claims.size(); ++l) {
    ClaimLine& line = out.claims[l];
    const ClaimSpec& claim = *line.spec;
    line.text = "Claim: " + claim.text + ". Here: ";
    for (size_t i = 0; i < line.results.size(); ++i, ++k) {
      ClaimResult& r = line.results[i];
      const Tested& t = tested[l][i];
      const ColumnSpec& column = *t.column;
      if (r.p >= 0) {
        r.p_adjusted = p[k];
        r.p_against_adjusted = against[k];
        r.verdict = r.p_adjusted <= table_.alpha           ? "reproduced"
                    : r.p_against_adjusted <= table_.alpha ? "reversed"
                    : claim.kind == ClaimKind::kAtLeast    ? "consistent"
                                                           : "not separable";
        if (table_.test == ClaimTest::kRank) {
          r.detectable = DetectableShift(t.better, t.than, lenient);
          detectable.push_back("claim " + std::to_string(l + 1) + " " + r.column + " " +
                               (std::isinf(r.detectable) ? std::string("none")
                                                         : Fixed(r.detectable, column.decimals)));
        }
      }
      line.text += (i > 0 ? "; " : "") + r.column + ": **" + r.verdict + "**";
      if (r.p < 0) continue;
      const bool reversed = r.verdict == "reversed";
      const double shown = reversed ? r.p_against : r.p;
      const double shown_adjusted = reversed ? r.p_against_adjusted : r.p_adjusted;
      line.text += " (" + ShiftText(r.shift, column.decimals, 1 - table_.alpha) + ", one-sided p " +
                   PText(shown) +
                   (table_.correction == Correction::kHolm ? ", Holm " + PText(shown_adjusted)
                                                           : std::string()) +
                   (reversed ? " against the claim" : "") + ")";
    }
    if (line.results.empty()) line.text += "no column to test";
    line.text += ".";
  }
  if (!out.claims.empty()) ClaimFootnote(out, lenient, detectable);
}

void TableBuilder::BootstrapClaim(const ColumnSpec& column, size_t part,
                                  const std::vector<const ReportRow*>& better,
                                  const std::vector<const ReportRow*>& than,
                                  ClaimResult& result) const {
  const std::string& metric = column.metrics[part];
  std::map<int64_t, const RunData*> by_id;
  for (const auto& run : runs_) by_id[run.id] = &run;
  // A side's runs with their outcomes. Runs of a side's second and later rows get their seed
  // offset, so one seed in two pooled rows is two draws; pairing then needs both sides to be
  // made the same way from the same seeds.
  bool complete = true;
  auto side = [&](const std::vector<const ReportRow*>& rows) {
    std::vector<BootstrapRun> out;
    for (size_t r = 0; r < rows.size(); ++r) {
      for (int64_t id : rows[r]->run_ids) {
        const RunData& run = *by_id.at(id);
        auto it = examples_.find({id, metric});
        auto seed = run.params.find("seed");
        if (it == examples_.end() || it->second.empty() || seed == run.params.end() ||
            !seed->second.is_number) {
          complete = false;
          continue;
        }
        BootstrapRun b;
        b.seed = static_cast<uint64_t>(seed->second.number) + (static_cast<uint64_t>(r) << 32);
        for (const auto& [replicate, outcomes] : it->second) {
          BootstrapReplicate rep;
          for (const auto& [num, den] : outcomes) {
            rep.numerator.push_back(num);
            rep.denominator.push_back(den);
          }
          b.replicates.push_back(std::move(rep));
        }
        out.push_back(std::move(b));
      }
    }
    return out;
  };
  const auto a = side(better), b = side(than);
  if (!complete || a.empty() || b.empty()) {
    result.verdict = "no data";
    result.column += " (no per-example outcomes recorded for some runs)";
    return;
  }
  MultiBootstrapOptions options;
  options.samples = static_cast<size_t>(table_.bootstrap_samples);
  options.confidence = 1 - table_.alpha;
  options.seed = table_.bootstrap_seed;
  options.transform = metric.find("ppl") != std::string::npos ? BootstrapTransform::kExp
                                                              : BootstrapTransform::kIdentity;
  BootstrapComparison c;
  try {
    c = MultiBootstrapCompare(a, b, options);
  } catch (const InputError& e) {
    throw InputError(spec_.source, table_.path,
                     "the Multi-Bootstrap of column \"" + column.label +
                         "\" cannot compare its "
                         "runs' per-example outcomes (" +
                         e.message() + ")");
  }
  const bool higher = column.better == Better::kHigher;
  result.p = higher ? c.p_greater : c.p_less;
  result.p_against = higher ? c.p_less : c.p_greater;
  result.shift.estimate = c.estimate * column.scale;
  result.shift.low = c.low * column.scale;
  result.shift.high = c.high * column.scale;
  result.shift.confidence = options.confidence;
  result.min_p = 0;
  result.n_better = static_cast<int64_t>(a.size());
  result.n_than = static_cast<int64_t>(b.size());
}

// What the claims' tests are, which family they form, and what these runs could have shown.
void TableBuilder::ClaimFootnote(ReportTable& out, double lenient,
                                 const std::vector<std::string>& detectable) const {
  char alpha[32];
  std::snprintf(alpha, sizeof alpha, "%g", table_.alpha);
  char level[32];
  std::snprintf(level, sizeof level, "%.2g", lenient);
  const int64_t m = out.family.tests;
  if (m == 0) return;  // every claim is "no data", which its line says
  const bool holm = table_.correction == Correction::kHolm;
  std::string text = "Claims: the " + Plural(m, "one-sided test") + " of this table's claims " +
                     (m == 1 ? "is" : "form") + " one family, " +
                     (holm ? "their p-values adjusted by Holm's method"
                           : "with no correction for multiplicity (\"correction\": \"none\")") +
                     "; *reproduced* and *reversed* need " + (holm ? "an adjusted " : "a ") +
                     "p ≤ " + alpha + ". ";
  if (table_.test == ClaimTest::kMultiBootstrap) {
    text += "Each test is the Multi-Bootstrap (Sellam et al. 2022): " +
            std::to_string(table_.bootstrap_samples) +
            " resamples of pretraining seeds, fine-tuning seeds and evaluation examples together "
            "(seeds paired where both sides have the same ones; resampler seed " +
            std::to_string(table_.bootstrap_seed) +
            "); p is the share of resamples whose difference goes against the direction tested, "
            "Δ the difference of the sides' means over all runs and examples, with its percentile "
            "interval.";
    out.footnotes.push_back(text);
    return;
  }
  text += std::string("Each test is an ") +
          (exact_ ? "exact" : "exact (normal approximation beyond 50 runs)") +
          " one-sided Mann–Whitney test on the pooled per-run values of the claim's rows against "
          "the others; Δ is their Hodges–Lehmann shift (the median of all pairwise differences, "
          "claim's rows minus the others) with its exact distribution-free interval at " +
          Fixed(100 * (1 - table_.alpha), 0) + "% where the runs allow it.";
  // What these runs could show at all: the smallest p each test can reach (by the sizes of its
  // sides), against the level the most lenient step of the correction needs.
  std::map<std::pair<int64_t, int64_t>, double> sizes;  // (runs a side) -> ClaimResult::min_p
  for (const auto& line : out.claims) {
    for (const auto& r : line.results) {
      if (r.p >= 0) sizes[{r.n_better, r.n_than}] = r.min_p;
    }
  }
  std::string reach;
  bool any_reachable = false;
  for (const auto& [n, p] : sizes) {
    const auto& [na, nb] = n;
    any_reachable = any_reachable || p <= lenient;
    char p_min[32];
    std::snprintf(p_min, sizeof p_min, "%.2g", p);
    reach += (reach.empty() ? "" : ", ") + std::string(p_min) + " (" + Plural(na, "run") +
             " against " + std::to_string(nb) + ")";
  }
  text += " With these runs the smallest one-sided p a test can reach is " + reach +
          (holm && m > 1 ? std::string(", and Holm's first step needs p ≤ ") + level + " (" +
                               alpha + "/" + std::to_string(m) + ")"
                         : std::string()) +
          (any_reachable ? ": a verdict can reach significance."
                         : ": no verdict can reach significance; more seeds are needed.");
  if (!detectable.empty()) {
    text += " The smallest shift each test could have separated at p ≤ " + std::string(level) +
            ", given the runs' own spread: " + Join(detectable) +
            "; a claim that is *consistent* or *not separable* leaves open any difference inside "
            "its interval.";
  }
  out.footnotes.push_back(text);
}

}  // namespace ablate::reports
