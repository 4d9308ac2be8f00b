#include "core/bpe_trainer.h"

#include <catch2/catch.hpp>
#include <filesystem>
#include <random>

#include "base/error.h"

namespace {

using ablate::core::BpeTokenizer;
using ablate::core::TokenId;
using ablate::core::TrainBpe;
namespace fs = std::filesystem;

// The tokens a training run added, in the order it learned them.
std::vector<std::string> LearnedTokens(const BpeTokenizer& tokenizer) {
  std::vector<std::string> tokens;
  for (TokenId id = 256; id < tokenizer.bpe_vocab_size(); ++id) {
    tokens.emplace_back(tokenizer.TokenBytes(id));
  }
  return tokens;
}

std::vector<std::string> Texts(std::initializer_list<const char*> texts) {
  return {texts.begin(), texts.end()};
}

}  // namespace

TEST_CASE("learns the textbook merges of aaabdaaabac, then breaks ties by bytes", "[bpe_train]") {
  // By hand: aa (4 overlapping), then ab and (aa, a) tie at 2 and "a" < "aa" picks ab, then
  // (aa, ab); then every pair occurs once and the smallest (left, right) bytes go first:
  // (a, c), (aaab, ac), (aaab, d), and last the two halves.
  BpeTokenizer tokenizer = TrainBpe(Texts({"aaabdaaabac"}), 300);
  CHECK(LearnedTokens(tokenizer) ==
        std::vector<std::string>{"aa", "ab", "aaab", "ac", "aaabac", "aaabd", "aaabdaaabac"});
  CHECK(tokenizer.Encode("aaabdaaabac") == std::vector<TokenId>{262});

  BpeTokenizer three = TrainBpe(Texts({"aaabdaaabac"}), 259);
  CHECK(LearnedTokens(three) == std::vector<std::string>{"aa", "ab", "aaab"});
  CHECK(three.vocab_size() == 259 + 5);
}

TEST_CASE("weights pairs by pre-token counts and never merges across pre-tokens", "[bpe_train]") {
  // Pre-tokens: "xy" once, " xy" twice, " zw" once (spread over two texts).
  // Pairs: (x,y) 3, (" ",x) 2, then (" ",z) and (z,w) tie at 1 and " " < "z".
  BpeTokenizer tokenizer = TrainBpe(Texts({"xy xy", " xy zw"}), 1000);
  CHECK(LearnedTokens(tokenizer) == std::vector<std::string>{"xy", " xy", " z", " zw"});
  CHECK(tokenizer.Encode("xy xy zw") == std::vector<TokenId>{256, 257, 259});
}

TEST_CASE("counts overlapping pairs but joins them left to right", "[bpe_train]") {
  BpeTokenizer tokenizer = TrainBpe(Texts({"aaa"}), 1000);
  CHECK(LearnedTokens(tokenizer) == std::vector<std::string>{"aa", "aaa"});
  CHECK(tokenizer.Encode("aaaa") == std::vector<TokenId>{256, 256});
  CHECK(tokenizer.Encode("aaaaa") == std::vector<TokenId>{256, 257});
}

TEST_CASE("a trained vocabulary numbers the bytes as GPT-2 does", "[bpe_train]") {
  BpeTokenizer tokenizer = TrainBpe(Texts({"no merges wanted"}), 256);
  REQUIRE(tokenizer.bpe_vocab_size() == 256);
  // GPT-2's bytes_to_unicode order: printable bytes first ('!' is 0, 'A' is 32), the rest after.
  CHECK(tokenizer.TokenBytes(0) == "!");
  CHECK(tokenizer.TokenBytes(32) == "A");
  CHECK(tokenizer.TokenBytes(188) == std::string(1, '\0'));
  CHECK(tokenizer.TokenBytes(220) == " ");
  CHECK(tokenizer.Encode("Hi!") == std::vector<TokenId>{39, 72, 0});
}

TEST_CASE("a trained tokenizer round-trips through encoder.json and vocab.bpe", "[bpe_train]") {
  std::vector<std::string> texts;
  std::mt19937 rng(7);
  const std::vector<std::string> words = {"the",     "masked", "language",    "model",
                                          "RoBERTa", "isn't",  "pretraining", "\xC3\xA9t\xC3\xA9",
                                          "2019",    "\xFF"};
  for (int i = 0; i < 200; ++i) {
    std::string text;
    for (int j = 0; j < 20; ++j) {
      text += words[std::uniform_int_distribution<size_t>(0, words.size() - 1)(rng)];
      text += j % 7 == 6 ? "\n" : " ";
    }
    texts.push_back(text);
  }
  BpeTokenizer trained = TrainBpe(texts, 300);
  REQUIRE(trained.bpe_vocab_size() == 300);

  const fs::path dir = fs::temp_directory_path() /
                       ("ablate-bpe-train-test-" + std::to_string(std::random_device{}()));
  trained.Save(dir);
  BpeTokenizer loaded = BpeTokenizer::Load(dir);
  fs::remove_all(dir);

  CHECK(LearnedTokens(loaded) == LearnedTokens(trained));
  for (const std::string& text : texts) {
    const std::vector<TokenId> ids = trained.Encode(text);
    CHECK(loaded.Encode(text) == ids);
    CHECK(loaded.Decode(ids) == text);
  }
  CHECK(trained.Encode(texts[0]).size() < texts[0].size() / 3);
}

TEST_CASE("training is deterministic", "[bpe_train]") {
  const auto texts = Texts({"low lower lowest newer newest wider widest", "low low newest"});
  CHECK(LearnedTokens(TrainBpe(texts, 280)) == LearnedTokens(TrainBpe(texts, 280)));
}

TEST_CASE("a vocabulary smaller than the bytes is bad input", "[bpe_train]") {
  CHECK_THROWS_AS(TrainBpe(Texts({"x"}), 255), ablate::InputError);
}
