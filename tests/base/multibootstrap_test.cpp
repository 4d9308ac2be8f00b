// The Multi-Bootstrap against an independent Python implementation of the paper's procedure and
// the documented draw order (tests/data/multibootstrap_reference.py), and on cases whose answer
// is known without it: rows apart on every example, seed effects that pairing cancels.
#include "base/multibootstrap.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/rng.h"
#include "tests/support.h"

using namespace ablate;

namespace {

using Row = std::vector<BootstrapRun>;

// Accuracy-like outcomes (correct or not, denominator 1) for `replicates` fine-tuning seeds.
BootstrapRun AccuracyRun(uint64_t seed, size_t replicates, size_t examples, double p_correct,
                         uint64_t stream) {
  BootstrapRun run{seed, {}};
  for (size_t r = 0; r < replicates; ++r) {
    Rng rng({stream, seed, r});
    BootstrapReplicate replicate;
    for (size_t e = 0; e < examples; ++e) {
      replicate.numerator.push_back(rng.Uniform() < p_correct ? 1 : 0);
      replicate.denominator.push_back(1);
    }
    run.replicates.push_back(std::move(replicate));
  }
  return run;
}

// Perplexity-like outcomes: per-sequence loss sums over 5..24 masked tokens.
BootstrapRun LossRun(uint64_t seed, size_t replicates, size_t examples, double mean_loss,
                     uint64_t stream) {
  BootstrapRun run{seed, {}};
  for (size_t r = 0; r < replicates; ++r) {
    Rng rng({stream, seed, r});
    BootstrapReplicate replicate;
    for (size_t e = 0; e < examples; ++e) {
      const double tokens = 5 + static_cast<double>(rng.Below(20));
      replicate.denominator.push_back(tokens);
      replicate.numerator.push_back(tokens * mean_loss * (0.5 + rng.Uniform()));
    }
    run.replicates.push_back(std::move(replicate));
  }
  return run;
}

nlohmann::json RowJson(const Row& row) {
  nlohmann::json runs = nlohmann::json::array();
  for (const BootstrapRun& run : row) {
    nlohmann::json replicates = nlohmann::json::array();
    for (const BootstrapReplicate& r : run.replicates)
      replicates.push_back({{"numerator", r.numerator}, {"denominator", r.denominator}});
    runs.push_back({{"seed", run.seed}, {"replicates", replicates}});
  }
  return runs;
}

}  // namespace

TEST_CASE("the multi-bootstrap agrees with an independent Python implementation",
          "[multibootstrap]") {
  constexpr size_t kExamples = 20;
  // Runs listed out of seed order, one with a single replicate and one with three.
  const Row accuracy_a{AccuracyRun(11, 2, kExamples, 0.7, 1), AccuracyRun(3, 2, kExamples, 0.75, 1),
                       AccuracyRun(19, 3, kExamples, 0.65, 1),
                       AccuracyRun(7, 2, kExamples, 0.7, 1)};
  const Row accuracy_b{AccuracyRun(3, 2, kExamples, 0.6, 2), AccuracyRun(7, 1, kExamples, 0.7, 2),
                       AccuracyRun(11, 2, kExamples, 0.6, 2),
                       AccuracyRun(19, 2, kExamples, 0.65, 2)};
  const Row accuracy_other{AccuracyRun(5, 2, kExamples, 0.6, 3),
                           AccuracyRun(23, 2, kExamples, 0.7, 3),
                           AccuracyRun(8, 2, kExamples, 0.65, 3)};
  const Row loss_a{LossRun(3, 2, kExamples, 2.0, 4), LossRun(7, 2, kExamples, 2.1, 4),
                   LossRun(11, 2, kExamples, 1.9, 4)};
  const Row loss_b{LossRun(11, 2, kExamples, 2.2, 5), LossRun(3, 2, kExamples, 2.0, 5),
                   LossRun(7, 1, kExamples, 2.3, 5)};
  const Row loss_other{LossRun(2, 2, kExamples, 2.2, 6), LossRun(3, 2, kExamples, 2.0, 6),
                       LossRun(4, 2, kExamples, 2.3, 6), LossRun(9, 2, kExamples, 2.1, 6)};

  struct Case {
    const Row* a;
    const Row* b;
    MultiBootstrapOptions options;
  };
  auto options = [](BootstrapTransform transform, bool pair_seeds, double confidence,
                    uint64_t seed) {
    MultiBootstrapOptions o;
    o.samples = 300;
    o.transform = transform;
    o.pair_seeds = pair_seeds;
    o.confidence = confidence;
    o.seed = seed;
    return o;
  };
  const std::vector<Case> cases{
      {&accuracy_a, &accuracy_b, options(BootstrapTransform::kIdentity, true, 0.95, 1)},
      {&accuracy_a, &accuracy_b, options(BootstrapTransform::kIdentity, false, 0.95, 1)},
      {&accuracy_a, &accuracy_other, options(BootstrapTransform::kIdentity, true, 0.9, 2)},
      {&loss_a, &loss_b, options(BootstrapTransform::kExp, true, 0.95, 3)},
      {&loss_a, &loss_other, options(BootstrapTransform::kExp, true, 0.8, kFixedSampleSeed)},
      {&loss_b, &loss_a, options(BootstrapTransform::kExp, false, 0.95, 1ULL << 63)},
  };

  nlohmann::json spec;
  spec["comparisons"] = nlohmann::json::array();
  for (const Case& c : cases) {
    spec["comparisons"].push_back(
        {{"a", RowJson(*c.a)},
         {"b", RowJson(*c.b)},
         {"options",
          {{"samples", c.options.samples},
           {"confidence", c.options.confidence},
           {"seed", c.options.seed},
           {"transform", c.options.transform == BootstrapTransform::kExp ? "exp" : "identity"},
           {"pair_seeds", c.options.pair_seeds}}}});
  }
  test::TempDir dir("ablate-multibootstrap-");
  dir.Write("data.json", spec.dump());
  const test::ShellResult python =
      test::Shell(std::string("/usr/bin/python3 ") + ABLATE_SOURCE_DIR +
                  "/tests/data/multibootstrap_reference.py " + dir.File("data.json"));
  INFO(python.out);
  REQUIRE(python.code == 0);
  const nlohmann::json reference = nlohmann::json::parse(python.out)["results"];
  REQUIRE(reference.size() == cases.size());

  for (size_t i = 0; i < cases.size(); ++i) {
    INFO("comparison " << i);
    const BootstrapComparison ours =
        MultiBootstrapCompare(*cases[i].a, *cases[i].b, cases[i].options);
    const nlohmann::json& theirs = reference[i];
    CHECK(ours.paired == theirs["paired"].get<bool>());
    CHECK(ours.samples == theirs["samples"].get<size_t>());
    CHECK(ours.estimate == Approx(theirs["estimate"].get<double>()).margin(1e-9));
    CHECK(ours.low == Approx(theirs["low"].get<double>()).margin(1e-9));
    CHECK(ours.high == Approx(theirs["high"].get<double>()).margin(1e-9));
    CHECK(ours.p_greater == Approx(theirs["p_greater"].get<double>()).margin(1e-9));
    CHECK(ours.p_less == Approx(theirs["p_less"].get<double>()).margin(1e-9));
    // The cases exercise both pairings and a nondegenerate interval.
    CHECK(ours.low < ours.high);
  }
  CHECK(MultiBootstrapCompare(accuracy_a, accuracy_b, cases[0].options).paired);
  CHECK(!MultiBootstrapCompare(accuracy_a, accuracy_b, cases[1].options).paired);
  CHECK(!MultiBootstrapCompare(accuracy_a, accuracy_other, cases[2].options).paired);
}

TEST_CASE("the statistic averages replicates within a run, then runs, and perplexity pools tokens",
          "[multibootstrap]") {
  // Seed 1: replicates at 2/3 and 1/3 correct average to 1/2; seed 2: (3 + 3 + 0) / (2 + 2 + 2)
  // = 1. The row: (1/2 + 1) / 2 = 3/4, whatever the order the runs are listed in.
  const Row row{{2, {{{3, 3, 0}, {2, 2, 2}}}},
                {1, {{{1, 0, 1}, {1, 1, 1}}, {{0, 0, 1}, {1, 1, 1}}}}};
  CHECK(MultiBootstrapStatistic(row, BootstrapTransform::kIdentity) == Approx(0.75));
  // Perplexity of losses 2 over 1 token and 4 over 3 tokens: exp(6 / 4), not the mean of the
  // per-sequence perplexities exp(2) and exp(4 / 3).
  const Row loss{{5, {{{2, 4}, {1, 3}}}}};
  CHECK(MultiBootstrapStatistic(loss, BootstrapTransform::kExp) == Approx(std::exp(1.5)));
  const BootstrapComparison self = MultiBootstrapCompare(row, row);
  CHECK(self.estimate == 0);
  CHECK(self.paired);
}

TEST_CASE("a row better on every example of every run is separated from the other",
          "[multibootstrap]") {
  // Every outcome of a lies in [0.6, 1], every outcome of b in [0, 0.5]: every resample of a
  // scores above every resample of b, whatever seeds, replicates and examples it draws.
  constexpr size_t kExamples = 30;
  Row better, worse;
  for (uint64_t seed : {1, 2, 3}) {
    BootstrapRun high{seed, {}}, low{seed + 10, {}};
    for (uint64_t r = 0; r < 2; ++r) {
      Rng rng({seed, r});
      BootstrapReplicate h, l;
      for (size_t e = 0; e < kExamples; ++e) {
        h.numerator.push_back(0.6 + 0.4 * rng.Uniform());
        l.numerator.push_back(0.5 * rng.Uniform());
        h.denominator.push_back(1);
        l.denominator.push_back(1);
      }
      high.replicates.push_back(h);
      low.replicates.push_back(l);
    }
    better.push_back(high);
    worse.push_back(low);
  }
  MultiBootstrapOptions options;
  options.samples = 500;
  const BootstrapComparison up = MultiBootstrapCompare(better, worse, options);
  CHECK(!up.paired);  // seeds 1-3 against 11-13
  CHECK(up.estimate > 0.2);
  CHECK(up.p_greater == 0);
  CHECK(up.p_less == 1);
  CHECK(up.low > 0.1);
  CHECK(up.low <= up.estimate);
  CHECK(up.estimate <= up.high);
  const BootstrapComparison down = MultiBootstrapCompare(worse, better, options);
  CHECK(down.estimate == Approx(-up.estimate));
  CHECK(down.p_less == 0);
  CHECK(down.p_greater == 1);
  CHECK(down.high < -0.1);
}

TEST_CASE("pairing cancels seed effects both rows share, which widen the interval unpaired",
          "[multibootstrap]") {
  // Each seed moves both rows by the same large amount (0.1 per seed step); a is b plus 0.02 on
  // every example, up to a little fine-tuning noise. Paired, the seed effect cancels in every
  // resample and a is separated; unpaired, resampling seeds independently buries 0.02 in it.
  constexpr size_t kExamples = 40;
  Rng example_rng({41});
  std::vector<double> example_effect;
  for (size_t e = 0; e < kExamples; ++e) example_effect.push_back(example_rng.Uniform());
  Row a, b;
  for (uint64_t seed = 1; seed <= 6; ++seed) {
    BootstrapRun run_a{seed, {}}, run_b{seed, {}};
    for (uint64_t r = 0; r < 2; ++r) {
      Rng noise({seed, r, 43});
      BootstrapReplicate ra, rb;
      for (size_t e = 0; e < kExamples; ++e) {
        const double shared = example_effect[e] + 0.1 * static_cast<double>(seed);
        ra.numerator.push_back(shared + 0.02 + 0.002 * (noise.Uniform() - 0.5));
        rb.numerator.push_back(shared + 0.002 * (noise.Uniform() - 0.5));
        ra.denominator.push_back(1);
        rb.denominator.push_back(1);
      }
      run_a.replicates.push_back(ra);
      run_b.replicates.push_back(rb);
    }
    a.push_back(run_a);
    b.push_back(run_b);
  }
  MultiBootstrapOptions options;
  options.samples = 500;
  const BootstrapComparison paired = MultiBootstrapCompare(a, b, options);
  options.pair_seeds = false;
  const BootstrapComparison unpaired = MultiBootstrapCompare(a, b, options);
  CHECK(paired.paired);
  CHECK(!unpaired.paired);
  CHECK(paired.estimate == unpaired.estimate);
  CHECK(paired.estimate == Approx(0.02).margin(0.001));
  CHECK(paired.p_greater == 0);
  CHECK(paired.low > 0.015);
  CHECK(paired.high < 0.025);
  CHECK(unpaired.p_greater > 0.1);
  CHECK(unpaired.low < 0);
  CHECK(unpaired.high - unpaired.low > 20 * (paired.high - paired.low));
}

TEST_CASE("the multi-bootstrap is a function of its seed", "[multibootstrap]") {
  const Row a{AccuracyRun(1, 2, 25, 0.7, 7), AccuracyRun(2, 2, 25, 0.7, 7)};
  const Row b{AccuracyRun(1, 2, 25, 0.6, 8), AccuracyRun(2, 2, 25, 0.6, 8)};
  MultiBootstrapOptions options;
  options.samples = 200;
  const BootstrapComparison first = MultiBootstrapCompare(a, b, options);
  const BootstrapComparison again = MultiBootstrapCompare(a, b, options);
  CHECK(first.low == again.low);
  CHECK(first.high == again.high);
  CHECK(first.p_greater == again.p_greater);
  options.seed += 1;
  const BootstrapComparison other = MultiBootstrapCompare(a, b, options);
  CHECK(other.estimate == first.estimate);
  CHECK((other.low != first.low || other.high != first.high));
}

TEST_CASE("malformed rows are input errors that say what is wrong", "[multibootstrap]") {
  const Row good{AccuracyRun(1, 2, 5, 0.5, 9)};
  CHECK_THROWS_AS(MultiBootstrapCompare({}, good), InputError);
  CHECK_THROWS_WITH(MultiBootstrapCompare(good, {AccuracyRun(1, 2, 6, 0.5, 9)}),
                    Catch::Contains("expected 5"));
  CHECK_THROWS_WITH(
      MultiBootstrapCompare(good, {AccuracyRun(4, 1, 5, 0.5, 9), AccuracyRun(4, 1, 5, 0.5, 9)}),
      Catch::Contains("seed 4 appears twice"));
  CHECK_THROWS_WITH(MultiBootstrapCompare(good, {BootstrapRun{3, {}}}),
                    Catch::Contains("no replicates"));
  Row zero = good;
  zero[0].replicates[1].denominator[2] = 0;
  CHECK_THROWS_WITH(MultiBootstrapCompare(zero, good), Catch::Contains("example 2"));
  CHECK_THROWS_AS(MultiBootstrapStatistic({BootstrapRun{1, {BootstrapReplicate{}}}},
                                          BootstrapTransform::kIdentity),
                  InputError);
}
