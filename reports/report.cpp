#include "reports/report.h"

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

ReportTable TableBuilder::Build() {
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
  std::vector<std::string> mixed_rows;  // pooled although their runs differ in more than the seed
  std::vector<std::optional<TunedChoice>> tuned;
  Runs candidates;  // every run of the rows, before tuning kept one value per row
  if (source != nullptr) {
    rows = MakeRows(*source);
    mixed_rows = SettleMixedRows(rows, out);
    for (const auto& [row, row_runs] : rows)
      candidates.insert(candidates.end(), row_runs.begin(), row_runs.end());
    tuned = TuneRows(rows);
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
    if (r < tuned.size()) row.tuned = tuned[r];
    out.rows.push_back(std::move(row));
  }
  MarkBest(out);
  MarkCounts(out);

  Runs all, completed;
  for (const auto& [row, row_runs] : rows) {
    all.insert(all.end(), row_runs.begin(), row_runs.end());
    for (const RunData* run : Completed(row_runs)) completed.push_back(run);
  }
  FlagBelowBaselines(rows, out);
  AddBaselineRows(completed, out);
  out.summary = Summary(out, all, mixed_rows);
  // Over the runs tuning chose among: a value every row happened to choose was not held fixed.
  FixedParams(candidates, source ? SourceExperimentRuns(*source) : Runs{}, out);
  out.caption = ResolveCaption(completed);
  LeftOut(rows, out.notes);
  TuneFootnote(out);
  Footnotes(rows, completed, out);
  AddReferenceRows(completed, out);
  TestClaims(out);
  return out;
}

// The caption with each {parameter} replaced by the value(s) the table's runs take.
std::string TableBuilder::ResolveCaption(const Runs& runs) const {
  std::string caption = table_.caption;
  for (size_t pos = caption.find('{'); pos != std::string::npos; pos = caption.find('{', pos + 1)) {
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

// What the numbers are, in words; the rule behind the bold; the compute each row got; and the
// columns' own notes.
void TableBuilder::Footnotes(const std::vector<std::pair<RowSpec, Runs>>& rows,
                             const Runs& completed, ReportTable& out) const {
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
    // What the bold could reach with these runs: the smallest two-sided p of each tested pair.
    std::string reach;
    bool any_reachable = false;
    for (const auto& [na, nb] : best_sizes_) {
      const double p = MinimumTwoSidedP(na, nb);
      any_reachable = any_reachable || p <= table_.alpha;
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.2g", p);
      reach += (reach.empty() ? "" : ", ") + std::string(buf) + " for " +
               Plural(static_cast<int64_t>(na), "run") + " against " + std::to_string(nb);
    }
    out.footnotes.push_back(
        std::string("**Bold**: the column's best row, separated from the runner-up by a "
                    "two-sided Mann–Whitney test on their per-run values, p ≤ ") +
        alpha + " (" +
        (exact_ ? "exact permutation distribution"
                : "exact for up to 50 runs, normal approximation beyond") +
        "; one test per column, not corrected for multiplicity). *Italic*: the best by the " +
        (table_.aggregate == Aggregate::kMedian ? "median" : "mean") +
        " but not separable from the runner-up at that level. With these runs the smallest p a "
        "test can reach is " +
        reach + (any_reachable ? "." : ": no column's best can be bold; more seeds are needed."));
    // Every comparison behind a bold or italic cell, with its size.
    std::string sizes;
    for (const auto& row : out.rows) {
      for (size_t c = 0; c < row.cells.size(); ++c) {
        for (size_t p = 0; p < row.cells[c].parts.size(); ++p) {
          const CellPart& part = row.cells[c].parts[p];
          if (!part.best || !part.shift.Known()) continue;
          const ColumnSpec& column = *out.columns[c];
          sizes += (sizes.empty() ? "" : "; ") + column.label +
                   (column.metrics.size() > 1 ? " [" + column.metrics[p] + "]" : std::string()) +
                   ": " + row.label + " − " + part.runner_up + " " +
                   ShiftText(part.shift, column.decimals, 1 - table_.alpha) + ", p " +
                   PText(part.p_value);
        }
      }
    }
    if (!sizes.empty()) {
      out.footnotes.push_back("Best against runner-up (Hodges–Lehmann shift with its exact " +
                              Fixed(100 * (1 - table_.alpha), 0) +
                              "% interval, two-sided p): " + sizes + ".");
    }
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

// "Tuned per row: optim.lr chosen by the median of valid/select/ppl (lower) on one half of the
// held-out documents; ppl is reported on the other half (valid/report/ppl). bsz 8: 0.001 (of
// 0.001, 0.002); bsz 32: 0.002 (one value)."
void TableBuilder::TuneFootnote(ReportTable& out) const {
  if (!table_.tune) return;
  const TuneSpec& tune = *table_.tune;
  std::vector<std::string> reported, metrics, unsplit;
  for (const ColumnSpec* column : out.columns) {
    bool on_report_half = false;
    for (const auto& metric : column->metrics) {
      if (metric.rfind("valid/report/", 0) == 0) {
        on_report_half = true;
        if (std::find(metrics.begin(), metrics.end(), metric) == metrics.end())
          metrics.push_back(metric);
      } else if (metric.rfind("valid/", 0) == 0) {
        unsplit.push_back(column->label + " (" + metric + ")");
      }
    }
    if (on_report_half) reported.push_back(column->label);
  }
  std::string chosen;
  for (const auto& row : out.rows) {
    if (!row.tuned) continue;
    const TunedChoice& t = *row.tuned;
    auto text = [](const TunedChoice::Candidate& c) {
      return c.value ? Display(*c.value) : std::string("(not recorded)");
    };
    std::string of;
    for (const auto& c : t.candidates) of += (of.empty() ? "" : ", ") + text(c);
    chosen +=
        (chosen.empty() ? "" : "; ") + row.label + ": " + text(t.candidates[t.chosen]) +
        (t.candidates.size() == 1 ? " (one value)"
                                  : " (of " + of + (t.tie ? "; tied, the first taken" : "") + ")");
  }
  auto and_list = [](const std::vector<std::string>& items) {
    std::string text;
    for (size_t i = 0; i < items.size(); ++i) {
      text += (i == 0 ? "" : i + 1 == items.size() ? " and " : ", ") + items[i];
    }
    return text;
  };
  std::string text = "Tuned per row: " + tune.param + " chosen by the median of " +
                     HalfMetric(tune.metric, "select") + " (" +
                     (tune.better == Better::kLower ? "lower" : "higher") +
                     ") on one half of the held-out documents";
  if (!reported.empty()) {
    text += "; " + and_list(reported) + (reported.size() == 1 ? " is" : " are") +
            " reported on the other half (" + Join(metrics) + ")";
  }
  text += ".";
  if (!unsplit.empty()) {
    text += " Not split into halves, so scored on the documents the choice was made on too: " +
            Join(unsplit) + ".";
  }
  if (!chosen.empty()) text += " " + chosen + ".";
  out.footnotes.push_back(text);
}

std::string TableBuilder::Summary(const ReportTable& table, const Runs& all,
                                  const std::vector<std::string>& mixed_rows) const {
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
  // Rows that pool other settings too are not over "pretraining seeds" alone.
  std::string summary = "Each cell is " + what + " over its row's " +
                        (mixed_rows.empty() ? "pretraining seeds" : "runs") + " (" + counts +
                        spread + ") of experiment `" + table.experiment + "` (" +
                        Plural(static_cast<int64_t>(all.size()), "run") + " in the table).";
  if (mixed_rows.empty()) return summary;
  std::string labels;
  for (const auto& label : mixed_rows) labels += (labels.empty() ? "\"" : ", \"") + label + "\"";
  return summary + (mixed_rows.size() == 1
                        ? " Row " + labels +
                              " pools runs that differ in more than the seed: see the note under "
                              "the table."
                        : " Rows " + labels +
                              " pool runs that differ in more than the seed: see the notes under "
                              "the table.");
}

// Parameters with one value across every run of the table, except the seed (a varied
// replicate) — what the table holds fixed. Those that do vary elsewhere in the experiment are
// what a reader most needs (the table's slice of a larger grid), so they are listed apart.
void TableBuilder::FixedParams(const Runs& all, const Runs& experiment, ReportTable& out) {
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

void TableBuilder::LeftOut(const std::vector<std::pair<RowSpec, Runs>>& rows,
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

Report BuildReport(const ReportSpec& spec, const std::vector<results::RunRecord>& runs,
                   const RunExamples& examples) {
  Report report;
  report.spec = &spec;
  for (const auto& table : spec.tables)
    report.tables.push_back(TableBuilder(spec, table, runs, examples).Build());
  return report;
}

ReportInputs InputsOf(const ReportSpec& spec) {
  ReportInputs inputs;
  for (const auto& table : spec.tables) {
    for (const auto& source : table.runs) inputs.experiments.insert(source.experiment);
    if (table.tune) inputs.metrics.insert(HalfMetric(table.tune->metric, "select"));
    for (const auto& column : table.columns) {
      for (const auto& metric : column.metrics) {
        inputs.metrics.insert(metric);
        for (const BaselineKind& kind : BaselineKinds()) {
          if (const std::string baseline = kind.metric(metric); !baseline.empty())
            inputs.metrics.insert(baseline);
        }
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
  const auto runs = results::ReadRunRecords(db_path, inputs.experiments, inputs.metrics);
  // The Multi-Bootstrap's per-example outcomes, only for the tables that ask for it.
  RunExamples examples;
  for (const auto& table : spec.tables) {
    if (table.test != ClaimTest::kMultiBootstrap) continue;
    std::set<std::string> experiments;
    for (const auto& source : table.runs) experiments.insert(source.experiment);
    std::vector<int64_t> ids;
    for (const auto& run : runs) {
      if (experiments.count(run.experiment)) ids.push_back(run.id);
    }
    for (const auto& column : table.columns) {
      for (const auto& metric : column.metrics) {
        for (auto& [id, replicates] : results::ReadExampleOutcomes(db_path, ids, metric))
          examples[{id, metric}] = std::move(replicates);
      }
    }
  }
  return BuildReport(spec, runs, examples);
}

}  // namespace ablate::reports
