// ablate expand GRID [--format table|json]: the runs a grid means, without touching a database.
#include <iostream>
#include <set>

#include "core/error.h"
#include "experiments/grid.h"
#include "experiments/params.h"
#include "reports/table_format.h"
#include "runner/cli.h"

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

}  // namespace

int CmdExpand(const Args& args) {
  po::options_description options("options");
  options.add_options()("grid", po::value<std::string>()->required(), "grid JSON file")(
      "format", po::value<std::string>()->default_value("table"), "table or json");
  auto vm = ParseOptions(args, "ablate expand GRID [--format table|json]", options, {"grid"});
  if (!vm) return 0;
  std::string format = (*vm)["format"].as<std::string>();
  if (format != "table" && format != "json") {
    throw InputError("", "--format", "unknown format \"" + format + "\": expected table or json");
  }

  auto grid = experiments::LoadGrid((*vm)["grid"].as<std::string>());
  auto runs = experiments::ExpandGrid(grid);

  if (format == "json") {
    nlohmann::ordered_json out = nlohmann::ordered_json::array();
    for (const auto& run : runs) {
      nlohmann::ordered_json item;
      item["key"] = run.key;
      item["params"] = run.params;
      out.push_back(std::move(item));
    }
    std::cout << out.dump(2) << "\n";
    return 0;
  }

  auto varying = VaryingParams(grid, runs);
  results::ResultSet set;
  set.columns = {"#", "key"};
  set.columns.insert(set.columns.end(), varying.begin(), varying.end());
  for (size_t i = 0; i < runs.size(); ++i) {
    std::vector<results::Value> row = {int64_t(i + 1), runs[i].key};
    for (const auto& name : varying) row.push_back(JsonToCell(runs[i].params.at(name)));
    set.rows.push_back(std::move(row));
  }
  std::cout << grid.name << ": " << runs.size() << (runs.size() == 1 ? " run" : " runs") << "\n";
  reports::WriteTable(std::cout, set, reports::TableFormat::kTable);
  return 0;
}

}  // namespace ablate::runner
