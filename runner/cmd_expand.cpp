// ablate expand GRID [--format table|json] [--plan]: the runs a grid means, without touching a
// database; with --plan, what each run will spend (tokens, epochs, FLOPs) and the grid's warnings.
#include <cmath>
#include <cstdio>
#include <iostream>
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
  return {{"parameters", value(p.parameters)},
          {"tokens_per_update", value(p.tokens_per_update)},
          {"total_tokens", value(p.total_tokens)},
          {"epochs", value(p.epochs)},
          {"flops", value(p.flops)}};
}

}  // namespace

int CmdExpand(const Args& args) {
  po::options_description options("options");
  options.add_options()("grid", po::value<std::string>()->required(), "grid JSON file")(
      "format", po::value<std::string>()->default_value("table"), "table or json")(
      "plan", po::bool_switch(),
      "also show each run's tokens per update, training tokens, epochs and FLOPs, measured on "
      "the prepared corpora (\"?\" where a corpus is not prepared), and warn about unequal "
      "compute, too many epochs and masking that cannot differ")(
      "data-dir", po::value<std::string>()->default_value(""),
      "data directory (default: $ABLATE_DATA_DIR or ./data)");
  AddSetOption(options);
  auto vm =
      ParseOptions(args, "ablate expand GRID [--format table|json] [--plan] [--set NAME=VALUE ...]",
                   options, {"grid"});
  if (!vm) return 0;
  std::string format = (*vm)["format"].as<std::string>();
  if (format != "table" && format != "json") {
    throw InputError("", "--format", "unknown format \"" + format + "\": expected table or json");
  }

  auto grid = LoadGridWithOverrides(*vm);
  auto runs = experiments::ExpandGrid(grid);
  std::optional<experiments::GridPlan> plan;
  if ((*vm)["plan"].as<bool>()) {
    plan =
        PlanOnPreparedData(grid, runs, core::ResolveDataDir((*vm)["data-dir"].as<std::string>()));
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
    for (const char* column : {"tokens/update", "train tokens", "epochs", "params", "FLOPs"})
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
    }
    set.rows.push_back(std::move(row));
  }
  std::cout << grid.name << ": " << runs.size() << (runs.size() == 1 ? " run" : " runs") << "\n";
  reports::WriteTable(std::cout, set, reports::TableFormat::kTable);
  return 0;
}

}  // namespace ablate::runner
