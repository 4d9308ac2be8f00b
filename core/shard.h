// Tokenized corpus shards on disk: token ids (16-bit when the vocabulary fits, else 32-bit) with
// sentence and document boundary offsets and the document ids, in one file that is memory-mapped
// read-only. Writing is atomic (temp file + rename), so concurrent preparers never see half a file.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/token_corpus.h"

namespace ablate::core {

void WriteShard(const std::filesystem::path& path, const OwnedTokenCorpus& corpus,
                const std::vector<std::string>& document_ids, uint32_t vocab_size);

// Token ids per shard entry: 2 bytes when the vocabulary fits in 16 bits, else 4.
uint32_t ShardTokenBytes(uint32_t vocab_size);

// Writes a shard document by document, with every count known up front, in bounded memory: each
// section goes through its own buffer to its place in a temporary file beside `path`, which
// Commit() renames over it (the destructor removes it when Commit was not reached).
class ShardWriter {
 public:
  struct Counts {
    uint64_t tokens = 0, sentences = 0, documents = 0, ids_bytes = 0;  // ids_bytes: with NULs
  };
  ShardWriter(std::filesystem::path path, uint32_t vocab_size, const Counts& counts);
  ~ShardWriter();
  ShardWriter(const ShardWriter&) = delete;
  ShardWriter& operator=(const ShardWriter&) = delete;

  // One document: its sentences' ends in tokens from its start (ascending; the last is the token
  // count), its tokens as stored (ShardTokenBytes wide), and its id.
  void AddDocument(std::span<const uint64_t> sentence_ends, const void* tokens,
                   std::string_view id);
  // Checks that exactly the announced counts were written, then renames the file into place.
  void Commit();

 private:
  struct Section;
  std::filesystem::path path_, temp_;
  int fd_ = -1;
  uint32_t token_bytes_;
  Counts expected_, written_;
  std::vector<std::unique_ptr<Section>> sections_;  // tokens, sentence and document offsets, ids
};

// Where a shard file's sections are, read from its header without mapping it (for readers that
// take a few documents at a time with pread).
struct ShardLayout {
  uint32_t token_bytes = 0, vocab_size = 0;
  uint64_t tokens = 0, sentences = 0, documents = 0, ids_bytes = 0;
  uint64_t tokens_at = 0, sentences_at = 0, documents_at = 0, ids_at = 0;  // byte offsets
};
// Throws InputError naming the file when it is not a shard or its size disagrees with its header.
ShardLayout ReadShardLayout(const std::filesystem::path& path);

class Shard {
 public:
  // Throws InputError naming the file when it is missing, truncated or not a shard.
  static Shard Open(const std::filesystem::path& path);

  const TokenCorpus& corpus() const { return view_; }
  // Hands the mapped file's pages back (MADV_DONTNEED): after a pass over the whole shard, the
  // process keeps only what it reads again. The data stays valid; reading it maps it again.
  void DropResident() const;
  // The same for the whole pages of [begin, end) when they lie in this shard's mapping (anything
  // else is left alone).
  void DropResident(const void* begin, const void* end) const;
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
