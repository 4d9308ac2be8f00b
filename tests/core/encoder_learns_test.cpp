// The encoder uses context: trained through core::Train on synthetic languages in which only the
// neighbours of a masked word or the first segment of a pair give the answer, it beats the
// context-free floors by far on held-out documents. A context-blind encoder or a broken NSP path
// cannot pass these; the natural-text runs (issue 24) cannot show that, as they never leave the
// unigram plateau.
#include <algorithm>
#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <optional>

#include "base/rng.h"
#include "core/corpus.h"
#include "core/trainer.h"
#include "experiments/run_config.h"
#include "tests/support.h"

namespace fs = std::filesystem;
using namespace ablate::core;
using ablate::Rng;

namespace {

struct Scratch : ablate::test::TempDir {
  fs::path dir = path();
  Scratch() : TempDir("ablate_encoder_learns_") { fs::create_directories(dir / "data"); }
};

// 64 two-letter words of lower-case letters, so that none ends a sentence or holds a special
// character, and a byte-level BPE of kBpe units learns each as one token: 8 merges of a space and
// a first letter, 64 of those and a second letter, 64 of the letter pairs that start documents
// (no space before them), 392 units in all.
constexpr int kWords = 64;
constexpr const char* kBpe = "bpe-400";

std::string Word(int i) { return {static_cast<char>('a' + i / 8), static_cast<char>('k' + i % 8)}; }

// A document of sentences, each a paragraph of its own: with no sentence-ending punctuation the
// splitter keeps each whole.
Document MakeDocument(const std::string& id, const std::vector<std::vector<int>>& sentences) {
  Document d;
  d.id = id;
  for (const auto& sentence : sentences) {
    std::string text;
    for (int w : sentence) text += (text.empty() ? "" : " ") + Word(w);
    d.paragraphs.push_back(text);
  }
  return d;
}

// The documents as one file of the normalized corpus format (documents.h), in a directory of
// their own: the run's data.corpus.
std::string WriteCorpus(const fs::path& dir, const std::vector<Document>& documents) {
  fs::create_directories(dir);
  std::ofstream out(dir / "corpus.jsonl");
  for (const auto& d : documents) {
    out << nlohmann::json{{"id", d.id}, {"source", "synthetic"}, {"paragraphs", d.paragraphs}}
               .dump()
        << "\n";
  }
  return dir.string();
}

// Splits `words` into sentences of 6 to 12 words.
std::vector<std::vector<int>> Sentences(const std::vector<int>& words, Rng& rng) {
  std::vector<std::vector<int>> out;
  for (size_t i = 0; i < words.size();) {
    const size_t n = std::min<size_t>(6 + rng.Below(7), words.size() - i);
    out.emplace_back(words.begin() + static_cast<ptrdiff_t>(i),
                     words.begin() + static_cast<ptrdiff_t>(i + n));
    i += n;
  }
  return out;
}

// A language in which every word has one fixed successor: a seeded random cycle through the 64
// words. A document is a run of the cycle from a random word, 60 to 120 words long. A masked word
// is the successor of its left neighbour and the predecessor of its right one.
std::vector<Document> ChainDocuments(int documents) {
  Rng rng({0x636861696e});  // "chain"
  std::vector<int> cycle(kWords);
  std::iota(cycle.begin(), cycle.end(), 0);
  for (size_t i = cycle.size() - 1; i > 0; --i) std::swap(cycle[i], cycle[rng.Below(i + 1)]);
  std::vector<Document> out;
  for (int d = 0; d < documents; ++d) {
    std::vector<int> words(60 + rng.Below(61));
    const uint64_t start = rng.Below(kWords);
    for (size_t i = 0; i < words.size(); ++i) words[i] = cycle[(start + i) % kWords];
    out.push_back(MakeDocument("chain/" + std::to_string(d), Sentences(words, rng)));
  }
  return out;
}

// Sixteen topics of four words each; a document draws every word uniformly from its one topic,
// 30 to 40 sentences. A true second segment is of the first one's topic. A random one comes from
// another document, which in training has another topic 15 times in 16; the held-out documents
// (HeldOutIds, a function of the ids alone) get a topic each, so that on the validation pairs
// every random second segment is of another topic and every pair can be told apart.
constexpr int kTopics = 16;

std::vector<Document> TopicDocuments(int documents) {
  std::vector<Document> ids(static_cast<size_t>(documents));
  for (int d = 0; d < documents; ++d) ids[static_cast<size_t>(d)].id = "topic/" + std::to_string(d);
  const auto held_out = HeldOutIds(ids);
  REQUIRE(held_out.size() >= 2);
  REQUIRE(held_out.size() <= static_cast<size_t>(kTopics));
  Rng rng({0x746f706963});  // "topic"
  std::vector<Document> out;
  int next_held_out_topic = 0;
  for (int d = 0; d < documents; ++d) {
    const std::string& id = ids[static_cast<size_t>(d)].id;
    const int topic = held_out.count(id) != 0 ? next_held_out_topic++ : d % kTopics;
    std::vector<int> words;
    const uint64_t sentences = 30 + rng.Below(11);
    for (uint64_t s = 0; s < sentences; ++s) {
      for (uint64_t w = 6 + rng.Below(7); w > 0; --w)
        words.push_back(topic * (kWords / kTopics) + static_cast<int>(rng.Below(kWords / kTopics)));
    }
    out.push_back(MakeDocument(id, Sentences(words, rng)));
  }
  return out;
}

// Every word, with and without the space before it, is one token of the corpus's vocabulary, so
// that a word's neighbours are the tokens beside it.
void RequireOneTokenPerWord(const Scratch& s, const std::string& corpus) {
  auto prepared = PrepareCorpus(s.dir / "data", corpus, kBpe);
  for (int w = 0; w < kWords; ++w) {
    INFO(Word(w));
    REQUIRE(prepared.tokenizer.Encode(" " + Word(w)).size() == 1);
    REQUIRE(prepared.tokenizer.Encode(Word(w)).size() == 1);
  }
}

// A small encoder of `hidden` units in 2 layers, no dropout, AdamW at 1e-3 (the micro model's
// rate; at 3e-3 the chain language's run below stays on the unigram plateau, ppl 68.4 and
// accuracy 0.025), 32 sequences per update; one thread, as the suite runs on two cores.
TrainConfig SmallConfig(const std::string& corpus, InputFormat format, int seq_len, int hidden,
                        int steps) {
  TrainConfig c = ablate::experiments::DefaultRunConfig().Pretraining();
  c.data.corpus = corpus;
  c.data.tokenizer = kBpe;
  c.data.format = format;
  c.data.masking = MaskingMode::kDynamic;
  c.data.seq_len = seq_len;
  c.train.batch_size = 32;
  c.train.micro_batch = 32;
  c.seed = 5;
  c.model.layers = 2;
  c.model.hidden = hidden;
  c.model.heads = 2;
  c.model.ffn = 2 * hidden;
  c.model.dropout = 0;
  c.model.attention_dropout = 0;
  c.optim.lr = 1e-3;
  c.optim.warmup_steps = 20;
  c.train.steps = steps;
  c.train.checkpoint_every = 0;
  c.eval.every = 0;
  c.eval.sequences = 0;  // every held-out sequence
  c.threads = 1;
  return c;
}

class FinalEval : public TrainObserver {
 public:
  std::optional<EvalMetrics> final_eval;
  void OnEval(const EvalMetrics& m, bool final) override {
    if (final) final_eval = m;
  }
};

}  // namespace

TEST_CASE("masked words are predicted from their neighbours, far above context-free floors",
          "[trainer][slow]") {
  Scratch s;
  const std::string corpus = WriteCorpus(s.dir / "chain", ChainDocuments(600));
  RequireOneTokenPerWord(s, corpus);
  // The micro model's width; 16-token sequences have few positions to learn to look beside.
  const TrainConfig config = SmallConfig(corpus, InputFormat::kFullSentences, 16, 128, 600);
  FinalEval r;
  REQUIRE(Train(config, s.dir / "data", s.dir / "run", r).outcome == TrainOutcome::kCompleted);
  REQUIRE(r.final_eval);
  const EvalMetrics& m = *r.final_eval;
  REQUIRE(m.predictions > 150);
  // The copy floor is the best any context-blind encoder can do: the Bayes predictor from the
  // input token at the masked position alone (<mask> 80% of the time) under the masking rule.
  // The words are about equally frequent, so it knows a word only where the masking kept it.
  // Measured (seeds 1 to 5): accuracy 0.92 to 0.96 and perplexity 1.6 to 1.8 against the copy
  // floor's 0.134 and 43.2 and the unigram floor's 0.022 and 67.7 on these 366 masked tokens.
  CHECK(m.copy_accuracy < 0.2);
  CHECK(m.mlm_accuracy > m.copy_accuracy + 0.6);
  CHECK(m.mlm_accuracy > m.unigram_accuracy + 0.6);
  CHECK(m.perplexity < 0.1 * m.copy_perplexity);
  CHECK(m.perplexity < 0.1 * m.unigram_perplexity);
}

TEST_CASE("next-sentence prediction tells a true second segment from a random one",
          "[trainer][slow]") {
  Scratch s;
  const std::string corpus = WriteCorpus(s.dir / "topics", TopicDocuments(400));
  RequireOneTokenPerWord(s, corpus);
  // 64 units: at 128, one seed of three tried (2) left NSP at chance through 600 updates; at 64
  // every seed tried (1 to 9) ends at 0.993 or 1.000 after 800.
  const TrainConfig config = SmallConfig(corpus, InputFormat::kSegmentPair, 32, 64, 800);
  // The floor: the share of the commoner label among the validation pairs, which a head that
  // ignores its input (or was trained without the labels) cannot beat.
  const Batch pairs = DataPipeline(s.dir / "data", config).ValidationSample(config.data.format, 0);
  REQUIRE(pairs.rows >= 100);
  const auto positives = std::count(pairs.nsp_labels.begin(), pairs.nsp_labels.end(), 1);
  const double majority = static_cast<double>(std::max(positives, pairs.rows - positives)) /
                          static_cast<double>(pairs.rows);
  CHECK(majority < 0.7);
  FinalEval r;
  REQUIRE(Train(config, s.dir / "data", s.dir / "run", r).outcome == TrainOutcome::kCompleted);
  REQUIRE(r.final_eval);
  CHECK(r.final_eval->nsp_accuracy > 0.95);
}
