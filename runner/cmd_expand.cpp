// ablate expand GRID [--format table|json] [--plan [--db DB]]: the runs a grid means, without
// changing a database; with --plan, what each run will spend (tokens, epochs, FLOPs, fine-tuning)
// and the grid's warnings, and with --db how long the runs take at the rates earlier runs of the
// experiment measured.
#include <cmath>
#include <cstdio>
#include <iostream>
#include <map>
#include <optional>
#include <ostream>
#include <set>

#include "base/error.h"
#include "base/number_text.h"
#include "core/corpus.h"
#include "experiments/grid.h"
#include "experiments/params.h"
#include "reports/table_format.h"
#include "runner/cli.h"
#include "runner/grid_plan.h"

namespace ablate::runner {
namespace {

// Parameters whose value differs between runs, in the grid's own order (its dimensions, then the
// seed, then anything an include entry changes).
std::vector<std::string> VaryingParams(const experiments::GridSpec& grid,
                                       const std::vector<experiments::RunSpec>& runs) {
  std::vector<std::string> order;
  for (const auto& dim : grid.dimensions)
    order.insert(order.end(), dim.names.begin(), dim.names.end());
  order.push_back("seed");
  for (const auto& spec : experiments::ParamTable()) order.push_back(spec.name);
  std::vector<std::string> varying;
  std::set<std::string> seen;
  for (const auto& name : order) {
    if (!seen.insert(name).second) continue;
    for (const auto& run : runs) {
      if (run.params.at(name) != runs.front().params.at(name)) {
        varying.push_back(name);
        break;
      }
    }
  }
  return varying;
}

std::string Figure(const std::optional<double>& x, const char* format) {
  if (!x) return "?";
  if (format == nullptr) return SiText(*x);
  char buf[32];
  std::snprintf(buf, sizeof buf, format, *x);
  return buf;
}

nlohmann::ordered_json PlanJson(const experiments::RunPlan& p) {
  auto value = [](const auto& x) { return x ? nlohmann::ordered_json(*x) : nullptr; };
  nlohmann::ordered_json finetune = nlohmann::ordered_json::array();
  for (const auto& f : p.finetune) {
    finetune.push_back({{"task", f.task},
                        {"lrs", f.lrs},
                        {"seeds", f.seeds},
                        {"epochs", f.epochs},
                        {"train_examples", value(f.train_examples)},
                        {"at_most", f.at_most},
                        {"example_passes", value(f.ExamplePasses())}});
  }
  return {{"parameters", value(p.parameters)},
          {"tokens_per_update", value(p.tokens_per_update)},
          {"total_tokens", value(p.total_tokens)},
          {"epochs", value(p.epochs)},
          {"flops", value(p.flops)},
          {"finetune", std::move(finetune)},
          {"finetune_example_passes", value(p.finetune_examples)},
          {"est_seconds", value(p.seconds)}};
}

// "1-4, 9, 11-12": table row numbers (from 1) of the runs `indices`, in order.
std::string RowRanges(const std::vector<size_t>& indices) {
  std::string out;
  for (size_t i = 0; i < indices.size();) {
    size_t j = i;
    while (j + 1 < indices.size() && indices[j + 1] == indices[j] + 1) ++j;
    out += (out.empty() ? "" : ", ") + std::to_string(indices[i] + 1);
    if (j > i) out += "-" + std::to_string(indices[j] + 1);
    i = j + 1;
  }
  return out;
}

// Under the table: each distinct fine-tuning with the runs it follows, then what the time
// estimate rests on. The formulas are lines rather than columns: they are as long as the table
// is wide, and most grids fine-tune every run alike.
void PrintPlanNotes(std::ostream& out, const experiments::GridPlan& plan,
                    const std::string& experiment, const std::optional<std::string>& db) {
  std::vector<std::string> texts;
  std::map<std::string, std::vector<size_t>> runs_of;
  for (size_t i = 0; i < plan.runs.size(); ++i) {
    std::string text;
    for (const auto& f : plan.runs[i].finetune)
      text += (text.empty() ? "" : "; ") + experiments::FinetuneText(f);
    if (text.empty()) continue;
    if (runs_of.count(text) == 0) texts.push_back(text);
    runs_of[text].push_back(i);
  }
  for (const auto& text : texts) {
    const auto& rows = runs_of[text];
    out << "fine-tuning of run" << (rows.size() == 1 ? " " : "s ") << RowRanges(rows) << ": "
        << text << "\n";
  }

  const auto& rates = plan.rates;
  if (!rates.tokens_per_second) {
    out << "est. time: no measured rate yet ("
        << (db ? *db + " has no run of " + experiment + " that finished pretraining"
               : "--db DB gives the rates earlier runs of " + experiment + " measured")
        << ")\n";
    return;
  }
  const bool fine_tunes = !texts.empty();
  out << "est. time: at the rates " << rates.runs << " earlier run" << (rates.runs == 1 ? "" : "s")
      << " of " << experiment << " in " << *db
      << " measured (a run's own where it has one), pretraining "
      << SiText(*rates.tokens_per_second) << " tokens/s";
  if (fine_tunes) {
    out << ", fine-tuning "
        << (rates.finetune_examples_per_second
                ? SiText(*rates.finetune_examples_per_second) + " examples/s"
                : std::string("no measured rate yet"));
  }
  double total = 0;
  size_t estimated = 0;
  for (const auto& p : plan.runs) {
    if (!p.seconds) continue;
    total += *p.seconds;
    ++estimated;
  }
  if (estimated > 0) {
    const size_t all = plan.runs.size();
    out << "; " << experiments::DurationText(total) << " of run time for "
        << (estimated < all ? std::to_string(estimated) + " of " + std::to_string(all) + " runs"
            : all == 1      ? std::string("the run")
                            : "the " + std::to_string(all) + " runs")
        << " (parallel workers share it)";
  }
  out << "\n";
}

}  // namespace

int CmdExpand(const Args& args) {
  po::options_description options("options");
  options.add_options()("grid", po::value<std::string>()->required(), "grid JSON file")(
      "format", po::value<std::string>()->default_value("table"), "table or json")(
      "plan", po::bool_switch(),
      "also show each run's tokens per update, training tokens, epochs and FLOPs, measured on "
      "the prepared corpora (\"?\" where a corpus is not prepared), its fine-tuning (learning "
      "rates x seeds x epochs x training examples) and estimated time, and warn about unequal "
      "compute, too many epochs and masking that cannot differ")(
      "db", po::value<std::string>(),
      "with --plan: a results database whose runs of this grid's experiment measured the rates "
      "(pretraining tokens/s, fine-tuning examples/s) the time estimate uses");
  AddDataDirOption(options);
  AddSetOption(options);
  auto vm = ParseOptions(args,
                         "ablate expand GRID [--format table|json] [--plan [--db DB]] "
                         "[--set NAME=VALUE ...]",
                         options, {"grid"});
  if (!vm) return 0;
  std::string format = (*vm)["format"].as<std::string>();
  if (format != "table" && format != "json") {
    throw InputError("", "--format", "unknown format \"" + format + "\": expected table or json");
  }

  std::optional<std::string> db;
  if (vm->count("db")) db = (*vm)["db"].as<std::string>();
  if (db && !(*vm)["plan"].as<bool>()) {
    throw InputError("", "--db", "--db gives the plan's measured rates: it needs --plan");
  }

  auto grid = LoadGridWithOverrides(*vm);
  auto runs = experiments::ExpandGrid(grid);
  std::optional<experiments::GridPlan> plan;
  if ((*vm)["plan"].as<bool>()) {
    plan = PlanOnPreparedData(grid, runs, DataDirFrom(*vm), db);
    PrintPlanWarnings(std::cerr, *plan);
  }

  if (format == "json") {
    nlohmann::ordered_json out = nlohmann::ordered_json::array();
    for (size_t i = 0; i < runs.size(); ++i) {
      nlohmann::ordered_json item;
      item["key"] = runs[i].key;
      item["params"] = runs[i].params;
      if (plan) item["plan"] = PlanJson(plan->runs[i]);
      out.push_back(std::move(item));
    }
    std::cout << out.dump(2) << "\n";
    return 0;
  }

  auto varying = VaryingParams(grid, runs);
  results::ResultSet set;
  set.columns = {"#", "key"};
  set.columns.insert(set.columns.end(), varying.begin(), varying.end());
  if (plan) {
    for (const char* column : {"tokens/update", "train tokens", "epochs", "params", "FLOPs",
                               "fine-tune ex.", "est. time"})
      set.columns.push_back(column);
  }
  for (size_t i = 0; i < runs.size(); ++i) {
    std::vector<results::Value> row = {int64_t(i + 1), runs[i].key};
    for (const auto& name : varying) row.push_back(JsonToCell(runs[i].params.at(name)));
    if (plan) {
      const auto& p = plan->runs[i];
      row.push_back(Figure(p.tokens_per_update, nullptr));
      row.push_back(Figure(p.total_tokens, nullptr));
      row.push_back(Figure(p.epochs, "%.3g"));
      row.push_back(p.parameters ? SiText(static_cast<double>(*p.parameters)) : "?");
      row.push_back(Figure(p.flops, "%.2e"));
      // "-": no eval.tasks; "<=": eval.max_train_examples of a task of unknown size.
      const std::string bound = p.finetune_at_most ? "<=" : "";
      row.push_back(p.finetune.empty()    ? std::string("-")
                    : p.finetune_examples ? bound + SiText(*p.finetune_examples)
                                          : std::string("?"));
      row.push_back(p.seconds ? bound + experiments::DurationText(*p.seconds) : "?");
    }
    set.rows.push_back(std::move(row));
  }
  std::cout << grid.name << ": " << runs.size() << (runs.size() == 1 ? " run" : " runs") << "\n";
  reports::WriteTable(std::cout, set, reports::TableFormat::kTable);
  if (plan) PrintPlanNotes(std::cout, *plan, grid.name, db);
  return 0;
}

}  // namespace ablate::runner
