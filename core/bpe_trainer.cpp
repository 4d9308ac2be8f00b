#include "core/bpe_trainer.h"

#include <algorithm>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/error.h"

namespace ablate::core {
namespace {

// While learning, a token is its index here: 0-255 the bytes themselves, then one per new
// merge result. BpeTokenizer::FromMerges renumbers them the way GPT-2 numbers its vocabulary.
using Symbol = int32_t;
using Merges = std::vector<std::pair<std::string, std::string>>;

uint64_t PairKey(Symbol left, Symbol right) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
}
Symbol LeftOf(uint64_t key) { return static_cast<Symbol>(key >> 32); }
Symbol RightOf(uint64_t key) { return static_cast<Symbol>(key & 0xFFFFFFFFu); }

// A distinct pre-token and how often the texts contain it.
struct Word {
  std::vector<Symbol> symbols;
  int64_t count;
};

// A pair's count when it was pushed; stale once the pair's count has changed since.
struct HeapEntry {
  int64_t count;
  uint64_t pair;
};

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

using WordCountMap = std::unordered_map<std::string, int64_t, StringHash, std::equal_to<>>;

void CountWords(std::string_view text, PreTokenizer& pre_tokenizer, WordCountMap& counts) {
  std::string_view piece;
  pre_tokenizer.Reset(text);
  while (pre_tokenizer.Next(&piece)) {
    if (auto it = counts.find(piece); it != counts.end()) {
      ++it->second;
    } else {
      counts.emplace(piece, 1);
    }
  }
}

// Keeps the count of every adjacent pair and which words hold it, and updates both only for the
// words a merge touches, so each step costs in proportion to the pair's occurrences rather than
// to the corpus.
class MergeLearner {
 public:
  explicit MergeLearner(const WordCountMap& counts) {
    for (int byte = 0; byte < 256; ++byte) IdOf(std::string(1, static_cast<char>(byte)));
    MakeWords(counts);
    last_step_.assign(words_.size(), -1);
    for (size_t w = 0; w < words_.size(); ++w) {
      const Word& word = words_[w];
      for (size_t i = 0; i + 1 < word.symbols.size(); ++i) {
        uint64_t pair = PairKey(word.symbols[i], word.symbols[i + 1]);
        pair_counts_[pair] += word.count;
        where_[pair].push_back(static_cast<int32_t>(w));
      }
    }
    for (const auto& [pair, count] : pair_counts_) Push(pair, count);
  }

  Merges Learn(int32_t vocab_size) {
    Merges merges;
    while (static_cast<int64_t>(tokens_.size()) < vocab_size) {
      std::optional<uint64_t> best = PopBest();
      if (!best) break;
      const Symbol left = LeftOf(*best);
      const Symbol right = RightOf(*best);
      merges.emplace_back(tokens_[left], tokens_[right]);
      Merge(left, right, IdOf(tokens_[left] + tokens_[right]));
    }
    return merges;
  }

 private:
  Symbol IdOf(const std::string& bytes) {
    auto [it, added] = ids_.emplace(bytes, static_cast<Symbol>(tokens_.size()));
    if (added) tokens_.push_back(bytes);
    return it->second;
  }

  void MakeWords(const WordCountMap& counts) {
    words_.reserve(counts.size());
    for (const auto& [bytes, count] : counts) {
      if (bytes.size() < 2) continue;  // no pair to count
      Word word{.symbols = {}, .count = count};
      word.symbols.reserve(bytes.size());
      for (unsigned char byte : bytes) word.symbols.push_back(byte);
      words_.push_back(std::move(word));
    }
  }

  // Heap order: higher count first; on a tie, the pair whose (left bytes, right bytes) sorts first.
  bool LowerPriority(const HeapEntry& a, const HeapEntry& b) const {
    if (a.count != b.count) return a.count < b.count;
    int order = tokens_[LeftOf(a.pair)].compare(tokens_[LeftOf(b.pair)]);
    if (order == 0) order = tokens_[RightOf(a.pair)].compare(tokens_[RightOf(b.pair)]);
    return order > 0;
  }

  void Push(uint64_t pair, int64_t count) {
    heap_.push_back({count, pair});
    std::push_heap(heap_.begin(), heap_.end(),
                   [this](const HeapEntry& a, const HeapEntry& b) { return LowerPriority(a, b); });
  }

  // The most frequent pair, skipping entries whose count has changed since they were pushed
  // (every change pushed a fresh entry, so the current one is still in the heap).
  std::optional<uint64_t> PopBest() {
    auto order = [this](const HeapEntry& a, const HeapEntry& b) { return LowerPriority(a, b); };
    while (!heap_.empty()) {
      std::pop_heap(heap_.begin(), heap_.end(), order);
      HeapEntry top = heap_.back();
      heap_.pop_back();
      auto it = pair_counts_.find(top.pair);
      if (it != pair_counts_.end() && it->second == top.count) return top.pair;
    }
    return std::nullopt;
  }

  // Adds `sign` times the word's count for each of its adjacent pairs to this step's deltas.
  void AccumulatePairs(const Word& word, int64_t sign) {
    for (size_t i = 0; i + 1 < word.symbols.size(); ++i) {
      deltas_[PairKey(word.symbols[i], word.symbols[i + 1])] += sign * word.count;
    }
  }

  // Joins (left, right) into `merged` in every word holding it, left to right without overlap
  // (as the tokenizer will), and applies the net change of every pair count.
  void Merge(Symbol left, Symbol right, Symbol merged) {
    const uint64_t key = PairKey(left, right);
    const std::vector<int32_t> holders = std::move(where_[key]);
    where_.erase(key);
    ++step_;
    deltas_.clear();
    for (int32_t w : holders) {
      if (last_step_[w] == step_) continue;  // listed more than once
      last_step_[w] = step_;
      Word& word = words_[w];
      std::vector<Symbol>& symbols = word.symbols;
      auto first = std::adjacent_find(symbols.begin(), symbols.end(),
                                      [&](Symbol a, Symbol b) { return a == left && b == right; });
      if (first == symbols.end()) continue;  // an earlier merge took the pair from this word
      AccumulatePairs(word, -1);
      size_t out = first - symbols.begin();
      for (size_t in = out; in < symbols.size(); ++in) {
        if (in + 1 < symbols.size() && symbols[in] == left && symbols[in + 1] == right) {
          symbols[out++] = merged;
          ++in;
        } else {
          symbols[out++] = symbols[in];
        }
      }
      symbols.resize(out);
      AccumulatePairs(word, +1);
      for (size_t i = 0; i + 1 < symbols.size(); ++i) {
        if (symbols[i] == merged || symbols[i + 1] == merged) {
          where_[PairKey(symbols[i], symbols[i + 1])].push_back(w);
        }
      }
    }
    for (const auto& [pair, delta] : deltas_) {
      if (delta == 0) continue;
      int64_t& count = pair_counts_[pair];
      count += delta;
      if (count == 0) {
        pair_counts_.erase(pair);
      } else {
        Push(pair, count);
      }
    }
  }

  std::vector<std::string> tokens_;  // Symbol -> bytes
  std::unordered_map<std::string, Symbol> ids_;
  std::vector<Word> words_;
  std::unordered_map<uint64_t, int64_t> pair_counts_;
  std::unordered_map<uint64_t, std::vector<int32_t>> where_;  // pair -> words (maybe stale)
  std::vector<HeapEntry> heap_;
  std::unordered_map<uint64_t, int64_t> deltas_;
  std::vector<int64_t> last_step_;  // per word: the last merge step that visited it
  int64_t step_ = 0;
};

}  // namespace

struct BpeWordCounts::Counts {
  PreTokenizer pre_tokenizer;
  WordCountMap counts;
};

BpeWordCounts::BpeWordCounts() : counts_(std::make_unique<Counts>()) {}
BpeWordCounts::~BpeWordCounts() = default;
BpeWordCounts::BpeWordCounts(BpeWordCounts&&) noexcept = default;
BpeWordCounts& BpeWordCounts::operator=(BpeWordCounts&&) noexcept = default;

void BpeWordCounts::Add(std::string_view text) {
  CountWords(text, counts_->pre_tokenizer, counts_->counts);
}

size_t BpeWordCounts::distinct() const { return counts_->counts.size(); }

BpeTokenizer TrainBpe(const BpeWordCounts& counts, int32_t vocab_size) {
  if (vocab_size < 256) {
    throw InputError(
        "", "vocab_size",
        "must be at least 256 (one token per byte), got " + std::to_string(vocab_size));
  }
  Merges merges = MergeLearner(counts.counts_->counts).Learn(vocab_size);
  return BpeTokenizer::FromMerges(merges);
}

BpeTokenizer TrainBpe(std::span<const std::string> texts, int32_t vocab_size) {
  BpeWordCounts counts;
  for (const std::string& text : texts) counts.Add(text);
  return TrainBpe(counts, vocab_size);
}

}  // namespace ablate::core
