// ablate status --db FILE: runs per status per experiment (read-only).
#include <iostream>

#include "reports/table_format.h"
#include "results/run_reads.h"
#include "runner/cli.h"
#include "runner/slurm.h"

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
  reports::WriteTable(std::cout, results::ReadStatusTable(db), format);

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
