#include "downstream/finetune.h"

#include <torch/utils.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>

#include "base/atomic_file.h"
#include "base/error.h"
#include "base/number_text.h"
#include "base/rng.h"
#include "core/batch_tensors.h"
#include "core/model.h"
#include "core/optimizer.h"
#include "downstream/finetune_model.h"
#include "downstream/task_encoding.h"

namespace ablate::downstream {
namespace fs = std::filesystem;
using namespace ablate::core;
namespace {

using Clock = std::chrono::steady_clock;

constexpr uint64_t kShuffleDomain = 0x73687566;  // "shuf"
constexpr uint64_t kInitDomain = 0x696e6974;     // "init"
// Unit files from an older layout are recomputed, not misread.
constexpr int kUnitFormatVersion = 1;

// ---------------------------------------------------------------------------------------------
// Units

std::string UnitFileName(double lr, int64_t seed) {
  return "lr" + ShortestText(lr) + "-seed" + std::to_string(seed) + ".json";
}

std::optional<FinetuneUnit> ReadUnit(const fs::path& file, const nlohmann::json& settings) {
  std::ifstream in(file);
  if (!in) return std::nullopt;
  auto j = nlohmann::json::parse(in, nullptr, false);
  if (j.is_discarded() || j.value("settings", nlohmann::json()) != settings) return std::nullopt;
  FinetuneUnit unit;
  unit.lr = j.at("lr").get<double>();
  unit.seed = j.at("seed").get<int64_t>();
  unit.epochs = j.at("epochs").get<std::vector<std::map<std::string, double>>>();
  unit.best_epoch = j.at("best_epoch").get<int64_t>();
  unit.seconds = j.at("seconds").get<double>();
  unit.cached = true;
  if (unit.best_epoch < 1 || unit.best_epoch > std::ssize(unit.epochs)) return std::nullopt;
  return unit;
}

void WriteUnit(const fs::path& file, const nlohmann::json& settings, const FinetuneUnit& unit) {
  nlohmann::json j = {{"lr", unit.lr},           {"seed", unit.seed},
                      {"epochs", unit.epochs},   {"best_epoch", unit.best_epoch},
                      {"seconds", unit.seconds}, {"settings", settings}};
  WriteFileAtomically(file, j.dump(2) + "\n");
}

// An epoch's batches as fairseq's loader builds them for fine-tuning: the items shuffled, sorted
// by length (a stable sort, so equal lengths stay shuffled), cut into batches, and the batches
// visited in random order. Batches of similar lengths carry little padding.
std::vector<std::vector<int64_t>> EpochBatches(const TaskData& data, int64_t batch_size,
                                               int64_t seed, int64_t epoch) {
  Rng rng({static_cast<uint64_t>(seed), kShuffleDomain, static_cast<uint64_t>(epoch)});
  std::vector<int64_t> order(static_cast<size_t>(data.TrainItems()));
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int64_t>(i);
  Shuffle(order, rng);
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t a, int64_t b) { return data.TrainLength(a) < data.TrainLength(b); });
  std::vector<std::vector<int64_t>> batches;
  for (size_t begin = 0; begin < order.size(); begin += static_cast<size_t>(batch_size)) {
    const size_t end = std::min(order.size(), begin + static_cast<size_t>(batch_size));
    batches.emplace_back(order.begin() + static_cast<std::ptrdiff_t>(begin),
                         order.begin() + static_cast<std::ptrdiff_t>(end));
  }
  Shuffle(batches, rng);
  return batches;
}

struct UnitSetup {
  const Task* task;
  const FinetuneConfig* config;
  const ModelOptions* options;
  BertModel* pretrained;
  TaskData* data;
  torch::Device device;
  int64_t outputs;
};

// One fine-tuning run from the pretrained weights; nullopt when stopped.
std::optional<FinetuneUnit> TrainUnit(const UnitSetup& s, double lr, int64_t seed,
                                      FinetuneObserver& observer) {
  const auto started = Clock::now();
  const FinetuneConfig& c = *s.config;
  torch::manual_seed(Mix64(static_cast<uint64_t>(seed) ^ kInitDomain));  // head, then dropout
  FinetuneModel model(*s.options, s.task->kind, s.outputs);
  {
    torch::NoGradGuard no_grad;
    auto source = (*s.pretrained)->named_parameters();
    for (auto& item : model->encoder_->named_parameters()) item.value().copy_(source[item.key()]);
  }
  model->to(s.device);
  model->train();
  AdamWOptions adam;  // Table 10: betas (0.9, 0.98), eps 1e-6
  adam.beta2 = 0.98;
  adam.eps = 1e-6;
  adam.weight_decay = *c.weight_decay;
  AdamW optimizer(WeightDecayGroups(*model, *c.weight_decay), adam);
  const int64_t items = s.data->TrainItems();
  const int64_t per_epoch = (items + c.batch_size - 1) / c.batch_size;
  const int64_t total = per_epoch * c.epochs;
  const LinearSchedule schedule{
      lr, static_cast<int64_t>(std::round(c.warmup_ratio * static_cast<double>(total))), total};

  FinetuneUnit unit;
  unit.lr = lr;
  unit.seed = seed;
  int64_t step = 0;
  for (int64_t epoch = 1; epoch <= c.epochs; ++epoch) {
    for (const auto& batch : EpochBatches(*s.data, c.batch_size, seed, epoch)) {
      if (observer.StopRequested()) return std::nullopt;
      // Forward, backward, update.
      optimizer.ZeroGrad();
      auto loss = s.data->Loss(model, batch);
      loss.backward();
      ++step;
      optimizer.Step(schedule.Lr(step));
      observer.OnUpdate(
          {s.task->name, lr, seed, epoch, c.epochs, step, total, loss.item<double>()});
    }

    // Score the dev set; the best epoch is the unit's result (early stopping).
    {
      torch::NoGradGuard no_grad;
      model->eval();
      unit.epochs.push_back(s.data->Evaluate(model));
      model->train();
    }
    const auto& primary = s.task->primary_metric;
    if (unit.best_epoch == 0 || unit.epochs.back().at(primary) > unit.best().at(primary))
      unit.best_epoch = epoch;
  }
  unit.seconds = std::chrono::duration<double>(Clock::now() - started).count();
  return unit;
}

// Per lr, each metric's median over seeds at their best epochs; the lr of the best median primary
// metric wins (the earlier listed one on a tie).
void Aggregate(const Task& task, const FinetuneConfig& c, FinetuneResult& result) {
  double best = -std::numeric_limits<double>::infinity();
  for (double lr : c.lrs) {
    std::map<std::string, std::vector<double>> values;
    for (const auto& unit : result.units) {
      if (unit.lr != lr) continue;
      for (const auto& [name, value] : unit.best()) values[name].push_back(value);
    }
    std::map<std::string, double> medians;
    for (const auto& [name, list] : values) medians[name] = Median(list);
    const double primary = medians.at(task.primary_metric);
    result.primary_by_lr[lr] = primary;
    if (result.metrics.empty() || primary > best) {
      best = primary;
      result.lr = lr;
      result.metrics = medians;
    }
  }
}

}  // namespace

FinetuneResult Finetune(const Task& task, const FinetuneConfig& config, const TrainConfig& pretrain,
                        const fs::path& data_dir, const fs::path& run_dir,
                        FinetuneObserver& observer, const Log& log) {
  config.Validate();
  FinetuneConfig c = Resolve(config, task.kind);
  if (c.seq_len == 0) c.seq_len = pretrain.data.seq_len;
  if (c.doc_stride == 0) c.doc_stride = c.seq_len / 3;
  if (c.seq_len > pretrain.data.seq_len) {
    throw InputError("", "seq_len",
                     std::to_string(c.seq_len) + " exceeds the pretraining seq_len " +
                         std::to_string(pretrain.data.seq_len) +
                         " (the model has no positions beyond it)");
  }
  const torch::Device device = ResolveDevice(c.device);
  if (c.threads > 0) torch::set_num_threads(c.threads);

  auto checkpoint = LatestCheckpoint(run_dir);
  if (!checkpoint || checkpoint->step != pretrain.train.steps) {
    throw InputError(run_dir.string(), "",
                     "no final checkpoint to fine-tune: pretraining has not finished");
  }
  PreparedCorpus prepared = PrepareCorpus(data_dir, pretrain.data.corpus, pretrain.data.tokenizer);
  BpeTokenizer& tokenizer = prepared.tokenizer;
  const ModelOptions options = MakeModelOptions(pretrain, tokenizer);
  BertModel pretrained(options);
  LoadModelState(checkpoint->path.string(), *pretrained);

  const Context context{&tokenizer,
                        {tokenizer.bos_id(), tokenizer.eos_id(), tokenizer.pad_id()},
                        c.seq_len,
                        c.batch_size,
                        device};
  auto data = EncodeTask(task, c, context);
  if (data->TrainItems() == 0 || data->DevExamples() == 0) {
    throw InputError(task.name, "", "the task has no training or no dev examples");
  }
  const int64_t outputs = task.kind == TaskKind::kClassification ? std::ssize(task.labels) : 1;

  // What a unit's result depends on besides (lr, seed): a unit file with other settings is stale.
  const nlohmann::json settings = {{"version", kUnitFormatVersion},
                                   {"format", task.format},
                                   {"checkpoint_step", checkpoint->step},
                                   {"batch_size", c.batch_size},
                                   {"epochs", c.epochs},
                                   {"weight_decay", *c.weight_decay},
                                   {"warmup_ratio", c.warmup_ratio},
                                   {"train_items", data->TrainItems()},
                                   {"dev_examples", data->DevExamples()},
                                   {"max_train_examples", c.max_train_examples},
                                   {"max_dev_examples", c.max_dev_examples},
                                   {"seq_len", c.seq_len},
                                   {"doc_stride", c.doc_stride}};
  const fs::path dir = run_dir / "finetune" / task.name;
  fs::create_directories(dir);
  if (log) {
    log("fine-tuning " + task.name + ": " + std::to_string(data->TrainItems()) +
        " training items, " + std::to_string(data->DevExamples()) + " dev examples, " +
        std::to_string(c.lrs.size()) + " lr x " + std::to_string(c.seeds) + " seeds x " +
        std::to_string(c.epochs) + " epochs");
  }

  const UnitSetup setup{&task, &c, &options, &pretrained, data.get(), device, outputs};
  FinetuneResult result;
  const int64_t count = std::ssize(c.lrs) * c.seeds;
  for (double lr : c.lrs) {
    for (int64_t seed = 1; seed <= c.seeds; ++seed) {
      const fs::path file = dir / UnitFileName(lr, seed);
      auto unit = ReadUnit(file, settings);
      if (unit && (unit->lr != lr || unit->seed != seed)) unit.reset();
      if (!unit) {
        unit = TrainUnit(setup, lr, seed, observer);
        if (!unit) {
          result.outcome = FinetuneOutcome::kInterrupted;
          return result;
        }
        WriteUnit(file, settings, *unit);
      }
      result.units.push_back(*unit);
      observer.OnUnit(task.name, *unit, std::ssize(result.units), count);
    }
  }
  Aggregate(task, c, result);
  result.baseline = data->Baseline();
  return result;
}

}  // namespace ablate::downstream
