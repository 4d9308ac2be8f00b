// ablate status --db FILE: runs per status per experiment (read-only).
#include <iostream>

#include "reports/table_format.h"
#include "results/query.h"
#include "runner/cli.h"

namespace ablate::runner {

int CmdStatus(const Args& args) {
  po::options_description options("options");
  options.add_options()("db", po::value<std::string>()->required(), "results database")(
      "format", po::value<std::string>()->default_value("table"), "table, csv, json or markdown");
  auto vm = ParseOptions(args, "ablate status --db FILE [--format table|csv|json|markdown]", options);
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
  auto sets = results::RunReadOnlyQuery((*vm)["db"].as<std::string>(), kQuery);
  reports::WriteTable(std::cout, sets.at(0), format);
  return 0;
}

}  // namespace ablate::runner
