// ablate status --db FILE: runs per status per experiment. Runs trained by remote tasks are
// collected from their logs first, and joined with what their backends' schedulers say of them.
#include <cstdio>
#include <iostream>

#include "base/number_text.h"
#include "experiments/grid.h"
#include "reports/table_format.h"
#include "results/run_reads.h"
#include "runner/backend.h"
#include "runner/cli.h"

namespace ablate::runner {
namespace {

std::string Duration(double seconds) {
  const auto s = static_cast<long>(seconds + 0.5);
  char text[32];
  if (s >= 86400) {
    std::snprintf(text, sizeof text, "%ldd%02ldh", s / 86400, s % 86400 / 3600);
  } else if (s >= 3600) {
    std::snprintf(text, sizeof text, "%ldh%02ldm", s / 3600, s % 3600 / 60);
  } else {
    std::snprintf(text, sizeof text, "%ldm%02lds", s / 60, s % 60);
  }
  return text;
}

}  // namespace

int CmdStatus(const Args& args) {
  po::options_description options("options");
  options.add_options()("db", po::value<std::string>()->required(), "results database")(
      "format", po::value<std::string>()->default_value("table"), "table, csv, json or markdown");
  auto vm =
      ParseOptions(args, "ablate status --db FILE [--format table|csv|json|markdown]", options);
  if (!vm) return 0;
  auto format = reports::ParseTableFormat((*vm)["format"].as<std::string>(), "--format");

  const std::string db = (*vm)["db"].as<std::string>();
  CollectBeforeReading(db, std::nullopt, BackendNames(), std::cerr);
  reports::WriteTable(std::cout, results::ReadStatusTable(db), format);

  // Unfinished experiments: how far, and how long to go at the running runs' recent pace.
  // Lines for a person: machine-readable formats get the table alone.
  for (const auto& p : format == reports::TableFormat::kTable
                           ? results::ReadProgress(db)
                           : std::vector<results::ExperimentProgress>{}) {
    std::cout << p.experiment << ": " << p.done << " done, " << p.running << " running, " << p.left
              << " left";
    if (p.tokens_left && p.tokens_per_second > 0) {
      std::cout << "; about " << Duration(*p.tokens_left / p.tokens_per_second) << " to go at "
                << SiText(p.tokens_per_second) << " tokens/s";
    } else if (p.running == 0) {
      std::cout << "; nothing is training";
    }
    std::cout << "\n";
  }
  // What experiments were last submitted with from the command line.
  for (const auto& [experiment, overrides] : results::ReadOverrides(db)) {
    std::cout << experiment << " was submitted with"
              << experiments::OverridesText(nlohmann::json::parse(overrides)) << "\n";
  }
  // The jobs each backend submitted, with their tasks' states.
  for (const auto& entry : Backends()) entry.make()->DescribeState(db, std::cout);
  return 0;
}

}  // namespace ablate::runner
