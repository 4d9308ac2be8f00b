// The training data of one run, end to end: the run's pretraining config goes in; the prepared
// corpus (tokenizer + shards), the optional data-size limit, the held-out documents the run is
// scored on and the batch stream options (with the measured token budget) come out. It wires
// corpus.h and data_stats.h to batcher.h and owns what the stream views; it does no training.
#pragma once

#include <cstdint>
#include <deque>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/batcher.h"
#include "core/corpus.h"
#include "core/train_config.h"

namespace ablate::core {

// What one update and one epoch of a run's data hold, measured on its (limited) training corpus
// and cached beside the shards (data_stats.h).
struct DataPlan {
  uint64_t sequences_per_epoch = 0;  // examples of the run's format in one epoch (version 0)
  double tokens_per_sequence = 0;    // their mean real length
  uint64_t token_budget = 0;         // token-filled formats: tokens per update; 0 for the others
  double sequences_per_update = 0;   // batch_size, or the budget over tokens_per_sequence
  double tokens_per_update = 0;      // the budget, or batch_size x tokens_per_sequence
};
DataPlan PlanData(const PreparedCorpus& prepared, const TokenCorpus& train,
                  const TrainConfig& config);

class DataPipeline {
 public:
  DataPipeline(const std::filesystem::path& data_dir, const TrainConfig& config,
               const Log& log = {});
  DataPipeline(const DataPipeline&) = delete;
  DataPipeline& operator=(const DataPipeline&) = delete;

  const PreparedCorpus& prepared() const { return prepared_; }
  BpeTokenizer& tokenizer() { return prepared_.tokenizer; }
  // The training split after data.max_tokens.
  const TokenCorpus& train() const { return train_; }
  // Gives the shards' pages back (Shard::DropResident): all of them, or the training tokens
  // [begin, end) of train(), after a pass over them, so a run's memory does not grow with its
  // corpus.
  void DropResident() const;
  void DropResident(uint64_t begin, uint64_t end) const;
  const BatchOptions& batch_options() const { return options_; }
  const DataPlan& plan() const { return plan_; }
  // The held-out documents runs are scored on: set 0 those of the first eval.corpus, else the
  // training corpus's; set i > 0 those of the i-th further eval.corpus (EvalCorpora). Never
  // trained on: a training corpus holding one of them is refused.
  const TokenCorpus& valid(size_t set = 0) const;
  // How many held-out sets runs are scored on (1 + the further eval.corpus entries), and the
  // prefix their metrics are named by: "valid" for set 0, "valid-<corpus>" for the others.
  size_t ValidSets() const { return 1 + extra_valid_.size(); }
  std::string ValidPrefix(size_t set) const;
  // The fixed validation sample: exactly `limit` held-out sequences (all when 0 or when fewer
  // exist) of `format`, masked once, in one batch. Its texts and masks depend on the held-out
  // documents only, never on the run's seed, masking, batch or micro-batch sizes.
  Batch ValidationSample(InputFormat format, int64_t limit, size_t set = 0) const;
  // Which half of set 0's held-out documents each row of its sample starts in, by a hash of the
  // document's id: kSelectHalf (where a report may choose, e.g. a learning rate per row) or
  // kReportHalf (where it then reports). Each row is scored in exactly one half, so the two
  // halves' masked tokens never overlap.
  static constexpr uint8_t kSelectHalf = 0, kReportHalf = 1;
  std::vector<uint8_t> SampleHalves(const Batch& sample) const;

  BatchStream Stream(DataPosition start = {}) const { return BatchStream(train_, options_, start); }

 private:
  PreparedCorpus prepared_;
  std::optional<PreparedCorpus> eval_;  // set when the first eval.corpus is another corpus
  // The further eval.corpus entries: name and held-out shard (the training corpus's own, or one
  // of extra_corpora_).
  std::deque<PreparedCorpus> extra_corpora_;
  std::vector<std::pair<std::string, const Shard*>> extra_valid_;
  std::vector<uint64_t> limit_storage_;
  TokenCorpus train_;
  BatchOptions options_;
  DataPlan plan_;
};

}  // namespace ablate::core
