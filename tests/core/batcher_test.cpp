#include "core/batcher.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <numeric>
#include <tuple>

#include "base/rng.h"

using namespace ablate::core;
using ablate::Rng;

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
  o.masking.static_copies = 10;
  o.masking.mask_prob = 0.15;
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
  REQUIRE(examples.size() % 8 != 0);  // the epoch ends inside a batch
  uint64_t expected_tokens = 0;
  for (const auto& e : examples) expected_tokens += ExampleLength(corpus, e);

  uint64_t rows = 0, tokens = 0;
  while (rows < examples.size()) {
    Batch b = stream.Next();
    CHECK(b.epoch == 0);
    CHECK(b.rows == 8);  // never a short batch at the end of an epoch
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
      if (rows + static_cast<uint64_t>(r) < examples.size()) tokens += static_cast<uint64_t>(len);
    }
    rows += static_cast<uint64_t>(b.rows);
  }
  // The first epoch's sequences are every example once; the last batch's tail is epoch 1's.
  CHECK(tokens == expected_tokens);
  CHECK(stream.position() == DataPosition{1, rows - examples.size()});
  CHECK(stream.Epochs() == Approx(1.0 + static_cast<double>(rows - examples.size()) /
                                            static_cast<double>(examples.size())));
  CHECK(stream.Next().epoch == 1);
}

TEST_CASE("a batch larger than the epoch takes its rows from the following epochs", "[batcher]") {
  auto owned = RandomCorpus(6, 11);
  auto corpus = owned.View();
  const uint64_t per_epoch =
      BuildExamples(corpus, Options(InputFormat::kFullSentences, 1).format, 0).size();
  const uint64_t batch = 3 * per_epoch + 2;
  BatchStream stream(corpus, Options(InputFormat::kFullSentences, batch));
  uint64_t seen = 0;
  for (int step = 1; step <= 5; ++step) {
    Batch b = stream.Next();
    CHECK(b.rows == static_cast<int64_t>(batch));
    seen += static_cast<uint64_t>(b.rows);
    CHECK(stream.position() == DataPosition{seen / per_epoch, seen % per_epoch});
  }
  CHECK(seen == 5 * batch);
  CHECK(stream.Epochs() == Approx(static_cast<double>(seen) / static_cast<double>(per_epoch)));

  // A token budget larger than the epoch is filled the same way.
  auto options = Options(InputFormat::kDocSentences, 1);
  uint64_t epoch_tokens = 0;
  for (const auto& e : BuildExamples(corpus, options.format, 0))
    epoch_tokens += ExampleLength(corpus, e);
  options.token_budget = 5 * epoch_tokens / 2;
  BatchStream by_tokens(corpus, options);
  for (int step = 0; step < 4; ++step) {
    Batch b = by_tokens.Next();
    CHECK(std::abs(static_cast<double>(b.tokens) - static_cast<double>(options.token_budget)) <=
          64 / 2);
  }
  CHECK(by_tokens.Epochs() == Approx(10.0).margin(0.1));
}

TEST_CASE("DOC-SENTENCES and SENTENCE-PAIR batches fill a token budget", "[batcher]") {
  auto owned = RandomCorpus(80, 2);
  auto corpus = owned.View();
  for (auto format : {InputFormat::kDocSentences, InputFormat::kSentencePair}) {
    auto options = Options(format, 8);
    options.token_budget = 8 * 64;
    const auto budget = static_cast<int64_t>(options.token_budget);
    BatchStream stream(corpus, options);
    int64_t more_rows = 0, batches = 0, tokens = 0;
    while (stream.position().epoch < 3) {
      Batch b = stream.Next();
      // The sequence that ends a batch brings it nearest the budget: never off by more than half
      // a sequence (at most 64 tokens), at epoch ends too.
      CHECK(std::abs(b.tokens - budget) <= 32);
      CHECK(b.rows >= 7);
      more_rows += b.rows > 8;
      tokens += b.tokens;
      ++batches;
    }
    INFO(InputFormatName(format));
    CHECK(batches > 3);
    // On average the budget is met.
    CHECK(static_cast<double>(tokens) / static_cast<double>(batches) ==
          Approx(static_cast<double>(budget)).epsilon(0.02));
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

TEST_CASE(
    "a stream resumed just before or after a batch that crosses an epoch continues identically",
    "[batcher]") {
  auto owned = RandomCorpus(30, 7);
  auto corpus = owned.View();
  for (auto format : {InputFormat::kSegmentPair, InputFormat::kDocSentences}) {
    INFO(InputFormatName(format));
    auto options = Options(format, 7, MaskingMode::kStatic);
    options.masking.static_copies = 2;
    if (format == InputFormat::kDocSentences) options.token_budget = 7 * 40;
    BatchStream straight(corpus, options);
    std::vector<Batch> expected;
    std::vector<DataPosition> before;
    for (int i = 0; i < 60; ++i) {
      before.push_back(straight.position());
      expected.push_back(straight.Next());
    }
    before.push_back(straight.position());
    int checked = 0;
    for (size_t i = 0; i + 1 < expected.size(); ++i) {
      // Batch i starts in one epoch and ends in the next: resume before it and after it.
      if (before[i].epoch == before[i + 1].epoch) continue;
      for (size_t from : {i, i + 1}) {
        BatchStream resumed(corpus, options, before[from]);
        for (size_t j = from; j < expected.size(); ++j) {
          Batch b = resumed.Next();
          INFO(j);
          CHECK(b.input_ids == expected[j].input_ids);
          CHECK(b.labels == expected[j].labels);
          CHECK(b.nsp_labels == expected[j].nsp_labels);
        }
        ++checked;
      }
    }
    CHECK(checked >= 4);
  }
}

namespace {

// One epoch's rows, one sequence per batch: the text before masking and what the model reads.
struct Row {
  std::vector<int32_t> text, input;
  bool operator<(const Row& o) const { return std::tie(text, input) < std::tie(o.text, o.input); }
  bool operator==(const Row&) const = default;
};

std::vector<std::vector<Row>> Epochs(const TokenCorpus& corpus, MaskingMode mode, int copies,
                                     uint64_t epochs) {
  auto options = Options(InputFormat::kSegmentPair, 1, mode);
  options.masking.static_copies = copies;
  BatchStream stream(corpus, options);
  std::vector<std::vector<Row>> out(epochs);
  while (true) {
    Batch b = stream.Next();
    if (b.epoch >= epochs) break;
    Row row;
    for (int64_t c = 0; c < b.lengths[0]; ++c) {
      row.input.push_back(b.input_ids[c]);
      row.text.push_back(b.labels[c] == kIgnoreLabel ? b.input_ids[c] : b.labels[c]);
    }
    out[b.epoch].push_back(std::move(row));
  }
  return out;
}

}  // namespace

TEST_CASE("static and dynamic masking differ in their masks only", "[batcher][masking]") {
  auto owned = RandomCorpus(30, 8);
  auto corpus = owned.View();
  const int copies = 3;
  auto fixed = Epochs(corpus, MaskingMode::kStatic, copies, 8);
  auto fresh = Epochs(corpus, MaskingMode::kDynamic, copies, 8);
  for (uint64_t e = 0; e < 8; ++e) {
    INFO("epoch " << e);
    REQUIRE(fixed[e].size() == fresh[e].size());
    size_t same_masks = 0;
    for (size_t r = 0; r < fixed[e].size(); ++r) {
      // The same unmasked sequences (pairs, NSP negatives, truncation) in the same order.
      CHECK(fixed[e][r].text == fresh[e][r].text);
      same_masks += fixed[e][r].input == fresh[e][r].input;
    }
    if (e < copies) {
      // Before the first repeat a static run draws the masks a dynamic one does.
      CHECK(same_masks == fixed[e].size());
    } else {
      CHECK(same_masks < fixed[e].size() / 4);
    }
  }
  // Static masks repeat every `copies` epochs (in that epoch's order); dynamic ones do not.
  for (uint64_t e = copies; e < 8; ++e) {
    INFO("epoch " << e);
    auto sorted = [](std::vector<Row> rows) {
      std::sort(rows.begin(), rows.end());
      return rows;
    };
    CHECK(sorted(fixed[e]) == sorted(fixed[e - copies]));
    CHECK(sorted(fresh[e]) != sorted(fresh[e - copies]));
    // A new copy draws new pairs: the texts of epoch 1 are not those of epoch 0.
  }
  std::vector<std::vector<int32_t>> texts0, texts1;
  for (const auto& r : fixed[0]) texts0.push_back(r.text);
  for (const auto& r : fixed[1]) texts1.push_back(r.text);
  std::sort(texts0.begin(), texts0.end());
  std::sort(texts1.begin(), texts1.end());
  CHECK(texts0 != texts1);
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
  // Half the pairs are random (label 0), half continue (label 1): both appear among 16.
  CHECK(ones > 0);
  CHECK(ones < b.rows);
  CHECK(b.predictions > 0);
}
