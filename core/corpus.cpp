#include "core/corpus.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "base/atomic_file.h"
#include "base/error.h"
#include "base/hash.h"
#include "core/bpe_trainer.h"
#include "core/corpus_pieces.h"
#include "core/documents.h"

namespace ablate::core {
namespace fs = std::filesystem;
namespace {

// Bump when the shard contents would change for the same inputs (splitting, tokenizing rules).
constexpr int kShardFormatVersion = 1;

std::string FetchHint() { return "run scripts/fetch-data first"; }

std::vector<fs::path> SourceFiles(const fs::path& data_dir, const std::string& corpus) {
  for (const auto& named : NamedCorpora()) {
    if (named.name != corpus) continue;
    std::vector<fs::path> files;
    for (const auto& source : named.sources) {
      fs::path file = data_dir / "corpora" / (source + ".jsonl");
      if (!fs::exists(file)) {
        throw InputError("", "data.corpus",
                         "corpus \"" + corpus + "\" needs " + file.string() + ": " + FetchHint());
      }
      files.push_back(file);
    }
    return files;
  }
  fs::path dir(corpus);
  if (!fs::is_directory(dir)) {
    std::string names;
    for (const auto& named : NamedCorpora()) names += (names.empty() ? "" : ", ") + named.name;
    throw InputError(
        "", "data.corpus",
        "\"" + corpus + "\" is neither a named corpus (" + names + ") nor a directory");
  }
  std::vector<fs::path> files;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    auto ext = entry.path().extension();
    if (entry.is_regular_file() && (ext == ".jsonl" || ext == ".txt"))
      files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  if (files.empty()) {
    throw InputError("", "data.corpus", "directory " + corpus + " holds no .jsonl or .txt files");
  }
  return files;
}

// What the cached shards were built from: file sizes and times of every input.
std::string Fingerprint(const std::vector<fs::path>& inputs) {
  std::string text = "v" + std::to_string(kShardFormatVersion);
  for (const auto& f : inputs) {
    text += "\n" + fs::absolute(f).string() + " " + std::to_string(fs::file_size(f)) + " " +
            std::to_string(fs::last_write_time(f).time_since_epoch().count());
  }
  return Sha256Hex(text);
}

// A name safe as one path component ("books", or a directory corpus's hash).
std::string CacheName(const std::string& corpus) {
  for (const auto& named : NamedCorpora()) {
    if (named.name == corpus) return corpus;
  }
  return "dir-" + Sha256Hex(fs::absolute(corpus).string()).substr(0, 12);
}

std::string ReadText(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Where a tokenizer's encoder.json + vocab.bpe live, without loading or training it.
// `bpe_units` is set (> 0) for bpe-N names, with `bpe_corpus` the corpus it trains on.
fs::path TokenizerDir(const fs::path& data_dir, const std::string& corpus, const std::string& name,
                      long* bpe_units = nullptr, std::string* bpe_corpus = nullptr) {
  if (name == "gpt2") return data_dir / "gpt2";
  if (name.rfind("bpe-", 0) == 0) {
    // bpe-N trains on the run's own corpus; bpe-N@CORPUS on another, so runs on different corpora
    // can share one vocabulary.
    std::string spec = name.substr(4), train_corpus = corpus;
    if (auto at = spec.find('@'); at != std::string::npos) {
      train_corpus = spec.substr(at + 1);
      spec = spec.substr(0, at);
    }
    char* end = nullptr;
    long units = std::strtol(spec.c_str(), &end, 10);
    if (spec.empty() || *end != '\0' || units < 256 || units > 1000000 || train_corpus.empty()) {
      throw InputError(
          "", "data.tokenizer",
          "\"" + name + "\": expected bpe-N or bpe-N@CORPUS with N from 256 to 1000000");
    }
    if (bpe_units) *bpe_units = units;
    if (bpe_corpus) *bpe_corpus = train_corpus;
    return data_dir / "tokenizers" / (CacheName(train_corpus) + "-bpe-" + spec);
  }
  if (!fs::is_directory(name)) {
    throw InputError(
        "", "data.tokenizer",
        "\"" + name + "\" is not gpt2, bpe-N or a directory with encoder.json + vocab.bpe");
  }
  return name;
}

BpeTokenizer LoadTokenizer(const fs::path& data_dir, const std::string& corpus,
                           const std::string& name, fs::path& tokenizer_dir, const Log& log) {
  long units = 0;
  std::string train_corpus;
  tokenizer_dir = TokenizerDir(data_dir, corpus, name, &units, &train_corpus);
  if (name == "gpt2" && !fs::exists(tokenizer_dir / "encoder.json")) {
    throw InputError(
        "", "data.tokenizer",
        "the GPT-2 vocabulary is missing from " + tokenizer_dir.string() + ": " + FetchHint());
  }
  if (units == 0 || fs::exists(tokenizer_dir / "vocab.bpe"))
    return BpeTokenizer::Load(tokenizer_dir);
  if (log) log("training a " + std::to_string(units) + "-unit byte-level BPE on " + train_corpus);
  // Two passes over the documents, one at a time: the ids (for the held-out split), then the
  // training documents' words, counted. Held-out text never shapes the vocabulary either.
  const auto pieces = PlanPieces(SourceFiles(data_dir, train_corpus));
  HeldOutSelector selector;
  for (const auto& piece : pieces)
    ForEachPieceDocument(piece, [&](Document&& d) { selector.Add(d.id); });
  const auto held_out = selector.HeldOut();
  BpeWordCounts counts;
  std::string text;
  for (const auto& piece : pieces) {
    ForEachPieceDocument(piece, [&](Document&& d) {
      if (held_out.count(d.id) != 0) return;
      text.clear();
      for (const auto& p : d.paragraphs) {
        if (!text.empty()) text += ' ';
        text += p;
      }
      counts.Add(text);
    });
  }
  auto tokenizer = TrainBpe(counts, static_cast<int>(units));
  fs::path temp = tokenizer_dir;
  temp += ".tmp" + std::to_string(::getpid());
  tokenizer.Save(temp);
  fs::create_directories(tokenizer_dir.parent_path());
  std::error_code ignored;
  fs::rename(temp, tokenizer_dir, ignored);  // another process may have won the race: fine
  fs::remove_all(temp, ignored);
  return BpeTokenizer::Load(tokenizer_dir);
}

// The shard directory of a corpus under a tokenizer, and the fingerprint its meta.json must hold
// for the shards to be current.
struct ShardLocation {
  fs::path dir;
  std::string fingerprint;
};

ShardLocation LocateShards(const fs::path& data_dir, const std::string& corpus,
                           const std::vector<fs::path>& files, const fs::path& tokenizer_dir) {
  std::vector<fs::path> inputs = files;
  inputs.push_back(tokenizer_dir / "encoder.json");
  inputs.push_back(tokenizer_dir / "vocab.bpe");
  return {data_dir / "shards" / CacheName(corpus) / tokenizer_dir.filename(), Fingerprint(inputs)};
}

bool ShardsCurrent(const ShardLocation& where) {
  fs::path meta = where.dir / "meta.json";
  return fs::exists(meta) && fs::exists(where.dir / "train.shard") &&
         fs::exists(where.dir / "valid.shard") &&
         nlohmann::json::parse(ReadText(meta), nullptr, false).value("fingerprint", "") ==
             where.fingerprint;
}

// The pieces of a preparation in progress, named by what they are built from, so that pieces of
// changed inputs are never joined.
fs::path PiecesDir(const ShardLocation& where, uint64_t piece_bytes) {
  return where.dir /
         ("pieces-" + where.fingerprint.substr(0, 16) + "-" + std::to_string(piece_bytes));
}

uint64_t PieceBytes(const PrepareOptions& options) {
  return options.piece_bytes > 0 ? options.piece_bytes : kPieceBytes;
}

// An exclusive flock on a file, held for the object's life (released, too, when the process dies).
class FileLock {
 public:
  explicit FileLock(const fs::path& path) {
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd_ < 0) throw std::runtime_error("cannot open " + path.string() + ": " + strerror(errno));
    while (::flock(fd_, LOCK_EX) != 0) {
      if (errno != EINTR) {
        ::close(fd_);
        throw std::runtime_error("cannot lock " + path.string() + ": " + strerror(errno));
      }
    }
  }
  ~FileLock() { ::close(fd_); }
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace

const std::vector<NamedCorpus>& NamedCorpora() {
  static const std::vector<NamedCorpus> corpora = {
      {"books",
       {"austen", "moby_dick", "tidytext_novels"},
       "Gutenberg novels by chapter: Austen, Moby Dick, Wells/Verne/Dickens (7 MB; stands in for "
       "BOOKS+WIKI)"},
      {"mixture",
       {"austen", "moby_dick", "tidytext_novels", "brown", "sotu", "kjv", "henry_commentary",
        "spurgeon_treasury", "foldoc", "jargon", "devils_dictionary", "debian_handbook",
        "python_docs", "kernel_docs"},
       "books plus the Brown corpus, State of the Union addresses, the KJV and commentaries, "
       "dictionaries and technical documentation (71 MB, 10x books; stands in for the 160GB mix)"},
  };
  return corpora;
}

fs::path ResolveDataDir(const std::string& flag) {
  if (!flag.empty()) return flag;
  if (const char* env = std::getenv("ABLATE_DATA_DIR"); env != nullptr && *env != '\0') return env;
  return "data";
}

std::string DocumentHash(std::string_view salt, const std::string& id) {
  return Sha256Hex(std::string(salt) + ":" + id);
}

double HashFraction(const std::string& hash) {
  return static_cast<double>(std::stoull(hash.substr(0, 12), nullptr, 16)) /
         static_cast<double>(1ULL << 48);
}

void HeldOutSelector::Add(const std::string& id) {
  ++documents_;
  std::string hash = DocumentHash("heldout", id);
  if (HashFraction(hash) < kHeldOutFraction) held_out_.insert(id);
  // The smallest hashes in case too few fall under the fraction (ties are the same id).
  if (smallest_.size() < 2 || hash < smallest_.rbegin()->first) {
    smallest_.emplace(std::move(hash), id);
    if (smallest_.size() > 2) smallest_.erase(std::prev(smallest_.end()));
  }
}

std::set<std::string> HeldOutSelector::HeldOut() const {
  std::set<std::string> held_out = held_out_;
  // Small corpora still get a validation split, of two documents when they can spare them (the
  // NSP formats pair sentences across documents).
  const size_t minimum = documents_ >= 3 ? 2 : documents_ >= 2 ? 1 : 0;
  for (auto it = smallest_.begin(); held_out.size() < minimum && it != smallest_.end(); ++it)
    held_out.insert(it->second);
  return held_out;
}

std::set<std::string> HeldOutIds(const std::vector<Document>& documents) {
  HeldOutSelector selector;
  for (const auto& d : documents) selector.Add(d.id);
  return selector.HeldOut();
}

int UsableCores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) return std::max(1, CPU_COUNT(&set));
  return std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
}

PreparedCorpus PrepareCorpus(const fs::path& data_dir, const std::string& corpus,
                             const std::string& tokenizer_name, const Log& log) {
  PrepareOptions options;
  options.log = log;
  return PrepareCorpus(data_dir, corpus, tokenizer_name, options);
}

PreparedCorpus PrepareCorpus(const fs::path& data_dir, const std::string& corpus,
                             const std::string& tokenizer_name, const PrepareOptions& options) {
  const Log& log = options.log;
  auto files = SourceFiles(data_dir, corpus);
  fs::path tokenizer_dir;
  auto tokenizer = LoadTokenizer(data_dir, corpus, tokenizer_name, tokenizer_dir, log);
  const ShardLocation where = LocateShards(data_dir, corpus, files, tokenizer_dir);
  const fs::path& dir = where.dir;
  if (!ShardsCurrent(where)) {
    // One preparer at a time per shard directory on this machine; the others wait, then find the
    // shards current.
    fs::create_directories(dir);
    FileLock lock(dir / "prepare.lock");
    if (!ShardsCurrent(where)) {
      const auto pieces = PlanPieces(files, PieceBytes(options));
      const fs::path pieces_dir = PiecesDir(where, PieceBytes(options));
      PieceWork work;
      work.dir = pieces_dir;
      work.jobs = options.jobs > 0 ? options.jobs : UsableCores();
      work.what = corpus + " with " + tokenizer_name;
      BuildPieces(pieces, tokenizer, work, log);
      const auto joined =
          JoinPieces(pieces.size(), pieces_dir, tokenizer.vocab_size(), dir, corpus);
      nlohmann::json m = {{"fingerprint", where.fingerprint},
                          {"corpus", corpus},
                          {"tokenizer", tokenizer_name},
                          {"train_tokens", joined.train_tokens},
                          {"valid_tokens", joined.valid_tokens},
                          {"train_documents", joined.train_documents},
                          {"valid_documents", joined.valid_documents}};
      WriteFileAtomically(dir / "meta.json", m.dump(2) + "\n");
      // The pieces of this and of any earlier fingerprint are done with.
      std::error_code ignored;
      for (const auto& entry : fs::directory_iterator(dir)) {
        if (entry.path().filename().string().rfind("pieces-", 0) == 0)
          fs::remove_all(entry.path(), ignored);
      }
      if (log) {
        log(corpus + ": " + std::to_string(joined.train_tokens) + " training tokens in " +
            std::to_string(joined.train_documents) + " documents, " +
            std::to_string(joined.valid_tokens) + " held-out tokens in " +
            std::to_string(joined.valid_documents));
      }
    }
  }
  return {corpus,
          tokenizer_name,
          std::move(tokenizer),
          Shard::Open(dir / "train.shard"),
          Shard::Open(dir / "valid.shard"),
          dir};
}

size_t PrepareCorpusPart(const fs::path& data_dir, const std::string& corpus,
                         const std::string& tokenizer_name, int part, int parts,
                         const PrepareOptions& options) {
  if (parts < 1 || part < 0 || part >= parts) {
    throw InputError("", "--part",
                     "part " + std::to_string(part) + " of " + std::to_string(parts) +
                         ": expected 0 <= part < parts");
  }
  auto files = SourceFiles(data_dir, corpus);
  fs::path tokenizer_dir;
  auto tokenizer = LoadTokenizer(data_dir, corpus, tokenizer_name, tokenizer_dir, options.log);
  const ShardLocation where = LocateShards(data_dir, corpus, files, tokenizer_dir);
  if (ShardsCurrent(where)) return 0;
  PieceWork work;
  work.dir = PiecesDir(where, PieceBytes(options));
  work.jobs = options.jobs > 0 ? options.jobs : UsableCores();
  work.part = part;
  work.parts = parts;
  work.what = corpus + " with " + tokenizer_name + " (part " + std::to_string(part) + " of " +
              std::to_string(parts) + ")";
  return BuildPieces(PlanPieces(files, PieceBytes(options)), tokenizer, work, options.log);
}

std::optional<PreparedCorpus> OpenPreparedCorpus(const fs::path& data_dir,
                                                 const std::string& corpus,
                                                 const std::string& tokenizer_name) {
  auto files = SourceFiles(data_dir, corpus);
  const fs::path tokenizer_dir = TokenizerDir(data_dir, corpus, tokenizer_name);
  if (!fs::exists(tokenizer_dir / "encoder.json") || !fs::exists(tokenizer_dir / "vocab.bpe"))
    return std::nullopt;
  const ShardLocation where = LocateShards(data_dir, corpus, files, tokenizer_dir);
  if (!ShardsCurrent(where)) return std::nullopt;
  return PreparedCorpus{corpus,
                        tokenizer_name,
                        BpeTokenizer::Load(tokenizer_dir),
                        Shard::Open(where.dir / "train.shard"),
                        Shard::Open(where.dir / "valid.shard"),
                        where.dir};
}

std::string SharedTokenizerName(const std::string& tokenizer, const std::string& corpus) {
  if (tokenizer.rfind("bpe-", 0) == 0 && tokenizer.find('@') == std::string::npos)
    return tokenizer + "@" + corpus;
  return tokenizer;
}

TokenCorpus LimitTokens(const TokenCorpus& corpus, uint64_t max_tokens,
                        std::vector<uint64_t>& storage) {
  if (max_tokens == 0 || max_tokens >= corpus.TokenCount()) return corpus;
  // Last sentence boundary at or before max_tokens (at least one sentence).
  auto it =
      std::upper_bound(corpus.sentence_offsets.begin(), corpus.sentence_offsets.end(), max_tokens);
  uint64_t sentences =
      std::max<uint64_t>(static_cast<uint64_t>(it - corpus.sentence_offsets.begin()) - 1, 1);
  storage.clear();
  for (uint64_t d = 0; d < corpus.DocumentCount() && corpus.document_offsets[d] < sentences; ++d) {
    storage.push_back(corpus.document_offsets[d]);
  }
  storage.push_back(sentences);
  TokenCorpus out = corpus;
  uint64_t tokens = corpus.sentence_offsets[sentences];
  if (!out.tokens16.empty()) out.tokens16 = out.tokens16.first(tokens);
  if (!out.tokens32.empty()) out.tokens32 = out.tokens32.first(tokens);
  out.sentence_offsets = corpus.sentence_offsets.first(sentences + 1);
  out.document_offsets = storage;
  return out;
}

}  // namespace ablate::core
