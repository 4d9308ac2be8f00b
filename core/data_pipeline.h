// The training data of one run, end to end: a typed data config goes in; the prepared corpus
// (tokenizer + shards), the optional data-size limit and the batch stream options come out.
// It wires corpus.h to batcher.h and owns what the stream views; it does no training.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "core/batcher.h"
#include "core/corpus.h"

namespace ablate::core {

struct DataConfig {
  std::string corpus = "books";
  std::string tokenizer = "gpt2";
  InputFormat format = InputFormat::kSegmentPair;
  MaskingMode masking = MaskingMode::kStatic;
  int static_copies = 10;
  double mask_prob = 0.15;
  int seq_len = 512;
  double short_seq_prob = 0.1;
  uint64_t max_tokens = 0;  // 0 = the whole training split
  uint64_t batch_size = 256;
  uint64_t seed = 1;
};

class DataPipeline {
 public:
  DataPipeline(const std::filesystem::path& data_dir, const DataConfig& config,
               const Log& log = {});
  DataPipeline(const DataPipeline&) = delete;
  DataPipeline& operator=(const DataPipeline&) = delete;

  const PreparedCorpus& prepared() const { return prepared_; }
  BpeTokenizer& tokenizer() { return prepared_.tokenizer; }
  // The training split after data.max_tokens.
  const TokenCorpus& train() const { return train_; }
  const BatchOptions& batch_options() const { return options_; }

  BatchStream Stream(DataPosition start = {}) const { return BatchStream(train_, options_, start); }

 private:
  PreparedCorpus prepared_;
  std::vector<uint64_t> limit_storage_;
  TokenCorpus train_;
  BatchOptions options_;
};

}  // namespace ablate::core
