// What a run's data amounts to before it trains: the sequences one epoch of an input format holds
// and their mean real length in tokens, measured on a tokenized corpus, and the token budget of
// the formats that fill batches by tokens (measured on their reference format, as the paper's
// "raise the batch size to keep tokens per batch equal" requires). Cached beside the shards.
// It builds no batches and trains nothing.
#pragma once

#include <cstdint>
#include <filesystem>

#include "core/input_format.h"
#include "core/token_corpus.h"

namespace ablate::core {

struct FormatStats {
  uint64_t sequences = 0;  // examples in one epoch (data version 0)
  double mean_length = 0;  // real tokens per sequence, specials included, padding not
  uint64_t corpus_tokens = 0;
};

// Measured on version 0 of the data with a fixed seed, so every seed of a grid gets one figure.
FormatStats MeasureFormat(const TokenCorpus& corpus, const FormatOptions& options);

// MeasureFormat, remembered in `cache_dir`/format-stats.json under a key of everything that
// changes it (format, seq_len, short_seq_prob, and `corpus_key` naming the corpus view, e.g. its
// data.max_tokens). The shards' directory is rebuilt when its inputs change, and the cache with it.
FormatStats CachedFormatStats(const std::filesystem::path& cache_dir, const std::string& corpus_key,
                              const TokenCorpus& corpus, const FormatOptions& options);

// The format whose real tokens per sequence a token-filled format matches: SEGMENT-PAIR+NSP for
// SENTENCE-PAIR+NSP, FULL-SENTENCES for DOC-SENTENCES; the format itself for the others.
InputFormat ReferenceFormat(InputFormat format);

// Tokens per update: batch_size sequences of the reference format's mean length.
uint64_t TokenBudget(const FormatStats& reference, uint64_t batch_size);

}  // namespace ablate::core
