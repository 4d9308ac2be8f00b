// Tokenized corpus shards on disk: token ids (16-bit when the vocabulary fits, else 32-bit) with
// sentence and document boundary offsets and the document ids, in one file that is memory-mapped
// read-only. Writing is atomic (temp file + rename), so concurrent preparers never see half a file.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "core/token_corpus.h"

namespace ablate::core {

void WriteShard(const std::filesystem::path& path, const OwnedTokenCorpus& corpus,
                const std::vector<std::string>& document_ids, uint32_t vocab_size);

class Shard {
 public:
  // Throws InputError naming the file when it is missing, truncated or not a shard.
  static Shard Open(const std::filesystem::path& path);

  const TokenCorpus& corpus() const { return view_; }
  const std::vector<std::string>& document_ids() const { return document_ids_; }
  uint32_t vocab_size() const { return vocab_size_; }

 private:
  struct Mapping;
  std::shared_ptr<Mapping> mapping_;
  TokenCorpus view_;
  std::vector<std::string> document_ids_;
  uint32_t vocab_size_ = 0;
};

}  // namespace ablate::core
