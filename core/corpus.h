// Named corpora and their preparation: resolves a corpus name (or a directory of documents) to
// its source files, splits documents into training and held-out sets (fixed per document id, so a
// document is held out in every corpus that contains it), splits paragraphs into sentences,
// tokenizes them and caches the result as memory-mapped shards under DATA_DIR/shards/. Fetching
// the raw text is scripts/fetch-data's job; formatting and masking happen later (batcher.h).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/bpe_tokenizer.h"
#include "core/documents.h"
#include "core/shard.h"

namespace ablate::core {

struct NamedCorpus {
  std::string name;
  std::vector<std::string> sources;  // DATA_DIR/corpora/<source>.jsonl
  std::string description;
};

const std::vector<NamedCorpus>& NamedCorpora();

// The data directory: `flag` if given, else $ABLATE_DATA_DIR, else ./data.
std::filesystem::path ResolveDataDir(const std::string& flag);

// Share of documents held out for validation, chosen by a hash of the document id so the choice
// does not depend on the other documents. A corpus where the hash picks fewer than two holds out
// its documents of smallest hash up to two (one for a two-document corpus), so every corpus has a
// validation split and the NSP formats can pair across held-out documents.
constexpr double kHeldOutFraction = 0.03;
// A document's hash under one use of it (`salt`): sha256(salt + ":" + id) in hex; and its place
// in [0, 1), the hash's first 48 bits over 2^48. HeldOutIds holds out the documents below
// kHeldOutFraction under "heldout"; DataPipeline::SampleHalves puts those below 0.5 under
// "select" in the selection half.
std::string DocumentHash(std::string_view salt, const std::string& id);
double HashFraction(const std::string& hash);
std::set<std::string> HeldOutIds(const std::vector<Document>& documents);

// HeldOutIds over documents seen one at a time: keeps the held-out ids and the two smallest
// hashes, not every document.
class HeldOutSelector {
 public:
  void Add(const std::string& id);
  std::set<std::string> HeldOut() const;

 private:
  uint64_t documents_ = 0;
  std::set<std::string> held_out_;
  std::set<std::pair<std::string, std::string>> smallest_;  // (hash, id), at most two
};

struct PreparedCorpus {
  std::string name;
  std::string tokenizer_name;
  BpeTokenizer tokenizer;
  Shard train;
  Shard valid;
  std::filesystem::path dir;  // where the shards live; small caches derived from them go beside
};

using Log = std::function<void(const std::string&)>;

// How the shards are built when they are missing or stale (core/corpus_pieces.h): in pieces of
// about 8 MB of input, `jobs` at a time.
struct PrepareOptions {
  int jobs = 0;              // tokenizing threads; 0 = the cores this process may use
  uint64_t piece_bytes = 0;  // input bytes per piece; 0 = kPieceBytes (8 MiB). Parts and their
                             // join must use the same.
  Log log;
};

// The cores this process may run on (its CPU affinity), at least 1.
int UsableCores();

// Loads the tokenizer ("gpt2" = DATA_DIR/gpt2; "bpe-N" = a byte-level BPE of N units trained on
// this corpus's training documents, cached under DATA_DIR/tokenizers/; or a directory holding
// encoder.json + vocab.bpe) and the corpus shards, building what is missing or stale. Throws
// InputError when the corpus or tokenizer is unknown or its files are missing.
PreparedCorpus PrepareCorpus(const std::filesystem::path& data_dir, const std::string& corpus,
                             const std::string& tokenizer, const Log& log = {});
PreparedCorpus PrepareCorpus(const std::filesystem::path& data_dir, const std::string& corpus,
                             const std::string& tokenizer, const PrepareOptions& options);

// One part of a preparation split across processes or machines (a Slurm array task): trains the
// tokenizer if it is missing, then tokenizes the pieces whose index i has i % parts == part and
// that no process has written yet; no join. A PrepareCorpus afterwards (any machine that sees
// the data directory) joins the pieces, building any still missing. Returns the pieces built.
size_t PrepareCorpusPart(const std::filesystem::path& data_dir, const std::string& corpus,
                         const std::string& tokenizer, int part, int parts,
                         const PrepareOptions& options);

// The prepared corpus when its tokenizer and current shards already exist; nullopt when anything
// would have to be trained or tokenized first. Builds nothing; throws InputError as PrepareCorpus.
std::optional<PreparedCorpus> OpenPreparedCorpus(const std::filesystem::path& data_dir,
                                                 const std::string& corpus,
                                                 const std::string& tokenizer);

// The tokenizer name that gives `corpus`'s tokenizer when another corpus is read with it: bpe-N
// (trained on the run's own corpus) becomes bpe-N@CORPUS; every other name is already absolute.
std::string SharedTokenizerName(const std::string& tokenizer, const std::string& corpus);

// The first `max_tokens` tokens of a corpus, cut at a sentence boundary (documents in a shard are
// in a fixed pseudo-random order, so a prefix is a random sample of documents). `storage` holds
// the adjusted document offsets the returned view points into. max_tokens 0 = everything.
TokenCorpus LimitTokens(const TokenCorpus& corpus, uint64_t max_tokens,
                        std::vector<uint64_t>& storage);

}  // namespace ablate::core
