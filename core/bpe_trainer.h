// Learns a byte-level BPE vocabulary the way GPT-2's was made: GPT-2's byte alphabet and
// pre-tokenization, then merges chosen by pair frequency over the counted pre-tokens.
// It reads no files or corpora (callers pass the text) and does not encode (BpeTokenizer does).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "core/bpe_tokenizer.h"

namespace ablate::core {

// Learns merges over `texts` until the tokenizer has `vocab_size` BPE tokens (the 256 bytes plus
// one per merge that makes new bytes; specials come on top), or fewer when no adjacent pair is
// left to join. Each step joins the most frequent pair, counting overlapping occurrences as GPT-2
// style trainers do; a tie goes to the pair whose (left bytes, right bytes) sorts first, so the
// result depends only on the texts. Throws InputError when vocab_size < 256.
BpeTokenizer TrainBpe(std::span<const std::string> texts, int32_t vocab_size);

// The pre-tokens of texts seen one at a time, counted: all TrainBpe learns from, so a corpus of
// any size trains a vocabulary in the memory of its distinct words, not of its text.
class BpeWordCounts {
 public:
  BpeWordCounts();
  ~BpeWordCounts();
  BpeWordCounts(BpeWordCounts&&) noexcept;
  BpeWordCounts& operator=(BpeWordCounts&&) noexcept;

  void Add(std::string_view text);
  size_t distinct() const;  // distinct pre-tokens so far

 private:
  struct Counts;
  std::unique_ptr<Counts> counts_;
  friend BpeTokenizer TrainBpe(const BpeWordCounts& counts, int32_t vocab_size);
};

// TrainBpe over the texts that were added to `counts`: the same merges as TrainBpe(texts).
BpeTokenizer TrainBpe(const BpeWordCounts& counts, int32_t vocab_size);

}  // namespace ablate::core
