#include "core/input_format.h"

#include <catch2/catch.hpp>
#include <numeric>

#include "base/error.h"
#include "base/rng.h"

using namespace ablate::core;
using ablate::Rng;

namespace {

constexpr SpecialIds kIds{0, 2, 1};  // <s>, </s>, <pad>

// Documents of sentences with the given lengths; token t of the corpus has id 100 + t, so a
// materialized sequence shows exactly which corpus tokens it holds.
OwnedTokenCorpus Corpus(const std::vector<std::vector<int>>& documents) {
  OwnedTokenCorpus c;
  uint32_t next = 100;
  for (const auto& lengths : documents) {
    std::vector<std::vector<uint32_t>> sentences;
    for (int n : lengths) {
      std::vector<uint32_t> s(n);
      std::iota(s.begin(), s.end(), next);
      next += n;
      sentences.push_back(s);
    }
    c.AddDocument(sentences);
  }
  return c;
}

std::vector<int32_t> Ids(std::initializer_list<int32_t> ids) { return ids; }

std::vector<int32_t> Materialize(const TokenCorpus& corpus, const Example& e,
                                 const FormatOptions& o,
                                 std::vector<int8_t>* segments_out = nullptr) {
  std::vector<int32_t> tokens;
  std::vector<int8_t> segments;
  MaterializeExample(corpus, e, o, kIds, tokens, segments);
  REQUIRE(segments.size() == tokens.size());
  REQUIRE(ExampleLength(corpus, e) == tokens.size());
  if (segments_out) *segments_out = segments;
  return tokens;
}

// Which document a corpus token belongs to.
uint64_t DocumentOf(const TokenCorpus& c, uint64_t token) {
  uint64_t d = 0;
  while (d + 1 < c.DocumentCount() && c.DocumentTokenBegin(d + 1) <= token) ++d;
  return d;
}

// A corpus of `docs` documents with sentence lengths drawn from [1, 30].
OwnedTokenCorpus RandomCorpus(int docs, uint64_t seed) {
  Rng rng({seed});
  std::vector<std::vector<int>> lengths(docs);
  for (auto& d : lengths) {
    d.resize(1 + rng.Below(40));
    for (int& n : d) n = 1 + static_cast<int>(rng.Below(30));
  }
  return Corpus(lengths);
}

}  // namespace

TEST_CASE("FULL-SENTENCES packs whole sentences across documents with a separator", "[formats]") {
  // doc0: sentences of 3, 4, 2 tokens; doc1: 5; doc2: 2, 2. seq_len 10 leaves 8 for text.
  auto owned = Corpus({{3, 4, 2}, {5}, {2, 2}});
  auto corpus = owned.View();
  FormatOptions o{InputFormat::kFullSentences, 10, 0.0, 1};
  auto examples = BuildExamples(corpus, o, 0);
  REQUIRE(examples.size() == 3);
  // [3+4] | 9 would not fit; [2 + sep + 5] = 8 fits exactly; [2 + 2].
  CHECK(Materialize(corpus, examples[0], o) == Ids({0, 100, 101, 102, 103, 104, 105, 106, 2}));
  CHECK(Materialize(corpus, examples[1], o) == Ids({0, 107, 108, 2, 109, 110, 111, 112, 113, 2}));
  CHECK(Materialize(corpus, examples[2], o) == Ids({0, 114, 115, 116, 117, 2}));
  for (const auto& e : examples) CHECK(e.nsp == kNoNspLabel);
}

TEST_CASE("DOC-SENTENCES packs the same way but never crosses a document", "[formats]") {
  auto owned = Corpus({{3, 4, 2}, {5}, {2, 2}});
  auto corpus = owned.View();
  FormatOptions o{InputFormat::kDocSentences, 10, 0.0, 1};
  auto examples = BuildExamples(corpus, o, 0);
  REQUIRE(examples.size() == 4);
  CHECK(Materialize(corpus, examples[0], o) == Ids({0, 100, 101, 102, 103, 104, 105, 106, 2}));
  CHECK(Materialize(corpus, examples[1], o) == Ids({0, 107, 108, 2}));
  CHECK(Materialize(corpus, examples[2], o) == Ids({0, 109, 110, 111, 112, 113, 2}));
  CHECK(Materialize(corpus, examples[3], o) == Ids({0, 114, 115, 116, 117, 2}));
}

TEST_CASE("a sentence longer than a sequence is cut into full pieces", "[formats]") {
  auto owned = Corpus({{2}, {20}, {1}});
  auto corpus = owned.View();
  FormatOptions o{InputFormat::kFullSentences, 10, 0.0, 1};
  auto examples = BuildExamples(corpus, o, 0);
  REQUIRE(examples.size() == 5);
  CHECK(Materialize(corpus, examples[0], o) == Ids({0, 100, 101, 2}));
  CHECK(Materialize(corpus, examples[1], o) == Ids({0, 102, 103, 104, 105, 106, 107, 108, 109, 2}));
  CHECK(Materialize(corpus, examples[3], o) == Ids({0, 118, 119, 120, 121, 2}));
  CHECK(Materialize(corpus, examples[4], o) == Ids({0, 122, 2}));
}

TEST_CASE("packed formats use every token exactly once and ignore the data version", "[formats]") {
  auto owned = RandomCorpus(50, 3);
  auto corpus = owned.View();
  for (auto format : {InputFormat::kFullSentences, InputFormat::kDocSentences}) {
    FormatOptions o{format, 64, 0.0, 9};
    auto examples = BuildExamples(corpus, o, 0);
    uint64_t next = 0;
    for (const auto& e : examples) {
      CHECK(e.a_begin == next);
      CHECK(ExampleLength(corpus, e) <= 64);
      if (format == InputFormat::kDocSentences) {
        CHECK(DocumentOf(corpus, e.a_begin) == DocumentOf(corpus, e.a_end - 1));
      }
      next = e.a_end;
    }
    CHECK(next == corpus.TokenCount());
    auto again = BuildExamples(corpus, o, 7);
    REQUIRE(again.size() == examples.size());
    CHECK(again.back().a_begin == examples.back().a_begin);
  }
}

TEST_CASE("SEGMENT-PAIR+NSP builds BERT's segment pairs", "[formats]") {
  auto owned = RandomCorpus(200, 5);
  auto corpus = owned.View();
  FormatOptions o{InputFormat::kSegmentPair, 128, 0.1, 11};
  auto examples = BuildExamples(corpus, o, 0);
  REQUIRE(examples.size() > 300);
  size_t random = 0, full = 0;
  for (const auto& e : examples) {
    std::vector<int8_t> segments;
    auto tokens = Materialize(corpus, e, o, &segments);
    CHECK(tokens.size() <= 128);
    uint64_t a_len = e.a_end - e.a_begin, b_len = e.b_end - e.b_begin;
    CHECK(a_len >= 1);
    CHECK(b_len >= 1);
    // <s> A </s> B </s> with segment 0 then 1.
    CHECK(tokens.front() == 0);
    CHECK(tokens[1 + a_len] == 2);
    CHECK(tokens.back() == 2);
    CHECK(segments[1 + a_len] == 0);
    CHECK(segments[2 + a_len] == 1);
    if (e.nsp == 1) {
      // The true continuation: same document, B after A.
      CHECK(DocumentOf(corpus, e.a_begin) == DocumentOf(corpus, e.b_begin));
      CHECK(e.a_end <= e.b_begin);
    } else {
      REQUIRE(e.nsp == 0);
      CHECK(DocumentOf(corpus, e.a_begin) != DocumentOf(corpus, e.b_begin));
      ++random;
    }
    if (tokens.size() >= 100) ++full;
  }
  // Random B with p = 0.5, plus every one-sentence chunk.
  double random_share = double(random) / examples.size();
  CHECK(random_share > 0.45);
  CHECK(random_share < 0.65);
  // Most pairs fill the sequence (only short_seq_prob of documents aim shorter).
  CHECK(double(full) / examples.size() > 0.6);
  // A new data version draws new pairs.
  auto other = BuildExamples(corpus, o, 1);
  CHECK((other.size() != examples.size() || other[0].b_begin != examples[0].b_begin ||
         other[1].b_begin != examples[1].b_begin || other[2].b_begin != examples[2].b_begin));
  auto same = BuildExamples(corpus, o, 0);
  CHECK(same.size() == examples.size());
  CHECK(same.back().b_begin == examples.back().b_begin);
}

TEST_CASE("SENTENCE-PAIR+NSP pairs single sentences", "[formats]") {
  auto owned = RandomCorpus(100, 8);
  auto corpus = owned.View();
  FormatOptions o{InputFormat::kSentencePair, 512, 0.0, 2};
  auto examples = BuildExamples(corpus, o, 0);
  std::vector<int> used(corpus.SentenceCount(), 0);
  auto sentence_at = [&](uint64_t token) {
    return std::upper_bound(corpus.sentence_offsets.begin(), corpus.sentence_offsets.end(), token) -
           corpus.sentence_offsets.begin() - 1;
  };
  size_t next = 0;
  for (const auto& e : examples) {
    auto a = sentence_at(e.a_begin), b = sentence_at(e.b_begin);
    // Untruncated at seq_len 512: exactly one sentence each.
    CHECK(e.a_begin == corpus.SentenceBegin(a));
    CHECK(e.a_end == corpus.SentenceEnd(a));
    CHECK(e.b_begin == corpus.SentenceBegin(b));
    CHECK(e.b_end == corpus.SentenceEnd(b));
    ++used[a];
    if (e.nsp == 1) {
      CHECK(b == a + 1);
      CHECK(DocumentOf(corpus, e.a_begin) == DocumentOf(corpus, e.b_begin));
      ++used[b];
      ++next;
    } else {
      CHECK(DocumentOf(corpus, e.a_begin) != DocumentOf(corpus, e.b_begin));
    }
  }
  // Every sentence is an A or a true B exactly once.
  for (int u : used) CHECK(u == 1);
  CHECK(double(next) / examples.size() > 0.3);
}

TEST_CASE("pairs are truncated to seq_len - 3 from the longer side", "[formats]") {
  auto owned = Corpus({{40}, {40}});
  auto corpus = owned.View();
  FormatOptions o{InputFormat::kSentencePair, 16, 0.0, 4};
  auto examples = BuildExamples(corpus, o, 0);
  REQUIRE(examples.size() == 2);
  for (const auto& e : examples) {
    CHECK(ExampleLength(corpus, e) == 16);
    CHECK(e.a_end - e.a_begin + e.b_end - e.b_begin == 13);
    CHECK(e.a_end - e.a_begin >= 6);
    CHECK(e.b_end - e.b_begin >= 6);
  }
}

TEST_CASE("NSP formats need two documents", "[formats]") {
  auto owned = Corpus({{3, 4}});
  FormatOptions o{InputFormat::kSegmentPair, 16, 0.0, 1};
  CHECK_THROWS_AS(BuildExamples(owned.View(), o, 0), ablate::InputError);
  CHECK(ParseInputFormat("DOC-SENTENCES") == InputFormat::kDocSentences);
  CHECK_THROWS_AS(ParseInputFormat("DOC-SENTENCE"), ablate::InputError);
}
