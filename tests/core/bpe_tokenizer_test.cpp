#include "core/bpe_tokenizer.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "base/error.h"
#include "tests/support.h"

namespace {

using ablate::core::BpeTokenizer;
using ablate::core::TokenId;
namespace fs = std::filesystem;

fs::path DataDir() {
  if (const char* dir = std::getenv("ABLATE_DATA_DIR"); dir != nullptr && *dir != '\0') return dir;
  return fs::path(ABLATE_SOURCE_DIR) / "data";
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

// GPT-2's vocabulary, loaded once; tests copy it (copies share the vocabulary).
const BpeTokenizer& Gpt2() {
  static const BpeTokenizer tokenizer = [] {
    const fs::path dir = DataDir() / "gpt2";
    if (!fs::exists(dir / "encoder.json") || !fs::exists(dir / "vocab.bpe")) {
      FAIL("GPT-2's vocabulary is missing from " << dir << ": run scripts/fetch-data");
    }
    return BpeTokenizer::Load(dir);
  }();
  return tokenizer;
}

using ablate::test::TempDir;

// Bytes as C-style text for failure messages: printable ASCII as is, everything else as \xNN.
std::string Escaped(std::string_view bytes) {
  std::string text;
  for (unsigned char c : bytes) {
    if (c >= 0x20 && c < 0x7F && c != '\\') {
      text.push_back(static_cast<char>(c));
    } else {
      static constexpr char kHex[] = "0123456789ABCDEF";
      text += {'\\', 'x', kHex[c >> 4], kHex[c & 15]};
    }
  }
  return text;
}

void WriteFile(const fs::path& path, const std::string& content) {
  std::ofstream(path, std::ios::binary) << content;
}

}  // namespace

TEST_CASE("GPT-2 encodes Hello world! as 15496 995 0", "[bpe]") {
  BpeTokenizer tokenizer = Gpt2();
  CHECK(tokenizer.Encode("Hello world!") == std::vector<TokenId>{15496, 995, 0});
}

TEST_CASE("ids equal tiktoken's gpt2 encoding on every reference text", "[bpe]") {
  // tests/data/make_gpt2_reference.js made these with tiktoken; see it for what they cover.
  const auto reference = nlohmann::json::parse(
      ReadFile(fs::path(ABLATE_SOURCE_DIR) / "tests/data/gpt2_reference.json"));
  BpeTokenizer tokenizer = Gpt2();
  REQUIRE(reference.at("cases").size() > 50);
  for (const auto& c : reference.at("cases")) {
    const auto text = c.at("text").get<std::string>();
    const auto expected = c.at("ids").get<std::vector<TokenId>>();
    INFO("text: " << Escaped(text));
    CHECK(tokenizer.Encode(text) == expected);
    CHECK(tokenizer.Decode(expected) == text);
  }
}

TEST_CASE("decoding an encoding gives back any bytes, invalid UTF-8 included", "[bpe]") {
  BpeTokenizer tokenizer = Gpt2();
  std::mt19937 rng(20190726);
  // Mostly ASCII, UTF-8 lead and continuation bytes, so merges and broken sequences both occur.
  const std::string alphabet =
      "aeiou tTsS'\n\r\t0123.,!\xC3\xA9\xE2\x80\x99\xF0\x9F\x98\x80\xFF\xC0";
  for (int trial = 0; trial < 2000; ++trial) {
    std::string text(std::uniform_int_distribution<int>(0, 64)(rng), '\0');
    for (char& c : text) {
      c = trial % 2 == 0
              ? static_cast<char>(std::uniform_int_distribution<int>(0, 255)(rng))
              : alphabet[std::uniform_int_distribution<size_t>(0, alphabet.size() - 1)(rng)];
    }
    INFO("text: " << Escaped(text));
    CHECK(tokenizer.Decode(tokenizer.Encode(text)) == text);
  }
}

TEST_CASE("invalid UTF-8 is a pre-token of its own between valid runs", "[bpe]") {
  BpeTokenizer tokenizer = Gpt2();
  auto concat = [&](std::initializer_list<std::string_view> parts) {
    std::vector<TokenId> ids;
    for (std::string_view part : parts) tokenizer.Encode(part, &ids);
    return ids;
  };
  // A lone 0xFF encodes as its byte token; a truncated three-byte sequence stays one piece,
  // which GPT-2's vocabulary happens to hold as one token.
  REQUIRE(tokenizer.Encode("\xFF").size() == 1);
  CHECK(tokenizer.TokenBytes(tokenizer.Encode("\xFF")[0]) == "\xFF");
  REQUIRE(tokenizer.Encode("\xE2\x80").size() == 1);
  CHECK(tokenizer.TokenBytes(tokenizer.Encode("\xE2\x80")[0]) == "\xE2\x80");
  CHECK(tokenizer.Encode("hello\xFFworld") == concat({"hello", "\xFF", "world"}));
  CHECK(tokenizer.Encode("it \xE2\x80 's   ") == concat({"it ", "\xE2\x80", " 's   "}));
  CHECK(tokenizer.Encode("\xC0\xAF\xFF  x") == concat({"\xC0\xAF\xFF", "  x"}));
}

TEST_CASE("long runs of one character encode in reasonable time and round-trip", "[bpe]") {
  // One pre-token each: GPT-2's quadratic merge loop would take hours on these.
  BpeTokenizer tokenizer = Gpt2();
  for (const std::string& text :
       {std::string(1 << 20, ' '), std::string(1 << 20, 'a'), std::string(1 << 18, '\n')}) {
    const std::vector<TokenId> ids = tokenizer.Encode(text);
    CHECK(tokenizer.Decode(ids) == text);
    if (text[0] == ' ') {
      // GPT-2 has no token for two spaces, so each space stays " " (220).
      CHECK(std::count(ids.begin(), ids.end(), 220) == static_cast<long>(text.size()));
    } else {
      CHECK(ids.size() <= text.size() / 2);
    }
  }
}

TEST_CASE("a warm cache, a copy and a reloaded tokenizer agree", "[bpe]") {
  BpeTokenizer tokenizer = Gpt2();
  const std::string text = "Caching must not change the ids: the the the, caching caching.";
  const std::vector<TokenId> cold = tokenizer.Encode(text);
  CHECK(tokenizer.Encode(text) == cold);
  BpeTokenizer copy = tokenizer;
  CHECK(copy.Encode(text) == cold);
  CHECK(BpeTokenizer::Load(DataDir() / "gpt2").Encode(text) == cold);
}

TEST_CASE("RoBERTa's specials follow GPT-2's 50257 tokens", "[bpe]") {
  BpeTokenizer tokenizer = Gpt2();
  CHECK(tokenizer.bpe_vocab_size() == 50257);
  CHECK(tokenizer.vocab_size() == 50262);
  CHECK(tokenizer.bos_id() == 50257);
  CHECK(tokenizer.pad_id() == 50258);
  CHECK(tokenizer.eos_id() == 50259);
  CHECK(tokenizer.unk_id() == 50260);
  CHECK(tokenizer.mask_id() == 50261);
  CHECK_FALSE(tokenizer.IsSpecial(50256));  // <|endoftext|> is one of GPT-2's own tokens
  CHECK(tokenizer.IsSpecial(50257));
  CHECK(tokenizer.IsSpecial(50261));
  CHECK_FALSE(tokenizer.IsSpecial(50262));
  CHECK(tokenizer.Decode(std::vector<TokenId>{tokenizer.bos_id(), 15496, tokenizer.mask_id(),
                                              tokenizer.eos_id(), tokenizer.pad_id()}) ==
        "<s>Hello<mask></s><pad>");
  CHECK(tokenizer.Decode(std::vector<TokenId>{50256}) == "<|endoftext|>");
  CHECK_THROWS_AS(tokenizer.Decode(std::vector<TokenId>{50262}), ablate::InputError);
  CHECK_THROWS_AS(tokenizer.Decode(std::vector<TokenId>{-1}), ablate::InputError);
}

TEST_CASE("saving GPT-2's vocabulary reproduces its files byte for byte", "[bpe]") {
  TempDir dir;
  Gpt2().Save(dir.path());
  CHECK(ReadFile(dir.path() / "encoder.json") == ReadFile(DataDir() / "gpt2/encoder.json"));
  CHECK(ReadFile(dir.path() / "vocab.bpe") == ReadFile(DataDir() / "gpt2/vocab.bpe"));
}

TEST_CASE("loading names the file and line of what is wrong", "[bpe]") {
  TempDir dir;
  auto load_error = [&] {
    try {
      BpeTokenizer::Load(dir.path());
    } catch (const ablate::InputError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  using Catch::Matchers::Contains;
  CHECK_THAT(load_error(), Contains("encoder.json") && Contains("cannot open"));

  BpeTokenizer::FromMerges(std::vector<std::pair<std::string, std::string>>{{"a", "b"}})
      .Save(dir.path());
  REQUIRE_NOTHROW(BpeTokenizer::Load(dir.path()));

  WriteFile(dir.path() / "vocab.bpe", "a b\n");
  CHECK_THAT(load_error(), Contains("vocab.bpe") && Contains("line 1") && Contains("#version"));
  WriteFile(dir.path() / "vocab.bpe", "#version: 0.2\na b\nab c\n");
  CHECK_THAT(load_error(), Contains("line 3") && Contains("not in encoder.json"));
  WriteFile(dir.path() / "vocab.bpe", "#version: 0.2\na  b\n");
  CHECK_THAT(load_error(), Contains("line 2") && Contains("one space"));

  WriteFile(dir.path() / "vocab.bpe", "#version: 0.2\n");
  WriteFile(dir.path() / "encoder.json", "{\"a\": 0,");
  CHECK_THAT(load_error(), Contains("encoder.json") && Contains("not valid JSON"));
  WriteFile(dir.path() / "encoder.json", "{\"a\": 0, \"b\": 7}");
  CHECK_THAT(load_error(), Contains("/b") && Contains("expected an id in [0, 2)"));
  WriteFile(dir.path() / "encoder.json", "{\"a\": 0, \"b\": 1}");
  CHECK_THAT(load_error(), Contains("has no token for byte"));
}
