// Fine-tuning end to end on a briefly pretrained tiny model: each head learns a synthetic task
// with a rule it can see, units resume, and configs fall back to the paper's values.
#include "downstream/finetune.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>

#include "base/error.h"
#include "base/number_text.h"
#include "base/rng.h"
#include "core/checkpoint.h"
#include "downstream/finetune_model.h"
#include "downstream/task_encoding.h"
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

TEST_CASE("mean pooling reads the mean of the tokens' final states, padding left out",
          "[finetune]") {
  torch::manual_seed(3);
  ModelOptions options = ModelOptions::Tiny();
  options.dropout = options.attention_dropout = 0;
  FinetuneModel mean(options, TaskKind::kClassification, 2, Pooling::kMean);
  FinetuneModel first(options, TaskKind::kClassification, 2, Pooling::kFirst);
  {  // the same weights in both, so only the pooling differs
    torch::NoGradGuard no_grad;
    auto source = mean->named_parameters();
    for (auto& item : first->named_parameters()) item.value().copy_(source[item.key()]);
  }
  mean->eval();
  first->eval();
  torch::NoGradGuard no_grad;
  const int64_t pad = options.pad_id;
  const Sequence short_row{{0, 7, 8, 9, 2}, {0, 0, 0, 0, 0}};
  const Sequence long_row{{0, 5, 6, 7, 8, 9, 10, 2}, std::vector<int64_t>(8, 0)};
  const auto batch = PadBatch({&short_row, &long_row}, pad, torch::kCPU);
  const auto hidden = mean->encoder_->Encode(batch).view({2, 8, -1});
  // By hand: row 0 averages its 5 tokens, row 1 all 8; the first token is position 0.
  const auto by_hand = torch::stack({hidden[0].slice(0, 0, 5).mean(0), hidden[1].mean(0)});
  CHECK(torch::allclose(mean->forward(batch), mean->classifier_(by_hand), 1e-5, 1e-6));
  CHECK(
      torch::allclose(first->forward(batch), first->classifier_(hidden.select(1, 0)), 1e-5, 1e-6));
  CHECK(!torch::allclose(mean->forward(batch), first->forward(batch), 1e-3, 1e-4));
  // The short row alone (no padding) scores as it does padded beside the long one.
  const auto alone = PadBatch({&short_row}, pad, torch::kCPU);
  CHECK(torch::allclose(mean->forward(alone)[0], mean->forward(batch)[0], 1e-5, 1e-6));
  CHECK(ParsePooling("mean") == Pooling::kMean);
  CHECK_THROWS_WITH(ParsePooling("max"), "eval.pooling: unknown pooling \"max\"");
}

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

namespace {

// The metric over all examples: sum of numerators over sum of denominators.
double Ratio(const ExampleOutcomes& outcomes) {
  double numerators = 0, denominators = 0;
  for (const auto& [n, d] : outcomes) {
    numerators += n;
    denominators += d;
  }
  return numerators / denominators;
}

}  // namespace

TEST_CASE("each unit keeps its best epoch's per-example outcomes and so does its file",
          "[finetune][outcomes]") {
  Scratch s;
  auto pretrain = Pretrain(s, InputFormat::kFullSentences, 32);
  const Task task = AppleTask(48, 32);
  FinetuneConfig config = Quick(1e-3, 2);
  config.lrs = {1e-3, 3e-3};
  config.seeds = 2;
  Counter counter;
  auto result = Finetune(task, config, pretrain, s.dir / "data", s.dir / "run", counter);
  REQUIRE(result.outcome == FinetuneOutcome::kCompleted);
  REQUIRE(result.units.size() == 4);
  for (const auto& unit : result.units) {
    // Accuracy only: F1 of class 1 is not a mean over examples.
    REQUIRE(unit.examples.size() == 1);
    const ExampleOutcomes& acc = unit.examples.at("acc");
    REQUIRE(acc.size() == 32);
    for (const auto& [n, d] : acc) CHECK(((n == 0 || n == 100) && d == 1));
    CHECK(Ratio(acc) == Approx(unit.best().at("acc")).epsilon(1e-12));
  }
  // The chosen lr's units, by seed: what the medians are taken over.
  REQUIRE(result.examples.size() == 2);
  for (const auto& unit : result.units) {
    if (unit.lr == result.lr) CHECK(result.examples.at(unit.seed) == unit.examples);
  }

  const fs::path units = s.dir / "run" / "finetune" / "apple";
  Counter again;
  auto rerun = Finetune(task, config, pretrain, s.dir / "data", s.dir / "run", again);
  CHECK(again.cached == 4);
  CHECK(rerun.examples == result.examples);

  // A unit file from before they were kept is still read back; its outcomes are missing.
  const fs::path file = units / ("lr" + ablate::ShortestText(result.lr) + "-seed1.json");
  auto j = nlohmann::json::parse(std::ifstream(file));
  j.erase("examples");
  std::ofstream(file) << j.dump(2);
  Counter old;
  auto read = Finetune(task, config, pretrain, s.dir / "data", s.dir / "run", old);
  CHECK(old.cached == 4);
  CHECK(read.metrics == result.metrics);
  CHECK(read.examples.count(1) == 0);
  CHECK(read.examples.at(2) == result.examples.at(2));
}

TEST_CASE("per-example outcomes reproduce span F1 and EM and multiple-choice accuracy",
          "[finetune][outcomes]") {
  Scratch s;
  auto pretrain = Pretrain(s, InputFormat::kFullSentences, 32);
  Rng rng({17});
  Task spans;
  spans.name = "marked";
  spans.format = "squad1";
  spans.kind = TaskKind::kSpan;
  spans.metrics = {"f1", "em"};
  spans.primary_metric = "f1";
  for (int i = 0; i < 60; ++i) {
    SpanExample e;
    e.id = std::to_string(i);
    e.question = "which?";
    e.context = Words(rng, static_cast<int>(2 + rng.Below(16))) + " ";
    // A two-word answer, so that a partly right span has an F1 strictly between 0 and 1.
    e.answers.push_back({"apple pie", static_cast<int64_t>(e.context.size())});
    e.context += "apple pie " + Words(rng, static_cast<int>(1 + rng.Below(16)));
    (i < 40 ? spans.train : spans.dev).spans.push_back(e);
  }
  Task choices;
  choices.name = "choice";
  choices.format = "race";
  choices.kind = TaskKind::kMultipleChoice;
  choices.metrics = {"acc"};
  choices.primary_metric = "acc";
  for (int i = 0; i < 60; ++i) {
    ChoiceExample e;
    e.context = Words(rng, 6);
    e.question = "which is the _ one?";
    for (int o = 0; o < 4; ++o) e.options.push_back(Words(rng, 1));
    e.label = static_cast<int>(rng.Below(4));
    e.options[e.label] = "apple";
    (i < 40 ? choices.train : choices.dev).choices.push_back(e);
  }
  for (const Task* task : {&spans, &choices}) {
    Counter counter;
    auto result = Finetune(*task, Quick(3e-3, 2), pretrain, s.dir / "data", s.dir / "run", counter);
    REQUIRE(result.outcome == FinetuneOutcome::kCompleted);
    REQUIRE(result.units.size() == 1);
    const FinetuneUnit& unit = result.units[0];
    CHECK(unit.examples.size() == task->metrics.size());  // every metric is a mean over examples
    for (const auto& metric : task->metrics) {
      INFO(task->name << " " << metric);
      REQUIRE(unit.examples.at(metric).size() == 20);
      CHECK(Ratio(unit.examples.at(metric)) == Approx(unit.best().at(metric)).epsilon(1e-12));
    }
    CHECK(result.examples.at(1) == unit.examples);
    if (task == &spans) {
      // Some spans are partly right ("apple" for "apple pie"): F1 is checked beyond 0s and 100s.
      const ExampleOutcomes& f1 = unit.examples.at("f1");
      CHECK(std::any_of(f1.begin(), f1.end(),
                        [](const auto& o) { return o.first > 0 && o.first < 100; }));
    }
  }
}

TEST_CASE("the untrained encoder holds the weights pretraining starts from",
          "[finetune][untrained]") {
  Scratch s;
  TrainConfig config = Pretrain(s, InputFormat::kSegmentPair, 32);  // segment embeddings and NSP
  config.seed = 11;
  // No update: core::Train writes the weights it starts from as the checkpoint of step 0.
  config.train.steps = 0;
  TrainObserver quiet;
  REQUIRE(Train(config, s.dir / "data", s.dir / "start", quiet).outcome ==
          TrainOutcome::kCompleted);
  const auto checkpoint = LatestCheckpoint(s.dir / "start");
  REQUIRE(checkpoint);
  REQUIRE(checkpoint->step == 0);
  const auto prepared = PrepareCorpus(s.dir / "data", config.data.corpus, config.data.tokenizer);
  BertModel start(MakeModelOptions(config, prepared.tokenizer));
  LoadModelState(checkpoint->path.string(), *start);

  auto same_weights = [&](BertModel& model) {
    auto theirs = start->named_parameters();
    auto mine = model->named_parameters();
    if (mine.size() != theirs.size()) return false;
    for (const auto& item : mine) {
      if (!torch::equal(item.value(), theirs[item.key()])) return false;
    }
    return true;
  };
  BertModel untrained = UntrainedEncoder(config, prepared.tokenizer);
  CHECK(untrained->named_parameters().size() > 10);
  CHECK(same_weights(untrained));
  // What the seed and the architecture reach: another seed, or another size, is another encoder.
  TrainConfig other_seed = config;
  other_seed.seed = 12;
  BertModel reseeded = UntrainedEncoder(other_seed, prepared.tokenizer);
  CHECK_FALSE(same_weights(reseeded));
  // And what they do not: the schedule and the steps leave the initial weights alone.
  TrainConfig other_training = config;
  other_training.optim.lr = 5e-4;
  other_training.train.steps = 100;
  BertModel same = UntrainedEncoder(other_training, prepared.tokenizer);
  CHECK(same_weights(same));
}

TEST_CASE("runs that differ only in pretraining share one no-pretraining baseline",
          "[finetune][untrained]") {
  Scratch s;
  const TrainConfig pretrain = Pretrain(s, InputFormat::kFullSentences, 32);
  const Task task = AppleTask(48, 32);
  FinetuneConfig config = Quick(1e-3, 2);
  config.lrs = {1e-3, 3e-3};
  config.seeds = 2;
  const fs::path cache = s.dir / "runs" / "no-pretraining";
  auto entries = [&] {
    std::vector<fs::path> found;
    for (const auto& entry : fs::directory_iterator(cache)) found.push_back(entry.path());
    return found;
  };

  Counter first;
  auto baseline = FinetuneUntrained(task, config, pretrain, s.dir / "data", cache, first);
  REQUIRE(baseline.outcome == FinetuneOutcome::kCompleted);
  CHECK(first.computed == 4);
  REQUIRE(entries().size() == 1);
  const fs::path entry = entries()[0];
  CHECK(fs::exists(entry / "finetune" / "apple" / "lr0.003-seed2.json"));
  {
    std::ifstream in(entry / "key.json");
    const auto key = nlohmann::json::parse(in);
    CHECK(key.at("seed") == pretrain.seed);
    CHECK(key.at("model").at("hidden") == 32);
    CHECK(key.at("tokenizer") == "bpe-300@" + pretrain.data.corpus);
    CHECK(key.at("task").at("name") == "apple");
  }
  // The median over seeds at the best lr, as for a pretrained run.
  CHECK(baseline.metrics.count("acc") == 1);
  CHECK(baseline.units.size() == 4);

  // Another run: other pretraining settings, the same architecture, tokenizer, task and seed.
  TrainConfig other = pretrain;
  other.optim.lr = 5e-4;
  other.train.steps = 60;
  other.data.mask_prob = 0.2;
  Counter second;
  auto reused = FinetuneUntrained(task, config, other, s.dir / "data", cache, second);
  CHECK(second.computed == 0);
  CHECK(second.cached == 4);
  CHECK(second.updates == 0);
  CHECK(reused.metrics == baseline.metrics);
  CHECK(reused.lr == baseline.lr);
  CHECK(entries().size() == 1);

  SECTION("another seed is another encoder: another entry") {
    other.seed = pretrain.seed + 1;
    Counter third;
    FinetuneUntrained(task, config, other, s.dir / "data", cache, third);
    CHECK(third.computed == 4);
    CHECK(entries().size() == 2);
  }
  SECTION("other fine-tuning settings are another entry, and leave the first one whole") {
    config.epochs = 3;
    Counter third;
    FinetuneUntrained(task, config, other, s.dir / "data", cache, third);
    CHECK(third.computed == 4);
    CHECK(entries().size() == 2);
    config.epochs = 2;
    Counter fourth;
    FinetuneUntrained(task, config, other, s.dir / "data", cache, fourth);
    CHECK(fourth.cached == 4);
  }
  SECTION("another architecture is another entry") {
    other.model.ffn = 48;
    Counter third;
    FinetuneUntrained(task, config, other, s.dir / "data", cache, third);
    CHECK(third.computed == 4);
    CHECK(entries().size() == 2);
  }
}

namespace {

// Another process computing a unit: this one holds its lock until the evaluation first waits.
class LockHolder : public Counter {
 public:
  explicit LockHolder(const fs::path& lock_file) {
    fd_ = ::open(lock_file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    REQUIRE(fd_ >= 0);
    REQUIRE(::flock(fd_, LOCK_EX | LOCK_NB) == 0);
  }
  ~LockHolder() override { Release(); }

  bool stop_while_waiting = false;
  int64_t waits = 0, computed_before_wait = -1;
  std::vector<std::pair<double, int64_t>> order;  // (lr, seed) of each unit, as reported

  void OnUnit(const std::string& task, const FinetuneUnit& unit, int64_t index,
              int64_t count) override {
    Counter::OnUnit(task, unit, index, count);
    order.emplace_back(unit.lr, unit.seed);
  }
  void OnWaiting(const std::string&) override {
    if (waits++ == 0) computed_before_wait = computed;
    if (!stop_while_waiting) Release();  // the holder ends without the unit, as if it died
  }
  bool StopRequested() override { return stop_while_waiting && waits > 0; }

 private:
  void Release() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  int fd_ = -1;
};

}  // namespace

TEST_CASE("a shared unit another process holds is done last, after the others",
          "[finetune][untrained]") {
  Scratch s;
  const TrainConfig pretrain = Pretrain(s, InputFormat::kFullSentences, 32);
  const Task task = AppleTask(32, 16);
  FinetuneConfig config = Quick(1e-3, 1);
  config.seeds = 3;
  const fs::path cache = s.dir / "no-pretraining";
  // The entry's directory, as a first evaluation leaves it.
  {
    Counter first;
    FinetuneUntrained(task, config, pretrain, s.dir / "data", cache, first);
  }
  const fs::path entry = fs::directory_iterator(cache)->path();
  const fs::path units = entry / "finetune" / "apple";
  fs::remove(units / "lr0.001-seed1.json");
  fs::remove(units / "lr0.001-seed2.json");

  SECTION("the holder ends without it: this process computes it") {
    LockHolder holder(units / "lr0.001-seed1.json.lock");
    auto result = FinetuneUntrained(task, config, pretrain, s.dir / "data", cache, holder);
    REQUIRE(result.outcome == FinetuneOutcome::kCompleted);
    CHECK(holder.waits >= 1);
    CHECK(holder.computed_before_wait == 1);  // seed 2 first, while seed 1 was held
    CHECK(holder.computed == 2);
    CHECK(holder.cached == 1);
    CHECK(holder.order == std::vector<std::pair<double, int64_t>>{{1e-3, 2}, {1e-3, 3}, {1e-3, 1}});
    // The result is in grid order whatever the order of the work.
    REQUIRE(result.units.size() == 3);
    CHECK(result.units[0].seed == 1);
    CHECK(fs::exists(units / "lr0.001-seed1.json"));
  }
  SECTION("a stop while waiting interrupts, keeping what was done") {
    LockHolder holder(units / "lr0.001-seed1.json.lock");
    holder.stop_while_waiting = true;
    auto result = FinetuneUntrained(task, config, pretrain, s.dir / "data", cache, holder);
    CHECK(result.outcome == FinetuneOutcome::kInterrupted);
    CHECK(holder.computed == 1);
    CHECK(fs::exists(units / "lr0.001-seed2.json"));
    CHECK_FALSE(fs::exists(units / "lr0.001-seed1.json"));
  }
}
