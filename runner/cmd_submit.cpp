// ablate submit GRID --db FILE: registers the grid and its runs as queued (idempotent).
#include <iostream>

#include "experiments/grid.h"
#include "results/store.h"
#include "runner/cli.h"

namespace ablate::runner {

int CmdSubmit(const Args& args) {
  po::options_description options("options");
  options.add_options()("grid", po::value<std::string>()->required(), "grid JSON file")(
      "db", po::value<std::string>()->required(), "results database (created if missing)");
  AddSetOption(options);
  auto vm =
      ParseOptions(args, "ablate submit GRID --db FILE [--set NAME=VALUE ...]", options, {"grid"});
  if (!vm) return 0;

  // Validate and expand everything before opening the database: bad input writes nothing.
  const auto overrides = OverridesFrom(*vm);
  auto grid = LoadGridWithOverrides(*vm);
  auto runs = experiments::ExpandGrid(grid);

  results::ExperimentSubmission submission{grid.name, grid.description, grid.text, {}};
  for (const auto& run : runs) submission.runs.push_back({run.key, run.params});
  std::string db = (*vm)["db"].as<std::string>();
  auto store = results::Store::Open(db);
  auto result = store.Submit(submission);
  store.SetOverrides(grid.name, overrides.dump());

  std::cout << "submitted " << grid.name << " to " << db << ": " << runs.size() << " runs, "
            << result.added << " new, " << result.existing << " already registered\n";
  if (result.grid_changed) {
    std::cout << "note: the grid differs from the one submitted before under this name; the "
                 "stored grid JSON is updated and earlier runs are kept\n";
  }
  return 0;
}

}  // namespace ablate::runner
