#include "runner/grid_plan.h"

#include <map>
#include <memory>

#include "base/error.h"
#include "core/corpus.h"
#include "experiments/run_config.h"

namespace ablate::runner {

experiments::GridPlan PlanOnPreparedData(const experiments::GridSpec& grid,
                                         const std::vector<experiments::RunSpec>& runs,
                                         const std::filesystem::path& data_dir) {
  // Runs share corpora: open each (corpus, tokenizer) once; nullptr when it is not prepared.
  std::map<std::pair<std::string, std::string>, std::shared_ptr<core::PreparedCorpus>> opened;
  auto lookup = [&](const experiments::RunSpec& run) -> std::optional<experiments::RunData> {
    const core::TrainConfig config = run.config.Pretraining();
    const auto id = std::make_pair(config.data.corpus, config.data.tokenizer);
    auto it = opened.find(id);
    if (it == opened.end()) {
      std::shared_ptr<core::PreparedCorpus> prepared;
      try {
        if (auto found =
                core::OpenPreparedCorpus(data_dir, config.data.corpus, config.data.tokenizer))
          prepared = std::make_shared<core::PreparedCorpus>(std::move(*found));
      } catch (const InputError&) {
        // A corpus that is not fetched (or a directory elsewhere): the plan says "?".
      }
      it = opened.emplace(id, std::move(prepared)).first;
    }
    if (!it->second) return std::nullopt;
    std::vector<uint64_t> storage;
    const auto train =
        core::LimitTokens(it->second->train.corpus(), config.data.max_tokens, storage);
    try {
      return experiments::RunData{core::PlanData(*it->second, train, config),
                                  it->second->tokenizer.vocab_size()};
    } catch (const InputError&) {
      // A run its data cannot feed (an NSP format on one document): the plan says "?", and the
      // run itself fails with the reason when it trains.
      return std::nullopt;
    }
  };
  return experiments::PlanGrid(grid, runs, lookup);
}

void PrintPlanWarnings(std::ostream& out, const experiments::GridPlan& plan) {
  for (const auto& warning : plan.warnings) out << "warning: " << warning << "\n";
}

}  // namespace ablate::runner
