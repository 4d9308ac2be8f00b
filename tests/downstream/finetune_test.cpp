// Fine-tuning end to end on a briefly pretrained tiny model: each head learns a synthetic task
// with a rule it can see, units resume, and configs fall back to the paper's values.
#include "downstream/finetune.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>

#include "base/error.h"
#include "base/rng.h"
#include "experiments/grid.h"
#include "experiments/run_config.h"
#include "tests/support.h"

namespace fs = std::filesystem;
using namespace ablate::core;
using namespace ablate::downstream;
using ablate::Median;
using ablate::Rng;

namespace {

struct Scratch : ablate::test::TempDir {
  fs::path dir = path();
  Scratch() : TempDir("ablate_finetune_") { fs::create_directories(dir / "data"); }
};

// A tiny encoder pretrained for a few steps on the small corpus with a 300-unit BPE.
TrainConfig Pretrain(const Scratch& s, InputFormat format, int seq_len) {
  TrainConfig c = ablate::experiments::DefaultRunConfig().Pretraining();
  c.data.corpus = std::string(ABLATE_SOURCE_DIR) + "/tests/data/corpus_small";
  c.data.tokenizer = "bpe-300";
  c.data.format = format;
  c.data.masking = MaskingMode::kDynamic;
  c.data.seq_len = seq_len;
  c.train.batch_size = 8;
  c.model.layers = 2;
  c.model.hidden = 32;
  c.model.heads = 2;
  c.model.ffn = 64;
  c.optim.lr = 1e-3;
  c.optim.warmup_steps = 2;
  c.train.steps = 6;
  c.train.checkpoint_every = 0;
  c.eval.every = 0;
  c.eval.sequences = 8;
  c.threads = 1;
  TrainObserver quiet;
  REQUIRE(Train(c, s.dir / "data", s.dir / "run", quiet).outcome == TrainOutcome::kCompleted);
  return c;
}

const std::vector<std::string> kWords = {"the",   "cat",   "sat",   "on",   "mat",   "dog",
                                         "ran",   "far",   "red",   "blue", "green", "tree",
                                         "house", "river", "stone", "bird", "sky",   "road"};

std::string Words(Rng& rng, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += (i ? " " : "") + kWords[rng.Below(kWords.size())];
  return out;
}

// Label 1 when the second text says "apple": a pair task, so the second segment matters.
Task AppleTask(int train, int dev) {
  Task t;
  t.name = "apple";
  t.format = "rte";
  t.labels = {"0", "1"};
  t.metrics = {"acc", "f1"};
  t.primary_metric = "acc";
  Rng rng({7});
  for (int i = 0; i < train + dev; ++i) {
    ClassificationExample e;
    e.text_a = Words(rng, 4);
    e.label = static_cast<int>(rng.Below(2));
    e.text_b = Words(rng, 3) + (e.label ? " apple " : " ") + Words(rng, 2);
    (i < train ? t.train : t.dev).classification.push_back(e);
  }
  return t;
}

FinetuneConfig Quick(double lr, int64_t epochs) {
  FinetuneConfig c;
  c.lrs = {lr};
  c.batch_size = 16;
  c.epochs = epochs;
  c.seeds = 1;
  c.weight_decay = 0.01;
  c.threads = 1;
  return c;
}

class Counter : public FinetuneObserver {
 public:
  int64_t stop_after = -1;  // updates
  int64_t updates = 0, computed = 0, cached = 0;
  void OnUpdate(const FinetuneProgress&) override { ++updates; }
  void OnUnit(const std::string&, const FinetuneUnit& unit, int64_t, int64_t) override {
    ++(unit.cached ? cached : computed);
  }
  bool StopRequested() override { return stop_after >= 0 && updates >= stop_after; }
};

}  // namespace

TEST_CASE("a classification head learns a rule on the second text of a pair", "[finetune]") {
  Scratch s;
  auto pretrain = Pretrain(s, InputFormat::kSegmentPair, 32);  // segment embeddings on
  Counter counter;
  auto result = Finetune(AppleTask(320, 100), Quick(2e-3, 6), pretrain, s.dir / "data",
                         s.dir / "run", counter);
  REQUIRE(result.outcome == FinetuneOutcome::kCompleted);
  CHECK(result.metrics.at("acc") > 90);  // chance is 50
  CHECK(result.metrics.count("f1") == 1);
  // The trivial baseline on the same 100 dev examples, counted by hand from the task's labels.
  const Task task = AppleTask(320, 100);
  int64_t train_ones = 0, dev_ones = 0;
  for (const auto& e : task.train.classification) train_ones += e.label;
  for (const auto& e : task.dev.classification) dev_ones += e.label;
  const double majority_acc = train_ones * 2 > 320 ? dev_ones : 100 - dev_ones;  // percent of 100
  CHECK(result.baseline.at("acc") == Approx(majority_acc));
  // F1 of always answering 1: precision dev_ones / 100, recall 1.
  const double p = dev_ones / 100.0;
  CHECK(result.baseline.at("f1") == Approx(100 * 2 * p / (p + 1)));
  CHECK(counter.computed == 1);
  CHECK(counter.updates == 6 * 20);
  REQUIRE(result.units.size() == 1);
  CHECK(result.units[0].epochs.size() == 6);
  // The reported score is the best epoch's (early stopping).
  double best = 0;
  for (const auto& epoch : result.units[0].epochs) best = std::max(best, epoch.at("acc"));
  CHECK(result.metrics.at("acc") == best);
}

TEST_CASE("a span head finds a marked word across windows and says when there is none",
          "[finetune]") {
  Scratch s;
  auto pretrain = Pretrain(s, InputFormat::kFullSentences, 32);
  Task t;
  t.name = "marked";
  t.format = "squad2";
  t.kind = TaskKind::kSpan;
  t.allows_no_answer = true;
  t.metrics = {"f1", "em"};
  t.primary_metric = "f1";
  Rng rng({11});
  for (int i = 0; i < 300; ++i) {
    SpanExample e;
    e.id = std::to_string(i);
    e.question = "which?";
    // Up to 34 words: several windows of the 25 context tokens a 32-token sequence holds.
    e.context = Words(rng, static_cast<int>(2 + rng.Below(16)));
    e.impossible = rng.Below(4) == 0;
    if (!e.impossible) {
      e.context += " ";
      e.answers.push_back({"apple", static_cast<int64_t>(e.context.size())});
      e.context += "apple";
    }
    e.context += " " + Words(rng, static_cast<int>(1 + rng.Below(16)));
    (i < 200 ? t.train : t.dev).spans.push_back(e);
  }
  Counter counter;
  auto result = Finetune(t, Quick(3e-3, 3), pretrain, s.dir / "data", s.dir / "run", counter);
  REQUIRE(result.outcome == FinetuneOutcome::kCompleted);
  // Always answering nothing scores 25; always answering, at most 75.
  CHECK(result.metrics.at("em") > 80);
  CHECK(result.metrics.at("f1") >= result.metrics.at("em"));
  // Answering nothing scores the share of unanswerable dev questions.
  int64_t impossible = 0;
  for (const auto& e : t.dev.spans) impossible += e.impossible;
  CHECK(result.baseline.at("em") == Approx(impossible));  // of 100 dev questions
  CHECK(result.baseline.at("f1") == Approx(impossible));
}

TEST_CASE("a multiple-choice head scores each option and learns which is right", "[finetune]") {
  Scratch s;
  auto pretrain = Pretrain(s, InputFormat::kFullSentences, 32);
  Task t;
  t.name = "choice";
  t.format = "race";
  t.kind = TaskKind::kMultipleChoice;
  t.metrics = {"acc"};
  t.primary_metric = "acc";
  Rng rng({13});
  for (int i = 0; i < 240; ++i) {
    ChoiceExample e;
    e.context = Words(rng, 6);
    e.question = "which is the _ one?";  // the option fills the blank
    for (int o = 0; o < 4; ++o) e.options.push_back(Words(rng, 1));
    // The right option, at a random place, is the fruit.
    e.label = static_cast<int>(rng.Below(4));
    e.options[e.label] = "apple";
    (i < 160 ? t.train : t.dev).choices.push_back(e);
  }
  Counter counter;
  auto result = Finetune(t, Quick(3e-3, 3), pretrain, s.dir / "data", s.dir / "run", counter);
  REQUIRE(result.outcome == FinetuneOutcome::kCompleted);
  CHECK(result.metrics.at("acc") > 90);  // chance is 25
  // Always the most frequent right position of the training questions.
  std::vector<int> train(4, 0), dev(4, 0);
  for (const auto& e : t.train.choices) ++train[e.label];
  for (const auto& e : t.dev.choices) ++dev[e.label];
  const auto most = std::max_element(train.begin(), train.end()) - train.begin();
  CHECK(result.baseline.at("acc") == Approx(100.0 * dev[most] / 80));
}

TEST_CASE("finished units are kept, reused and reproduced, a stop resumes", "[finetune]") {
  Scratch s;
  auto pretrain = Pretrain(s, InputFormat::kFullSentences, 32);
  const Task task = AppleTask(48, 32);
  FinetuneConfig config = Quick(1e-3, 2);
  config.lrs = {1e-3, 3e-3};
  config.seeds = 2;

  Counter first;
  auto straight = Finetune(task, config, pretrain, s.dir / "data", s.dir / "run", first);
  REQUIRE(straight.outcome == FinetuneOutcome::kCompleted);
  CHECK(first.computed == 4);
  const fs::path units = s.dir / "run" / "finetune" / "apple";
  CHECK(fs::exists(units / "lr0.001-seed1.json"));
  CHECK(fs::exists(units / "lr0.003-seed2.json"));

  SECTION("a rerun reads every unit back") {
    Counter again;
    auto rerun = Finetune(task, config, pretrain, s.dir / "data", s.dir / "run", again);
    CHECK(again.computed == 0);
    CHECK(again.cached == 4);
    CHECK(again.updates == 0);
    CHECK(rerun.metrics == straight.metrics);
    CHECK(rerun.lr == straight.lr);
  }
  SECTION("a unit computed again gives the same scores") {
    fs::remove(units / "lr0.003-seed1.json");
    Counter again;
    auto rerun = Finetune(task, config, pretrain, s.dir / "data", s.dir / "run", again);
    CHECK(again.computed == 1);
    for (size_t i = 0; i < rerun.units.size(); ++i)
      CHECK(rerun.units[i].epochs == straight.units[i].epochs);
  }
  SECTION("other settings make the units stale") {
    config.epochs = 3;
    Counter again;
    Finetune(task, config, pretrain, s.dir / "data", s.dir / "run", again);
    CHECK(again.computed == 4);
  }
  SECTION("a stop between updates, then a resumed run, ends where the straight one did") {
    fs::remove_all(units);
    Counter stopped;
    stopped.stop_after = 15;  // in the third unit (6 updates each)
    auto partial = Finetune(task, config, pretrain, s.dir / "data", s.dir / "run", stopped);
    CHECK(partial.outcome == FinetuneOutcome::kInterrupted);
    CHECK(stopped.computed == 2);
    Counter resumed;
    auto rest = Finetune(task, config, pretrain, s.dir / "data", s.dir / "run", resumed);
    REQUIRE(rest.outcome == FinetuneOutcome::kCompleted);
    CHECK(resumed.cached == 2);
    CHECK(resumed.computed == 2);
    CHECK(rest.metrics == straight.metrics);
  }
}

TEST_CASE("the result is the median over seeds at the lr with the best median", "[finetune]") {
  Scratch s;
  auto pretrain = Pretrain(s, InputFormat::kFullSentences, 32);
  const Task task = AppleTask(32, 32);
  FinetuneConfig config = Quick(1e-3, 1);
  config.lrs = {1e-4, 3e-3};
  config.seeds = 3;
  Counter counter;
  auto result = Finetune(task, config, pretrain, s.dir / "data", s.dir / "run", counter);
  REQUIRE(result.units.size() == 6);
  for (double lr : config.lrs) {
    std::vector<double> scores;
    for (const auto& unit : result.units) {
      if (unit.lr == lr) scores.push_back(unit.best().at("acc"));
    }
    std::sort(scores.begin(), scores.end());
    CHECK(result.primary_by_lr.at(lr) == scores[1]);
  }
  const double best = std::max(result.primary_by_lr.at(1e-4), result.primary_by_lr.at(3e-3));
  CHECK(result.metrics.at("acc") == best);
  CHECK(result.primary_by_lr.at(result.lr) == best);
  CHECK(Median({3, 1, 2}) == 2);
  CHECK(Median({4, 1, 2, 3}) == 2.5);
  CHECK(std::isnan(Median({})));
}

TEST_CASE("fine-tuning needs the run's final checkpoint", "[finetune]") {
  Scratch s;
  auto pretrain = Pretrain(s, InputFormat::kFullSentences, 32);
  pretrain.train.steps = 12;  // the run on disk stopped at 6
  Counter counter;
  CHECK_THROWS_WITH(
      Finetune(AppleTask(8, 8), Quick(1e-3, 1), pretrain, s.dir / "data", s.dir / "run", counter),
      Catch::Contains("no final checkpoint"));
  pretrain.train.steps = 6;
  auto long_sequences = Quick(1e-3, 1);
  long_sequences.seq_len = 64;
  CHECK_THROWS_WITH(
      Finetune(AppleTask(8, 8), long_sequences, pretrain, s.dir / "data", s.dir / "run", counter),
      Catch::Contains("exceeds the pretraining seq_len 32"));
}

TEST_CASE("unset fine-tuning settings are the paper's for the task's kind", "[finetune]") {
  // Liu et al. 2019, Table 10.
  auto glue = Resolve({}, TaskKind::kClassification);
  CHECK(glue.lrs == std::vector<double>{1e-5, 2e-5, 3e-5});
  CHECK(glue.batch_size == 32);
  CHECK(glue.epochs == 10);
  CHECK(*glue.weight_decay == 0.1);
  CHECK(glue.warmup_ratio == 0.06);
  CHECK(glue.seeds == 5);
  auto squad = Resolve({}, TaskKind::kSpan);
  CHECK(squad.lrs == std::vector<double>{1.5e-5});
  CHECK(squad.batch_size == 48);
  CHECK(squad.epochs == 2);
  CHECK(*squad.weight_decay == 0.01);
  auto race = Resolve({}, TaskKind::kMultipleChoice);
  CHECK(race.lrs == std::vector<double>{1e-5});
  CHECK(race.batch_size == 16);
  CHECK(race.epochs == 4);
  CHECK(*race.weight_decay == 0.1);
  // Set values stay.
  FinetuneConfig set;
  set.lrs = {1e-4};
  set.epochs = 3;
  set.weight_decay = 0;
  auto mine = Resolve(set, TaskKind::kSpan);
  CHECK(mine.lrs == std::vector<double>{1e-4});
  CHECK(mine.epochs == 3);
  CHECK(*mine.weight_decay == 0);
  CHECK(mine.batch_size == 48);
}
