#include "runner/grid_plan.h"

#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>

#include "base/error.h"
#include "core/corpus.h"
#include "downstream/task_data.h"
#include "experiments/run_config.h"
#include "results/metric_names.h"
#include "results/run_reads.h"

namespace ablate::runner {
namespace {

namespace fs = std::filesystem;

// A built-in task as scripts/fetch-data wrote it says its splits' sizes in source.json. Any
// other task's size stays unknown: counting its examples means reading it (MNLI's train.tsv is
// hundreds of megabytes, SQuAD's and RACE's JSON must be parsed), which a plan does not do.
std::optional<int64_t> FetchedTrainSize(const downstream::TaskSpec& spec,
                                        const fs::path& data_dir) {
  if (!spec.builtin) return std::nullopt;
  std::ifstream in(downstream::InDataDir(spec, data_dir).path / "source.json");
  if (!in) return std::nullopt;
  const auto source = nlohmann::json::parse(in, nullptr, false);
  if (!source.is_object()) return std::nullopt;
  const auto train = source.find("train");
  if (train == source.end() || !train->is_number_integer() || train->get<int64_t>() <= 0)
    return std::nullopt;
  return train->get<int64_t>();
}

// The fine-tuning units a run directory keeps (downstream::Finetune writes
// <run_dir>/finetune/<task>/lr<lr>-seed<seed>.json): each unit's seconds, and the training
// examples it went through, its epochs x settings.train_items. Units without them count nothing.
void ReadFinetuneUnits(const fs::path& run_dir, experiments::RecordedRun& run) {
  std::error_code error;
  const fs::path root = run_dir / "finetune";
  if (!fs::is_directory(root, error)) return;
  for (const auto& task : fs::directory_iterator(root, error)) {
    if (!task.is_directory(error)) continue;
    for (const auto& file : fs::directory_iterator(task.path(), error)) {
      if (file.path().extension() != ".json") continue;
      std::ifstream in(file.path());
      const auto unit = nlohmann::json::parse(in, nullptr, false);
      if (!unit.is_object()) continue;
      const auto epochs = unit.find("epochs");
      const auto seconds = unit.find("seconds");
      const auto settings = unit.find("settings");
      if (epochs == unit.end() || !epochs->is_array() || seconds == unit.end() ||
          !seconds->is_number() || settings == unit.end() || !settings->is_object()) {
        continue;
      }
      const auto items = settings->find("train_items");
      if (items == settings->end() || !items->is_number_integer()) continue;
      run.finetune_examples +=
          static_cast<double>(epochs->size()) * static_cast<double>(items->get<int64_t>());
      run.finetune_seconds += seconds->get<double>();
    }
  }
}

// The runs of `experiment` that finished pretraining: the tokens they saw over the seconds their
// updates took (train/step_seconds, so validation and checkpoints are left out), and the units
// their fine-tuning kept.
std::vector<experiments::RecordedRun> ReadRecordedRuns(const std::string& db,
                                                       const std::string& experiment) {
  namespace metric = results::metric;
  const auto records = results::ReadRunRecords(db, {experiment}, {metric::kTrainTokensSeen});
  std::vector<int64_t> ids;
  for (const auto& r : records)
    if (r.finals.count(metric::kTrainTokensSeen) > 0) ids.push_back(r.id);
  const auto step_seconds = results::ReadSeries(db, ids, metric::kTrainStepSeconds);
  std::vector<experiments::RecordedRun> out;
  for (const auto& r : records) {
    const auto tokens = r.finals.find(metric::kTrainTokensSeen);
    if (tokens == r.finals.end()) continue;
    experiments::RecordedRun run;
    run.key = r.key;
    run.tokens = tokens->second;
    if (const auto series = step_seconds.find(r.id); series != step_seconds.end()) {
      for (const auto& [step, seconds] : series->second) run.seconds += seconds;
    }
    const auto described = results::ReadRunByKey(db, r.key, experiment);
    if (!described.run_dir.empty()) ReadFinetuneUnits(described.run_dir, run);
    out.push_back(std::move(run));
  }
  return out;
}

}  // namespace

experiments::GridPlan PlanOnPreparedData(const experiments::GridSpec& grid,
                                         const std::vector<experiments::RunSpec>& runs,
                                         const std::filesystem::path& data_dir,
                                         const std::optional<std::string>& db) {
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
  auto tasks = [&](const std::vector<downstream::TaskSpec>& specs) {
    std::vector<experiments::TaskFacts> facts;
    for (const auto& spec : specs)
      facts.push_back(
          {spec.name, downstream::KindOfFormat(spec.format), FetchedTrainSize(spec, data_dir)});
    return facts;
  };
  const auto recorded =
      db ? ReadRecordedRuns(*db, grid.name) : std::vector<experiments::RecordedRun>{};
  return experiments::PlanGrid(grid, runs, lookup, tasks, recorded);
}

void PrintPlanWarnings(std::ostream& out, const experiments::GridPlan& plan) {
  for (const auto& warning : plan.warnings) out << "warning: " << warning << "\n";
}

}  // namespace ablate::runner
