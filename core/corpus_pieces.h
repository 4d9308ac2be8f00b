// Corpus preparation in pieces, so that a corpus of any size is tokenized in bounded memory, on
// every core, across machines and resumably: the input files are cut into pieces of about
// kPieceBytes (a JSON Lines file at line boundaries, .txt files grouped whole); each piece is
// tokenized on its own into a small shard of its documents in input order (atomic, so a piece
// file exists only when complete); then a join writes train.shard and valid.shard with the
// documents in the fixed order and held-out split of corpus.h, reading one document at a time.
// The result is byte for byte what tokenizing the whole corpus in memory gives.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/bpe_tokenizer.h"
#include "core/documents.h"

namespace ablate::core {

// Input bytes per piece: enough work to be worth a file, small enough that a worker's memory
// (the piece's tokens) stays a few tens of MB and that two workers share a 71 MB corpus evenly.
constexpr uint64_t kPieceBytes = 8ull << 20;

// Where a piece's documents come from: a byte range of a JSON Lines file (lines starting in
// [begin, end)), or a whole .txt file (one document).
struct PieceInput {
  std::filesystem::path file;
  bool jsonl = true;
  uint64_t begin = 0, end = 0;
};

struct Piece {
  std::vector<PieceInput> inputs;
  uint64_t bytes = 0;  // of input
};

// The pieces of `files` (in the order given), a function of their names and sizes alone.
std::vector<Piece> PlanPieces(const std::vector<std::filesystem::path>& files,
                              uint64_t piece_bytes = kPieceBytes);

// Calls `each` for every document of the piece, in input order.
void ForEachPieceDocument(const Piece& piece, const std::function<void(Document&&)>& each);

using Log = std::function<void(const std::string&)>;

struct PieceWork {
  std::filesystem::path dir;  // where the piece files go (created if missing)
  int jobs = 1;               // worker threads
  // Which pieces this process builds: those whose index i has i % parts == part.
  int part = 0, parts = 1;
  std::string what;  // for progress lines ("mixture with gpt2")
};

// The file of piece `index` under `dir`.
std::filesystem::path PiecePath(const std::filesystem::path& dir, size_t index);

// Tokenizes each of this process's pieces whose file does not exist yet, with work.jobs threads
// (each with its own copy of `tokenizer`), writing each piece atomically. Logs a progress line
// (bytes, tokens/s, ETA) at most every few seconds. Returns the pieces built now.
size_t BuildPieces(const std::vector<Piece>& pieces, const BpeTokenizer& tokenizer,
                   const PieceWork& work, const Log& log);

struct JoinedCorpus {
  uint64_t train_tokens = 0, valid_tokens = 0, train_documents = 0, valid_documents = 0;
};

// Writes out_dir/train.shard and out_dir/valid.shard from the complete pieces under `dir`, in
// the order and split of corpus.h (HashOrder by document id, HeldOutIds), holding the document
// ids and one document's tokens in memory, not the corpus. Throws InputError when a piece is
// missing, or when no document with text is left for training.
JoinedCorpus JoinPieces(size_t pieces, const std::filesystem::path& dir, uint32_t vocab_size,
                        const std::filesystem::path& out_dir, const std::string& corpus);

}  // namespace ablate::core
