// ablate merge SRC.db ... --into DST.db [--prefer newest|first]: whole results databases into one.
#include <filesystem>
#include <iostream>

#include "base/error.h"
#include "results/merge.h"
#include "runner/cli.h"

namespace ablate::runner {

int CmdMerge(const Args& args) {
  po::options_description options("options");
  options.add_options()("sources", po::value<std::vector<std::string>>()->multitoken()->required(),
                        "databases to merge from (only read)")(
      "into", po::value<std::string>()->required(),
      "the database to merge into (created if missing)")(
      "prefer", po::value<std::string>()->default_value("newest"),
      "a run completed in both with different final metrics keeps: newest (the copy that "
      "finished later) or first (the destination's, else the first source's)");
  auto vm =
      ParseOptions(args, "ablate merge SRC.db [SRC.db ...] --into DST.db [--prefer newest|first]",
                   options, {"sources..."});
  if (!vm) return 0;
  const std::string prefer_text = (*vm)["prefer"].as<std::string>();
  if (prefer_text != "newest" && prefer_text != "first") {
    throw InputError("", "--prefer",
                     "unknown rule \"" + prefer_text + "\": expected newest or first");
  }
  const auto prefer =
      prefer_text == "newest" ? results::MergePrefer::kNewest : results::MergePrefer::kFirst;
  const std::string into = (*vm)["into"].as<std::string>();
  const auto sources = (*vm)["sources"].as<std::vector<std::string>>();
  for (const auto& source : sources) {
    if (!std::filesystem::exists(source)) throw InputError(source, "", "no such database");
    if (std::filesystem::exists(into) && std::filesystem::equivalent(source, into)) {
      throw InputError(source, "", "is the destination itself");
    }
  }
  auto store = results::Store::Open(into);
  int conflicts = 0;
  for (const auto& source : sources) {
    const auto merged = results::Merge(store, source, prefer);
    std::cout << source << ": " << merged.experiments_added << " experiments, " << merged.runs_added
              << " runs added, " << merged.runs_advanced << " runs took a further status, "
              << merged.points_added << " metric points, " << merged.finals_added
              << " final metrics\n";
    for (const auto& conflict : merged.conflicts) std::cout << "  conflict: " << conflict << "\n";
    conflicts += static_cast<int>(merged.conflicts.size());
  }
  if (conflicts > 0) {
    std::cout << conflicts << " conflicting run(s), resolved by --prefer " << prefer_text << "\n";
  }
  return 0;
}

}  // namespace ablate::runner
