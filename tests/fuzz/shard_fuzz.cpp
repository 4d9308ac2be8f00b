// Tokenized shards (the memory-mapped corpus files): a damaged or foreign file is refused with an
// InputError naming it; a shard that opens has ids inside its vocabulary and boundaries inside its
// tokens, so nothing downstream reads past the mapping.
#include "core/shard.h"
#include "tests/fuzz/fuzz_support.h"

using namespace ablate;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto path = fuzz::Scratch() / "fuzz.shard";
  fuzz::WriteBytes(path, input);
  fuzz::RefusesCleanly([&] {
    const core::Shard shard = core::Shard::Open(path);
    const core::TokenCorpus& c = shard.corpus();
    for (uint64_t i = 0; i < c.TokenCount(); ++i)
      fuzz::Check(static_cast<uint32_t>(c.Token(i)) < shard.vocab_size(),
                  "ids inside the vocabulary");
    fuzz::Check(c.sentence_offsets.empty() || c.sentence_offsets.front() == 0,
                "sentences start at 0");
    for (uint64_t s = 0; s < c.SentenceCount(); ++s)
      fuzz::Check(c.SentenceBegin(s) <= c.SentenceEnd(s), "sentences are ordered");
    fuzz::Check(c.SentenceCount() == 0 || c.SentenceEnd(c.SentenceCount() - 1) == c.TokenCount(),
                "the last sentence ends at the last token");
    for (uint64_t d = 0; d + 1 < c.document_offsets.size(); ++d)
      fuzz::Check(c.document_offsets[d] <= c.document_offsets[d + 1], "documents are ordered");
    fuzz::Check(c.document_offsets.empty() || c.document_offsets.back() == c.SentenceCount(),
                "the last document ends at the last sentence");
    fuzz::Check(shard.document_ids().size() == c.DocumentCount(), "one id per document");
  });
  return 0;
}
