// A read-only view of a tokenized corpus split: token ids stored flat, with the boundaries of
// sentences and documents as offsets. It views memory owned elsewhere (a memory-mapped shard or
// a vector in tests); it does not tokenize, load or own anything.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace ablate::core {

struct TokenCorpus {
  // Exactly one of the two is non-empty: shards store 16-bit ids when the vocabulary fits.
  std::span<const uint16_t> tokens16;
  std::span<const uint32_t> tokens32;
  // Sentence s is tokens [sentence_offsets[s], sentence_offsets[s + 1]); size = sentences + 1.
  std::span<const uint64_t> sentence_offsets;
  // Document d is sentences [document_offsets[d], document_offsets[d + 1]); size = documents + 1.
  std::span<const uint64_t> document_offsets;

  int32_t Token(uint64_t i) const {
    return tokens16.empty() ? static_cast<int32_t>(tokens32[i]) : tokens16[i];
  }
  uint64_t TokenCount() const { return tokens16.empty() ? tokens32.size() : tokens16.size(); }
  uint64_t SentenceCount() const {
    return sentence_offsets.empty() ? 0 : sentence_offsets.size() - 1;
  }
  uint64_t DocumentCount() const {
    return document_offsets.empty() ? 0 : document_offsets.size() - 1;
  }
  uint64_t SentenceBegin(uint64_t s) const { return sentence_offsets[s]; }
  uint64_t SentenceEnd(uint64_t s) const { return sentence_offsets[s + 1]; }
  // First token of document d (== TokenCount() for d == DocumentCount()).
  uint64_t DocumentTokenBegin(uint64_t d) const { return sentence_offsets[document_offsets[d]]; }
};

// Owns the arrays behind a TokenCorpus built in memory (tests, small corpora).
struct OwnedTokenCorpus {
  std::vector<uint32_t> tokens;
  std::vector<uint64_t> sentence_offsets{0};
  std::vector<uint64_t> document_offsets{0};

  // Appends a document given as sentences of token ids.
  void AddDocument(const std::vector<std::vector<uint32_t>>& sentences) {
    for (const auto& s : sentences) {
      tokens.insert(tokens.end(), s.begin(), s.end());
      sentence_offsets.push_back(tokens.size());
    }
    document_offsets.push_back(sentence_offsets.size() - 1);
  }

  TokenCorpus View() const { return {{}, tokens, sentence_offsets, document_offsets}; }
};

}  // namespace ablate::core
