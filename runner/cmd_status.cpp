// ablate status --db FILE: runs per status per experiment. Runs trained by Slurm tasks are
// collected from their logs first, and joined with what Slurm says of their tasks.
#include <iostream>

#include "experiments/grid.h"
#include "reports/table_format.h"
#include "results/run_reads.h"
#include "runner/cli.h"
#include "runner/slurm.h"
#include "runner/slurm_runs.h"

namespace ablate::runner {

int CmdStatus(const Args& args) {
  po::options_description options("options");
  options.add_options()("db", po::value<std::string>()->required(), "results database")(
      "format", po::value<std::string>()->default_value("table"), "table, csv, json or markdown");
  auto vm =
      ParseOptions(args, "ablate status --db FILE [--format table|csv|json|markdown]", options);
  if (!vm) return 0;
  auto format = reports::ParseTableFormat((*vm)["format"].as<std::string>(), "--format");

  const std::string db = (*vm)["db"].as<std::string>();
  CollectBeforeReading(db, std::nullopt, true, std::cerr);
  reports::WriteTable(std::cout, results::ReadStatusTable(db), format);

  // What experiments were last submitted with from the command line.
  for (const auto& [experiment, overrides] : results::ReadOverrides(db)) {
    std::cout << experiment << " was submitted with"
              << experiments::OverridesText(nlohmann::json::parse(overrides)) << "\n";
  }
  // The Slurm job arrays `ablate run --backend slurm` submitted, with their tasks' states.
  for (const auto& array : results::ReadSlurmArrays(db)) {
    std::cout << "slurm array " << array.job_id << " (" << array.experiment << "): ";
    try {
      std::cout << SummarizeStates(QueryArray(array.job_id, static_cast<int>(array.tasks))) << "\n";
    } catch (const std::exception& e) {
      std::cout << "state unknown (" << e.what() << ")\n";
    }
  }
  return 0;
}

}  // namespace ablate::runner
