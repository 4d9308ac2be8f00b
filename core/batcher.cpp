#include "core/batcher.h"

#include <algorithm>
#include <numeric>

#include "core/error.h"
#include "core/rng.h"

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
  // NSP formats draw new pairs per data version (each static copy, or each epoch when dynamic);
  // the packed formats are the same every epoch, so build them once.
  uint64_t version = HasNsp(options_.format.format) ? MaskVersion(options_.masking, epoch) : 0;
  if (version != built_version_) {
    examples_ = BuildExamples(corpus_, options_.format, version);
    built_version_ = version;
  }
  order_.resize(examples_.size());
  std::iota(order_.begin(), order_.end(), 0u);
  Rng rng({options_.format.seed, kOrderDomain, epoch});
  for (size_t i = order_.size(); i > 1; --i) std::swap(order_[i - 1], order_[rng.Below(i)]);
}

Batch BatchStream::Next() {
  if (position_.cursor == examples_.size()) {
    position_ = {position_.epoch + 1, 0};
    StartEpoch(position_.epoch);
  }
  // Choose the rows: a fixed count, or as many as the token budget holds (at least one).
  const bool by_tokens = BatchesByTokens(options_.format.format);
  const uint64_t budget = options_.batch_size * static_cast<uint64_t>(options_.format.seq_len);
  uint64_t first = position_.cursor, last = first, budget_used = 0, longest = 0;
  while (last < examples_.size()) {
    if (!by_tokens && last - first == options_.batch_size) break;
    uint64_t length = ExampleLength(corpus_, examples_[order_[last]]);
    if (by_tokens && last > first && budget_used + length > budget) break;
    budget_used += length;
    longest = std::max(longest, length);
    ++last;
  }

  Batch batch;
  batch.epoch = position_.epoch;
  batch.rows = static_cast<int64_t>(last - first);
  batch.cols = static_cast<int64_t>(longest);
  const size_t cells = static_cast<size_t>(batch.rows * batch.cols);
  batch.input_ids.assign(cells, options_.ids.pad);
  batch.labels.assign(cells, kIgnoreLabel);
  batch.segment_ids.assign(cells, 0);
  for (uint64_t i = first; i < last; ++i) {
    const uint32_t index = order_[i];
    const Example& example = examples_[index];
    MaterializeExample(corpus_, example, options_.format, options_.ids, tokens_, segments_);
    MaskSequence(tokens_, options_.masking, options_.format.seed, position_.epoch, index, masked_);
    const size_t row = static_cast<size_t>(i - first) * static_cast<size_t>(batch.cols);
    std::copy(masked_.inputs.begin(), masked_.inputs.end(), batch.input_ids.begin() + row);
    std::copy(masked_.labels.begin(), masked_.labels.end(), batch.labels.begin() + row);
    std::copy(segments_.begin(), segments_.end(), batch.segment_ids.begin() + row);
    batch.lengths.push_back(static_cast<int32_t>(tokens_.size()));
    batch.nsp_labels.push_back(example.nsp);
    batch.tokens += static_cast<int64_t>(tokens_.size());
    batch.predictions += static_cast<int64_t>(masked_.positions.size());
  }
  position_.cursor = last;
  return batch;
}

}  // namespace ablate::core
