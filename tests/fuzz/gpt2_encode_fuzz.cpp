// GPT-2's encoder on any bytes, with GPT-2's real vocabulary: ids are BPE ids (never a special),
// and decoding them gives back exactly the bytes. The vocabulary is read from $ABLATE_GPT2_DIR,
// else data/gpt2 of the source tree (scripts/fetch-data puts it there).
#include <cstdlib>

#include "core/bpe_tokenizer.h"
#include "tests/fuzz/fuzz_support.h"

using namespace ablate;

namespace {

core::BpeTokenizer& Gpt2() {
  static core::BpeTokenizer tokenizer = [] {
    const char* dir = std::getenv("ABLATE_GPT2_DIR");
    return core::BpeTokenizer::Load(dir && *dir ? dir : ABLATE_SOURCE_DIR "/data/gpt2");
  }();
  return tokenizer;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  core::BpeTokenizer& tokenizer = Gpt2();
  const std::vector<core::TokenId> ids = tokenizer.Encode(text);
  for (core::TokenId id : ids) {
    fuzz::Check(id >= 0 && id < tokenizer.bpe_vocab_size() - 1,
                "an id is a BPE token other than <|endoftext|>");
  }
  fuzz::Check(tokenizer.Decode(ids) == text, "decoding the ids gives back the bytes");
  fuzz::Check(ids.size() <= size, "no more ids than bytes");
  return 0;
}
