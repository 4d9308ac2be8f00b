#include "core/batcher.h"

#include <algorithm>
#include <numeric>
#include <string>

#include "base/error.h"
#include "base/rng.h"

namespace ablate::core {
namespace {

constexpr uint64_t kOrderDomain = 0x6f726472;  // "ordr"

}  // namespace

BatchStream::BatchStream(const TokenCorpus& corpus, BatchOptions options, DataPosition start)
    : corpus_(corpus), options_(std::move(options)), position_(start) {
  ABLATE_CHECK(options_.batch_size > 0, "batch_size must be positive");
  StartEpoch(position_.epoch);
  if (examples_.empty())
    throw InputError("", "data.corpus", "the corpus yields no training sequences");
  ABLATE_CHECK(position_.cursor <= examples_.size(), "data position beyond the epoch");
}

void BatchStream::StartEpoch(uint64_t epoch) {
  // Everything but the masks follows the static copy index in both masking modes: the NSP formats
  // draw their pairs (and negatives, and truncations) per copy, as BERT's duplicated data did, so
  // a static and a dynamic run of one seed see the same unmasked sequences in the same order and
  // differ only in their masks. The packed formats are the same every epoch: build them once.
  const uint64_t copies = static_cast<uint64_t>(std::max(options_.masking.static_copies, 1));
  const uint64_t version = HasNsp(options_.format.format) ? epoch % copies : 0;
  if (version != built_version_) {
    examples_ = BuildExamples(corpus_, options_.format, version);
    built_version_ = version;
  }
  order_.resize(examples_.size());
  std::iota(order_.begin(), order_.end(), 0u);
  Rng rng({options_.format.seed, kOrderDomain, epoch});
  for (size_t i = order_.size(); i > 1; --i) std::swap(order_[i - 1], order_[rng.Below(i)]);
}

double BatchStream::Epochs() const {
  return static_cast<double>(position_.epoch) +
         static_cast<double>(position_.cursor) / static_cast<double>(examples_.size());
}

std::vector<BatchStream::Row> BatchStream::TakeRows() {
  // A fixed count of rows, or as many as bring the tokens nearest the budget (at least one).
  const uint64_t budget = options_.token_budget;
  std::vector<Row> rows;
  uint64_t tokens = 0;
  while (true) {
    if (budget == 0 && rows.size() == options_.batch_size) break;
    if (position_.cursor == examples_.size()) {
      position_ = {position_.epoch + 1, 0};
      StartEpoch(position_.epoch);
      ABLATE_CHECK(!examples_.empty(),
                   "epoch " + std::to_string(position_.epoch) + " of the data yields no sequences");
    }
    const uint32_t index = order_[position_.cursor];
    const Example& example = examples_[index];
    const uint64_t length = ExampleLength(corpus_, example);
    // Stop when this sequence would overshoot the budget by more than the batch falls short.
    if (budget > 0 && !rows.empty() && tokens + length > budget &&
        tokens + length - budget > budget - tokens) {
      break;
    }
    rows.push_back({example, position_.epoch, index, length});
    tokens += length;
    ++position_.cursor;
    if (budget > 0 && tokens >= budget) break;
  }
  return rows;
}

Batch BatchStream::Next() {
  const std::vector<Row> rows = TakeRows();
  uint64_t longest = 0;
  for (const Row& row : rows) longest = std::max(longest, row.length);

  Batch batch;
  batch.epoch = rows.front().epoch;
  batch.rows = static_cast<int64_t>(rows.size());
  batch.cols = static_cast<int64_t>(longest);
  const size_t cells = static_cast<size_t>(batch.rows * batch.cols);
  batch.input_ids.assign(cells, options_.ids.pad);
  batch.labels.assign(cells, kIgnoreLabel);
  batch.segment_ids.assign(cells, 0);
  for (size_t r = 0; r < rows.size(); ++r) {
    const Row& row = rows[r];
    MaterializeExample(corpus_, row.example, options_.format, options_.ids, tokens_, segments_);
    MaskSequence(tokens_, options_.masking, options_.format.seed, row.epoch, row.index, masked_);
    const size_t offset = r * static_cast<size_t>(batch.cols);
    std::copy(masked_.inputs.begin(), masked_.inputs.end(), batch.input_ids.begin() + offset);
    std::copy(masked_.labels.begin(), masked_.labels.end(), batch.labels.begin() + offset);
    std::copy(segments_.begin(), segments_.end(), batch.segment_ids.begin() + offset);
    batch.lengths.push_back(static_cast<int32_t>(tokens_.size()));
    batch.nsp_labels.push_back(row.example.nsp);
    batch.first_tokens.push_back(row.example.a_begin);
    batch.tokens += static_cast<int64_t>(tokens_.size());
    batch.predictions += static_cast<int64_t>(masked_.positions.size());
  }
  return batch;
}

}  // namespace ablate::core
