// The rows that are not ours: the trivial baselines (with the flags on our cells that do not beat
// them), and the published reference numbers with the conditions they hold for.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <map>
#include <optional>
#include <set>

#include "base/error.h"
#include "base/number_text.h"
#include "base/statistics.h"
#include "base/suggest.h"
#include "reports/table_builder.h"
#include "results/metric_names.h"
#include "results/run_status.h"

namespace ablate::reports {

namespace {

// "valid/ppl" -> "valid/baseline/<kind>/ppl" for the pretraining metrics the run scores its
// context-free predictors on; "" for others.
std::string PretrainingBaseline(const std::string& metric, const std::string& kind) {
  if (metric != "valid/ppl" && metric != "valid/mlm_acc") return "";
  return "valid/baseline/" + kind + metric.substr(5);
}

// eval/<task>/<m> -> eval/<task>/untrained/<m>: the same fine-tuning from an encoder that was
// never pretrained.
std::string UntrainedMetric(const std::string& metric) {
  const std::string constant = BaselineMetric(metric);
  if (constant.empty()) return "";
  const size_t slash = metric.rfind('/');
  return metric.substr(0, slash) + "/untrained" + metric.substr(slash);
}

// The median over `runs` of final metric `metric`, times `scale`; nullopt when none recorded it.
std::optional<double> MedianFinal(const std::vector<const RunData*>& runs,
                                  const std::string& metric, double scale) {
  std::vector<double> values;
  for (const RunData* run : runs) {
    if (auto it = run->finals.find(metric); it != run->finals.end())
      values.push_back(it->second * scale);
  }
  if (values.empty()) return std::nullopt;
  return Median(values);
}

}  // namespace

const std::vector<BaselineKind>& BaselineKinds() {
  static const std::vector<BaselineKind> kinds = {
      {"unigram of the training tokens", "a unigram model",
       [](const std::string& m) { return PretrainingBaseline(m, "unigram"); }},
      {"unigram + the visible token", "a context-free predictor",
       [](const std::string& m) { return PretrainingBaseline(m, "copy"); }},
      {"constant prediction", "a constant prediction", BaselineMetric},
      {"no pretraining (fine-tuned from random init)", "no pretraining", UntrainedMetric},
  };
  return kinds;
}

// Lower is better for perplexities and losses, higher for everything else (accuracies, F1):
// the column's own "better" when it has one.
bool LowerIsBetter(const ColumnSpec& column, const std::string& metric) {
  if (column.better != Better::kNone) return column.better == Better::kLower;
  return metric.find("ppl") != std::string::npos || metric.find("loss") != std::string::npos;
}

// The trivial baselines, each recorded by the runs on the same examples as the column's metric,
// as rows, so a reader sees whether pretraining and fine-tuning learned anything.
void TableBuilder::AddBaselineRows(const Runs& runs, ReportTable& out) const {
  for (const BaselineKind& kind : BaselineKinds()) {
    ReportRow row;
    row.baseline = true;
    row.group = "Trivial baselines (the same examples):";
    row.label = kind.label;
    bool any = false;
    for (const ColumnSpec* column : out.columns) {
      ReportCell cell;
      const size_t parts = column->param.empty() ? column->metrics.size() : 1;
      for (size_t p = 0; p < parts; ++p) {
        CellPart part;
        part.text = kMissing;
        const std::string metric = column->param.empty() ? kind.metric(column->metrics[p]) : "";
        if (const auto median =
                metric.empty() ? std::nullopt : MedianFinal(runs, metric, column->scale)) {
          part.missing = false;
          part.numeric = true;
          part.value = *median;
          part.text = Fixed(part.value, column->decimals);
          any = true;
        }
        cell.parts.push_back(part);
      }
      row.cells.push_back(std::move(cell));
    }
    if (any) out.rows.push_back(std::move(row));
  }
}

void TableBuilder::FlagBelowBaselines(const std::vector<std::pair<RowSpec, Runs>>& rows,
                                      ReportTable& out) const {
  std::vector<std::string> flagged;
  for (size_t r = 0; r < rows.size(); ++r) {
    const Runs runs = Completed(rows[r].second);
    ReportRow& row = out.rows[r];
    for (size_t c = 0; c < out.columns.size(); ++c) {
      const ColumnSpec& column = *out.columns[c];
      if (!column.param.empty()) continue;
      for (size_t p = 0; p < column.metrics.size(); ++p) {
        CellPart& part = row.cells[c].parts[p];
        if (part.missing || !part.numeric) continue;
        const bool lower = LowerIsBetter(column, column.metrics[p]);
        // The weakest baseline the row fails to beat names the flag: "not better than a unigram
        // model" says more than naming the strongest.
        const BaselineKind* failed = nullptr;
        double failed_value = 0;
        for (const BaselineKind& kind : BaselineKinds()) {
          const std::string metric = kind.metric(column.metrics[p]);
          if (metric.empty()) continue;
          const auto median = MedianFinal(runs, metric, column.scale);
          if (!median) continue;
          const double baseline = *median;
          const bool beats = lower ? part.value < baseline : part.value > baseline;
          if (beats) continue;
          const bool weaker =
              failed == nullptr || (lower ? baseline > failed_value : baseline < failed_value);
          if (weaker) {
            failed = &kind;
            failed_value = baseline;
          }
        }
        if (failed == nullptr) continue;
        part.not_better_than = failed->label;
        flagged.push_back("\"" + row.label + "\" " + column.label + " " + part.text +
                          ", not better than " + failed->phrase + " (" +
                          Fixed(failed_value, column.decimals) + ")");
      }
    }
  }
  if (!flagged.empty()) {
    out.footnotes.push_back(
        "†: not better than a trivial baseline on the same examples (the row's median against "
        "the median of its own runs' baseline, which is named when it is the weakest the row does "
        "not beat: a unigram model, a context-free predictor that also sees the input token, a "
        "constant prediction, or no pretraining): " +
        Join(flagged) +
        ". Differences between such rows measure how far each got towards the "
        "baseline, not the choice the table compares.");
  }
}

// How the reference table's conditions ("conditions": {parameter: value}) differ from the
// runs': "model.layers 12 (here 2)". `blocking` collects those that make an intrinsic metric
// (perplexity) incomparable: the model, the vocabulary, the sequence length, and the text the
// model learnt from and was scored on (data.corpus; eval.corpus, whose "" means the training
// corpus's own held-out text).
std::vector<std::string> TableBuilder::ConditionDifferences(const json& conditions,
                                                            const Runs& runs,
                                                            std::vector<std::string>& blocking) {
  std::vector<std::string> out;
  if (!conditions.is_object() || runs.empty()) return out;
  auto blocks = [](const std::string& name) {
    return name.rfind("model.", 0) == 0 || name == "data.tokenizer" || name == "data.seq_len" ||
           name == "data.corpus" || name == "eval.corpus";
  };
  auto add = [&](const std::string& name, const json& wanted, const std::vector<ParamValue>& ours) {
    std::string here;
    for (const auto& v : ours) here += (here.empty() ? "" : ", ") + Display(v);
    const std::string text = name + " " +
                             (wanted.is_string() ? wanted.get<std::string>() : wanted.dump()) +
                             " (here " + here + ")";
    out.push_back(text);
    if (blocks(name)) blocking.push_back(text);
  };
  for (const auto& [name, wanted] : conditions.items()) {
    const auto values = Distinct(runs, name);
    if (values.empty()) continue;  // not a parameter of these runs
    if (values.size() == 1 && Matches(values[0], wanted)) continue;
    add(name, wanted, values);
  }
  // A published perplexity was scored on held-out text of the corpus it names: runs that train
  // on that corpus but are scored on another one (eval.corpus) do not measure the same quantity.
  if (conditions.contains("data.corpus") && !conditions.contains("eval.corpus")) {
    std::vector<ParamValue> scored;
    for (const auto& v : Distinct(runs, "eval.corpus")) {
      if (v.is_number || !v.text.empty()) scored.push_back(v);
    }
    const json& wanted = conditions["data.corpus"];
    if (!scored.empty() && !(scored.size() == 1 && Matches(scored[0], wanted))) {
      add("eval.corpus", wanted, scored);
    }
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
