#include "downstream/task_metrics.h"

#include <catch2/catch.hpp>

using namespace ablate::downstream;
using Catch::Matchers::WithinAbs;

// Expected values are those of the official evaluate-v2.0 script's normalize_answer, compute_exact
// and compute_f1, run by hand in Python 3 on the same strings.

TEST_CASE("answers are normalized as the official SQuAD script does", "[task_metrics]") {
  CHECK(NormalizeAnswer("The Denver Broncos!") == "denver broncos");
  CHECK(NormalizeAnswer("rock'n'roll") == "rocknroll");
  CHECK(NormalizeAnswer("an-apple") == "anapple");  // punctuation goes before articles do
  CHECK(NormalizeAnswer("the_x") == "thex");        // '_' is punctuation too
  // Python's str.split() whitespace: no-break and thin spaces, and the separators \x1c-\x1f.
  CHECK(NormalizeAnswer("  A  tale of\u00a0two\u2009cities ") == "tale of two cities");
  CHECK(NormalizeAnswer("x\x1cy") == "x y");
  // Articles are whole words with Unicode word boundaries: a dash or curly quote ends a word, a
  // letter with an accent does not.
  CHECK(NormalizeAnswer("\u2014the \u2019a\u2019 \u00e9the") == "\u2014 \u2019 \u2019 \u00e9the");
  // Lower-casing is ASCII only; other bytes pass through.
  CHECK(NormalizeAnswer("THE \u00c9clair") == "\u00c9clair");
  CHECK(NormalizeAnswer("") == "");
  CHECK(NormalizeAnswer("a an the") == "");
  CHECK(NormalizeAnswer(std::string_view("bad \xff byte", 10)) == "bad \xff byte");
}

TEST_CASE("exact match compares normalized answers", "[task_metrics]") {
  CHECK(SquadExactMatch("the Denver Broncos", "Denver Broncos") == 1.0);
  CHECK(SquadExactMatch("Denver Broncos.", "denver  broncos") == 1.0);
  CHECK(SquadExactMatch("Broncos", "Denver Broncos") == 0.0);
  CHECK(SquadExactMatch("", "the") == 1.0);  // both normalize to nothing
}

TEST_CASE("F1 counts shared tokens with their multiplicity", "[task_metrics]") {
  // "broncos won" vs "denver broncos": one shared token, precision 1/2, recall 1/2.
  CHECK_THAT(SquadF1("Broncos won", "Denver Broncos"), WithinAbs(0.5, 1e-12));
  CHECK_THAT(SquadF1("the Denver Broncos", "Denver Broncos"), WithinAbs(1.0, 1e-12));
  // Precision 2/3, recall 1: 0.8.
  CHECK_THAT(SquadF1("Denver Broncos Denver", "Denver Broncos"), WithinAbs(0.8, 1e-12));
  CHECK_THAT(SquadF1("a b c d", "b c"), WithinAbs(0.8, 1e-12));
  // "b" is shared twice (gold has it twice), "c" not predicted: precision 2/3, recall 2/3.
  CHECK_THAT(SquadF1("b b b", "b c b"), WithinAbs(2.0 / 3.0, 1e-12));
  CHECK(SquadF1("Carolina Panthers", "Denver Broncos") == 0.0);
  // v2.0's rule when either side normalizes to nothing.
  CHECK(SquadF1("the", "a") == 1.0);
  CHECK(SquadF1("", "") == 1.0);
  CHECK(SquadF1("", "Denver") == 0.0);
  CHECK(SquadF1("Denver", "") == 0.0);
}

TEST_CASE("spans score the best gold answer, and no answer for impossible questions",
          "[task_metrics]") {
  auto example = [](std::vector<std::string> golds) {
    SpanExample e;
    for (auto& g : golds) e.answers.push_back({g, 0});
    e.impossible = e.answers.empty();
    return e;
  };
  const std::vector<SpanExample> dev = {
      example({"Denver Broncos", "Denver Broncos", "Denver"}),
      example({"24\u201310"}),
      example({}),
      example({"10th and 11th centuries", "in the 10th and 11th centuries"}),
  };
  // Per example (F1, EM): (1, 1); (0, 0) as "24 – 10" is three tokens; (1, 1) for no answer;
  // (2/3, 0) against the first gold (precision 1, recall 1/2).
  auto scores = ScoreSpans(dev, {"Denver", "24 \u2013 10", "", "11th centuries"});
  CHECK_THAT(scores.at("f1"), WithinAbs(100 * (1 + 0 + 1 + 2.0 / 3.0) / 4, 1e-9));
  CHECK_THAT(scores.at("em"), WithinAbs(50.0, 1e-9));

  CHECK(ScoreSpans({example({})}, {"something"}).at("f1") == 0.0);
  CHECK(ScoreSpans({example({})}, {"something"}).at("em") == 0.0);
  // A gold answer that normalizes to nothing is dropped, leaving "no answer" (evaluate-v2.0).
  CHECK(ScoreSpans({example({"the"})}, {"an"}).at("f1") == 100.0);
  CHECK(ScoreSpans({example({"the"})}, {"the end"}).at("em") == 0.0);
}

TEST_CASE("classification metrics match hand-computed accuracy, F1 and MCC", "[task_metrics]") {
  // TP 3, FN 1, FP 1, TN 3: accuracy 6/8, F1 2*3/(2*3+1+1), MCC (3*3-1*1)/sqrt(4*4*4*4) = 0.5.
  const std::vector<int> gold = {1, 1, 1, 0, 0, 0, 1, 0};
  const std::vector<int> predicted = {1, 1, 0, 0, 0, 1, 1, 0};
  auto scores = ScoreClassification(gold, predicted, {"mcc", "acc", "f1"});
  REQUIRE(scores.size() == 3);
  CHECK_THAT(scores.at("acc"), WithinAbs(75.0, 1e-9));
  CHECK_THAT(scores.at("f1"), WithinAbs(75.0, 1e-9));
  CHECK_THAT(scores.at("mcc"), WithinAbs(50.0, 1e-9));

  // Only the metrics asked for.
  CHECK(ScoreClassification(gold, predicted, {"acc"}).size() == 1);

  // A constant prediction: MCC and F1 are undefined, reported as 0 (sklearn's convention).
  auto constant = ScoreClassification(gold, std::vector<int>(8, 0), {"acc", "f1", "mcc"});
  CHECK_THAT(constant.at("acc"), WithinAbs(50.0, 1e-9));
  CHECK(constant.at("f1") == 0.0);
  CHECK(constant.at("mcc") == 0.0);

  // Perfectly wrong: MCC -1.
  CHECK_THAT(ScoreClassification({0, 1, 0, 1}, {1, 0, 1, 0}, {"mcc"}).at("mcc"),
             WithinAbs(-100.0, 1e-9));

  // Three classes (MNLI-like): correct 3 of 6, gold counts (2, 2, 2), predicted (3, 1, 2):
  // (3*6 - (2*3+2*1+2*2)) / sqrt((36-12) * (36-14)) = 6 / sqrt(528).
  CHECK_THAT(ScoreClassification({0, 1, 2, 0, 1, 2}, {0, 2, 1, 0, 0, 2}, {"mcc"}).at("mcc"),
             WithinAbs(26.111648393354674, 1e-9));
}

TEST_CASE("per-example span outcomes are each example's best F1 and EM, and average to the scores",
          "[task_metrics][outcomes]") {
  auto example = [](std::vector<std::string> golds) {
    SpanExample e;
    for (auto& g : golds) e.answers.push_back({g, 0});
    e.impossible = e.answers.empty();
    return e;
  };
  // The examples of the span test above, with their hand-worked (F1, EM) in percent.
  const std::vector<SpanExample> dev = {
      example({"Denver Broncos", "Denver Broncos", "Denver"}),
      example({"24\u201310"}),
      example({}),
      example({"10th and 11th centuries", "in the 10th and 11th centuries"}),
  };
  const std::vector<std::string> predictions = {"Denver", "24 \u2013 10", "", "11th centuries"};
  const auto outcomes = SpanOutcomes(dev, predictions);
  REQUIRE(outcomes.size() == 2);
  const ExampleOutcomes& f1 = outcomes.at("f1");
  const ExampleOutcomes& em = outcomes.at("em");
  REQUIRE(f1.size() == 4);
  CHECK(f1[0] == std::pair(100.0, 1.0));
  CHECK(f1[1] == std::pair(0.0, 1.0));
  CHECK(f1[2] == std::pair(100.0, 1.0));
  CHECK_THAT(f1[3].first, WithinAbs(200.0 / 3.0, 1e-9));
  CHECK(em == ExampleOutcomes{{100, 1}, {0, 1}, {100, 1}, {0, 1}});
  const auto scores = ScoreSpans(dev, predictions);
  for (const auto& [name, list] : outcomes) {
    double numerators = 0, denominators = 0;
    for (const auto& [n, d] : list) {
      numerators += n;
      denominators += d;
    }
    CHECK_THAT(numerators / denominators, WithinAbs(scores.at(name), 1e-9));
  }
}

TEST_CASE("per-example classification outcomes exist for accuracy only, as (100 if right, 1)",
          "[task_metrics][outcomes]") {
  const std::vector<int> gold = {1, 1, 1, 0, 0, 0, 1, 0};
  const std::vector<int> predicted = {1, 1, 0, 0, 0, 1, 1, 0};
  const auto outcomes = ClassificationOutcomes(gold, predicted, {"mcc", "acc", "f1"});
  REQUIRE(outcomes.size() == 1);  // F1 and MCC are not means over examples
  CHECK(
      outcomes.at("acc") ==
      ExampleOutcomes{{100, 1}, {100, 1}, {0, 1}, {100, 1}, {100, 1}, {0, 1}, {100, 1}, {100, 1}});
  CHECK(ClassificationOutcomes(gold, predicted, {"mcc", "f1"}).empty());
}
