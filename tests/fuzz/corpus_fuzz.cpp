// The corpus readers: a JSON Lines document file (first byte even) or a plain-text document (odd).
// Documents come back with their paragraphs, or the file is refused with an InputError naming it
// and the line.
#include "core/documents.h"
#include "tests/fuzz/fuzz_support.h"

using namespace ablate;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  const bool jsonl = (data[0] & 1) == 0;
  const auto path = fuzz::Scratch() / (jsonl ? "docs.jsonl" : "doc.txt");
  fuzz::WriteBytes(path, input);
  fuzz::RefusesCleanly([&] {
    const auto documents = jsonl ? core::ReadJsonlDocuments(path) : core::ReadTextDocument(path);
    size_t bytes = 0;
    for (const auto& d : documents)
      for (const auto& p : d.paragraphs) bytes += p.size();
    fuzz::Check(bytes <= input.size(), "paragraphs hold no more bytes than the file");
  });
  return 0;
}
