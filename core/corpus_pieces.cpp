#include "core/corpus_pieces.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <exception>
#include <mutex>
#include <thread>

#include "base/error.h"
#include "base/hash.h"
#include "core/corpus.h"
#include "core/sentence_splitter.h"
#include "core/shard.h"

namespace ablate::core {
namespace fs = std::filesystem;
namespace {

using Clock = std::chrono::steady_clock;

// Sentences of a document as encoded text: every sentence after the document's first is encoded
// with a leading space, so concatenated ids decode to running text (" The" is one GPT-2 token).
// A document without text is kept as a document of no sentences: it still counts for the
// held-out split (HeldOutIds sees every document), and the join leaves it out.
void TokenizeDocument(const Document& document, BpeTokenizer& tokenizer, OwnedTokenCorpus& out,
                      std::vector<TokenId>& ids, std::string& text) {
  bool first = true;
  for (const auto& paragraph : document.paragraphs) {
    for (auto sentence : SplitSentences(paragraph)) {
      text.assign(first ? "" : " ");
      text.append(sentence);
      first = false;
      ids.clear();
      tokenizer.Encode(text, &ids);
      out.tokens.insert(out.tokens.end(), ids.begin(), ids.end());
      out.sentence_offsets.push_back(out.tokens.size());
    }
  }
  out.document_offsets.push_back(out.sentence_offsets.size() - 1);
}

std::string Megabytes(double bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f MB", bytes / 1e6);
  return text;
}

std::string Duration(double seconds) {
  const long s = static_cast<long>(seconds + 0.5);
  char text[32];
  if (s >= 3600) {
    std::snprintf(text, sizeof text, "%ldh%02ldm", s / 3600, s / 60 % 60);
  } else {
    std::snprintf(text, sizeof text, "%ldm%02lds", s / 60, s % 60);
  }
  return text;
}

// Reads `bytes` at `offset` of an open file, all of them.
void ReadAt(int fd, void* out, uint64_t bytes, uint64_t offset, const fs::path& path) {
  auto* to = static_cast<char*>(out);
  while (bytes > 0) {
    const ssize_t n = ::pread(fd, to, bytes, static_cast<off_t>(offset));
    if (n <= 0) throw InputError(path.string(), "", "cannot read piece (delete it to rebuild it)");
    to += n;
    bytes -= static_cast<uint64_t>(n);
    offset += static_cast<uint64_t>(n);
  }
}

// A piece file open for reading one document at a time: its layout and document offsets.
struct OpenPiece {
  fs::path path;
  int fd = -1;
  ShardLayout layout;
  std::vector<uint64_t> documents;  // sentence offsets of its documents (documents + 1)

  explicit OpenPiece(fs::path p) : path(std::move(p)), layout(ReadShardLayout(path)) {
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw InputError(path.string(), "", "cannot open piece");
    documents.resize(layout.documents + 1);
    ReadAt(fd, documents.data(), documents.size() * 8, layout.documents_at, path);
  }
  ~OpenPiece() {
    if (fd >= 0) ::close(fd);
  }
  OpenPiece(const OpenPiece&) = delete;
  OpenPiece& operator=(const OpenPiece&) = delete;

  std::vector<std::string> Ids() const {
    std::string all(layout.ids_bytes, '\0');
    ReadAt(fd, all.data(), all.size(), layout.ids_at, path);
    std::vector<std::string> ids;
    size_t at = 0;
    while (at < all.size()) {
      const size_t nul = all.find('\0', at);
      ids.push_back(all.substr(at, nul - at));
      at = nul + 1;
    }
    if (ids.size() != layout.documents)
      throw InputError(path.string(), "", "damaged piece (delete it to rebuild it)");
    return ids;
  }
};

}  // namespace

std::vector<Piece> PlanPieces(const std::vector<fs::path>& files, uint64_t piece_bytes) {
  std::vector<Piece> pieces;
  Piece texts;  // consecutive .txt files, grouped
  auto close_texts = [&] {
    if (!texts.inputs.empty()) pieces.push_back(std::move(texts));
    texts = {};
  };
  for (const auto& file : files) {
    const uint64_t size = fs::file_size(file);
    if (file.extension() != ".jsonl") {
      texts.inputs.push_back({file, false, 0, size});
      texts.bytes += size;
      if (texts.bytes >= piece_bytes) close_texts();
      continue;
    }
    close_texts();
    const uint64_t count = std::max<uint64_t>(1, (size + piece_bytes - 1) / piece_bytes);
    for (uint64_t i = 0; i < count; ++i) {
      const uint64_t begin = size * i / count, end = size * (i + 1) / count;
      pieces.push_back({{{file, true, begin, end}}, end - begin});
    }
  }
  close_texts();
  return pieces;
}

void ForEachPieceDocument(const Piece& piece, const std::function<void(Document&&)>& each) {
  for (const auto& input : piece.inputs) {
    if (input.jsonl) {
      ForEachJsonlDocument(input.file, input.begin, input.end, each);
    } else {
      for (auto& d : ReadTextDocument(input.file)) each(std::move(d));
    }
  }
}

fs::path PiecePath(const fs::path& dir, size_t index) {
  char name[32];
  std::snprintf(name, sizeof name, "piece-%06zu.shard", index);
  return dir / name;
}

size_t BuildPieces(const std::vector<Piece>& pieces, const BpeTokenizer& tokenizer,
                   const PieceWork& work, const Log& log) {
  fs::create_directories(work.dir);
  std::vector<size_t> todo;
  uint64_t total_bytes = 0;
  for (size_t i = 0; i < pieces.size(); ++i) {
    if (static_cast<int>(i % static_cast<size_t>(work.parts)) != work.part) continue;
    if (fs::exists(PiecePath(work.dir, i))) continue;  // built by an earlier or another process
    todo.push_back(i);
    total_bytes += pieces[i].bytes;
  }
  if (todo.empty()) return 0;
  const int jobs = std::max(1, std::min<int>(work.jobs, static_cast<int>(todo.size())));
  if (log) {
    log("tokenizing " + work.what + ": " + std::to_string(todo.size()) + " of " +
        std::to_string(pieces.size()) + " pieces (" + Megabytes(double(total_bytes)) + ") with " +
        std::to_string(jobs) + (jobs == 1 ? " worker" : " workers"));
  }
  const uint32_t vocab_size = static_cast<uint32_t>(tokenizer.vocab_size());
  std::atomic<size_t> next{0};
  std::atomic<uint64_t> bytes_done{0}, tokens_done{0};
  std::mutex mutex;  // the first error, and the progress line
  std::exception_ptr error;
  const auto started = Clock::now();
  auto last_line = started;

  auto worker = [&] {
    BpeTokenizer own = tokenizer;  // each thread its own session (caches)
    std::vector<TokenId> ids;
    std::string text;
    try {
      for (size_t k = next++; k < todo.size(); k = next++) {
        {
          std::lock_guard lock(mutex);
          if (error) return;
        }
        const size_t index = todo[k];
        OwnedTokenCorpus corpus;
        std::vector<std::string> document_ids;
        ForEachPieceDocument(pieces[index], [&](Document&& d) {
          TokenizeDocument(d, own, corpus, ids, text);
          document_ids.push_back(std::move(d.id));
        });
        WriteShard(PiecePath(work.dir, index), corpus, document_ids, vocab_size);
        const uint64_t bytes = bytes_done += pieces[index].bytes;
        const uint64_t tokens = tokens_done += corpus.tokens.size();
        std::lock_guard lock(mutex);
        const auto now = Clock::now();
        if (log && now - last_line >= std::chrono::seconds(5) && bytes < total_bytes) {
          last_line = now;
          const double seconds = std::chrono::duration<double>(now - started).count();
          char rate[48];
          std::snprintf(rate, sizeof rate, "%.2fM tokens/s", double(tokens) / seconds / 1e6);
          log("tokenizing " + work.what + ": " + Megabytes(double(bytes)) + " of " +
              Megabytes(double(total_bytes)) + " (" +
              std::to_string(bytes * 100 / std::max<uint64_t>(total_bytes, 1)) + "%), " + rate +
              ", ETA " + Duration(seconds * double(total_bytes - bytes) / double(bytes)));
        }
      }
    } catch (...) {
      std::lock_guard lock(mutex);
      if (!error) error = std::current_exception();
    }
  };
  std::vector<std::thread> threads;
  for (int j = 1; j < jobs; ++j) threads.emplace_back(worker);
  worker();
  for (auto& t : threads) t.join();
  if (error) std::rethrow_exception(error);
  if (log) {
    const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
    char rate[64];
    std::snprintf(rate, sizeof rate, "%.2fM tokens/s", double(tokens_done) / seconds / 1e6);
    log("tokenized " + work.what + ": " + Megabytes(double(total_bytes)) + " in " +
        Duration(seconds) + ", " + rate);
  }
  return todo.size();
}

JoinedCorpus JoinPieces(size_t pieces, const fs::path& dir, uint32_t vocab_size,
                        const fs::path& out_dir, const std::string& corpus) {
  // Every document of every piece, in input order: its id, and its place (piece, index).
  std::vector<std::unique_ptr<OpenPiece>> open;
  struct Entry {
    uint32_t piece;
    uint32_t document;
    std::string id;
  };
  std::vector<Entry> entries;
  HeldOutSelector selector;
  for (size_t p = 0; p < pieces; ++p) {
    const fs::path path = PiecePath(dir, p);
    if (!fs::exists(path)) {
      throw InputError(path.string(), "data.corpus",
                       "piece " + std::to_string(p) + " of " + std::to_string(pieces) +
                           " is missing: prepare every part before joining");
    }
    open.push_back(std::make_unique<OpenPiece>(path));
    if (ShardTokenBytes(open.back()->layout.vocab_size) != ShardTokenBytes(vocab_size) ||
        open.back()->layout.vocab_size != vocab_size) {
      throw InputError(path.string(), "", "piece of another vocabulary (delete it to rebuild it)");
    }
    auto ids = open.back()->Ids();
    for (uint32_t d = 0; d < ids.size(); ++d) {
      selector.Add(ids[d]);
      entries.push_back({static_cast<uint32_t>(p), d, std::move(ids[d])});
    }
  }
  const std::set<std::string> held_out = selector.HeldOut();

  // The fixed order: by sha256("order:" + id), ties (the same id twice) in input order.
  std::vector<std::pair<uint64_t, uint32_t>> keyed;  // (hash prefix, entry)
  keyed.reserve(entries.size());
  for (uint32_t e = 0; e < entries.size(); ++e) {
    keyed.emplace_back(std::stoull(DocumentHash("order", entries[e].id).substr(0, 16), nullptr, 16),
                       e);
  }
  std::sort(keyed.begin(), keyed.end(), [&](const auto& a, const auto& b) {
    if (a.first != b.first) return a.first < b.first;
    const std::string ha = DocumentHash("order", entries[a.second].id),
                      hb = DocumentHash("order", entries[b.second].id);
    return ha != hb ? ha < hb : a.second < b.second;
  });

  // Counts first (the writers lay out their sections from them), then one pass of copies.
  ShardWriter::Counts counts[2];  // train, valid
  auto split = [&](const Entry& e) { return held_out.count(e.id) != 0 ? 1 : 0; };
  std::vector<uint64_t> offsets;  // a document's sentence offsets, as stored in its piece
  // Reads the entry's sentence offsets into `offsets`; false for a document without text.
  auto read_offsets = [&](const Entry& entry) {
    const OpenPiece& piece = *open[entry.piece];
    const uint64_t first = piece.documents[entry.document],
                   last = piece.documents[entry.document + 1];
    if (first == last) return false;
    offsets.resize(last - first + 1);
    ReadAt(piece.fd, offsets.data(), offsets.size() * 8, piece.layout.sentences_at + first * 8,
           piece.path);
    return true;
  };
  for (const auto& [hash, e] : keyed) {
    const Entry& entry = entries[e];
    if (!read_offsets(entry)) continue;
    auto& c = counts[split(entry)];
    c.tokens += offsets.back() - offsets.front();
    c.sentences += offsets.size() - 1;
    c.documents += 1;
    c.ids_bytes += entry.id.size() + 1;
  }
  if (counts[0].documents == 0) {
    throw InputError("", "data.corpus",
                     "corpus \"" + corpus + "\" needs at least two documents with text, one to " +
                         "hold out for validation");
  }
  fs::create_directories(out_dir);
  ShardWriter train(out_dir / "train.shard", vocab_size, counts[0]);
  ShardWriter valid(out_dir / "valid.shard", vocab_size, counts[1]);
  std::vector<uint64_t> ends;
  std::string tokens;
  const uint32_t width = ShardTokenBytes(vocab_size);
  for (const auto& [hash, e] : keyed) {
    const Entry& entry = entries[e];
    if (!read_offsets(entry)) continue;
    const OpenPiece& piece = *open[entry.piece];
    ends.clear();
    for (size_t s = 1; s < offsets.size(); ++s) ends.push_back(offsets[s] - offsets[0]);
    tokens.resize((offsets.back() - offsets.front()) * width);
    ReadAt(piece.fd, tokens.data(), tokens.size(), piece.layout.tokens_at + offsets.front() * width,
           piece.path);
    (split(entry) == 1 ? valid : train).AddDocument(ends, tokens.data(), entry.id);
  }
  train.Commit();
  valid.Commit();
  return {counts[0].tokens, counts[1].tokens, counts[0].documents, counts[1].documents};
}

}  // namespace ablate::core
