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

TEST_CASE("the bshift task is built from exactly the documents every corpus holds out",
          "[corpus][bshift]") {
  // scripts/fetch_tasks.py repeats HeldOutIds' rule in Python; here both see the same 400
  // documents, one eligible sentence each beside one too short to keep.
  ablate::test::TempDir dir("ablate_bshift_");
  std::filesystem::create_directories(dir / "corpora");
  std::vector<Document> documents;
  std::string jsonl;
  auto sentence = [](const std::string& n) {
    return std::vector<std::string>{"Document", n,     "reads",  "very",    "well",
                                    "in",       "the", "bright", "morning", "light."};
  };
  for (int i = 0; i < 400; ++i) {
    const std::string id = "t/" + std::to_string(i);
    const std::vector<std::string> paragraphs = {
        "Document " + std::to_string(i) +
        " reads very well in the bright morning light. Too short."};
    jsonl += nlohmann::json{{"id", id}, {"source", "t"}, {"paragraphs", paragraphs}}.dump() + "\n";
    documents.push_back({id, "", "t", paragraphs});
  }
  dir.Write("corpora/t.jsonl", jsonl);
  dir.Write("corpora/manifest.json", R"({"sources": {"t": {"file": "t.jsonl"}}})");
  const auto held_out = HeldOutIds(documents);
  REQUIRE(held_out.size() >= 5);  // about 3% of 400
  REQUIRE(held_out.size() < 30);

  const auto r = ablate::test::Shell(
      ablate::test::Python() + " -c 'import json, sys; from pathlib import Path; " +
      "sys.path.insert(0, \"" + std::string(ABLATE_SOURCE_DIR) + "/scripts\"); " +
      "import fetch_tasks as f; train, dev = f.ExtractBShift(Path(\"" + (dir / "corpora").string() +
      "\")); print(json.dumps(train + dev))'");
  INFO(r.out);
  REQUIRE(r.code == 0);
  const auto examples = nlohmann::json::parse(r.out);
  std::set<std::string> ids;
  int swapped = 0;
  for (const auto& example : examples) {
    const auto text = example[0].get<std::string>();
    const int label = example[1].get<int>();
    INFO(text);
    std::vector<std::string> words;
    std::istringstream in(text);
    for (std::string w; in >> w;) words.push_back(w);
    std::string number;
    for (const auto& w : words)
      if (std::isdigit(static_cast<unsigned char>(w[0]))) number = w;
    REQUIRE(held_out.count("t/" + number) == 1);  // only held-out documents' sentences
    ids.insert("t/" + number);
    const auto written = sentence(number);
    REQUIRE(words.size() == written.size());
    std::vector<size_t> differ;
    for (size_t k = 0; k < words.size(); ++k)
      if (words[k] != written[k]) differ.push_back(k);
    if (label == 0) {
      CHECK(differ.empty());  // as written
    } else {
      // exactly one adjacent pair swapped
      REQUIRE(differ.size() == 2);
      CHECK(differ[1] == differ[0] + 1);
      CHECK(words[differ[0]] == written[differ[1]]);
      CHECK(words[differ[1]] == written[differ[0]]);
      ++swapped;
    }
  }
  CHECK(ids == held_out);  // and every held-out document's sentence
  CHECK(swapped > 0);
  CHECK(swapped < static_cast<int>(examples.size()));
}
