// A report spec: the tables a study wants, written in JSON — which runs each table covers, its
// rows and row groups, its columns (final metrics or parameters, combined cells), how seeds are
// aggregated and their spread shown, the significance level of the tested best, the paper's claims
// to test, and which reference rows (a paper's numbers) to set beside ours. Parsing and validation
// only: reading the database and rendering live in report.h.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace ablate::reports {

enum class Aggregate { kMedian, kMean, kMeanStd };
enum class Better { kNone, kHigher, kLower };
// What is printed beside an aggregate of two or more runs: their range, interquartile range,
// sample standard deviation, or nothing.
enum class Spread { kRange, kIqr, kStd, kNone };

// Parameter constraints: a run matches when each named parameter equals the value, or one of the
// values of a list. Numbers compare as numbers (256 matches 256.0).
using ParamFilter = std::map<std::string, std::vector<nlohmann::json>>;

// Where a table's runs come from. A table lists alternatives; the first with any matching run in
// the database is used, so one spec serves both the paper-scale grids and a micro grid.
struct RunSource {
  std::string experiment;
  ParamFilter where;
  std::string path;  // JSON path in the spec, for errors found against the data
};

struct RowSpec {
  std::string label;
  std::string group;  // consecutive rows with the same group share one header line
  ParamFilter where;
  std::string path;
};

// Rows made from the distinct values that the runs take on some parameters.
struct GeneratedRows {
  std::vector<std::string> by;
  std::string label;  // template: "{data.corpus}, {train.steps} steps"
  std::string group;
  std::map<std::string, std::vector<nlohmann::json>> order;  // listed values first, in this order
  std::string path;
};

struct ColumnSpec {
  std::string label;
  // Exactly one of: final metrics (several make a combined cell "90.4/78.7") or one parameter.
  std::vector<std::string> metrics;
  std::string param;
  int decimals = 1;  // metrics only; parameters print in their shortest exact form
  double scale = 1;  // metrics are multiplied by this (100 for fractions shown as percent)
  Better better = Better::kNone;
  bool optional = false;               // dropped when no row of ours has a value for it
  std::vector<std::string> reference;  // the reference table's column(s) for this column's parts
  std::optional<Spread> spread;        // unset: the table's
  std::string note;                    // a footnote on what the column measures
  std::string path;

  // Perplexity and held-out loss depend on the vocabulary and the model, so a published value is
  // comparable only under the same conditions (downstream scores are shown with a note instead).
  bool Intrinsic() const;
};

// A claim of the paper that a table can test: the rows `better` (pooled) against the rows `than`,
// on each metric column with a direction. kBetter claims "better than"; kAtLeast "at least as
// good as" (matches or improves).
enum class ClaimKind { kBetter, kAtLeast };
// How a table's claims are tested: the exact rank test on the rows' per-run values, or the
// Multi-Bootstrap (Sellam et al. 2022, the MultiBERTs paper, section 3) that resamples
// pretraining seeds, fine-tuning seeds and evaluation examples jointly.
enum class ClaimTest { kRank, kMultiBootstrap };
// Multiplicity control over the tests of one table's claims (one family per table).
enum class Correction { kHolm, kNone };
struct ClaimSpec {
  std::string text;
  std::vector<std::string> better, than;  // row labels
  std::vector<std::string> columns;       // column labels; empty = every column with "better"
  ClaimKind kind = ClaimKind::kBetter;
  std::string path;
};

struct ReferenceSpec {
  std::string table;                          // key in the reference file
  std::string header;                         // the group header shown above the reference rows
  std::vector<std::string> rows;              // names of the rows to show, in order (empty = all)
  std::map<std::string, std::string> labels;  // display names by row name
};

// Per-row selection of one parameter ("tune"): each row keeps only the runs of the value of
// `param` whose median of the selection half of a held-out metric (valid/select/ppl for
// valid/ppl) is best, and its held-out columns read the other, report half (valid/report/ppl), so
// nothing is chosen on the numbers it reports. Runs record the halves by a hash of the document
// id (the same split for every run).
struct TuneSpec {
  std::string param;   // any run parameter but the seed
  std::string metric;  // kTunableMetrics
  Better better = Better::kLower;
  std::string path;  // "/tables/0/tune", or "/tune" for the report's default
};

// The held-out metrics recorded on two fixed halves of the held-out documents as well as on the
// whole sample: what "tune" selects on and a tuned table's columns report.
inline constexpr const char* kTunableMetrics[] = {"valid/ppl", "valid/mlm_acc"};
bool IsTunableMetric(const std::string& metric);
// "valid/ppl" -> "valid/select/ppl" or "valid/report/ppl" (half "select" or "report").
std::string HalfMetric(const std::string& metric, const std::string& half);

// What a row does when its completed runs differ in a parameter other than the seed (and the
// few that cannot change a final metric, see report_rows.cpp, and the table's tuned parameter,
// which "tune" settles): kWarn pools them, naming the parameter and its values in a note and a
// warning; kSplit makes one row per combination of the differing values, labelled "<label>
// (optim.lr=0.0005)"; kError refuses the table.
enum class Mixed { kWarn, kSplit, kError };

struct TableSpec {
  std::string id;  // names the plot files
  std::string caption;
  std::string row_header;  // heading of the first column
  std::vector<RunSource> runs;
  std::vector<RowSpec> rows;               // explicit rows, or
  std::optional<GeneratedRows> generated;  // rows from the data
  std::vector<ColumnSpec> columns;
  Aggregate aggregate = Aggregate::kMedian;
  Spread spread = Spread::kRange;
  double alpha = 0.05;  // significance level of the tested best and of the claims
  std::vector<ClaimSpec> claims;
  ClaimTest test = ClaimTest::kRank;
  Correction correction = Correction::kHolm;
  int64_t bootstrap_samples = 2000;  // Multi-Bootstrap resamples
  uint64_t bootstrap_seed = 0;       // names the resampler's random stream: reports reproduce
  std::optional<ReferenceSpec> reference;
  bool curves = true;
  std::string path;
  // Rows whose runs differ in more than the seed ("mixed": "warn" | "split" | "error"; the
  // report's top-level value unless the table sets its own).
  Mixed mixed = Mixed::kWarn;
  // Per-row selection of a parameter ("tune"; the report's unless the table sets its own, or
  // false for none). Its columns of a tunable metric already name the report half.
  std::optional<TuneSpec> tune;
};

struct ReportSpec {
  std::string title;
  std::string source;  // the spec file, for messages
  // Reference numbers: the parsed file (tables keyed by name, each {columns, rows}) and what it
  // says about itself ("source"), shown under the tables.
  nlohmann::json reference;
  std::string reference_source;
  std::vector<TableSpec> tables;
};

// Parses and validates a spec; `source` names it in errors, relative reference paths resolve
// against `base_dir`. Throws InputError naming the JSON path of the first problem.
ReportSpec ParseReportSpec(const nlohmann::ordered_json& spec, const std::string& source,
                           const std::filesystem::path& base_dir);
ReportSpec ReadReportSpec(const std::filesystem::path& path);

std::string AggregateName(Aggregate aggregate);
std::string ClaimTestName(ClaimTest test);
std::string CorrectionName(Correction correction);
std::string SpreadName(Spread spread);

}  // namespace ablate::reports
