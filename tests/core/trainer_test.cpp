// The trainer end to end on a tiny model and a small real-text corpus: exact resumption,
// divergence detection, validation and learning.
#include "core/trainer.h"

#include <torch/serialize.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <map>
#include <set>

#include "core/batch_tensors.h"
#include "core/checkpoint.h"
#include "core/model.h"
#include "core/trivial_baselines.h"
#include "experiments/run_config.h"
#include "tests/support.h"

namespace fs = std::filesystem;
using namespace ablate::core;

namespace {

struct Scratch : ablate::test::TempDir {
  fs::path dir = path();
  Scratch() : TempDir("ablate_trainer_") { fs::create_directories(dir / "data"); }
};

// The parameter table's defaults (the paper's), then a tiny model on the small corpus.
TrainConfig TinyConfig(InputFormat format) {
  TrainConfig c = ablate::experiments::DefaultRunConfig().Pretraining();
  c.data.corpus = std::string(ABLATE_SOURCE_DIR) + "/tests/data/corpus_small";
  c.data.tokenizer = "bpe-300";
  c.data.format = format;
  c.data.masking = MaskingMode::kDynamic;
  c.data.seq_len = 32;
  c.train.batch_size = 4;
  c.seed = 3;
  c.model.layers = 2;
  c.model.hidden = 16;
  c.model.heads = 2;
  c.model.ffn = 32;
  c.optim.lr = 1e-3;
  c.optim.warmup_steps = 4;
  c.train.steps = 20;
  c.train.micro_batch = 2;  // two micro-batches per update
  c.train.checkpoint_every = 5;
  c.eval.every = 10;
  c.threads = 1;
  return c;
}

class Recorder : public TrainObserver {
 public:
  int64_t stop_after = -1;
  std::map<int64_t, double> losses;
  StepMetrics last;
  std::vector<std::pair<EvalMetrics, bool>> evals;
  std::vector<int64_t> checkpoints;
  TrainStart start;

  void OnStart(const TrainStart& s) override { start = s; }
  void OnStep(const StepMetrics& m) override {
    losses[m.step] = m.loss;
    last = m;
  }
  void OnEval(const EvalMetrics& m, bool final) override { evals.emplace_back(m, final); }
  void OnCheckpoint(const fs::path&, int64_t step) override { checkpoints.push_back(step); }
  bool StopRequested() override {
    return stop_after >= 0 && !losses.empty() && losses.rbegin()->first >= stop_after;
  }
};

void Collect(torch::serialize::InputArchive& archive, const std::string& prefix,
             std::map<std::string, torch::Tensor>& out) {
  for (const auto& key : archive.keys()) {
    torch::Tensor tensor;
    if (archive.try_read(key, tensor)) {
      out[prefix + key] = tensor;
      continue;
    }
    torch::serialize::InputArchive nested;
    if (archive.try_read(key, nested)) Collect(nested, prefix + key + ".", out);
  }
}

// Every tensor of a checkpoint (model parameters and buffers, optimizer moments) by path.
std::map<std::string, torch::Tensor> Parameters(const fs::path& checkpoint) {
  torch::serialize::InputArchive archive;
  archive.load_from(checkpoint.string());
  std::map<std::string, torch::Tensor> out;
  Collect(archive, "", out);
  return out;
}

// Trains `config` for its 20 steps straight, and again as 10 steps, a stop and 10 resumed steps;
// both must log the same losses and end on the same weights.
void CheckResumeIsExact(const TrainConfig& config, const Scratch& s, Recorder& straight) {
  auto a = Train(config, s.dir / "data", s.dir / "straight", straight);
  REQUIRE(a.outcome == TrainOutcome::kCompleted);
  REQUIRE(a.step == 20);

  Recorder first;
  first.stop_after = 10;
  auto b1 = Train(config, s.dir / "data", s.dir / "resumed", first);
  REQUIRE(b1.outcome == TrainOutcome::kInterrupted);
  CHECK(b1.step == 10);
  Recorder second;
  auto b2 = Train(config, s.dir / "data", s.dir / "resumed", second);
  REQUIRE(b2.outcome == TrainOutcome::kCompleted);
  CHECK(second.start.start_step == 10);
  CHECK(second.losses.begin()->first == 11);
  CHECK(second.last.sequences_seen == straight.last.sequences_seen);
  CHECK(second.last.epochs == straight.last.epochs);

  // The resumed half logs exactly the losses of the straight run, and ends on the same weights.
  for (const auto& [step, loss] : second.losses) {
    INFO(step);
    CHECK(loss == straight.losses.at(step));
  }
  auto pa = Parameters(LatestCheckpoint(s.dir / "straight")->path);
  auto pb = Parameters(LatestCheckpoint(s.dir / "resumed")->path);
  REQUIRE(pa.size() == pb.size());
  REQUIRE(!pa.empty());
  for (const auto& [name, tensor] : pa) {
    INFO(name);
    CHECK(torch::equal(tensor, pb.at(name)));
  }
}

}  // namespace

TEST_CASE("20 steps straight equal 10 steps, a stop, and 10 resumed steps", "[trainer]") {
  Scratch s;
  Recorder straight;
  // Dropout on, NSP on, accumulation on.
  CheckResumeIsExact(TinyConfig(InputFormat::kSegmentPair), s, straight);
}

TEST_CASE("batches larger than the epoch train on exactly batch x steps sequences, and resume",
          "[trainer]") {
  Scratch s;
  auto config = TinyConfig(InputFormat::kSegmentPair);
  config.data.masking = MaskingMode::kStatic;
  config.data.static_copies = 3;
  // A batch of the epoch's sequences and 3 more: every update crosses into the next epoch.
  const uint64_t per_epoch = DataPipeline(s.dir / "data", config).Stream().ExamplesPerEpoch();
  config.train.batch_size = per_epoch + 3;
  config.train.micro_batch = 16;
  Recorder straight;
  // Step 10 ends inside an epoch that its batch started in another: the stop falls mid-epoch.
  CheckResumeIsExact(config, s, straight);
  const auto batch = static_cast<int64_t>(config.train.batch_size);
  CHECK(straight.last.sequences_seen == batch * 20);
  CHECK(straight.last.sequences == batch);
  CHECK(straight.last.epochs > 20.0);
}

TEST_CASE("checkpoints, validation and final metrics follow the schedule", "[trainer]") {
  Scratch s;
  auto config = TinyConfig(InputFormat::kSegmentPair);
  Recorder r;
  REQUIRE(Train(config, s.dir / "data", s.dir / "run", r).outcome == TrainOutcome::kCompleted);
  CHECK(r.checkpoints == std::vector<int64_t>{5, 10, 15, 20});
  REQUIRE(r.evals.size() == 2);  // step 10, then the final one
  CHECK(r.evals[0].first.step == 10);
  CHECK(!r.evals[0].second);
  CHECK(r.evals[1].second);
  const auto& final_eval = r.evals[1].first;
  CHECK(final_eval.perplexity == Approx(std::exp(final_eval.mlm_loss)));
  CHECK(final_eval.predictions > 0);
  CHECK(final_eval.nsp_accuracy >= 0.0);
  CHECK(final_eval.nsp_accuracy <= 1.0);
  // The newest checkpoint and the one before it are kept (a fallback if the newest is damaged).
  std::set<std::string> files;
  for (const auto& e : fs::directory_iterator(s.dir / "run"))
    if (e.path().extension() == ".pt") files.insert(e.path().filename().string());
  CHECK(files == std::set<std::string>{"checkpoint-15.pt", "checkpoint-20.pt"});

  // Another seed and format score the same held-out masked tokens (the validation set is fixed).
  auto other = TinyConfig(InputFormat::kFullSentences);
  other.seed = 99;
  Recorder r2;
  REQUIRE(Train(other, s.dir / "data", s.dir / "run2", r2).outcome == TrainOutcome::kCompleted);
  CHECK(r2.evals.back().first.predictions == final_eval.predictions);
  CHECK(std::isnan(r2.evals.back().first.nsp_accuracy));
}

TEST_CASE("evaluations report MLM accuracy, the same floors each time, and per-sequence scores",
          "[trainer]") {
  Scratch s;
  auto config = TinyConfig(InputFormat::kFullSentences);
  config.train.steps = 6;
  config.eval.every = 2;
  config.train.checkpoint_every = 0;
  Recorder r;
  REQUIRE(Train(config, s.dir / "data", s.dir / "run", r).outcome == TrainOutcome::kCompleted);
  REQUIRE(r.evals.size() == 3);  // steps 2, 4 and the final 6

  // The floors from the run's own training tokens, on the validation sample as one batch.
  const DataPipeline data(s.dir / "data", config);
  const Batch sample = data.ValidationSample(InputFormat::kFullSentences, config.eval.sequences);
  BaselineSums floors;
  TrivialBaselines(data.train(), data.batch_options().masking).Score(sample, floors);
  const auto n = static_cast<double>(floors.predictions);
  const auto& first = r.evals.front().first;
  CHECK(first.predictions == floors.predictions);
  CHECK(first.unigram_perplexity == Approx(std::exp(floors.unigram_loss_sum / n)));
  CHECK(first.copy_perplexity == Approx(std::exp(floors.copy_loss_sum / n)));
  CHECK(first.unigram_accuracy == Approx(static_cast<double>(floors.unigram_correct) / n));
  CHECK(first.copy_accuracy == Approx(static_cast<double>(floors.copy_correct) / n));
  for (const auto& [m, final] : r.evals) {
    INFO("step " << m.step);
    CHECK(m.mlm_accuracy >= 0.0);
    CHECK(m.mlm_accuracy <= 1.0);
    for (double accuracy : {m.unigram_accuracy, m.copy_accuracy}) {
      CHECK(accuracy >= 0.0);
      CHECK(accuracy <= 1.0);
    }
    CHECK(m.unigram_perplexity == first.unigram_perplexity);
    CHECK(m.unigram_accuracy == first.unigram_accuracy);
    CHECK(m.copy_perplexity == first.copy_perplexity);
    CHECK(m.copy_accuracy == first.copy_accuracy);
    CHECK(m.sequence_loss_sums.empty() == !final);
  }

  // The final evaluation's rows are the sample's rows, the selection half's first and then the
  // report half's, each in sample order, however the micro-batches cut it.
  const auto& last = r.evals.back().first;
  const std::vector<uint8_t> halves = data.SampleHalves(sample);
  std::vector<int64_t> order;
  for (const uint8_t half : {DataPipeline::kSelectHalf, DataPipeline::kReportHalf}) {
    for (int64_t row = 0; row < sample.rows; ++row)
      if (halves[static_cast<size_t>(row)] == half) order.push_back(row);
  }
  REQUIRE(last.sequence_loss_sums.size() == static_cast<size_t>(sample.rows));
  REQUIRE(last.sequence_predictions.size() == static_cast<size_t>(sample.rows));
  REQUIRE(last.sequence_correct.size() == static_cast<size_t>(sample.rows));
  double loss_sum = 0;
  int64_t correct = 0;
  std::map<uint8_t, std::pair<double, int64_t>> by_half;  // loss sum, masked tokens
  for (size_t i = 0; i < order.size(); ++i) {
    const int64_t row = order[i];
    const auto labels = sample.labels.begin() + row * sample.cols;
    const int64_t masked = std::count_if(labels, labels + sample.cols,
                                         [](int32_t label) { return label != kIgnoreLabel; });
    INFO("row " << row);
    CHECK(last.sequence_predictions[i] == masked);
    CHECK(last.sequence_correct[i] <= masked);
    loss_sum += last.sequence_loss_sums[i];
    correct += last.sequence_correct[i];
    by_half[halves[static_cast<size_t>(row)]].first += last.sequence_loss_sums[i];
    by_half[halves[static_cast<size_t>(row)]].second += masked;
  }
  CHECK(loss_sum / n == Approx(last.mlm_loss));
  CHECK(static_cast<double>(correct) / n == Approx(last.mlm_accuracy));

  // Each half is scored on its own rows: its perplexity is its rows' pooled loss, and its floors
  // are the floors of those rows alone.
  std::map<std::string, HeldOutScores> parts;
  for (const auto& h : last.held_out) parts[h.prefix] = h;
  for (const auto& [half, prefix] : {std::pair{DataPipeline::kSelectHalf, "valid/select"},
                                     std::pair{DataPipeline::kReportHalf, "valid/report"}}) {
    INFO(prefix);
    if (by_half[half].second == 0) {
      CHECK(parts.count(prefix) == 0);
      continue;
    }
    REQUIRE(parts.count(prefix) == 1);
    const HeldOutScores& h = parts.at(prefix);
    CHECK(h.predictions == by_half[half].second);
    CHECK(h.perplexity ==
          Approx(std::exp(by_half[half].first / static_cast<double>(by_half[half].second))));
    std::vector<size_t> rows;
    for (int64_t row = 0; row < sample.rows; ++row)
      if (halves[static_cast<size_t>(row)] == half) rows.push_back(static_cast<size_t>(row));
    BaselineSums own;
    TrivialBaselines(data.train(), data.batch_options().masking)
        .Score(SelectRows(sample, rows), own);
    CHECK(h.copy_perplexity ==
          Approx(std::exp(own.copy_loss_sum / static_cast<double>(own.predictions))));
    CHECK(h.unigram_accuracy ==
          Approx(static_cast<double>(own.unigram_correct) / static_cast<double>(own.predictions)));
  }
}

TEST_CASE("a further eval.corpus is scored as a run scored on that corpus alone", "[trainer]") {
  Scratch s;
  // Another corpus: the small corpus's novels under other document ids.
  fs::create_directories(s.dir / "other");
  const fs::path small = fs::path(ABLATE_SOURCE_DIR) / "tests/data/corpus_small";
  for (const auto& entry : fs::directory_iterator(small))
    fs::copy(entry.path(), s.dir / "other" / ("o_" + entry.path().filename().string()));
  auto config = TinyConfig(InputFormat::kFullSentences);
  config.data.tokenizer = "bpe-300@" + small.string();
  config.train.steps = 4;
  config.eval.every = 0;
  config.train.checkpoint_every = 0;
  auto both = config;
  both.eval.corpus = small.string() + "," + (s.dir / "other").string();
  auto alone = config;
  alone.eval.corpus = (s.dir / "other").string();
  Recorder rb, ra;
  REQUIRE(Train(both, s.dir / "data", s.dir / "both", rb).outcome == TrainOutcome::kCompleted);
  REQUIRE(Train(alone, s.dir / "data", s.dir / "alone", ra).outcome == TrainOutcome::kCompleted);
  const EvalMetrics& b = rb.evals.back().first;
  const EvalMetrics& a = ra.evals.back().first;
  // The same training (evaluation draws no random numbers), so the same model on the same text;
  // only the micro-batches differ (set 0 is cut into halves), hence float rounding.
  const std::string prefix = "valid-" + (s.dir / "other").string();
  const auto further = std::find_if(b.held_out.begin(), b.held_out.end(),
                                    [&](const HeldOutScores& h) { return h.prefix == prefix; });
  REQUIRE(further != b.held_out.end());
  CHECK(further->predictions == a.predictions);
  CHECK(further->perplexity == Approx(a.perplexity).epsilon(1e-6));
  CHECK(further->mlm_accuracy == a.mlm_accuracy);
  CHECK(further->copy_perplexity == Approx(a.copy_perplexity).epsilon(1e-6));
  // And the first entry is the run's own held-out text: the unlisted default's numbers.
  Recorder rd;
  REQUIRE(Train(config, s.dir / "data", s.dir / "default", rd).outcome == TrainOutcome::kCompleted);
  CHECK(b.perplexity == Approx(rd.evals.back().first.perplexity).epsilon(1e-9));
  CHECK(b.predictions == rd.evals.back().first.predictions);
}

TEST_CASE("a tiny model learns: the training loss falls", "[trainer]") {
  Scratch s;
  auto config = TinyConfig(InputFormat::kFullSentences);
  config.train.steps = 120;
  config.optim.lr = 5e-3;
  config.model.dropout = 0;
  config.model.attention_dropout = 0;
  config.train.checkpoint_every = 0;
  config.eval.every = 0;
  Recorder r;
  REQUIRE(Train(config, s.dir / "data", s.dir / "run", r).outcome == TrainOutcome::kCompleted);
  double early = 0, late = 0;
  for (int64_t step = 1; step <= 10; ++step) early += r.losses.at(step) / 10;
  for (int64_t step = 111; step <= 120; ++step) late += r.losses.at(step) / 10;
  CHECK(late < early - 1.0);
}

TEST_CASE("a loss that becomes NaN or infinite stops the run as diverged", "[trainer]") {
  Scratch s;
  auto config = TinyConfig(InputFormat::kFullSentences);
  config.optim.lr = 1e12;
  config.optim.warmup_steps = 0;
  config.train.steps = 50;
  Recorder r;
  auto result = Train(config, s.dir / "data", s.dir / "run", r);
  CHECK(result.outcome == TrainOutcome::kDiverged);
  CHECK(result.step > 1);
  CHECK(result.step <= 50);
  CHECK_THAT(result.reason, Catch::Contains("at step " + std::to_string(result.step)));
}

TEST_CASE("an observer keeps its points before each checkpoint is written", "[trainer]") {
  // A run resumed from a checkpoint does not repeat the steps before it: whatever the observer
  // buffers of them must be kept before the checkpoint exists, or a kill in between loses them.
  class Order : public Recorder {
   public:
    fs::path run_dir;
    std::vector<std::pair<int64_t, int64_t>> seen;  // (checkpoint step, step on disk before it)
    void BeforeCheckpoint(int64_t step) override {
      auto on_disk = LatestCheckpoint(run_dir);
      seen.emplace_back(step, on_disk ? on_disk->step : 0);
    }
  };
  Scratch s;
  Order order;
  order.run_dir = s.dir / "run";
  REQUIRE(Train(TinyConfig(InputFormat::kFullSentences), s.dir / "data", order.run_dir, order)
              .outcome == TrainOutcome::kCompleted);
  CHECK(order.seen ==
        std::vector<std::pair<int64_t, int64_t>>{{5, 0}, {10, 5}, {15, 10}, {20, 15}});
}

TEST_CASE("an unknown device is bad input", "[trainer]") {
  Scratch s;
  Recorder r;
  auto config = TinyConfig(InputFormat::kFullSentences);
  config.device = "tpu";
  CHECK_THROWS_WITH(Train(config, s.dir / "data", s.dir / "run", r),
                    Catch::Contains("unknown device"));
}

TEST_CASE("a damaged newest checkpoint is named, and the run resumes from the one before it",
          "[trainer][faults]") {
  Scratch s;
  auto config = TinyConfig(InputFormat::kFullSentences);
  Recorder straight;
  REQUIRE(Train(config, s.dir / "data", s.dir / "straight", straight).outcome ==
          TrainOutcome::kCompleted);
  // Stopped after step 12: checkpoints at 10 and at the stop, 12.
  Recorder first;
  first.stop_after = 12;
  REQUIRE(Train(config, s.dir / "data", s.dir / "run", first).outcome ==
          TrainOutcome::kInterrupted);
  const fs::path newest = s.dir / "run" / "checkpoint-12.pt";
  REQUIRE(fs::exists(newest));
  REQUIRE(fs::exists(s.dir / "run" / "checkpoint-10.pt"));
  // A flipped byte in the middle of the newest.
  {
    std::fstream f(newest, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(static_cast<std::streamoff>(fs::file_size(newest) / 2));
    char c = 0;
    f.read(&c, 1);
    f.seekp(static_cast<std::streamoff>(fs::file_size(newest) / 2));
    c = static_cast<char>(c ^ 0x10);
    f.write(&c, 1);
  }
  std::string said;
  Recorder resumed;
  const auto result = Train(config, s.dir / "data", s.dir / "run", resumed,
                            [&](const std::string& line) { said += line + "\n"; });
  REQUIRE(result.outcome == TrainOutcome::kCompleted);
  CHECK_THAT(said, Catch::Contains("checkpoint-12.pt") && Catch::Contains("damaged") &&
                       Catch::Contains("resuming from") && Catch::Contains("checkpoint-10.pt"));
  CHECK(resumed.start.start_step == 10);
  // And it ends where the uninterrupted run ended.
  CHECK(resumed.losses.at(20) == straight.losses.at(20));

  // Half a file with no predecessor: a clear error naming it.
  Recorder again;
  again.stop_after = 3;
  const fs::path other = s.dir / "other";
  auto short_config = config;
  short_config.train.checkpoint_every = 100;  // only the stop's checkpoint
  REQUIRE(Train(short_config, s.dir / "data", other, again).outcome == TrainOutcome::kInterrupted);
  const fs::path only = other / "checkpoint-3.pt";
  REQUIRE(fs::exists(only));
  fs::resize_file(only, fs::file_size(only) / 2);
  Recorder fails;
  CHECK_THROWS_WITH(Train(short_config, s.dir / "data", other, fails),
                    Catch::Contains("checkpoint-3.pt") && Catch::Contains("damaged") &&
                        Catch::Contains("no checkpoint of this run can be read"));
}
