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

#include "core/error.h"
#include "core/number_text.h"
#include "core/statistics.h"
#include "core/suggest.h"
#include "results/sqlite.h"

namespace ablate::reports {
namespace {

using core::Median;
using core::MedianInPlace;
using nlohmann::json;
using results::Connection;
using results::Statement;

constexpr const char* kMissing = "–";

// Integral values as integers (1000000, not 1e+06: step counts and batch sizes read better so);
// others in their shortest exact form.
std::string NumberText(double x) {
  if (std::abs(x) < 1e15 && x == std::floor(x)) return std::to_string(static_cast<int64_t>(x));
  return ShortestText(x);
}

// A parameter's value as stored: a number (int, float and bool all compare as numbers) or text.
struct ParamValue {
  bool is_number = false;
  double number = 0;
  std::string text;

  std::string Display() const {
    if (is_number) return NumberText(number);
    return text.empty() ? "\"\"" : text;
  }
  bool operator==(const ParamValue& o) const {
    return is_number == o.is_number && (is_number ? number == o.number : text == o.text);
  }
  bool operator<(const ParamValue& o) const {
    if (is_number != o.is_number) return is_number;  // numbers before text
    return is_number ? number < o.number : text < o.text;
  }
};

bool Matches(const ParamValue& value, const json& wanted) {
  if (wanted.is_boolean()) return value.is_number && value.number == (wanted.get<bool>() ? 1 : 0);
  if (wanted.is_number()) return value.is_number && value.number == wanted.get<double>();
  return !value.is_number && wanted.is_string() && value.text == wanted.get<std::string>();
}

struct RunData {
  int64_t id = 0;
  std::string experiment, key, status;
  std::map<std::string, ParamValue> params;
  std::unordered_map<std::string, double> finals;
};

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

std::string SqlQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

std::string InList(const std::set<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + SqlQuote(n);
  return "(" + out + ")";
}

// Everything the tables need, read through the views in three queries.
std::vector<RunData> ReadRuns(const Connection& db, const std::set<std::string>& experiments,
                              const std::set<std::string>& metrics) {
  std::vector<RunData> runs;
  std::unordered_map<int64_t, size_t> index;
  const std::string in_experiments = InList(experiments);
  {
    Statement s =
        db.Prepare("SELECT run_id, experiment, key, status FROM run_info WHERE experiment IN " +
                   in_experiments + " ORDER BY run_id");
    while (s.Step()) {
      index[s.ColumnInt(0)] = runs.size();
      runs.push_back({s.ColumnInt(0), s.ColumnText(1), s.ColumnText(2), s.ColumnText(3), {}, {}});
    }
  }
  {
    Statement s = db.Prepare("SELECT run_id, name, value FROM run_params WHERE experiment IN " +
                             in_experiments);
    while (s.Step()) {
      auto it = index.find(s.ColumnInt(0));
      if (it == index.end()) continue;
      ParamValue v;
      const int type = s.ColumnType(2);
      if (type == SQLITE_INTEGER || type == SQLITE_FLOAT) {
        v.is_number = true;
        v.number = s.ColumnDouble(2);
      } else {
        v.text = s.ColumnText(2);
      }
      runs[it->second].params.emplace(s.ColumnText(1), std::move(v));
    }
  }
  if (!metrics.empty()) {
    Statement s = db.Prepare("SELECT run_id, name, value FROM run_finals WHERE experiment IN " +
                             in_experiments + " AND name IN " + InList(metrics));
    while (s.Step()) {
      auto it = index.find(s.ColumnInt(0));
      if (it == index.end() || s.ColumnIsNull(2)) continue;
      runs[it->second].finals[s.ColumnText(1)] = s.ColumnDouble(2);
    }
  }
  return runs;
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

// Sample standard deviation (n - 1), 0 for a single value.
double StdDev(const std::vector<double>& v) {
  if (v.size() < 2) return 0;
  const double mean = Mean(v);
  double ss = 0;
  for (double x : v) ss += (x - mean) * (x - mean);
  return std::sqrt(ss / static_cast<double>(v.size() - 1));
}

CellPart AggregatePart(const std::vector<double>& values, const ColumnSpec& column,
                       Aggregate aggregate) {
  CellPart part;
  part.count = static_cast<int64_t>(values.size());
  if (values.empty()) {
    part.text = kMissing;
    return part;
  }
  std::vector<double> scaled;
  for (double v : values) scaled.push_back(v * column.scale);
  part.missing = false;
  part.numeric = true;
  part.value = aggregate == Aggregate::kMedian ? Median(scaled) : Mean(scaled);
  part.text = Fixed(part.value, column.decimals);
  if (aggregate == Aggregate::kMeanStd) part.text += " ± " + Fixed(StdDev(scaled), column.decimals);
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

    Runs all;
    for (const auto& [row, row_runs] : rows)
      all.insert(all.end(), row_runs.begin(), row_runs.end());
    out.summary = Summary(out, all);
    FixedParams(all, source ? SourceExperimentRuns(*source) : Runs{}, out);
    LeftOut(rows, out.notes);
    AddReferenceRows(out);
    return out;
  }

 private:
  using Runs = std::vector<const RunData*>;

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
          row.label.replace(pos, placeholder.size(), key[i].Display());
          pos += key[i].Display().size();
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
      if (run->status == "completed") out.push_back(run);
    }
    return out;
  }

  ReportCell OurCell(const ColumnSpec& column, const Runs& runs) const {
    ReportCell cell;
    if (!column.param.empty()) {
      std::vector<ParamValue> values = Distinct(runs, column.param);
      CellPart part;
      part.count = static_cast<int64_t>(runs.size());
      part.missing = values.empty();
      for (const auto& v : values) part.text += (part.text.empty() ? "" : ", ") + v.Display();
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
      for (const RunData* run : runs) {
        if (auto it = run->finals.find(metric);
            it != run->finals.end() && std::isfinite(it->second)) {
          values.push_back(it->second);
        }
      }
      cell.parts.push_back(AggregatePart(values, column, table_.aggregate));
    }
    return cell;
  }

  // Bold: per column and part, the best of our rows as printed (ties all bold), when at least
  // two rows have a value to compare.
  static void MarkBest(ReportTable& table) {
    for (size_t c = 0; c < table.columns.size(); ++c) {
      const ColumnSpec& column = *table.columns[c];
      if (column.better == Better::kNone || !column.param.empty()) continue;
      for (size_t p = 0; p < column.metrics.size(); ++p) {
        std::vector<CellPart*> parts;
        for (auto& row : table.rows) {
          CellPart& part = row.cells[c].parts[p];
          if (!part.missing) parts.push_back(&part);
        }
        if (parts.size() < 2) continue;
        auto rounded = [&](const CellPart* part) {
          return std::stod(Fixed(part->value, column.decimals));
        };
        double best = rounded(parts[0]);
        for (const CellPart* part : parts) {
          best = column.better == Better::kHigher ? std::max(best, rounded(part))
                                                  : std::min(best, rounded(part));
        }
        for (CellPart* part : parts) part->bold = rounded(part) == best;
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
    for (const auto& row : table.rows) ++per_row[static_cast<int64_t>(row.run_ids.size())];
    std::string counts;
    if (per_row.size() == 1) {
      counts = Plural(per_row.begin()->first, "completed run") + " per row";
    } else {
      counts = std::to_string(per_row.begin()->first) + "–" +
               std::to_string(per_row.rbegin()->first) + " completed runs per row";
    }
    const std::string what = table_.aggregate == Aggregate::kMedian ? "Medians"
                             : table_.aggregate == Aggregate::kMean ? "Means"
                                                                    : "Means ± standard deviation";
    return what + " over seeds (" + counts + ") of experiment `" + table.experiment + "` (" +
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
      const std::string text = name + " = " + value.Display();
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
        if (run->status != "completed") ++by_status[run->status];
      }
      if (by_status.empty()) continue;
      std::string what;
      for (const auto& [status, n] : by_status) {
        what += (what.empty() ? "" : ", ") + Plural(n, "run") + " " + status;
      }
      notes.push_back("Row \"" + row.label + "\": " + what + ", not included.");
    }
  }

  void AddReferenceRows(ReportTable& out) const {
    if (!table_.reference) return;
    const ReferenceSpec& ref = *table_.reference;
    out.reference_header = ref.header;
    const json& table = spec_.reference.at(ref.table);
    const json& columns = table.at("columns");
    auto column_index = [&](const std::string& name) -> size_t {
      for (size_t i = 0; i < columns.size(); ++i) {
        if (columns[i] == name) return i;
      }
      return columns.size();
    };
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
        for (size_t p = 0; p < parts; ++p) {
          CellPart part;
          part.text = kMissing;
          if (p < column->reference.size()) {
            const size_t i = column_index(column->reference[p]);
            const json& values = row->at("values");
            if (i < values.size() && !values[i].is_null()) {
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
      if (any) out.rows.push_back(std::move(out_row));
    }
  }

  const ReportSpec& spec_;
  const TableSpec& table_;
  const std::vector<RunData>& runs_;
};

}  // namespace

Report BuildReport(const ReportSpec& spec, const std::string& db_path) {
  if (!std::filesystem::exists(db_path)) throw InputError("no such database: " + db_path);
  const Connection db = Connection::Open(db_path, Connection::Mode::kReadOnly);
  std::set<std::string> experiments, metrics;
  for (const auto& table : spec.tables) {
    for (const auto& source : table.runs) experiments.insert(source.experiment);
    for (const auto& column : table.columns)
      metrics.insert(column.metrics.begin(), column.metrics.end());
  }
  const std::vector<RunData> runs = ReadRuns(db, experiments, metrics);
  Report report;
  report.spec = &spec;
  for (const auto& table : spec.tables)
    report.tables.push_back(TableBuilder(spec, table, runs).Build());
  return report;
}

std::map<std::string, TableCurves> ReadCurves(const Report& report, const std::string& db_path) {
  std::map<std::string, TableCurves> curves;
  std::set<int64_t> ids;
  for (const auto& table : report.tables) {
    if (!table.spec->curves) continue;
    for (const auto& row : table.rows) ids.insert(row.run_ids.begin(), row.run_ids.end());
  }
  // Per run, the three series as (step, value), each sorted by step.
  using Series = std::vector<std::pair<int64_t, double>>;
  const std::array<std::string, 3> names = {"train/loss", "valid/ppl", "train/tokens_seen"};
  std::unordered_map<int64_t, std::array<Series, 3>> series;
  if (!ids.empty()) {
    const Connection db = Connection::Open(db_path, Connection::Mode::kReadOnly);
    std::string in;
    for (int64_t id : ids) in += (in.empty() ? "" : ",") + std::to_string(id);
    // One query per series name, so no row carries its name back.
    for (size_t which = 0; which < names.size(); ++which) {
      Statement s = db.Prepare("SELECT run_id, step, value FROM metrics WHERE name = '" +
                               names[which] + "' AND value IS NOT NULL AND run_id IN (" + in + ")");
      while (s.Step()) {
        series[s.ColumnInt(0)][which].emplace_back(s.ColumnInt(1), s.ColumnDouble(2));
      }
    }
    for (auto& [id, per_run] : series) {
      for (auto& points : per_run) {
        if (!std::is_sorted(points.begin(), points.end())) std::sort(points.begin(), points.end());
      }
    }
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
