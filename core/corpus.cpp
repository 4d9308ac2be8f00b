#include "core/corpus.h"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "base/atomic_file.h"
#include "base/error.h"
#include "base/hash.h"
#include "core/bpe_trainer.h"
#include "core/documents.h"
#include "core/sentence_splitter.h"

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

std::vector<Document> LoadDocuments(const std::vector<fs::path>& files) {
  std::vector<Document> documents;
  for (const auto& file : files) {
    auto part = file.extension() == ".jsonl" ? ReadJsonlDocuments(file) : ReadTextDocument(file);
    for (auto& d : part) documents.push_back(std::move(d));
  }
  return documents;
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

// Documents in the fixed order shards use: by a hash of their id.
std::vector<const Document*> HashOrder(const std::vector<Document>& documents) {
  std::vector<std::pair<std::string, const Document*>> keyed;
  for (const auto& d : documents) keyed.emplace_back(Sha256Hex("order:" + d.id), &d);
  std::sort(keyed.begin(), keyed.end());
  std::vector<const Document*> out;
  for (const auto& [key, d] : keyed) out.push_back(d);
  return out;
}

// Sentences of a document as encoded text: every sentence after the document's first is encoded
// with a leading space, so concatenated ids decode to running text (" The" is one GPT-2 token).
void TokenizeDocument(const Document& document, BpeTokenizer& tokenizer, OwnedTokenCorpus& out) {
  std::vector<std::vector<uint32_t>> sentences;
  std::vector<TokenId> ids;
  std::string text;
  for (const auto& paragraph : document.paragraphs) {
    for (auto sentence : SplitSentences(paragraph)) {
      text.assign(sentences.empty() ? "" : " ");
      text.append(sentence);
      ids.clear();
      tokenizer.Encode(text, &ids);
      sentences.emplace_back(ids.begin(), ids.end());
    }
  }
  if (!sentences.empty()) out.AddDocument(sentences);
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
  auto documents = LoadDocuments(SourceFiles(data_dir, train_corpus));
  std::vector<std::string> texts;
  auto held_out = HeldOutIds(documents);
  for (const auto& d : documents) {
    if (held_out.count(d.id) != 0) continue;  // held-out text never shapes the vocabulary either
    std::string text;
    for (const auto& p : d.paragraphs) text += (text.empty() ? "" : " ") + p;
    texts.push_back(std::move(text));
  }
  auto tokenizer = TrainBpe(texts, static_cast<int>(units));
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

std::set<std::string> HeldOutIds(const std::vector<Document>& documents) {
  std::set<std::string> held_out;
  std::vector<std::pair<std::string, std::string>> by_hash;  // (hash, id)
  for (const auto& d : documents) {
    std::string hash = DocumentHash("heldout", d.id);
    if (HashFraction(hash) < kHeldOutFraction) held_out.insert(d.id);
    by_hash.emplace_back(std::move(hash), d.id);
  }
  // Small corpora still get a validation split, of two documents when they can spare them (the
  // NSP formats pair sentences across documents).
  const size_t minimum = documents.size() >= 3 ? 2 : documents.size() >= 2 ? 1 : 0;
  std::sort(by_hash.begin(), by_hash.end());
  for (size_t i = 0; held_out.size() < minimum && i < by_hash.size(); ++i) {
    held_out.insert(by_hash[i].second);
  }
  return held_out;
}

PreparedCorpus PrepareCorpus(const fs::path& data_dir, const std::string& corpus,
                             const std::string& tokenizer_name, const Log& log) {
  auto files = SourceFiles(data_dir, corpus);

  fs::path tokenizer_dir;
  auto tokenizer = LoadTokenizer(data_dir, corpus, tokenizer_name, tokenizer_dir, log);

  const ShardLocation where = LocateShards(data_dir, corpus, files, tokenizer_dir);
  const fs::path& dir = where.dir;
  fs::path meta = dir / "meta.json";
  const bool fresh = ShardsCurrent(where);
  if (!fresh) {
    auto documents = LoadDocuments(files);
    if (log)
      log("tokenizing " + corpus + " (" + std::to_string(documents.size()) + " documents) with " +
          tokenizer_name);
    OwnedTokenCorpus train, valid;
    std::vector<std::string> train_ids, valid_ids;
    auto held_out_ids = HeldOutIds(documents);
    for (const Document* d : HashOrder(documents)) {
      bool held_out = held_out_ids.count(d->id) != 0;
      auto& target = held_out ? valid : train;
      size_t before = target.document_offsets.size();
      TokenizeDocument(*d, tokenizer, target);
      if (target.document_offsets.size() > before)
        (held_out ? valid_ids : train_ids).push_back(d->id);
    }
    if (train_ids.empty()) {
      throw InputError("", "data.corpus",
                       "corpus \"" + corpus + "\" needs at least two documents with text, one to " +
                           "hold out for validation");
    }
    fs::create_directories(dir);
    WriteShard(dir / "train.shard", train, train_ids,
               static_cast<uint32_t>(tokenizer.vocab_size()));
    WriteShard(dir / "valid.shard", valid, valid_ids,
               static_cast<uint32_t>(tokenizer.vocab_size()));
    nlohmann::json m = {
        {"fingerprint", where.fingerprint},    {"corpus", corpus},
        {"tokenizer", tokenizer_name},         {"train_tokens", train.tokens.size()},
        {"valid_tokens", valid.tokens.size()}, {"train_documents", train_ids.size()},
        {"valid_documents", valid_ids.size()}};
    WriteFileAtomically(meta, m.dump(2) + "\n");
    if (log) {
      log(corpus + ": " + std::to_string(train.tokens.size()) + " training tokens in " +
          std::to_string(train_ids.size()) + " documents, " + std::to_string(valid.tokens.size()) +
          " held-out tokens in " + std::to_string(valid_ids.size()));
    }
  }
  return {corpus,
          tokenizer_name,
          std::move(tokenizer),
          Shard::Open(dir / "train.shard"),
          Shard::Open(dir / "valid.shard"),
          dir};
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
