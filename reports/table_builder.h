// The table builder behind BuildReport (report.h), shared by its parts: grouping runs into rows
// (report_rows.cpp), aggregating cells and marking the tested best and the claims
// (report_cells.cpp), the trivial-baseline and reference rows (report_reference.cpp), and the
// table's summary and footnotes (report.cpp). A pure function of a spec and in-memory runs: no
// SQL, no rendering. Internal to reports/.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "reports/report.h"
#include "results/run_reads.h"

namespace ablate::reports {

using nlohmann::json;
using results::ParamValue;
using RunData = results::RunRecord;

inline constexpr const char* kMissing = "–";

// Integral values as integers (1000000, not 1e+06: step counts and batch sizes read better so);
// others in their shortest exact form.
std::string NumberText(double x);

std::string Display(const ParamValue& value);

bool Matches(const ParamValue& value, const json& wanted);

bool MatchesFilter(const RunData& run, const ParamFilter& filter);

std::string Fixed(double value, int decimals);

double Mean(const std::vector<double>& v);

// The baseline metric of a downstream metric: eval/<task>/<m> -> eval/<task>/baseline/<m>.
std::string BaselineMetric(const std::string& metric);

// p-values as a reader wants them: two significant digits, or "< 0.001".
std::string PText(double p);

CellPart AggregatePart(const std::vector<double>& values, const std::vector<std::string>& keys,
                       const ColumnSpec& column, Aggregate aggregate, Spread spread);

// The distinct values a parameter takes over `runs`, in order.
std::vector<ParamValue> Distinct(const std::vector<const RunData*>& runs, const std::string& name);

std::string Plural(int64_t n, const std::string& word);

// The Hodges–Lehmann shift a − b with its exact interval at `confidence` (base/statistics.h).
Shift ShiftOf(const std::vector<double>& a, const std::vector<double>& b, double confidence);

// "−41", "+0.3", "0.0": signed with a real minus sign, at `decimals`.
std::string SignedText(double value, int decimals);

// "Δ −41 [−62, −18]", saying so when the interval reaches less than `asked`.
std::string ShiftText(const Shift& shift, int decimals, double asked);

// A trivial baseline a run records beside a metric: its row label, how a flag names it ("not
// better than <phrase>"), and the name of its metric for a column's metric ("" where it has none).
struct BaselineKind {
  std::string label, phrase;
  std::function<std::string(const std::string&)> metric;
};
const std::vector<BaselineKind>& BaselineKinds();

// Whether smaller values of `metric` are better in `column` (its "better", else by the name).
bool LowerIsBetter(const ColumnSpec& column, const std::string& metric);

class TableBuilder {
 public:
  TableBuilder(const ReportSpec& spec, const TableSpec& table, const std::vector<RunData>& runs,
               const RunExamples& examples)
      : spec_(spec), table_(table), runs_(runs), examples_(examples) {}

  ReportTable Build();

 private:
  using Runs = std::vector<const RunData*>;

  // The caption with each {parameter} replaced by the value(s) the table's runs take.
  std::string ResolveCaption(const Runs& runs) const;

  // The trivial baselines (BaselineKinds) recorded by the runs on the examples their metrics were
  // scored on, one row each, so a reader sees whether pretraining and fine-tuning learned
  // anything.
  void AddBaselineRows(const Runs& runs, ReportTable& out) const;

  // Marks each of our cells whose median does not beat a trivial baseline of its own runs
  // (CellPart::not_better_than) and says so in a footnote.
  void FlagBelowBaselines(const std::vector<std::pair<RowSpec, Runs>>& rows,
                          ReportTable& out) const;

  // What the numbers are, in words; the rule behind the bold; the compute each row got; and the
  // columns' own notes.
  void Footnotes(const std::vector<std::pair<RowSpec, Runs>>& rows, const Runs& completed,
                 ReportTable& out) const;

  // Each claim of the paper against the runs: a one-sided test in the paper's direction on the
  // pooled values of its rows, per column, with the shift and its interval; the table's tests
  // form one family (Holm's correction by default).
  void TestClaims(ReportTable& out) const;

  // The Multi-Bootstrap of one claim's rows on one column part, from the runs' per-example
  // outcomes; "no data" when some run lacks them.
  void BootstrapClaim(const ColumnSpec& column, size_t part,
                      const std::vector<const ReportRow*>& better,
                      const std::vector<const ReportRow*>& than, ClaimResult& result) const;

  // The claims' footnote: the test, the family and its correction, and what these runs could
  // have detected; `lenient` is the level the correction's most lenient step needs, `detectable`
  // each rank test's smallest separable shift ("claim 1 ppl 27.77").
  void ClaimFootnote(ReportTable& out, double lenient,
                     const std::vector<std::string>& detectable) const;

  const RunSource* ChooseSource();

  Runs SourceRuns(const RunSource& source) const;

  // A misspelt parameter would silently select nothing: every name the table uses must be a
  // parameter of the chosen experiment's runs.
  void CheckParamNames(const RunSource& source) const;

  std::vector<std::pair<RowSpec, Runs>> MakeRows(const RunSource& source) const;

  // Rows that pool only what they should (report_rows.cpp). A row whose completed runs differ in
  // a parameter besides the seed is handled as the table's "mixed" says: kWarn keeps it, with a
  // note and a warning naming each parameter and its values, and returns its label; kSplit makes
  // one row per combination of the differing values (a claim naming the row it replaced is
  // refused); kError throws InputError naming the row's JSON path.
  std::vector<std::string> SettleMixedRows(std::vector<std::pair<RowSpec, Runs>>& rows,
                                           ReportTable& out) const;

  // A tuned table (TableSpec::tune) keeps in each row only the runs of the value of the tuned
  // parameter whose completed runs have the best median of the selection half; returns each
  // row's choice (nullopt for an untuned table or a row without completed runs). Throws
  // InputError naming the row when a completed run lacks the selection metric.
  std::vector<std::optional<TunedChoice>> TuneRows(
      std::vector<std::pair<RowSpec, Runs>>& rows) const;

  // What a tuned table chose per row, on which half, and what its columns report.
  void TuneFootnote(ReportTable& out) const;

  // The JSON path errors about a row name: its own, else the generated rows', else the table's.
  std::string RowPath(const RowSpec& row) const;

  // Values listed in "order" come first, in that order; others after, in natural order.
  static int OrderRank(const GeneratedRows& g, const std::string& name, const ParamValue& value);

  static Runs Completed(const Runs& runs);

  ReportCell OurCell(const ColumnSpec& column, const Runs& runs) const;

  // Per column and part, the best of our rows by its aggregate (as printed; ties share it). It is
  // bold only when a two-sided Mann-Whitney test on the per-run values separates it from the
  // runner-up at the table's alpha; otherwise it is marked best but not bold.
  void MarkBest(ReportTable& table) const;

  // The paper's cells are medians of five seeds; when our cells stand on different numbers of
  // runs, each cell off the most common count says how many.
  static void MarkCounts(ReportTable& table);

  // What the numbers are, in one sentence; `mixed_rows` (SettleMixedRows) pool more than seeds.
  std::string Summary(const ReportTable& table, const Runs& all,
                      const std::vector<std::string>& mixed_rows) const;

  Runs SourceExperimentRuns(const RunSource& source) const;

  // Parameters with one value across every run of the table, except the seed (a varied
  // replicate) — what the table holds fixed. Those that do vary elsewhere in the experiment are
  // what a reader most needs (the table's slice of a larger grid), so they are listed apart.
  static void FixedParams(const Runs& all, const Runs& experiment, ReportTable& out);

  static void LeftOut(const std::vector<std::pair<RowSpec, Runs>>& rows,
                      std::vector<std::string>& notes);

  // How the reference table's conditions ("conditions": {parameter: value}) differ from the
  // runs': "model.layers 12 (here 2)". `blocking` collects those that make every intrinsic
  // metric (perplexity) incomparable: the model, the vocabulary, the training corpus.
  static std::vector<std::string> ConditionDifferences(const json& conditions, const Runs& runs,
                                                       std::vector<std::string>& blocking);

  // The held-out text `metric` was scored on against the text the conditions' published
  // perplexity was (eval.corpus, else data.corpus): "eval.corpus books (here mixture)", or ""
  // when it is the same or the runs' own training corpus (which data.corpus compares).
  static std::string ScoredCorpusDifference(const json& conditions, const Runs& runs,
                                            const std::string& metric);

  static std::string Join(const std::vector<std::string>& items);

  void AddReferenceRows(const Runs& runs, ReportTable& out) const;

  const ReportSpec& spec_;
  const TableSpec& table_;
  const std::vector<RunData>& runs_;
  const RunExamples& examples_;
  mutable bool tested_ = false;  // some column's best was tested
  mutable bool exact_ = true;    // every test used the exact distribution
  // (best, runner-up) run counts of the tested bests, for what the bold could reach.
  mutable std::set<std::pair<size_t, size_t>> best_sizes_;
};

}  // namespace ablate::reports
