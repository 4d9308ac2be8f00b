// Grouping: which source a table draws runs from, checking its parameter names, the rows
// (explicit or generated from "by" parameters) with their runs, and rows whose runs differ in
// more than the seed ("mixed").
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <functional>
#include <iterator>
#include <map>
#include <optional>
#include <set>
#include <string_view>

#include "base/error.h"
#include "base/json_at.h"
#include "base/number_text.h"
#include "base/statistics.h"
#include "base/suggest.h"
#include "reports/table_builder.h"
#include "results/metric_names.h"
#include "results/run_status.h"

namespace ablate::reports {

const RunSource* TableBuilder::ChooseSource() {
  for (const auto& source : table_.runs) {
    for (const auto& run : runs_) {
      if (run.experiment == source.experiment && MatchesFilter(run, source.where)) return &source;
    }
  }
  return nullptr;
}

TableBuilder::Runs TableBuilder::SourceRuns(const RunSource& source) const {
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
void TableBuilder::CheckParamNames(const RunSource& source) const {
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
  for (const auto& [name, values] : source.where)
    check(name, JsonPointerJoin(source.path + "/where", name));
  for (const auto& row : table_.rows) {
    for (const auto& [name, values] : row.where)
      check(name, JsonPointerJoin(row.path + "/where", name));
  }
  if (table_.generated) {
    for (size_t i = 0; i < table_.generated->by.size(); ++i) {
      check(table_.generated->by[i], table_.generated->path + "/by/" + std::to_string(i));
    }
  }
  for (const auto& column : table_.columns) {
    if (!column.param.empty()) check(column.param, column.path + "/param");
  }
  if (table_.tune) check(table_.tune->param, table_.tune->path + "/param");
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

std::vector<std::pair<RowSpec, TableBuilder::Runs>> TableBuilder::MakeRows(
    const RunSource& source) const {
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
int TableBuilder::OrderRank(const GeneratedRows& g, const std::string& name,
                            const ParamValue& value) {
  auto it = g.order.find(name);
  if (it == g.order.end()) return 0;
  for (size_t i = 0; i < it->second.size(); ++i) {
    if (Matches(value, it->second[i])) return static_cast<int>(i);
  }
  return static_cast<int>(it->second.size());
}

TableBuilder::Runs TableBuilder::Completed(const Runs& runs) {
  Runs out;
  for (const RunData* run : runs) {
    if (run->status == results::StatusName(results::RunStatus::kCompleted)) out.push_back(run);
  }
  return out;
}

TableBuilder::Runs TableBuilder::SourceExperimentRuns(const RunSource& source) const {
  Runs out;
  for (const auto& run : runs_) {
    if (run.experiment == source.experiment) out.push_back(&run);
  }
  return out;
}

// Rows that pool only what they should: a row pools runs that differ in the seed, and a row
// whose runs differ in anything else (a grid run again with --set optim.lr=5e-4, landing in the
// same rows) is named, split or refused.
namespace {

// Parameters in which the runs of one row may differ and still be one setting. A run's params
// are its configuration only (host, git commit, LibTorch version and device are columns of
// `runs`, not params), so these are the entries that cannot change what a final metric measures:
//   seed                    the replicate a row pools over;
//   train.micro_batch       how an update is cut to fit memory: the gradients accumulate to the
//                           same update; only the dropout draws and float sums differ, as with
//                           another seed (and 0, "chosen to fit", differs by machine unrecorded);
//   train.checkpoint_every  when the state is saved, not what it is (a resumed run goes on as
//                           it began);
//   eval.every              how often validation runs: it draws no randomness and the last one
//                           is at the end, so only the learning curve's points differ.
constexpr std::array<std::string_view, 4> kReplicateParams = {
    "seed", "train.micro_batch", "train.checkpoint_every", "eval.every"};

using Value = std::optional<ParamValue>;  // nullopt: the run has no such parameter

// A parameter in which a row's completed runs differ: its values in the order they first appear
// (run order, that is the order they were submitted in) and how many runs take each.
struct Varying {
  std::string name;
  std::vector<std::pair<Value, int64_t>> values;
};

Value ValueOf(const RunData& run, const std::string& name) {
  auto it = run.params.find(name);
  return it == run.params.end() ? Value() : Value(it->second);
}

std::string ValueText(const Value& value) {
  return value ? Display(*value) : std::string("(not recorded)");
}

// `tuned`: the parameter a tuned table chooses per row ("" for none), which a row's runs are
// expected to differ in until TuneRows settles it.
std::vector<Varying> VaryingParams(const std::vector<const RunData*>& runs,
                                   const std::string& tuned) {
  std::set<std::string> names;
  for (const RunData* run : runs) {
    for (const auto& [name, value] : run->params) names.insert(name);
  }
  std::vector<Varying> out;
  for (const auto& name : names) {
    if (std::find(kReplicateParams.begin(), kReplicateParams.end(), name) !=
            kReplicateParams.end() ||
        name == tuned) {
      continue;
    }
    Varying varying{name, {}};
    for (const RunData* run : runs) {
      const Value value = ValueOf(*run, name);
      auto it = std::find_if(varying.values.begin(), varying.values.end(),
                             [&](const auto& seen) { return seen.first == value; });
      if (it == varying.values.end()) {
        varying.values.push_back({value, 1});
      } else {
        ++it->second;
      }
    }
    if (varying.values.size() > 1) out.push_back(std::move(varying));
  }
  return out;
}

// "optim.lr takes 0.001 (4 runs), 0.0005 (4 runs)", one clause per parameter.
std::string VaryingText(const std::vector<Varying>& varying) {
  std::string text;
  for (const auto& v : varying) {
    text += (text.empty() ? "" : "; ") + v.name + " takes ";
    for (size_t i = 0; i < v.values.size(); ++i) {
      text += (i > 0 ? ", " : "") + ValueText(v.values[i].first) + " (" +
              Plural(v.values[i].second, "run") + ")";
    }
  }
  return text;
}

}  // namespace

std::vector<std::string> TableBuilder::SettleMixedRows(std::vector<std::pair<RowSpec, Runs>>& rows,
                                                       ReportTable& out) const {
  std::vector<std::string> pooled;
  std::vector<std::pair<RowSpec, Runs>> settled;
  // Labels of the rows "split" replaced, with the labels of the rows that replaced them.
  std::vector<std::pair<std::string, std::vector<std::string>>> replaced;
  for (auto& [row, runs] : rows) {
    const std::vector<Varying> varying =
        VaryingParams(Completed(runs), table_.tune ? table_.tune->param : std::string());
    if (varying.empty()) {
      settled.push_back({std::move(row), std::move(runs)});
      continue;
    }
    const std::string what = VaryingText(varying);
    if (table_.mixed == Mixed::kError) {
      throw InputError(spec_.source, RowPath(row),
                       "row \"" + row.label +
                           "\" pools runs that differ in more than the seed: " + what +
                           " (\"mixed\": \"error\"; \"split\" gives each setting its own row, "
                           "\"warn\" pools them with a note)");
    }
    if (table_.mixed == Mixed::kWarn) {
      out.notes.push_back("Row \"" + row.label + "\": " + what +
                          "; its cells pool these settings, not only seeds (\"mixed\": "
                          "\"split\" gives each its own row).");
      out.warnings.push_back("table \"" + table_.id + "\" (" + table_.path + "), row \"" +
                             row.label + "\": " + what + "; pooled in one row");
      pooled.push_back(row.label);
      settled.push_back({std::move(row), std::move(runs)});
      continue;
    }
    // Split: every run of the row (completed or not, so the note on runs left out stays with
    // its setting) goes to the row of its combination, in the order the combinations appear.
    std::vector<std::pair<std::vector<Value>, std::pair<RowSpec, Runs>>> parts;
    for (const RunData* run : runs) {
      std::vector<Value> key;
      for (const auto& v : varying) key.push_back(ValueOf(*run, v.name));
      auto it = std::find_if(parts.begin(), parts.end(),
                             [&](const auto& part) { return part.first == key; });
      if (it == parts.end()) {
        RowSpec split = row;
        std::string suffix;
        for (size_t i = 0; i < varying.size(); ++i) {
          suffix += (i > 0 ? ", " : "") + varying[i].name + "=" + ValueText(key[i]);
        }
        split.label += " (" + suffix + ")";
        parts.push_back({key, {std::move(split), {}}});
        it = std::prev(parts.end());
      }
      it->second.second.push_back(run);
    }
    out.notes.push_back("Row \"" + row.label + "\" is split (\"mixed\": \"split\"): " + what + ".");
    replaced.push_back({row.label, {}});
    for (auto& part : parts) {
      replaced.back().second.push_back(part.second.first.label);
      settled.push_back(std::move(part.second));
    }
  }
  // Pooling the split rows again would test the mixed comparison "split" was asked to avoid, and
  // picking one of them silently would test less than the claim names: the spec must say which.
  for (const auto& claim : table_.claims) {
    for (const auto& [key, labels] :
         {std::pair{"better", &claim.better}, std::pair{"than", &claim.than}}) {
      for (size_t i = 0; i < labels->size(); ++i) {
        for (const auto& [label, parts] : replaced) {
          if ((*labels)[i] != label) continue;
          std::string names;
          for (const auto& p : parts) names += (names.empty() ? "\"" : ", \"") + p + "\"";
          throw InputError(spec_.source, claim.path + "/" + key + "/" + std::to_string(i),
                           "row \"" + label +
                               "\" was split by \"mixed\": \"split\" (its runs differ in more "
                               "than the seed), so it is no longer one setting to test: name "
                               "one of its rows (" +
                               names + "), or pool them with \"mixed\": \"warn\"");
        }
      }
    }
  }
  rows = std::move(settled);
  return pooled;
}

std::string TableBuilder::RowPath(const RowSpec& row) const {
  return !row.path.empty() ? row.path : table_.generated ? table_.generated->path : table_.path;
}

// Per row, the value of the tuned parameter with the best median of the selection half over its
// completed runs; a tie goes to the value that comes first in the parameter's order (numbers
// ascending, then text), so the choice does not depend on the order the runs were submitted in.
std::vector<std::optional<TunedChoice>> TableBuilder::TuneRows(
    std::vector<std::pair<RowSpec, Runs>>& rows) const {
  std::vector<std::optional<TunedChoice>> choices(rows.size());
  if (!table_.tune) return choices;
  const TuneSpec& tune = *table_.tune;
  const std::string selection = HalfMetric(tune.metric, "select");
  const bool lower = tune.better == Better::kLower;
  // Runs without the parameter ("(not recorded)") after every recorded value.
  auto before = [](const Value& a, const Value& b) {
    if (a.has_value() != b.has_value()) return a.has_value();
    return a.has_value() && *a < *b;
  };
  for (size_t r = 0; r < rows.size(); ++r) {
    auto& [row, runs] = rows[r];
    const Runs completed = Completed(runs);
    if (completed.empty()) continue;
    // A run scored before the halves existed would be chosen among on less than the others, or
    // not at all: refused, never silently dropped.
    std::vector<std::string> lacking;
    for (const RunData* run : completed) {
      auto it = run->finals.find(selection);
      if (it == run->finals.end() || std::isnan(it->second)) lacking.push_back(run->key);
    }
    if (!lacking.empty()) {
      std::string keys;
      for (size_t i = 0; i < lacking.size() && i < 3; ++i) keys += (i > 0 ? ", " : "") + lacking[i];
      if (lacking.size() > 3) keys += ", ...";
      throw InputError(
          spec_.source, RowPath(row),
          "row \"" + row.label + "\": " + std::to_string(lacking.size()) + " of its " +
              Plural(static_cast<int64_t>(completed.size()), "completed run") + " (" + keys +
              ") have no " + selection + ", the held-out half \"tune\" (" + tune.path +
              ") chooses " + tune.param +
              " by: runs recorded before the held-out halves existed cannot be tuned on them; "
              "rerun them, or drop \"tune\"");
    }
    std::map<Value, std::vector<double>, decltype(before)> by_value(before);
    for (const RunData* run : completed)
      by_value[ValueOf(*run, tune.param)].push_back(run->finals.at(selection));
    TunedChoice choice;
    choice.param = tune.param;
    choice.selection_metric = selection;
    for (const auto& [value, medians] : by_value) {
      choice.candidates.push_back({value, Median(medians), static_cast<int64_t>(medians.size())});
    }
    const auto& candidates = choice.candidates;
    for (size_t i = 1; i < candidates.size(); ++i) {
      const double m = candidates[i].median, best = candidates[choice.chosen].median;
      if (lower ? m < best : m > best) choice.chosen = i;
    }
    for (size_t i = 0; i < candidates.size(); ++i) {
      choice.tie = choice.tie ||
                   (i != choice.chosen && candidates[i].median == candidates[choice.chosen].median);
    }
    // The row is the chosen value's runs, whatever their status, so its notes on runs left out
    // stay with it.
    const Value chosen = candidates[choice.chosen].value;
    Runs kept;
    for (const RunData* run : runs) {
      if (ValueOf(*run, tune.param) == chosen) kept.push_back(run);
    }
    runs = std::move(kept);
    choices[r] = std::move(choice);
  }
  return choices;
}

}  // namespace ablate::reports
