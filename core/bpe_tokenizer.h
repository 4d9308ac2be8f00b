// GPT-2's byte-level BPE tokenizer, the one RoBERTa uses: loads and saves encoder.json + vocab.bpe,
// turns bytes into ids exactly as GPT-2's encoder.py (and tiktoken's "gpt2") does, and back.
// It does not learn merges (bpe_trainer.h does) and knows nothing of corpora, batches or masking.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ablate::core {

using TokenId = int32_t;

// Splits text into GPT-2's pre-tokens, the units BPE never merges across, with GPT-2's pattern
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// where \s is Unicode White_Space, as in GPT-2's Python `regex` and tiktoken (PCRE2's own \s would
// also take U+180E). \p{L} and \p{N} come from PCRE2's Unicode tables (Debian 12's 10.42: Unicode
// 14), so a letter or digit assigned in a later Unicode counts as a symbol here.
// Text is bytes: each maximal run of valid UTF-8 is split as if it were a whole text, and each
// maximal run of bytes that are not valid UTF-8 is one pre-token of its own, so nothing is
// dropped. Keeps match state: use one instance per thread (copies share the pattern).
class PreTokenizer {
 public:
  PreTokenizer();
  PreTokenizer(const PreTokenizer& other);
  PreTokenizer& operator=(const PreTokenizer& other);
  PreTokenizer(PreTokenizer&&) noexcept;
  PreTokenizer& operator=(PreTokenizer&&) noexcept;
  ~PreTokenizer();

  // Starts a walk over `text`, which must outlive it.
  void Reset(std::string_view text);
  // Sets `piece` to the next pre-token; false at the end. The pieces tile the text in order.
  bool Next(std::string_view* piece);

 private:
  struct Pattern;
  struct MatchState;
  std::shared_ptr<const Pattern> pattern_;
  std::unique_ptr<MatchState> state_;
  std::string_view text_;
  size_t pos_ = 0;
  // A match found past invalid UTF-8 at pos_: the invalid bytes are returned first, then it.
  bool has_ahead_ = false;
  size_t ahead_start_ = 0;
  size_t ahead_end_ = 0;
};

// Vocabulary layout: ids [0, bpe_vocab_size()) are the BPE tokens exactly as encoder.json numbers
// them (for GPT-2: 50257 tokens, 50256 being <|endoftext|>, which Encode never produces), then
// RoBERTa's specials are appended: <s>, <pad>, </s>, <unk>, <mask> (GPT-2: 50257 ... 50261). This
// is not fairseq's remapped dictionary; it keeps Encode's ids identical to GPT-2's.
//
// Encode keeps a cache of pre-token encodings and regex match state, so use one instance per
// thread; copies are cheap (they share the vocabulary and the compiled pattern).
class BpeTokenizer {
 public:
  // Loads DIR/encoder.json (token -> id) and DIR/vocab.bpe (merges in rank order after a "#version"
  // line). Throws InputError naming the file (and line or key) when one is missing or malformed.
  static BpeTokenizer Load(const std::filesystem::path& dir);
  // A byte-level vocabulary: the 256 bytes numbered as GPT-2 numbers them, then the result of each
  // merge (left bytes, right bytes), in order, as a new id unless a merge made those bytes before.
  static BpeTokenizer FromMerges(std::span<const std::pair<std::string, std::string>> merges);

  BpeTokenizer(const BpeTokenizer& other);
  BpeTokenizer& operator=(const BpeTokenizer& other);
  BpeTokenizer(BpeTokenizer&&) noexcept;
  BpeTokenizer& operator=(BpeTokenizer&&) noexcept;
  ~BpeTokenizer();

  // Writes DIR/encoder.json and DIR/vocab.bpe in GPT-2's format (DIR is created if missing).
  void Save(const std::filesystem::path& dir) const;

  // Appends the BPE ids of `text` (any bytes) to `ids`; never produces a special id.
  void Encode(std::string_view text, std::vector<TokenId>* ids);
  std::vector<TokenId> Encode(std::string_view text);
  // The bytes the ids stand for; a special id becomes its name ("<mask>"). Throws InputError for
  // an id outside the vocabulary.
  std::string Decode(std::span<const TokenId> ids) const;

  // The bytes of a BPE token, 0 <= id < bpe_vocab_size().
  std::string_view TokenBytes(TokenId id) const;

  TokenId bpe_vocab_size() const;
  TokenId vocab_size() const { return bpe_vocab_size() + kNumSpecials; }
  TokenId bos_id() const { return bpe_vocab_size() + 0; }
  TokenId pad_id() const { return bpe_vocab_size() + 1; }
  TokenId eos_id() const { return bpe_vocab_size() + 2; }
  TokenId unk_id() const { return bpe_vocab_size() + 3; }
  TokenId mask_id() const { return bpe_vocab_size() + 4; }
  bool IsSpecial(TokenId id) const { return id >= bpe_vocab_size() && id < vocab_size(); }

 private:
  static constexpr TokenId kNumSpecials = 5;
  struct Model;
  struct Session;

  explicit BpeTokenizer(std::shared_ptr<const Model> model);
  void EncodePiece(std::string_view piece, std::vector<TokenId>* ids);
  void MergePiece(std::string_view piece, std::vector<TokenId>* ids);

  std::shared_ptr<const Model> model_;
  std::unique_ptr<Session> session_;
};

}  // namespace ablate::core
