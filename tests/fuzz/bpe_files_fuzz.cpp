// Loading a BPE vocabulary from encoder.json and vocab.bpe as a user (or a damaged download) may
// supply them: the input is encoder.json, a line "=====", then vocab.bpe. A vocabulary that loads
// encodes any text to ids inside it, and decoding gives back the text; one that does not is
// refused with an InputError naming the file.
#include "core/bpe_tokenizer.h"
#include "tests/fuzz/fuzz_support.h"

using namespace ablate;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto [encoder, merges] = fuzz::SplitAt(input, "\n=====\n");
  const auto dir = fuzz::FreshDir("bpe");
  fuzz::WriteBytes(dir / "encoder.json", encoder);
  fuzz::WriteBytes(dir / "vocab.bpe", merges);
  fuzz::RefusesCleanly([&] {
    core::BpeTokenizer tokenizer = core::BpeTokenizer::Load(dir);
    for (std::string_view text :
         {std::string_view("Hello world, it's 2026!\n\xc3\xa9\xff"), input}) {
      const auto ids = tokenizer.Encode(text);
      for (core::TokenId id : ids)
        fuzz::Check(id >= 0 && id < tokenizer.bpe_vocab_size(), "an id is inside the vocabulary");
      fuzz::Check(tokenizer.Decode(ids) == text, "decoding the ids gives back the bytes");
    }
  });
  return 0;
}
