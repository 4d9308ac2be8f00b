#include "core/shard.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <optional>
#include <span>

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
  // Each section's size is checked against what is left of the file before it is computed, so
  // that no header, however damaged, overflows the arithmetic or points outside the mapping.
  const uint64_t size = shard.mapping_->size;
  uint64_t at = sizeof(Header);
  auto section = [&](uint64_t count, uint64_t width, bool pad) -> std::optional<uint64_t> {
    if (count > (size - at) / width) return std::nullopt;
    const uint64_t start = at;
    at += pad ? Padded(count * width) : count * width;
    if (at > size) return std::nullopt;
    return start;
  };
  const auto tokens_at = section(h.tokens, h.token_bytes, true);
  const auto sentences_at =
      tokens_at && h.sentences < UINT64_MAX ? section(h.sentences + 1, 8, false) : std::nullopt;
  const auto documents_at =
      sentences_at && h.documents < UINT64_MAX ? section(h.documents + 1, 8, false) : std::nullopt;
  if (!documents_at || h.ids_bytes != size - at) return fail("truncated shard");
  const uint64_t ids_at = at;

  auto& v = shard.view_;
  if (h.token_bytes == 2) {
    v.tokens16 = {reinterpret_cast<const uint16_t*>(bytes + *tokens_at), h.tokens};
  } else {
    v.tokens32 = {reinterpret_cast<const uint32_t*>(bytes + *tokens_at), h.tokens};
  }
  v.sentence_offsets = {reinterpret_cast<const uint64_t*>(bytes + *sentences_at), h.sentences + 1};
  v.document_offsets = {reinterpret_cast<const uint64_t*>(bytes + *documents_at), h.documents + 1};
  shard.vocab_size_ = h.vocab_size;
  // Everything the readers index by is checked once here: ids inside the vocabulary, offsets
  // that start at 0, never go back and end at the last token (sentence) or sentence (document).
  for (uint64_t i = 0; i < h.tokens; ++i) {
    if (static_cast<uint32_t>(v.Token(i)) >= h.vocab_size)
      return fail("a token id outside its vocabulary");
  }
  auto ordered = [](std::span<const uint64_t> offsets, uint64_t last) {
    if (offsets.front() != 0 || offsets.back() != last) return false;
    for (size_t i = 1; i < offsets.size(); ++i)
      if (offsets[i] < offsets[i - 1]) return false;
    return true;
  };
  if (!ordered(v.sentence_offsets, h.tokens)) return fail("damaged sentence offsets");
  if (!ordered(v.document_offsets, h.sentences)) return fail("damaged document offsets");
  const char* id = bytes + ids_at;
  const char* end = bytes + size;
  for (uint64_t d = 0; d < h.documents; ++d) {
    const void* nul = id < end ? std::memchr(id, '\0', static_cast<size_t>(end - id)) : nullptr;
    if (nul == nullptr) return fail("damaged document ids");
    shard.document_ids_.emplace_back(id, static_cast<const char*>(nul));
    id = static_cast<const char*>(nul) + 1;
  }
  if (id != end) return fail("damaged document ids");
  return shard;
}

}  // namespace ablate::core
