// Turns a tokenized corpus into the stream of masked training batches a run sees: the examples
// of each epoch (input_format.h) in a seeded order, grouped into batches by sequence count or by
// token budget, materialized, padded and masked (masking.h). The stream runs on across epochs, so
// every batch is full whatever the corpus size. Its position is two numbers, so a checkpoint can
// resume it exactly. It knows nothing of tensors or models.
#pragma once

#include <cstdint>
#include <vector>

#include "core/input_format.h"
#include "core/masking.h"
#include "core/token_corpus.h"

namespace ablate::core {

struct Batch {
  int64_t rows = 0;  // sequences
  int64_t cols = 0;  // padded length: the longest sequence of the batch
  // Row-major rows x cols; padding is SpecialIds::pad with label kIgnoreLabel and segment 0.
  std::vector<int32_t> input_ids;
  std::vector<int32_t> labels;  // original id at masked positions, kIgnoreLabel elsewhere
  std::vector<int8_t> segment_ids;
  std::vector<int32_t> lengths;    // per row, tokens before padding
  std::vector<int8_t> nsp_labels;  // per row; kNoNspLabel for formats without NSP
  // Per row, the corpus offset of its example's first token (where the row's text starts).
  std::vector<uint64_t> first_tokens;
  int64_t tokens = 0;       // sum of lengths
  int64_t predictions = 0;  // masked positions in the batch
  uint64_t epoch = 0;       // the epoch of the batch's first row
};

struct DataPosition {
  uint64_t epoch = 0;
  uint64_t cursor = 0;  // examples of the epoch already consumed
  bool operator==(const DataPosition&) const = default;
};

struct BatchOptions {
  FormatOptions format;
  MaskingOptions masking;
  SpecialIds ids;
  // Sequences per batch, unless token_budget is set.
  uint64_t batch_size = 1;
  // > 0: a batch takes sequences until it holds this many tokens, ending on the sequence that
  // brings it nearest the budget (the paper's rule for SENTENCE-PAIR+NSP and DOC-SENTENCES, whose
  // batches grow when sequences are short). DataPipeline sets it from a measured reference.
  uint64_t token_budget = 0;
};

class BatchStream {
 public:
  BatchStream(const TokenCorpus& corpus, BatchOptions options, DataPosition start = {});

  // The next batch. A batch that reaches the end of an epoch takes its tail from the next epoch,
  // which is shuffled (and for static masking, masked) as that epoch, so no update is short.
  Batch Next();
  DataPosition position() const { return position_; }
  uint64_t ExamplesPerEpoch() const { return examples_.size(); }
  // Epochs consumed so far, fractional: epoch + cursor / examples of that epoch.
  double Epochs() const;

 private:
  // One row of a batch before it is materialized: its example and where it came from.
  struct Row {
    Example example;
    uint64_t epoch = 0;
    uint32_t index = 0;  // the example's index in its epoch's examples (names its mask)
    uint64_t length = 0;
  };
  void StartEpoch(uint64_t epoch);
  std::vector<Row> TakeRows();

  TokenCorpus corpus_;
  BatchOptions options_;
  DataPosition position_;
  uint64_t built_version_ = UINT64_MAX;
  std::vector<Example> examples_;
  std::vector<uint32_t> order_;  // example indices in this epoch's order
  // Scratch reused across batches.
  std::vector<int32_t> tokens_;
  std::vector<int8_t> segments_;
  MaskedTokens masked_;
};

}  // namespace ablate::core
