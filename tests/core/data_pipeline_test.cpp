// The data of a run end to end: the token budget of the token-filled formats measured on their
// reference formats (on the real books corpus), and the validation sample every run is scored
// on, including runs that train on other corpora (eval.corpus).
#include "core/data_pipeline.h"

#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "base/error.h"
#include "base/hash.h"
#include "core/data_stats.h"
#include "experiments/run_config.h"
#include "tests/support.h"

namespace fs = std::filesystem;
using namespace ablate::core;

namespace {

const fs::path kSmall = fs::path(ABLATE_SOURCE_DIR) / "tests/data/corpus_small";

// scripts/fetch-data's directory: $ABLATE_DATA_DIR, by default the repository's data/.
fs::path RealDataDir() {
  const char* env = std::getenv("ABLATE_DATA_DIR");
  return env != nullptr && *env != '\0' ? fs::path(env) : fs::path(ABLATE_SOURCE_DIR) / "data";
}

TrainConfig BooksConfig(InputFormat format) {
  TrainConfig c = ablate::experiments::DefaultRunConfig().Pretraining();
  c.data.corpus = "books";
  c.data.tokenizer = "gpt2";
  c.data.format = format;
  c.data.masking = MaskingMode::kDynamic;
  c.data.seq_len = 128;
  c.train.batch_size = 32;
  c.seed = 4;
  return c;
}

// Mean real tokens per update over the first `updates` updates.
double MeanTokensPerUpdate(const DataPipeline& data, int updates) {
  auto stream = data.Stream();
  double tokens = 0;
  for (int i = 0; i < updates; ++i) tokens += static_cast<double>(stream.Next().tokens);
  return tokens / updates;
}

// Corpus B under `dir`: the small corpus's novels under other document ids, so it shares no
// document with the small corpus.
fs::path SameNovelsElsewhere(const fs::path& dir) {
  fs::create_directories(dir / "b");
  for (const auto& entry : fs::directory_iterator(kSmall))
    fs::copy(entry.path(), dir / "b" / ("b_" + entry.path().filename().string()));
  return dir / "b";
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), {}};
}

}  // namespace

TEST_CASE("token-filled formats match their reference format's measured tokens per update",
          "[data][books]") {
  const fs::path data_dir = RealDataDir();
  // The paper's pairs: SENTENCE-PAIR+NSP matches SEGMENT-PAIR+NSP, DOC-SENTENCES matches
  // FULL-SENTENCES, each within 3% on books.
  for (auto [format, reference] :
       {std::pair{InputFormat::kSentencePair, InputFormat::kSegmentPair},
        std::pair{InputFormat::kDocSentences, InputFormat::kFullSentences}}) {
    INFO(InputFormatName(format));
    DataPipeline matched(data_dir, BooksConfig(format));
    DataPipeline fixed(data_dir, BooksConfig(reference));
    const double ours = MeanTokensPerUpdate(matched, 200);
    const double theirs = MeanTokensPerUpdate(fixed, 200);
    CHECK(ours == Approx(theirs).epsilon(0.03));
    // Neither fills the nominal batch_size x seq_len: the reference falls short of it.
    CHECK(theirs < 0.995 * 32 * 128);
    // The plans say what the streams do.
    CHECK(matched.plan().tokens_per_update == Approx(ours).epsilon(0.01));
    CHECK(fixed.plan().tokens_per_update == Approx(theirs).epsilon(0.03));
    CHECK(fixed.plan().sequences_per_update == 32);
    CHECK(matched.plan().sequences_per_update > 32);
  }
}

TEST_CASE("the validation sample has exactly eval.sequences sequences, whatever the run",
          "[data]") {
  ablate::test::TempDir dir;
  TrainConfig c = ablate::experiments::DefaultRunConfig().Pretraining();
  c.data.corpus = kSmall.string();
  c.data.tokenizer = "bpe-300";
  c.data.seq_len = 16;
  c.data.format = InputFormat::kFullSentences;
  DataPipeline a(dir / "data", c);
  const Batch sample = a.ValidationSample(InputFormat::kFullSentences, 5);
  CHECK(sample.rows == 5);
  // Another seed, masking, batch size and format: the same masked tokens.
  c.seed = 77;
  c.data.masking = MaskingMode::kStatic;
  c.train.batch_size = 3;
  c.data.format = InputFormat::kSegmentPair;
  DataPipeline b(dir / "data", c);
  const Batch other = b.ValidationSample(InputFormat::kFullSentences, 5);
  CHECK(other.input_ids == sample.input_ids);
  CHECK(other.labels == sample.labels);
  // More than the held-out documents hold: all of them, once.
  const Batch all = a.ValidationSample(InputFormat::kFullSentences, 0);
  CHECK(a.ValidationSample(InputFormat::kFullSentences, 100000).rows == all.rows);
}

TEST_CASE("runs on different corpora with one eval.corpus are scored on the same masked tokens",
          "[data]") {
  ablate::test::TempDir dir;
  const std::string a = kSmall.string(), b = SameNovelsElsewhere(dir.path()).string();
  TrainConfig on_a = ablate::experiments::DefaultRunConfig().Pretraining();
  on_a.data.corpus = a;
  on_a.data.tokenizer = "bpe-300@" + a;  // one vocabulary, or the ids could not agree
  on_a.data.seq_len = 16;
  TrainConfig on_b = on_a;
  on_b.data.corpus = b;
  on_b.eval.corpus = a;
  on_b.seed = 9;
  DataPipeline pa(dir / "data", on_a);
  DataPipeline pb(dir / "data", on_b);
  const Batch sa = pa.ValidationSample(InputFormat::kFullSentences, 0);
  const Batch sb = pb.ValidationSample(InputFormat::kFullSentences, 0);
  REQUIRE(sa.rows > 0);
  CHECK(sb.input_ids == sa.input_ids);
  CHECK(sb.labels == sa.labels);
  // Without eval.corpus, B is scored on its own held-out documents: other text.
  on_b.eval.corpus = "";
  DataPipeline own(dir / "data", on_b);
  CHECK(own.ValidationSample(InputFormat::kFullSentences, 0).input_ids != sa.input_ids);
  // bpe-N without @ names the training corpus's vocabulary for the eval corpus too.
  CHECK(SharedTokenizerName("bpe-300", b) == "bpe-300@" + b);
  CHECK(SharedTokenizerName("gpt2", b) == "gpt2");
}

TEST_CASE("a run never trains on a document its eval.corpus holds out", "[data]") {
  ablate::test::TempDir dir;
  const std::string a = kSmall.string();
  auto eval = PrepareCorpus(dir / "data", a, "bpe-300");
  const auto& held = eval.valid.document_ids();
  REQUIRE(held.size() == 2);  // the small-corpus rule: 2 of 5 documents
  // A two-document corpus of exactly those holds out only one and trains on the other.
  fs::create_directories(dir / "c");
  for (const auto& id : held) fs::copy(kSmall / (id + ".txt"), dir / "c" / (id + ".txt"));
  TrainConfig c = ablate::experiments::DefaultRunConfig().Pretraining();
  c.data.corpus = (dir / "c").string();
  c.data.tokenizer = "bpe-300@" + a;
  c.data.seq_len = 16;
  c.data.format = InputFormat::kFullSentences;
  c.eval.corpus = a;
  try {
    DataPipeline pipeline(dir / "data", c);
    FAIL("a corpus training on an eval.corpus held-out document was accepted");
  } catch (const ablate::InputError& e) {
    CHECK(e.path() == "eval.corpus");
    CHECK_THAT(e.message(), Catch::Contains("held out for validation"));
  }
}

TEST_CASE("format statistics are measured once and cached beside the shards", "[data]") {
  ablate::test::TempDir dir;
  auto prepared = PrepareCorpus(dir / "data", kSmall.string(), "bpe-300");
  FormatOptions options{InputFormat::kFullSentences, 16, 0, 0};
  const auto measured = MeasureFormat(prepared.train.corpus(), options);
  CHECK(measured.sequences == BuildExamples(prepared.train.corpus(), options, 0).size());
  const auto cached = CachedFormatStats(prepared.dir, "k", prepared.train.corpus(), options);
  CHECK(fs::exists(prepared.dir / "format-stats.json"));
  CHECK(cached.sequences == measured.sequences);
  CHECK(cached.mean_length == measured.mean_length);
  // Read back from the file, not measured again: a figure planted in the file comes back.
  auto file = nlohmann::json::parse(ReadFile(prepared.dir / "format-stats.json"));
  REQUIRE(file.size() == 1);
  file.begin().value()["mean_length"] = 1234.5;
  std::ofstream(prepared.dir / "format-stats.json") << file.dump();
  const auto again = CachedFormatStats(prepared.dir, "k", prepared.train.corpus(), options);
  CHECK(again.mean_length == 1234.5);
  // Another key (another corpus view) is measured.
  CHECK(CachedFormatStats(prepared.dir, "other", prepared.train.corpus(), options).mean_length ==
        measured.mean_length);
  CHECK(TokenBudget(measured, 10) ==
        static_cast<uint64_t>(std::llround(measured.mean_length * 10)));
}

TEST_CASE("eval.corpus is a list: each further corpus is its own held-out set", "[data]") {
  CHECK(EvalCorpora("").empty());
  CHECK(EvalCorpora("books") == std::vector<std::string>{"books"});
  CHECK(EvalCorpora(" books , mixture") == std::vector<std::string>{"books", "mixture"});
  CHECK_THROWS_AS(EvalCorpora("books,,mixture"), ablate::InputError);
  CHECK_THROWS_AS(EvalCorpora("books,books"), ablate::InputError);

  ablate::test::TempDir dir;
  const std::string a = kSmall.string(), b = SameNovelsElsewhere(dir.path()).string();
  TrainConfig on_a = ablate::experiments::DefaultRunConfig().Pretraining();
  on_a.data.corpus = a;
  on_a.data.tokenizer = "bpe-300@" + a;
  on_a.data.seq_len = 16;
  TrainConfig both = on_a;
  both.eval.corpus = a + "," + b;
  TrainConfig only_b = on_a;
  only_b.eval.corpus = b;
  DataPipeline pboth(dir / "data", both);
  DataPipeline pb(dir / "data", only_b);
  DataPipeline pa(dir / "data", on_a);
  REQUIRE(pboth.ValidSets() == 2);
  CHECK(pboth.ValidPrefix(0) == "valid");
  CHECK(pboth.ValidPrefix(1) == "valid-" + b);
  // Set 0 is the run's own held-out text (the first entry is the training corpus); set 1 is
  // exactly the sample a run scored on b alone sees.
  CHECK(pboth.ValidationSample(InputFormat::kFullSentences, 0).input_ids ==
        pa.ValidationSample(InputFormat::kFullSentences, 0).input_ids);
  const Batch further = pboth.ValidationSample(InputFormat::kFullSentences, 0, 1);
  CHECK(further.input_ids == pb.ValidationSample(InputFormat::kFullSentences, 0).input_ids);
  CHECK(further.labels == pb.ValidationSample(InputFormat::kFullSentences, 0).labels);
}

TEST_CASE("the held-out sample's halves follow a hash of each row's document id", "[data][books]") {
  const fs::path data_dir = RealDataDir();
  TrainConfig c = BooksConfig(InputFormat::kFullSentences);
  c.data.seq_len = 32;
  DataPipeline data(data_dir, c);
  const Batch sample = data.ValidationSample(InputFormat::kFullSentences, 512);
  const std::vector<uint8_t> halves = data.SampleHalves(sample);
  REQUIRE(halves.size() == static_cast<size_t>(sample.rows));
  // Reference: the document whose token range holds the row's first token, by a linear scan,
  // and the first 48 bits of sha256("select:" + id) below 2^47.
  const TokenCorpus& valid = data.valid();
  const auto ids = [&] {
    auto prepared = OpenPreparedCorpus(data_dir, "books", "gpt2");
    REQUIRE(prepared);
    return prepared->valid.document_ids();
  }();
  std::map<std::string, std::set<uint8_t>> by_document;
  size_t selected = 0;
  for (size_t r = 0; r < halves.size(); ++r) {
    uint64_t d = 0;
    while (d + 1 < valid.DocumentCount() &&
           valid.DocumentTokenBegin(d + 1) <= sample.first_tokens[r])
      ++d;
    const std::string hash = ablate::Sha256Hex("select:" + ids[d]);
    const bool select = std::stoull(hash.substr(0, 12), nullptr, 16) < (1ULL << 47);
    CHECK(halves[r] == (select ? DataPipeline::kSelectHalf : DataPipeline::kReportHalf));
    by_document[ids[d]].insert(halves[r]);
    selected += halves[r] == DataPipeline::kSelectHalf ? 1 : 0;
  }
  // A document is in one half only, and both halves hold a real share of the sample.
  for (const auto& [id, seen] : by_document) CHECK(seen.size() == 1);
  CHECK(by_document.size() >= 4);
  CHECK(selected > halves.size() / 8);
  CHECK(selected < halves.size() * 7 / 8);
}
