// The rows that are not ours: the trivial baselines (with the flags on our cells that do not beat
// them), and the published reference numbers with the conditions they hold for.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <iterator>
#include <map>
#include <optional>
#include <set>

#include "base/error.h"
#include "base/list_text.h"
#include "base/number_text.h"
#include "base/statistics.h"
#include "base/suggest.h"
#include "reports/table_builder.h"
#include "results/metric_names.h"
#include "results/run_status.h"

namespace ablate::reports {

namespace {

// A held-out masked-LM metric -> the same metric of a context-free predictor on the same masked
// tokens: <prefix>/ppl -> <prefix>/baseline/<kind>/ppl (and mlm_acc) for every prefix a run scores
// its predictors under: valid (the whole sample), valid/select and valid/report (its two halves),
// valid-<corpus> (a further corpus of eval.corpus). "" for others, baselines included.
std::string PretrainingBaseline(const std::string& metric, const std::string& kind) {
  if (metric.rfind("valid/", 0) != 0 && metric.rfind("valid-", 0) != 0) return "";
  if (metric.find("/baseline/") != std::string::npos) return "";
  const size_t slash = metric.rfind('/');
  const std::string last = metric.substr(slash + 1);
  if (last != "ppl" && last != "mlm_acc") return "";
  return metric.substr(0, slash) + "/baseline/" + kind + "/" + last;
}

// The corpus whose held-out text a run scored `metric` on: valid-<corpus>/... names it; valid/...
// is the first corpus of eval.corpus ("books,mixture": books), or with none the training corpus
// (data.corpus), which `named` says is not named apart. nullopt for other metrics or when unknown.
std::optional<std::string> ScoredOn(const RunData& run, const std::string& metric, bool& named) {
  named = true;
  if (metric.rfind("valid-", 0) == 0) return metric.substr(6, metric.find('/') - 6);
  if (metric.rfind("valid/", 0) != 0) return std::nullopt;
  if (auto it = run.params.find("eval.corpus");
      it != run.params.end() && (it->second.is_number || !it->second.text.empty())) {
    const std::string list = Display(it->second);
    if (const auto corpora = CommaList(list); !corpora.empty()) return std::string(corpora[0]);
  }
  named = false;
  auto it = run.params.find("data.corpus");
  if (it == run.params.end()) return std::nullopt;
  return Display(it->second);
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
// runs': "model.layers 12 (here 2)". `blocking` collects those that make every intrinsic metric
// (perplexity) incomparable: the model, the vocabulary, the sequence length, and the text the
// model learnt from (data.corpus). The text each metric was scored on is the column's own
// question (ScoredCorpusDifference).
std::vector<std::string> TableBuilder::ConditionDifferences(const json& conditions,
                                                            const Runs& runs,
                                                            std::vector<std::string>& blocking) {
  std::vector<std::string> out;
  if (!conditions.is_object() || runs.empty()) return out;
  auto blocks = [](const std::string& name) {
    return name.rfind("model.", 0) == 0 || name == "data.tokenizer" || name == "data.seq_len" ||
           name == "data.corpus";
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
    if (name == "eval.corpus") continue;  // per metric: ScoredCorpusDifference
    const auto values = Distinct(runs, name);
    if (values.empty()) continue;  // not a parameter of these runs
    if (values.size() == 1 && Matches(values[0], wanted)) continue;
    add(name, wanted, values);
  }
  return out;
}

// A published perplexity was scored on held-out text of the corpus the conditions name
// (eval.corpus, else data.corpus): runs that scored `metric` on another corpus's text (eval.corpus,
// or a valid-<corpus> metric) do not measure the same quantity. "eval.corpus books (here
// mixture)", or "" when the text is the same or the training corpus's own (which data.corpus
// already compares).
std::string TableBuilder::ScoredCorpusDifference(const json& conditions, const Runs& runs,
                                                 const std::string& metric) {
  if (!conditions.is_object()) return "";
  const bool scored_named = conditions.contains("eval.corpus");
  if (!scored_named && !conditions.contains("data.corpus")) return "";
  const json& wanted = conditions[scored_named ? "eval.corpus" : "data.corpus"];
  const std::string wanted_text = wanted.is_string() ? wanted.get<std::string>() : wanted.dump();
  std::vector<std::string> scored;
  for (const RunData* run : runs) {
    bool named = false;
    const auto corpus = ScoredOn(*run, metric, named);
    if (!corpus || (!named && !scored_named)) continue;
    if (std::find(scored.begin(), scored.end(), *corpus) == scored.end()) scored.push_back(*corpus);
  }
  if (scored.empty() || (scored.size() == 1 && scored[0] == wanted_text)) return "";
  return "eval.corpus " + wanted_text + " (here " + Join(scored) + ")";
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
  const json conditions = table.value("conditions", json());
  auto differences = ConditionDifferences(conditions, runs, blocking);
  // Per shown column, what keeps a published perplexity from being the same quantity as ours.
  std::vector<std::vector<std::string>> column_blocking;
  for (const ColumnSpec* column : out.columns) {
    column_blocking.push_back(blocking);
    if (!column->Intrinsic()) continue;
    for (const auto& metric : column->metrics) {
      const std::string scored = ScoredCorpusDifference(conditions, runs, metric);
      if (scored.empty()) continue;
      for (auto* list : {&column_blocking.back(), &differences}) {
        if (std::find(list->begin(), list->end(), scored) == list->end()) list->push_back(scored);
      }
    }
  }
  auto column_index = [&](const std::string& name) -> size_t {
    for (size_t i = 0; i < columns.size(); ++i) {
      if (columns[i] == name) return i;
    }
    return columns.size();
  };
  // The columns withheld, grouped by what blocks them, in the order they first appear.
  std::vector<std::pair<std::vector<std::string>, std::vector<std::string>>> withheld;
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
    for (size_t c = 0; c < out.columns.size(); ++c) {
      const ColumnSpec* column = out.columns[c];
      ReportCell cell;
      const size_t parts = column->param.empty() ? column->metrics.size() : 1;
      // A published perplexity under another model or vocabulary, or of other text, is not the
      // same quantity.
      const bool withhold = column->Intrinsic() && !column_blocking[c].empty();
      for (size_t p = 0; p < parts; ++p) {
        CellPart part;
        part.text = kMissing;
        if (p < column->reference.size()) {
          const size_t i = column_index(column->reference[p]);
          const json& values = row->at("values");
          if (i < values.size() && !values[i].is_null() && withhold) {
            auto group = std::find_if(withheld.begin(), withheld.end(),
                                      [&](const auto& g) { return g.first == column_blocking[c]; });
            if (group == withheld.end()) {
              withheld.push_back({column_blocking[c], {}});
              group = std::prev(withheld.end());
            }
            if (std::find(group->second.begin(), group->second.end(), column->label) ==
                group->second.end())
              group->second.push_back(column->label);
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
  for (const auto& [why, labels] : withheld) {
    out.footnotes.push_back("The published " + Join(labels) +
                            " is left out: it was measured under other conditions (" + Join(why) +
                            "), so it is not the same quantity as ours.");
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
