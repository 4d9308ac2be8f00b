#include "core/shard.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
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

// Drops the whole pages of [begin, end) of a read-only file mapping from the process's memory.
void Release(const void* begin, const void* end) {
  const auto page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const uintptr_t first = (reinterpret_cast<uintptr_t>(begin) + page - 1) / page * page;
  const uintptr_t last = reinterpret_cast<uintptr_t>(end) / page * page;
  if (last > first) ::madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);
}

}  // namespace

struct Shard::Mapping {
  void* data = nullptr;
  size_t size = 0;
  ~Mapping() {
    if (data != nullptr) munmap(data, size);
  }
};

uint32_t ShardTokenBytes(uint32_t vocab_size) { return vocab_size <= 65536 ? 2 : 4; }

// A section of the file being written: a buffer flushed with pwrite at the section's next byte.
struct ShardWriter::Section {
  int fd;
  uint64_t at;
  std::string buffer;

  void Write(const void* data, size_t bytes) {
    buffer.append(static_cast<const char*>(data), bytes);
    if (buffer.size() >= (1u << 20)) Flush();
  }
  void Flush() {
    size_t done = 0;
    while (done < buffer.size()) {
      const ssize_t n =
          ::pwrite(fd, buffer.data() + done, buffer.size() - done, static_cast<off_t>(at + done));
      if (n <= 0) throw std::runtime_error("cannot write a shard: " + std::string(strerror(errno)));
      done += static_cast<size_t>(n);
    }
    at += buffer.size();
    buffer.clear();
  }
};

ShardWriter::ShardWriter(std::filesystem::path path, uint32_t vocab_size, const Counts& counts)
    : path_(std::move(path)), token_bytes_(ShardTokenBytes(vocab_size)), expected_(counts) {
  temp_ = path_;
  temp_ +=
      ".tmp" + std::to_string(::getpid()) + "-" + std::to_string(reinterpret_cast<uintptr_t>(this));
  fd_ = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd_ < 0) {
    throw std::runtime_error("cannot write " + temp_.string() + ": " + strerror(errno));
  }
  Header h{};
  std::memcpy(h.magic, kMagic, sizeof kMagic);
  h.token_bytes = token_bytes_;
  h.vocab_size = vocab_size;
  h.tokens = counts.tokens;
  h.sentences = counts.sentences;
  h.documents = counts.documents;
  h.ids_bytes = counts.ids_bytes;
  const uint64_t tokens_at = sizeof h;
  const uint64_t sentences_at = tokens_at + Padded(counts.tokens * token_bytes_);
  const uint64_t documents_at = sentences_at + (counts.sentences + 1) * 8;
  const uint64_t ids_at = documents_at + (counts.documents + 1) * 8;
  // The file at its final size first: the padding after the tokens reads as zeros.
  if (::ftruncate(fd_, static_cast<off_t>(ids_at + counts.ids_bytes)) != 0 ||
      ::pwrite(fd_, &h, sizeof h, 0) != static_cast<ssize_t>(sizeof h)) {
    ::close(fd_);
    ::unlink(temp_.c_str());
    throw std::runtime_error("cannot write " + temp_.string() + ": " + strerror(errno));
  }
  for (uint64_t at : {tokens_at, sentences_at, documents_at, ids_at})
    sections_.push_back(std::make_unique<Section>(Section{fd_, at, {}}));
  const uint64_t zero = 0;
  sections_[1]->Write(&zero, 8);
  sections_[2]->Write(&zero, 8);
}

ShardWriter::~ShardWriter() {
  if (fd_ >= 0) {
    ::close(fd_);
    ::unlink(temp_.c_str());
  }
}

void ShardWriter::AddDocument(std::span<const uint64_t> sentence_ends, const void* tokens,
                              std::string_view id) {
  const uint64_t count = sentence_ends.empty() ? 0 : sentence_ends.back();
  sections_[0]->Write(tokens, count * token_bytes_);
  for (uint64_t end : sentence_ends) {
    const uint64_t offset = written_.tokens + end;
    sections_[1]->Write(&offset, 8);
  }
  written_.tokens += count;
  written_.sentences += sentence_ends.size();
  written_.documents += 1;
  sections_[2]->Write(&written_.sentences, 8);
  sections_[3]->Write(id.data(), id.size());
  sections_[3]->Write("", 1);
  written_.ids_bytes += id.size() + 1;
}

void ShardWriter::Commit() {
  ABLATE_CHECK(written_.tokens == expected_.tokens && written_.sentences == expected_.sentences &&
                   written_.documents == expected_.documents &&
                   written_.ids_bytes == expected_.ids_bytes,
               "a shard's documents add up to the counts announced for it");
  for (auto& section : sections_) section->Flush();
  if (::close(fd_) != 0) {
    fd_ = -1;
    ::unlink(temp_.c_str());
    throw std::runtime_error("cannot write " + temp_.string() + ": " + strerror(errno));
  }
  fd_ = -1;
  std::filesystem::rename(temp_, path_);
}

void WriteShard(const std::filesystem::path& path, const OwnedTokenCorpus& corpus,
                const std::vector<std::string>& document_ids, uint32_t vocab_size) {
  ABLATE_CHECK(document_ids.size() + 1 == corpus.document_offsets.size(), "one id per document");
  ShardWriter::Counts counts;
  counts.tokens = corpus.tokens.size();
  counts.sentences = corpus.sentence_offsets.size() - 1;
  counts.documents = document_ids.size();
  for (const auto& id : document_ids) counts.ids_bytes += id.size() + 1;
  ShardWriter writer(path, vocab_size, counts);
  std::vector<uint64_t> ends;
  std::vector<uint16_t> narrow;
  for (uint64_t d = 0; d < counts.documents; ++d) {
    const uint64_t first = corpus.document_offsets[d], last = corpus.document_offsets[d + 1];
    const uint64_t begin = corpus.sentence_offsets[first];
    ends.clear();
    for (uint64_t s = first; s < last; ++s) ends.push_back(corpus.sentence_offsets[s + 1] - begin);
    const uint32_t* tokens = corpus.tokens.data() + begin;
    const uint64_t count = corpus.sentence_offsets[last] - begin;
    if (ShardTokenBytes(vocab_size) == 2) {
      narrow.assign(tokens, tokens + count);
      writer.AddDocument(ends, narrow.data(), document_ids[d]);
    } else {
      writer.AddDocument(ends, tokens, document_ids[d]);
    }
  }
  writer.Commit();
}

namespace {

// The sections of a shard whose header is `h` and whose file holds `size` bytes; throws
// InputError naming `path` when the header is not a shard's or the sections do not fill the file
// exactly. Each section's size is checked against what is left of the file before it is computed,
// so that no header, however damaged, overflows the arithmetic or points outside the file.
ShardLayout CheckedLayout(const Header& h, uint64_t size, const std::filesystem::path& path) {
  auto fail = [&](const std::string& why) -> ShardLayout {
    throw InputError(path.string(), "", why + " (delete it to have it rebuilt)");
  };
  if (std::memcmp(h.magic, kMagic, sizeof kMagic) != 0) return fail("not an ablate shard");
  if (h.token_bytes != 2 && h.token_bytes != 4) return fail("bad token width");
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
  ShardLayout l;
  l.token_bytes = h.token_bytes;
  l.vocab_size = h.vocab_size;
  l.tokens = h.tokens;
  l.sentences = h.sentences;
  l.documents = h.documents;
  l.ids_bytes = h.ids_bytes;
  l.tokens_at = *tokens_at;
  l.sentences_at = *sentences_at;
  l.documents_at = *documents_at;
  l.ids_at = at;
  return l;
}

}  // namespace

ShardLayout ReadShardLayout(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  Header h{};
  if (!in.read(reinterpret_cast<char*>(&h), sizeof h)) {
    throw InputError(path.string(), "", "not a shard (too small) (delete it to have it rebuilt)");
  }
  return CheckedLayout(h, std::filesystem::file_size(path), path);
}

void Shard::DropResident() const {
  if (mapping_ && mapping_->data != nullptr) {
    const auto* bytes = static_cast<const char*>(mapping_->data);
    Release(bytes, bytes + mapping_->size);
  }
}

void Shard::DropResident(const void* begin, const void* end) const {
  if (!mapping_ || mapping_->data == nullptr) return;
  const auto* first = static_cast<const char*>(mapping_->data);
  const auto* low = static_cast<const char*>(begin);
  const auto* high = static_cast<const char*>(end);
  if (low >= first && high <= first + mapping_->size && low <= high) Release(low, high);
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
  const ShardLayout l = CheckedLayout(h, shard.mapping_->size, path);
  const uint64_t size = shard.mapping_->size;

  auto& v = shard.view_;
  if (h.token_bytes == 2) {
    v.tokens16 = {reinterpret_cast<const uint16_t*>(bytes + l.tokens_at), h.tokens};
  } else {
    v.tokens32 = {reinterpret_cast<const uint32_t*>(bytes + l.tokens_at), h.tokens};
  }
  v.sentence_offsets = {reinterpret_cast<const uint64_t*>(bytes + l.sentences_at), h.sentences + 1};
  v.document_offsets = {reinterpret_cast<const uint64_t*>(bytes + l.documents_at), h.documents + 1};
  shard.vocab_size_ = h.vocab_size;
  // Everything the readers index by is checked once here: ids inside the vocabulary, offsets
  // that start at 0, never go back and end at the last token (sentence) or sentence (document).
  // The check reads the whole file; each checked stretch is handed back (MADV_DONTNEED: it stays
  // in the page cache, and a later read maps it again), so opening a shard of any size leaves
  // the process no larger than the stretches it goes on to read.
  constexpr uint64_t kStretch = 1u << 24;  // elements
  for (uint64_t begin = 0; begin < h.tokens; begin += kStretch) {
    const uint64_t end = std::min<uint64_t>(h.tokens, begin + kStretch);
    for (uint64_t i = begin; i < end; ++i) {
      if (static_cast<uint32_t>(v.Token(i)) >= h.vocab_size)
        return fail("a token id outside its vocabulary");
    }
    Release(bytes + l.tokens_at + begin * h.token_bytes, bytes + l.tokens_at + end * h.token_bytes);
  }
  auto ordered = [&](std::span<const uint64_t> offsets, uint64_t last) {
    if (offsets.front() != 0 || offsets.back() != last) return false;
    for (size_t begin = 1; begin < offsets.size(); begin += kStretch) {
      const size_t end = std::min<size_t>(offsets.size(), begin + kStretch);
      for (size_t i = begin; i < end; ++i)
        if (offsets[i] < offsets[i - 1]) return false;
      Release(offsets.data() + begin, offsets.data() + end);
    }
    return true;
  };
  if (!ordered(v.sentence_offsets, h.tokens)) return fail("damaged sentence offsets");
  if (!ordered(v.document_offsets, h.sentences)) return fail("damaged document offsets");
  const char* id = bytes + l.ids_at;
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
