// Builds a report from a spec and a results database: picks each table's runs, groups them into
// rows (a tuned table keeps per row the value of a parameter chosen on one half of the held-out
// documents, and reports the other half), aggregates final metrics over seeds (completed runs
// only) keeping the per-run values and their spread, marks each column's best (bold only when a
// rank test separates it from the runner-up), adds trivial-baseline and reference rows
// (published numbers only where their conditions match ours), tests the paper's claims, and says
// in footnotes what the numbers are, what is held fixed and what was left out. It reads through
// the database's views and renders nothing; report_render.h turns a Report into text.
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "reports/report_spec.h"
#include "results/run_reads.h"

namespace ablate::reports {

// An estimated difference between two rows in a column's units with its interval; NaN when
// not estimated.
struct Shift {
  double estimate = std::numeric_limits<double>::quiet_NaN();
  double low = std::numeric_limits<double>::quiet_NaN();
  double high = std::numeric_limits<double>::quiet_NaN();
  double confidence = 0;  // what [low, high] reaches (below the asked level when n is too small)
  bool Known() const { return estimate == estimate; }
};

// One number of a cell (a combined cell has several), already formatted.
struct CellPart {
  std::string text;  // "84.3", "84.3 ± 0.2", "–" when missing
  std::string spread;  // beside the text: "(83.1–85.0)", "(IQR 83.5–84.6)", "± 0.4"; "" for n < 2
  bool missing = true;
  bool bold = false;     // the column's best, separated from the runner-up by the rank test
  bool best = false;     // the column's best by its aggregate, bold or not
  bool numeric = false;  // `value` holds the number shown (false for text and lists of values)
  double value = 0;      // the aggregate (after the column's scale), when numeric
  int64_t count = 0;     // runs behind it
  std::vector<double> values;     // ours: the per-run values behind it (after the scale)
  std::vector<std::string> keys;  // their runs' keys, in the same order
  double p_value = -1;            // the best part: two-sided p against the runner-up (-1: none)
  // The best part: its shift from the runner-up (Hodges–Lehmann, best − runner-up, in the cell's
  // units) with the exact distribution-free interval and the confidence it reaches.
  Shift shift;
  std::string runner_up;  // the runner-up's row label
  // Ours: the trivial baseline (a row under "Trivial baselines") this cell's median does not
  // beat, e.g. "unigram of the training tokens"; empty when it beats them all or has none.
  std::string not_better_than;
};

struct ReportCell {
  std::vector<CellPart> parts;
  std::string note;  // "n=3" when fewer or more runs stand behind it than behind most cells
};

// The value a tuned table's row chose (TableSpec::tune): each candidate value of the parameter
// with the median of the selection metric over its completed runs.
struct TunedChoice {
  struct Candidate {
    std::optional<results::ParamValue> value;  // nullopt: runs without the parameter
    double median = 0;
    int64_t runs = 0;
  };
  std::string param;
  std::string selection_metric;       // "valid/select/ppl"
  std::vector<Candidate> candidates;  // in the parameter's order (numbers first, ascending)
  size_t chosen = 0;                  // into candidates
  bool tie = false;                   // another candidate has the same median: the first won
};

struct ReportRow {
  std::string label, group;
  bool reference = false;
  bool baseline = false;  // the tasks' trivial baselines on the same dev examples, not a model
  std::vector<ReportCell> cells;     // one per shown column
  std::vector<int64_t> run_ids;      // completed runs aggregated (ours only)
  std::optional<TunedChoice> tuned;  // a tuned table's rows of ours with completed runs
};

// What the runs say about one of the paper's claims, on one column.
struct ClaimResult {
  std::string column;
  std::string verdict;    // "reproduced", "consistent", "not separable", "reversed", "no data"
  double p = -1;          // one-sided p in the paper's direction (-1: no data)
  double p_against = -1;  // one-sided p in the other direction
  // The same after the table's multiplicity correction (equal to p and p_against without one);
  // the verdict is read off these.
  double p_adjusted = -1, p_against_adjusted = -1;
  Shift shift;  // the claim's rows ("better") minus the other rows ("than"), in the column's units
  double min_p = -1;  // the smallest one-sided p the test can reach with these runs
  // The smallest shift the test separates at the family's most lenient level with these runs'
  // own spread (infinite when none can be); NaN when not computed (the Multi-Bootstrap).
  double detectable = std::numeric_limits<double>::quiet_NaN();
  int64_t n_better = 0, n_than = 0;  // per-run values behind each side
};
struct ClaimLine {
  const ClaimSpec* spec = nullptr;
  std::vector<ClaimResult> results;
  std::string text;  // the generated line
};

// How a table's claims were tested: the test, the family and its correction.
struct ClaimFamily {
  ClaimTest test = ClaimTest::kRank;
  Correction correction = Correction::kHolm;
  int64_t tests = 0;  // one-sided tests in the family (results with data)
};

struct ReportTable {
  const TableSpec* spec = nullptr;
  std::string caption;  // the spec's, with {parameter} replaced by the value its runs share
  std::vector<const ColumnSpec*> columns;  // shown (optional columns without data are dropped)
  std::vector<ReportRow> rows;             // ours first, then the reference rows
  std::string experiment;                  // the source used; empty when no run matched
  std::string reference_header;
  std::string summary;  // what the numbers are: aggregate, runs per row
  std::string fixed;    // "data.corpus = books, ..." — parameters equal across all its runs
  int fixed_count = 0;
  std::string fixed_key;               // those of them that vary elsewhere in the experiment
  std::vector<std::string> notes;      // runs left out (running, failed, ...), missing sources
  std::vector<std::string> footnotes;  // the bold rule, what the numbers are, compute, references
  std::vector<ClaimLine> claims;
  ClaimFamily family;
  // Said on stderr by `ablate report` (the builder prints nothing): rows whose runs differ in
  // more than the seed, pooled under "mixed": "warn". The notes say the same under the table.
  std::vector<std::string> warnings;
};

struct Report {
  const ReportSpec* spec = nullptr;
  std::vector<ReportTable> tables;
};

// What a spec reads from a results database: the experiments its tables draw runs from, and the
// final metrics its columns, baselines and footnotes show.
struct ReportInputs {
  std::set<std::string> experiments, metrics;
};
ReportInputs InputsOf(const ReportSpec& spec);

// Per-example outcomes for the Multi-Bootstrap, by (run id, metric): per replicate (fine-tuning
// seed; 0 for a pretraining metric) the (numerator, denominator) of each example, so that the
// metric over examples E is sum_E numerator / sum_E denominator (its exp for a perplexity).
using RunExamples = std::map<std::pair<int64_t, std::string>,
                             std::map<int64_t, std::vector<std::pair<double, double>>>>;

// The report of `spec` over `runs` (results::ReadRunRecords of InputsOf(spec)) and, for tables
// tested with the Multi-Bootstrap, their runs' per-example outcomes: a pure function of its
// arguments. Throws InputError (naming the spec and JSON path) when a spec names a parameter
// that none of the chosen experiment's runs has, or a claim names a row the table lacks.
Report BuildReport(const ReportSpec& spec, const std::vector<results::RunRecord>& runs,
                   const RunExamples& examples = {});

// The same, reading the runs from the database at `db_path` (InputError for a missing file).
Report BuildReport(const ReportSpec& spec, const std::string& db_path);

// A learning curve of one row: the median over its runs at each step they share, against the
// median tokens seen by that step.
struct CurveLine {
  std::string label;
  std::vector<double> tokens, values;
  // A perplexity curve's floor: the median over the row's runs of the best (lowest) trivial
  // baseline each recorded on the same masked tokens (<prefix>/baseline/{copy,unigram}/ppl, the
  // same at every evaluation; its last value). NaN when none did (databases from before them).
  double floor = std::numeric_limits<double>::quiet_NaN();
};
struct TableCurves {
  std::vector<CurveLine> loss;        // train/mlm_loss: the NSP formats' NSP loss left out
  std::vector<CurveLine> perplexity;  // valid/ppl; a tuned table's valid/report/ppl
};
// By table id, for the tables whose spec wants curves.
std::map<std::string, TableCurves> ReadCurves(const Report& report, const std::string& db_path);

}  // namespace ablate::reports
