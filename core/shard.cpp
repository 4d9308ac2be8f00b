#include "core/shard.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <fstream>

#include "base/error.h"

namespace ablate::core {
namespace {

// Layout: header, then tokens (padded to 8 bytes), sentence offsets, document offsets, then the
// document ids as NUL-terminated strings. All little-endian (the machines we run on).
constexpr char kMagic[8] = {'A', 'B', 'L', 'S', 'H', 'R', 'D', '1'};

struct Header {
  char magic[8];
  uint32_t token_bytes;  // 2 or 4
  uint32_t vocab_size;
  uint64_t tokens;
  uint64_t sentences;
  uint64_t documents;
  uint64_t ids_bytes;
};

uint64_t Padded(uint64_t bytes) { return (bytes + 7) / 8 * 8; }

}  // namespace

struct Shard::Mapping {
  void* data = nullptr;
  size_t size = 0;
  ~Mapping() {
    if (data != nullptr) munmap(data, size);
  }
};

void WriteShard(const std::filesystem::path& path, const OwnedTokenCorpus& corpus,
                const std::vector<std::string>& document_ids, uint32_t vocab_size) {
  ABLATE_CHECK(document_ids.size() + 1 == corpus.document_offsets.size(), "one id per document");
  Header h{};
  std::memcpy(h.magic, kMagic, sizeof kMagic);
  h.token_bytes = vocab_size <= 65536 ? 2 : 4;
  h.vocab_size = vocab_size;
  h.tokens = corpus.tokens.size();
  h.sentences = corpus.sentence_offsets.size() - 1;
  h.documents = corpus.document_offsets.size() - 1;
  std::string ids;
  for (const auto& id : document_ids) ids += id + '\0';
  h.ids_bytes = ids.size();

  auto temp = path;
  temp += ".tmp" + std::to_string(::getpid());
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    if (!out) throw std::runtime_error("cannot write " + temp.string());
    out.write(reinterpret_cast<const char*>(&h), sizeof h);
    if (h.token_bytes == 2) {
      std::vector<uint16_t> narrow(corpus.tokens.begin(), corpus.tokens.end());
      out.write(reinterpret_cast<const char*>(narrow.data()), narrow.size() * 2);
    } else {
      out.write(reinterpret_cast<const char*>(corpus.tokens.data()), corpus.tokens.size() * 4);
    }
    uint64_t token_bytes = h.tokens * h.token_bytes;
    out.write("\0\0\0\0\0\0\0", Padded(token_bytes) - token_bytes);
    out.write(reinterpret_cast<const char*>(corpus.sentence_offsets.data()),
              corpus.sentence_offsets.size() * 8);
    out.write(reinterpret_cast<const char*>(corpus.document_offsets.data()),
              corpus.document_offsets.size() * 8);
    out.write(ids.data(), ids.size());
    if (!out) throw std::runtime_error("cannot write " + temp.string());
  }
  std::filesystem::rename(temp, path);
}

Shard Shard::Open(const std::filesystem::path& path) {
  auto fail = [&](const std::string& why) -> Shard {
    throw InputError(path.string(), "", why + " (delete it to have it rebuilt)");
  };
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) throw InputError(path.string(), "", "cannot open shard");
  struct stat st {};
  ::fstat(fd, &st);
  Shard shard;
  shard.mapping_ = std::make_shared<Mapping>();
  shard.mapping_->size = static_cast<size_t>(st.st_size);
  if (shard.mapping_->size >= sizeof(Header)) {
    void* data = ::mmap(nullptr, shard.mapping_->size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (data != MAP_FAILED) shard.mapping_->data = data;
  }
  ::close(fd);
  if (shard.mapping_->data == nullptr) return fail("not a shard (too small or unreadable)");

  const auto* bytes = static_cast<const char*>(shard.mapping_->data);
  Header h;
  std::memcpy(&h, bytes, sizeof h);
  if (std::memcmp(h.magic, kMagic, sizeof kMagic) != 0) return fail("not an ablate shard");
  if (h.token_bytes != 2 && h.token_bytes != 4) return fail("bad token width");
  uint64_t tokens_at = sizeof(Header);
  uint64_t sentences_at = tokens_at + Padded(h.tokens * h.token_bytes);
  uint64_t documents_at = sentences_at + (h.sentences + 1) * 8;
  uint64_t ids_at = documents_at + (h.documents + 1) * 8;
  if (ids_at + h.ids_bytes != shard.mapping_->size) return fail("truncated shard");

  auto& v = shard.view_;
  if (h.token_bytes == 2) {
    v.tokens16 = {reinterpret_cast<const uint16_t*>(bytes + tokens_at), h.tokens};
  } else {
    v.tokens32 = {reinterpret_cast<const uint32_t*>(bytes + tokens_at), h.tokens};
  }
  v.sentence_offsets = {reinterpret_cast<const uint64_t*>(bytes + sentences_at), h.sentences + 1};
  v.document_offsets = {reinterpret_cast<const uint64_t*>(bytes + documents_at), h.documents + 1};
  shard.vocab_size_ = h.vocab_size;
  const char* id = bytes + ids_at;
  for (uint64_t d = 0; d < h.documents; ++d) {
    shard.document_ids_.emplace_back(id);
    id += shard.document_ids_.back().size() + 1;
  }
  return shard;
}

}  // namespace ablate::core
