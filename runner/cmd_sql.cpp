// ablate sql --db FILE "QUERY" [--format ...]: read-only SQL over a results database.
#include <iostream>
#include <iterator>

#include "base/error.h"
#include "reports/table_format.h"
#include "results/query.h"
#include "runner/backend.h"
#include "runner/cli.h"

namespace ablate::runner {

int CmdSql(const Args& args) {
  po::options_description options("options");
  options.add_options()("db", po::value<std::string>()->required(), "results database")(
      "query", po::value<std::string>(),
      "SQL (one or more ;-separated statements); - or none: stdin")(
      "format", po::value<std::string>()->default_value("table"), "table, csv, json or markdown")(
      "timeout", po::value<double>()->default_value(0),
      "stop a query still running after SECONDS (0 = never)");
  auto vm = ParseOptions(args,
                         "ablate sql --db FILE \"QUERY\" [--format table|csv|json|markdown] "
                         "[--timeout SECONDS]",
                         options, {"query"});
  if (!vm) return 0;
  auto format = reports::ParseTableFormat((*vm)["format"].as<std::string>(), "--format");

  std::string query = vm->count("query") ? (*vm)["query"].as<std::string>() : "-";
  if (query == "-") query.assign(std::istreambuf_iterator<char>(std::cin), {});
  if (query.find_first_not_of(" \t\r\n;") == std::string::npos) {
    throw InputError("", "QUERY", "no SQL given");
  }

  // Runs trained by remote tasks are collected from their logs first (the tool's own short write);
  // the query itself stays read-only.
  CollectBeforeReading((*vm)["db"].as<std::string>(), std::nullopt, {}, std::cerr);
  const double timeout = (*vm)["timeout"].as<double>();
  if (!(timeout >= 0)) throw InputError("", "--timeout", "must be 0 (never) or more seconds");
  auto sets = results::RunReadOnlyQuery((*vm)["db"].as<std::string>(), query, timeout);
  bool first = true;
  for (const auto& set : sets) {
    if (set.columns.empty()) continue;  // statements that return nothing (e.g. a bare pragma)
    if (!first && format == reports::TableFormat::kTable) std::cout << "\n";
    reports::WriteTable(std::cout, set, format);
    first = false;
  }
  return 0;
}

}  // namespace ablate::runner
