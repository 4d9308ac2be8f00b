// ablate params: every run parameter with its type, default, allowed range and help.
#include <iostream>

#include "experiments/params.h"
#include "reports/table_format.h"
#include "runner/cli.h"

namespace ablate::runner {

int CmdParams(const Args& args) {
  po::options_description options("options");
  options.add_options()("format", po::value<std::string>()->default_value("table"),
                        "table, csv, json or markdown");
  auto vm = ParseOptions(args, "ablate params [--format table|csv|json|markdown]", options);
  if (!vm) return 0;
  auto format = reports::ParseTableFormat((*vm)["format"].as<std::string>(), "--format");

  results::ResultSet set;
  set.columns = {"name", "type", "default", "range", "help"};
  for (const auto& spec : experiments::ParamTable()) {
    set.rows.push_back({spec.name, std::string(experiments::TypeName(spec.type)),
                        JsonToCell(spec.default_value), spec.RangeText(), spec.help});
  }
  reports::WriteTable(std::cout, set, format);
  return 0;
}

}  // namespace ablate::runner
