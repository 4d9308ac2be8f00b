#include "core/batcher.h"

#include <catch2/catch.hpp>
#include <numeric>

#include "core/rng.h"

using namespace ablate::core;

namespace {

constexpr SpecialIds kIds{0, 2, 1};

OwnedTokenCorpus RandomCorpus(int docs, uint64_t seed) {
  Rng rng({seed});
  OwnedTokenCorpus c;
  for (int d = 0; d < docs; ++d) {
    std::vector<std::vector<uint32_t>> sentences(1 + rng.Below(30));
    for (auto& s : sentences) {
      s.resize(1 + rng.Below(25));
      for (auto& t : s) t = 10 + static_cast<uint32_t>(rng.Below(1000));
    }
    c.AddDocument(sentences);
  }
  return c;
}

BatchOptions Options(InputFormat format, uint64_t batch_size,
                     MaskingMode mode = MaskingMode::kDynamic) {
  BatchOptions o;
  o.format = {format, 64, 0.1, 5};
  o.masking.mode = mode;
  o.masking.mask_id = 3;
  o.masking.first_ordinary = 10;
  o.masking.end_ordinary = 1010;
  o.ids = kIds;
  o.batch_size = batch_size;
  return o;
}

}  // namespace

TEST_CASE("batches hold batch_size sequences and an epoch covers every example once", "[batcher]") {
  auto owned = RandomCorpus(60, 1);
  auto corpus = owned.View();
  auto options = Options(InputFormat::kFullSentences, 8);
  BatchStream stream(corpus, options);
  auto examples = BuildExamples(corpus, options.format, 0);
  uint64_t expected_tokens = 0;
  for (const auto& e : examples) expected_tokens += ExampleLength(corpus, e);

  uint64_t rows = 0, tokens = 0;
  while (rows < examples.size()) {
    Batch b = stream.Next();
    CHECK(b.epoch == 0);
    CHECK((b.rows == 8 || rows + b.rows == examples.size()));
    rows += b.rows;
    tokens += b.tokens;
    for (int64_t r = 0; r < b.rows; ++r) {
      const int32_t* ids = &b.input_ids[r * b.cols];
      const int32_t* labels = &b.labels[r * b.cols];
      int32_t len = b.lengths[r];
      CHECK(ids[0] == kIds.bos);
      CHECK(ids[len - 1] == kIds.eos);
      for (int64_t c = len; c < b.cols; ++c) {
        CHECK(ids[c] == kIds.pad);
        CHECK(labels[c] == kIgnoreLabel);
      }
      CHECK(b.nsp_labels[r] == kNoNspLabel);
    }
  }
  CHECK(rows == examples.size());
  CHECK(tokens == expected_tokens);
  CHECK(stream.Next().epoch == 1);
}

TEST_CASE("DOC-SENTENCES and SENTENCE-PAIR batches fill a token budget", "[batcher]") {
  auto owned = RandomCorpus(80, 2);
  auto corpus = owned.View();
  for (auto format : {InputFormat::kDocSentences, InputFormat::kSentencePair}) {
    auto options = Options(format, 8);
    BatchStream stream(corpus, options);
    const int64_t budget = 8 * 64;
    int64_t more_rows = 0, batches = 0, tokens = 0;
    for (int i = 0; i < 20; ++i) {
      Batch b = stream.Next();
      if (stream.position().cursor == stream.ExamplesPerEpoch()) break;  // the epoch's remainder
      CHECK(b.tokens <= budget);
      // Full: the next example would not have fit.
      CHECK(b.tokens > budget - 64);
      CHECK(b.rows >= 8);  // sequences are at most seq_len, so never fewer rows
      more_rows += b.rows > 8;
      tokens += b.tokens;
      ++batches;
    }
    INFO(InputFormatName(format));
    CHECK(batches > 3);
    // Sentence pairs are always short; packed documents are short near document ends.
    if (format == InputFormat::kSentencePair) {
      CHECK(more_rows == batches);
    } else {
      CHECK(more_rows > 0);
    }
  }
}

TEST_CASE("a stream resumed from its position continues identically", "[batcher]") {
  auto owned = RandomCorpus(40, 3);
  auto corpus = owned.View();
  for (auto format : {InputFormat::kSegmentPair, InputFormat::kFullSentences}) {
    auto options = Options(format, 4, MaskingMode::kStatic);
    BatchStream straight(corpus, options);
    std::vector<Batch> expected;
    DataPosition middle;
    for (int i = 0; i < 200; ++i) {
      if (i == 90) middle = straight.position();
      expected.push_back(straight.Next());
    }
    REQUIRE(expected.back().epoch >= 1);  // the test crosses an epoch boundary
    BatchStream resumed(corpus, options, middle);
    for (int i = 90; i < 200; ++i) {
      Batch b = resumed.Next();
      INFO(i);
      CHECK(b.input_ids == expected[i].input_ids);
      CHECK(b.labels == expected[i].labels);
      CHECK(b.segment_ids == expected[i].segment_ids);
      CHECK(b.nsp_labels == expected[i].nsp_labels);
    }
  }
}

TEST_CASE("NSP batches carry labels and segment ids", "[batcher]") {
  auto owned = RandomCorpus(40, 4);
  auto corpus = owned.View();
  BatchStream stream(corpus, Options(InputFormat::kSegmentPair, 16));
  Batch b = stream.Next();
  int ones = 0;
  for (int64_t r = 0; r < b.rows; ++r) {
    CHECK((b.nsp_labels[r] == 0 || b.nsp_labels[r] == 1));
    ones += b.nsp_labels[r];
    // Segment 1 starts after the first </s> and lasts to the end of the sequence.
    const int8_t* seg = &b.segment_ids[r * b.cols];
    CHECK(seg[0] == 0);
    CHECK(seg[b.lengths[r] - 1] == 1);
  }
  CHECK(b.predictions > 0);
}
