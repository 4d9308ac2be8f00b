#include "core/corpus.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>

#include "base/error.h"
#include "core/data_pipeline.h"
#include "experiments/run_config.h"
#include "tests/support.h"

namespace fs = std::filesystem;
using namespace ablate::core;

namespace {

const fs::path kSmall = fs::path(ABLATE_SOURCE_DIR) / "tests/data/corpus_small";

struct Scratch : ablate::test::TempDir {
  fs::path dir = path();
  Scratch() : TempDir("ablate_corpus_") {
    fs::create_directories(dir / "data");
    fs::copy(kSmall, dir / "corpus");
  }
};

// The text a document's ids must decode to: paragraphs' lines joined by single spaces.
std::string ExpectedText(const std::string& name) {
  std::string text;
  auto documents = ReadTextDocument(kSmall / (name + ".txt"));
  for (const auto& p : documents[0].paragraphs) {
    text += (text.empty() ? "" : " ") + p;
  }
  return text;
}

}  // namespace

TEST_CASE("plain-text documents: paragraphs split at blank lines", "[corpus]") {
  auto docs = ReadTextDocument(kSmall / "pride.txt");
  REQUIRE(docs.size() == 1);
  CHECK(docs[0].id == "pride");
  REQUIRE(docs[0].paragraphs.size() == 2);
  CHECK(docs[0].paragraphs[1].rfind("\"My dear Mr. Bennet,\" said his lady", 0) == 0);
}

TEST_CASE("a directory corpus is split, sentence-split, tokenized and cached", "[corpus]") {
  Scratch s;
  std::vector<std::string> log;
  auto record = [&](const std::string& line) { log.push_back(line); };
  auto prepared = PrepareCorpus(s.dir / "data", (s.dir / "corpus").string(), "bpe-300", record);
  const auto& train = prepared.train.corpus();
  const auto& valid = prepared.valid.corpus();
  // 5 documents; sentences by hand: pride 4, moby 4, emma 2, persuasion 3, sense 2.
  CHECK(train.DocumentCount() + valid.DocumentCount() == 5);
  CHECK(valid.DocumentCount() >= 1);
  CHECK(train.SentenceCount() + valid.SentenceCount() == 15);
  CHECK(prepared.tokenizer.bpe_vocab_size() == 300);
  CHECK(prepared.train.vocab_size() == 305);

  // Every document's ids decode back to its text: sentences joined by one space.
  for (const Shard* shard : {&prepared.train, &prepared.valid}) {
    const auto& c = shard->corpus();
    for (uint64_t d = 0; d < c.DocumentCount(); ++d) {
      std::vector<TokenId> ids;
      uint64_t end = d + 1 < c.DocumentCount() ? c.DocumentTokenBegin(d + 1) : c.TokenCount();
      for (uint64_t t = c.DocumentTokenBegin(d); t < end; ++t) ids.push_back(c.Token(t));
      INFO(shard->document_ids()[d]);
      CHECK(prepared.tokenizer.Decode(ids) == ExpectedText(shard->document_ids()[d]));
    }
  }
  // Held-out documents never appear in training.
  for (const auto& id : prepared.valid.document_ids()) {
    CHECK(std::find(prepared.train.document_ids().begin(), prepared.train.document_ids().end(),
                    id) == prepared.train.document_ids().end());
  }

  // A second preparation reuses the cache; a changed source rebuilds.
  log.clear();
  PrepareCorpus(s.dir / "data", (s.dir / "corpus").string(), "bpe-300", record);
  CHECK(log.empty());
  std::ofstream(s.dir / "corpus" / "sense.txt", std::ios::app)
      << "\nA new paragraph. Two sentences.\n";
  auto rebuilt = PrepareCorpus(s.dir / "data", (s.dir / "corpus").string(), "bpe-300", record);
  CHECK(!log.empty());
  CHECK(rebuilt.train.corpus().SentenceCount() + rebuilt.valid.corpus().SentenceCount() == 17);
}

TEST_CASE("bpe-N@CORPUS shares one trained vocabulary across corpora", "[corpus]") {
  Scratch s;
  fs::create_directories(s.dir / "other");
  fs::copy(kSmall / "emma.txt", s.dir / "other" / "emma.txt");
  fs::copy(kSmall / "sense.txt", s.dir / "other" / "sense.txt");
  std::string trained_on = (s.dir / "corpus").string();
  auto a = PrepareCorpus(s.dir / "data", trained_on, "bpe-300");
  auto b = PrepareCorpus(s.dir / "data", (s.dir / "other").string(), "bpe-300@" + trained_on);
  CHECK(b.tokenizer.Encode("Emma Woodhouse, handsome") ==
        a.tokenizer.Encode("Emma Woodhouse, handsome"));
  // Trained on the other corpus alone, the vocabulary differs.
  auto own = PrepareCorpus(s.dir / "data", (s.dir / "other").string(), "bpe-300");
  CHECK(own.tokenizer.Encode("Emma Woodhouse, handsome") !=
        a.tokenizer.Encode("Emma Woodhouse, handsome"));
}

TEST_CASE("data.max_tokens keeps a prefix cut at a sentence boundary", "[corpus]") {
  OwnedTokenCorpus owned;
  owned.AddDocument({{1, 2, 3}, {4, 5}});
  owned.AddDocument({{6, 7, 8, 9}, {10}});
  owned.AddDocument({{11, 12}});
  std::vector<uint64_t> storage;
  auto limited = LimitTokens(owned.View(), 10, storage);
  CHECK(limited.TokenCount() == 10);
  CHECK(limited.SentenceCount() == 4);
  CHECK(limited.DocumentCount() == 2);
  limited = LimitTokens(owned.View(), 7, storage);
  CHECK(limited.TokenCount() == 5);  // the next sentence would pass 7
  CHECK(limited.DocumentCount() == 1);
  CHECK(LimitTokens(owned.View(), 0, storage).TokenCount() == 12);
}

TEST_CASE("unknown corpora and tokenizers are bad input", "[corpus]") {
  Scratch s;
  CHECK_THROWS_WITH(PrepareCorpus(s.dir / "data", "bookz", "gpt2"),
                    Catch::Contains("named corpus (books, mixture)"));
  CHECK_THROWS_WITH(PrepareCorpus(s.dir / "data", (s.dir / "corpus").string(), "bpe-x"),
                    Catch::Contains("expected bpe-N"));
  CHECK_THROWS_WITH(PrepareCorpus(s.dir / "data", (s.dir / "corpus").string(), "bpe-300@"),
                    Catch::Contains("expected bpe-N"));
  CHECK_THROWS_WITH(PrepareCorpus(s.dir / "data", "books", "gpt2"),
                    Catch::Contains("run scripts/fetch-data first"));
  std::ofstream(s.dir / "bad.shard") << "not a shard at all, just some text";
  CHECK_THROWS_AS(Shard::Open(s.dir / "bad.shard"), ablate::InputError);
}

TEST_CASE("the data pipeline streams masked batches from a prepared corpus", "[corpus]") {
  Scratch s;
  TrainConfig config = ablate::experiments::DefaultRunConfig().Pretraining();
  config.data.corpus = (s.dir / "corpus").string();
  config.data.tokenizer = "bpe-300";
  config.data.format = InputFormat::kFullSentences;
  config.data.seq_len = 32;
  config.train.batch_size = 4;
  DataPipeline data(s.dir / "data", config);
  auto batch = data.Stream().Next();
  CHECK(batch.rows == 4);
  CHECK(batch.cols <= 32);
  CHECK(batch.input_ids[0] == data.tokenizer().bos_id());
  CHECK(batch.predictions > 0);
}
