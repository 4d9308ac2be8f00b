// Preparation in pieces (core/corpus_pieces.h) against the whole-corpus-in-memory preparation it
// replaced, written out here as the reference: every document read, held out by HeldOutIds,
// ordered by sha256("order:" + id), tokenized sentence by sentence, one shard written at once.
#include "core/corpus_pieces.h"

#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "base/error.h"
#include "base/hash.h"
#include "core/bpe_trainer.h"
#include "core/corpus.h"
#include "core/sentence_splitter.h"
#include "core/shard.h"
#include "tests/support.h"

namespace fs = std::filesystem;
using namespace ablate::core;

using ablate::test::Slurp;

namespace {

// A corpus directory of three JSON Lines files and four .txt documents: 259 documents, one of
// them without text, one id given twice, sentences of varied length.
std::vector<fs::path> WriteCorpus(const fs::path& dir) {
  fs::create_directories(dir / "texts");
  const std::vector<std::string> words = {"the", "whale", "said", "Emma", "quietly",   "to",
                                          "a",   "ship",  "of",   "Mr.",  "Knightley", "again"};
  uint64_t state = 7;
  auto next = [&](uint64_t n) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return (state >> 33) % n;
  };
  auto paragraph = [&] {
    std::string p;
    for (uint64_t s = 0, sentences = 1 + next(4); s < sentences; ++s) {
      std::string sentence;
      for (uint64_t w = 0, n = 2 + next(9); w < n; ++w)
        sentence += (w == 0 ? "" : " ") + words[next(words.size())];
      sentence[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(sentence[0])));
      p += (p.empty() ? "" : " ") + sentence + (next(3) == 0 ? "?" : ".");
    }
    return p;
  };
  int id = 0;
  for (const char* name : {"a.jsonl", "b.jsonl", "c.jsonl"}) {
    std::string text;
    for (int d = 0; d < 85; ++d, ++id) {
      std::vector<std::string> paragraphs;
      if (id != 40) {  // document 40 has no text
        for (uint64_t p = 0, n = 1 + next(3); p < n; ++p) paragraphs.push_back(paragraph());
      }
      const std::string name_id = id == 100 ? "doc/7" : "doc/" + std::to_string(id);  // twice
      text += nlohmann::json{{"id", name_id}, {"paragraphs", paragraphs}}.dump() + "\n";
      if (d == 20) text += "\n";  // a blank line is skipped
    }
    std::ofstream(dir / name, std::ios::binary) << text;
  }
  for (int t = 0; t < 4; ++t)
    std::ofstream(dir / "texts" / ("t" + std::to_string(t) + ".txt")) << paragraph() << "\n\n"
                                                                      << paragraph() << "\n";
  std::vector<fs::path> files = {dir / "a.jsonl", dir / "b.jsonl", dir / "c.jsonl"};
  for (int t = 0; t < 4; ++t) files.push_back(dir / "texts" / ("t" + std::to_string(t) + ".txt"));
  return files;
}

// The reference: the whole corpus in memory, as PrepareCorpus did before pieces.
void ReferenceShards(const std::vector<fs::path>& files, BpeTokenizer tokenizer,
                     const fs::path& out) {
  std::vector<Document> documents;
  for (const auto& f : files) {
    auto part = f.extension() == ".jsonl" ? ReadJsonlDocuments(f) : ReadTextDocument(f);
    for (auto& d : part) documents.push_back(std::move(d));
  }
  const auto held_out = HeldOutIds(documents);
  std::vector<std::pair<std::string, const Document*>> keyed;
  for (const auto& d : documents) keyed.emplace_back(ablate::Sha256Hex("order:" + d.id), &d);
  std::sort(keyed.begin(), keyed.end());
  OwnedTokenCorpus train, valid;
  std::vector<std::string> train_ids, valid_ids;
  for (const auto& [hash, d] : keyed) {
    std::vector<std::vector<uint32_t>> sentences;
    for (const auto& p : d->paragraphs) {
      for (auto s : SplitSentences(p)) {
        const auto ids = tokenizer.Encode((sentences.empty() ? "" : " ") + std::string(s));
        sentences.emplace_back(ids.begin(), ids.end());
      }
    }
    if (sentences.empty()) continue;
    const bool held = held_out.count(d->id) != 0;
    (held ? valid : train).AddDocument(sentences);
    (held ? valid_ids : train_ids).push_back(d->id);
  }
  fs::create_directories(out);
  const auto vocab = static_cast<uint32_t>(tokenizer.vocab_size());
  WriteShard(out / "train.shard", train, train_ids, vocab);
  WriteShard(out / "valid.shard", valid, valid_ids, vocab);
}

BpeTokenizer SmallTokenizer() {
  return TrainBpe(std::vector<std::string>{"the whale said Emma quietly to a ship of Mr. Knightley "
                                           "again. The whale? Emma said."},
                  300);
}

}  // namespace

TEST_CASE("every line of a JSON Lines file is read by exactly one piece, wherever it is cut",
          "[corpus][pieces]") {
  ablate::test::TempDir dir("ablate_pieces_");
  const auto files = WriteCorpus(dir.path());
  const auto whole = ReadJsonlDocuments(files[0]);
  const uint64_t size = fs::file_size(files[0]);
  for (uint64_t cut = 0; cut <= size; cut += 37) {
    std::vector<std::string> ids;
    auto add = [&](Document&& d) { ids.push_back(d.id); };
    const uint64_t bytes = ForEachJsonlDocument(files[0], 0, cut, add) +
                           ForEachJsonlDocument(files[0], cut, size, add);
    INFO("cut at " << cut);
    REQUIRE(ids.size() == whole.size());
    for (size_t i = 0; i < ids.size(); ++i) CHECK(ids[i] == whole[i].id);
    CHECK(bytes == size);
  }
}

TEST_CASE("shards joined from pieces are byte for byte the whole corpus tokenized at once",
          "[corpus][pieces]") {
  ablate::test::TempDir dir("ablate_pieces_");
  const auto files = WriteCorpus(dir / "corpus");
  const auto tokenizer = SmallTokenizer();
  ReferenceShards(files, tokenizer, dir / "reference");

  for (const uint64_t piece_bytes : {uint64_t{700}, uint64_t{5000}, kPieceBytes}) {
    for (const int jobs : {1, 3}) {
      INFO("pieces of " << piece_bytes << " bytes, " << jobs << " jobs");
      const auto pieces = PlanPieces(files, piece_bytes);
      if (piece_bytes == 700) CHECK(pieces.size() > 40);          // most lines are cut somewhere
      if (piece_bytes == kPieceBytes) CHECK(pieces.size() == 4);  // a file each, the texts one
      const fs::path work_dir =
          dir / ("pieces-" + std::to_string(piece_bytes) + "-" + std::to_string(jobs));
      PieceWork work;
      work.dir = work_dir;
      work.jobs = jobs;
      CHECK(BuildPieces(pieces, tokenizer, work, {}) == pieces.size());
      const fs::path out = work_dir / "out";
      const auto joined = JoinPieces(pieces.size(), work_dir,
                                     static_cast<uint32_t>(tokenizer.vocab_size()), out, "test");
      CHECK(joined.train_documents + joined.valid_documents == 258);  // 259 less the empty one
      CHECK(joined.valid_documents >= 3);
      CHECK(Slurp(out / "train.shard") == Slurp(dir / "reference" / "train.shard"));
      CHECK(Slurp(out / "valid.shard") == Slurp(dir / "reference" / "valid.shard"));
    }
  }
}

TEST_CASE("a preparation resumes from its pieces, and parts built apart join to the same shards",
          "[corpus][pieces]") {
  ablate::test::TempDir dir("ablate_pieces_");
  const auto files = WriteCorpus(dir / "corpus");
  const auto tokenizer = SmallTokenizer();
  ReferenceShards(files, tokenizer, dir / "reference");
  const auto pieces = PlanPieces(files, 2000);
  REQUIRE(pieces.size() >= 6);
  const auto vocab = static_cast<uint32_t>(tokenizer.vocab_size());

  // Part 0 of 3 is done (another machine, or a run that was killed); the rest follows.
  PieceWork work;
  work.dir = dir / "pieces";
  work.part = 0;
  work.parts = 3;
  const size_t first = BuildPieces(pieces, tokenizer, work, {});
  CHECK(first == (pieces.size() + 2) / 3);
  CHECK_THROWS_AS(JoinPieces(pieces.size(), work.dir, vocab, dir / "out", "test"),
                  ablate::InputError);  // pieces missing

  // A piece written by a killed process is not there at all (pieces are renamed into place);
  // one that is there is not tokenized again.
  const auto before = fs::last_write_time(PiecePath(work.dir, 0));
  work.parts = 1;
  std::vector<std::string> log;
  const size_t rest =
      BuildPieces(pieces, tokenizer, work, [&](const std::string& line) { log.push_back(line); });
  CHECK(rest == pieces.size() - first);
  CHECK(fs::last_write_time(PiecePath(work.dir, 0)) == before);
  REQUIRE(!log.empty());
  CHECK(log.front().find(std::to_string(rest) + " of " + std::to_string(pieces.size()) +
                         " pieces") != std::string::npos);
  CHECK(BuildPieces(pieces, tokenizer, work, {}) == 0);

  JoinPieces(pieces.size(), work.dir, vocab, dir / "out", "test");
  CHECK(Slurp(dir / "out" / "train.shard") == Slurp(dir / "reference" / "train.shard"));
  CHECK(Slurp(dir / "out" / "valid.shard") == Slurp(dir / "reference" / "valid.shard"));
}

TEST_CASE("HeldOutSelector holds out what HeldOutIds does, down to the two-document minimum",
          "[corpus][pieces]") {
  for (const int n : {0, 1, 2, 3, 10, 400}) {
    std::vector<Document> documents;
    HeldOutSelector selector;
    for (int i = 0; i < n; ++i) {
      documents.push_back({"d" + std::to_string(i % 7 == 6 ? 0 : i), "", "", {}});
      selector.Add(documents.back().id);
    }
    INFO(n << " documents");
    // HeldOutIds' rule written out: under 3% of the hash, then the smallest hashes up to two.
    std::set<std::string> expected;
    std::vector<std::pair<std::string, std::string>> by_hash;
    for (const auto& d : documents) {
      const auto hash = DocumentHash("heldout", d.id);
      if (HashFraction(hash) < kHeldOutFraction) expected.insert(d.id);
      by_hash.emplace_back(hash, d.id);
    }
    std::sort(by_hash.begin(), by_hash.end());
    const size_t minimum = n >= 3 ? 2 : n >= 2 ? 1 : 0;
    for (size_t i = 0; expected.size() < minimum && i < by_hash.size(); ++i)
      expected.insert(by_hash[i].second);
    CHECK(selector.HeldOut() == expected);
    CHECK(HeldOutIds(documents) == expected);
  }
}

TEST_CASE("a BPE trained from streamed word counts does not depend on the documents' order",
          "[corpus][pieces]") {
  const std::vector<std::string> texts = {"low lower lowest newer newest", "wider widest low",
                                          "the newest of the low"};
  BpeWordCounts counts, reversed;
  for (const auto& t : texts) counts.Add(t);
  for (auto t = texts.rbegin(); t != texts.rend(); ++t) reversed.Add(*t);
  CHECK(counts.distinct() == 11);  // pre-tokens with their leading spaces: "low", " low", ...
  auto streamed = TrainBpe(reversed, 300), whole = TrainBpe(counts, 300);
  REQUIRE(streamed.bpe_vocab_size() == whole.bpe_vocab_size());
  for (TokenId id = 0; id < whole.bpe_vocab_size(); ++id)
    CHECK(streamed.TokenBytes(id) == whole.TokenBytes(id));
}
