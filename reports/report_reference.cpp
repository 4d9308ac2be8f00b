// The rows that are not ours: the tasks' trivial baselines, and the published reference numbers
// with the conditions they hold for.
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

// The tasks' trivial baselines (recorded by fine-tuning as eval/<task>/baseline/<metric>, on
// the dev examples the runs were scored on) as one row, so a reader sees whether fine-tuning
// learned anything.
void TableBuilder::AddBaselineRow(const Runs& runs, ReportTable& out) const {
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

// How the reference table's conditions ("conditions": {parameter: value}) differ from the
// runs': "model.layers 12 (here 2)". `blocking` collects those that make an intrinsic metric
// (perplexity) incomparable: the model and the vocabulary.
std::vector<std::string> TableBuilder::ConditionDifferences(const json& conditions,
                                                            const Runs& runs,
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

std::string TableBuilder::Join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

void TableBuilder::AddReferenceRows(const Runs& runs, ReportTable& out) const {
  if (!table_.reference) return;
  const ReferenceSpec& ref = *table_.reference;
  out.reference_header = ref.header;
  const json& table = spec_.reference.at(ref.table);
  const json& columns = table.at("columns");
  std::vector<std::string> blocking;
  const auto differences = ConditionDifferences(table.value("conditions", json()), runs, blocking);
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

}  // namespace ablate::reports
