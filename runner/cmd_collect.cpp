// ablate collect --db FILE [--experiment NAME]: reads the new records of the runs' own logs (runs
// trained by remote tasks) into the database, and asks each backend's scheduler about tasks whose
// run has not ended (not the ones --no-NAME leaves out). Idempotent and incremental: collecting
// again adds nothing.
#include <iostream>

#include "results/collect.h"
#include "runner/backend.h"
#include "runner/cli.h"

namespace ablate::runner {

int CmdCollect(const Args& args) {
  po::options_description options("options");
  options.add_options()("db", po::value<std::string>()->required(), "results database")(
      "experiment", po::value<std::string>(), "only this experiment's runs");
  // --no-NAME: one switch per backend with a scheduler to ask.
  std::vector<std::string> switches;
  for (const auto& entry : Backends()) {
    const Scheduler scheduler = entry.make()->scheduler();
    if (scheduler.name.empty()) continue;
    switches.push_back(std::string("no-") + entry.name);
    options.add_options()(
        switches.back().c_str(), po::bool_switch(),
        ("read the logs only; do not ask " + scheduler.name + " about the tasks").c_str());
  }
  auto vm = ParseOptions(args, "ablate collect --db FILE [--experiment NAME]", options);
  if (!vm) return 0;
  auto store = results::Store::Open((*vm)["db"].as<std::string>());
  std::vector<std::string> ask;
  for (const auto& name : BackendNames()) {
    if (!vm->count("no-" + name) || !(*vm)["no-" + name].as<bool>()) ask.push_back(name);
  }
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
    CollectAndReconcile(store, name, ask, std::cerr);
  }
  return 0;
}

}  // namespace ablate::runner
