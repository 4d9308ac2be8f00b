// Grouping: which source a table draws runs from, checking its parameter names, and the rows
// (explicit or generated from "by" parameters) with their runs.
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

}  // namespace ablate::reports
