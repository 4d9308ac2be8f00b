// ablate collect --db FILE [--experiment NAME]: reads the new records of the runs' own logs (runs
// trained by Slurm tasks) into the database, and asks Slurm about tasks whose run has not ended.
// Idempotent and incremental: collecting again adds nothing.
#include <iostream>

#include "results/collect.h"
#include "runner/cli.h"
#include "runner/slurm_runs.h"

namespace ablate::runner {

int CmdCollect(const Args& args) {
  po::options_description options("options");
  options.add_options()("db", po::value<std::string>()->required(), "results database")(
      "experiment", po::value<std::string>(), "only this experiment's runs")(
      "no-slurm", po::bool_switch(), "read the logs only; do not ask Slurm about the tasks");
  auto vm = ParseOptions(args, "ablate collect --db FILE [--experiment NAME]", options);
  if (!vm) return 0;
  auto store = results::Store::Open((*vm)["db"].as<std::string>());
  const bool ask_slurm = !(*vm)["no-slurm"].as<bool>();
  std::vector<std::string> experiments;
  if (vm->count("experiment")) {
    experiments.push_back((*vm)["experiment"].as<std::string>());
  } else {
    experiments = results::ExperimentsWithRunLogs(store.connection());
  }
  for (const auto& name : experiments) {
    const auto before = results::Collect(store, name);
    for (const auto& problem : before.problems) std::cerr << "ablate collect: " << problem << "\n";
    std::cout << name << ": " << before.records << " records (" << before.points
              << " metric points) from " << before.logs << " run log"
              << (before.logs == 1 ? "" : "s");
    if (before.skipped > 0) std::cout << "; " << before.skipped << " torn record(s) left out";
    std::cout << "\n";
    CollectAndReconcile(store, name, ask_slurm, std::cerr);
  }
  return 0;
}

}  // namespace ablate::runner
