// ablate status --db FILE: runs per status per experiment (read-only).
#include <iostream>

#include "reports/table_format.h"
#include "results/query.h"
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

  static const char* kQuery = R"sql(
    SELECT e.name AS experiment,
           SUM(r.status = 'queued') AS queued,
           SUM(r.status = 'running') AS running,
           SUM(r.status = 'completed') AS completed,
           SUM(r.status = 'failed') AS failed,
           SUM(r.status = 'diverged') AS diverged,
           SUM(r.status = 'interrupted') AS interrupted,
           COUNT(r.id) AS total
    FROM experiments e LEFT JOIN runs r ON r.experiment_id = e.id
    GROUP BY e.id ORDER BY e.id)sql";
  const std::string db = (*vm)["db"].as<std::string>();
  auto sets = results::RunReadOnlyQuery(db, kQuery);
  reports::WriteTable(std::cout, sets.at(0), format);

  // The Slurm job arrays `ablate run --backend slurm` submitted, with their tasks' states.
  auto arrays =
      results::RunReadOnlyQuery(
          db,
          "SELECT e.name, a.job_id, a.tasks FROM slurm_arrays a JOIN experiments e ON e.id = "
          "a.experiment_id ORDER BY a.id")
          .at(0);
  for (const auto& row : arrays.rows) {
    const auto& job_id = std::get<std::string>(row[1]);
    std::cout << "slurm array " << job_id << " (" << std::get<std::string>(row[0]) << "): ";
    try {
      std::cout << SummarizeStates(QueryArray(job_id, static_cast<int>(std::get<int64_t>(row[2]))))
                << "\n";
    } catch (const std::exception& e) {
      std::cout << "state unknown (" << e.what() << ")\n";
    }
  }
  return 0;
}

}  // namespace ablate::runner
