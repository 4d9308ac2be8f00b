#include "downstream/finetune.h"

#include <fcntl.h>
#include <sys/file.h>
#include <torch/utils.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <thread>
#include <utility>

#include "base/atomic_file.h"
#include "base/error.h"
#include "base/hash.h"
#include "base/number_text.h"
#include "base/rng.h"
#include "core/batch_tensors.h"
#include "core/checkpoint.h"
#include "core/corpus.h"
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
// Bumped when what the untrained encoder's key leaves out changes (e.g. the initialization), so
// the shared baselines are recomputed under a new key.
constexpr int kUntrainedKeyVersion = 1;
constexpr auto kLockPoll = std::chrono::seconds(1);

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
  if (auto examples = j.find("examples"); examples != j.end())
    unit.examples = examples->get<ExampleOutcomesByMetric>();
  unit.cached = true;
  if (unit.best_epoch < 1 || unit.best_epoch > std::ssize(unit.epochs)) return std::nullopt;
  return unit;
}

void WriteUnit(const fs::path& file, const nlohmann::json& settings, const FinetuneUnit& unit) {
  nlohmann::json j = {{"lr", unit.lr},           {"seed", unit.seed},
                      {"epochs", unit.epochs},   {"best_epoch", unit.best_epoch},
                      {"seconds", unit.seconds}, {"settings", settings}};
  // Kept so that a resumed evaluation still records them (older files lack them).
  j["examples"] = unit.examples;
  WriteFileAtomically(file, j.dump(2) + "\n");
}

// An exclusive flock(2) on <unit file>.lock while a process computes a unit of a shared
// directory. The kernel drops it when the process dies, so a crashed holder blocks nobody. Where
// the file system has no locks (ENOLCK), every process gets one: the unit may then be computed
// twice, which costs time but no data, as each writes the file atomically.
class UnitLock {
 public:
  // Nullopt when another process holds the lock.
  static std::optional<UnitLock> TryAcquire(const fs::path& unit_file) {
    fs::path path = unit_file;
    path += ".lock";
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
      throw std::runtime_error("cannot open " + path.string() + ": " + std::strerror(errno));
    int rc;
    do {
      rc = ::flock(fd, LOCK_EX | LOCK_NB);
    } while (rc != 0 && errno == EINTR);
    if (rc != 0 && errno == EWOULDBLOCK) {
      ::close(fd);
      return std::nullopt;
    }
    return UnitLock(fd);
  }

  UnitLock(UnitLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UnitLock& operator=(UnitLock&& other) noexcept {
    std::swap(fd_, other.fd_);
    return *this;
  }
  ~UnitLock() {
    if (fd_ >= 0) ::close(fd_);  // releases the lock
  }

 private:
  explicit UnitLock(int fd) : fd_(fd) {}
  int fd_;
};

// A digest of a task's examples: a task of the same name read from other files is another task.
std::string TaskDigest(const Task& task) {
  std::string text;
  // Each field's length first, so no two different example lists give the same text.
  auto add = [&](const std::string& field) { text += std::to_string(field.size()) + ":" + field; };
  for (const TaskSplit* split : {&task.train, &task.dev}) {
    text += "|split";
    for (const auto& e : split->classification) {
      add(e.text_a);
      add(e.text_b);
      add(std::to_string(e.label));
    }
    for (const auto& e : split->spans) {
      add(e.id);
      add(e.question);
      add(e.context);
      add(e.impossible ? "impossible" : "");
      for (const auto& answer : e.answers) add(answer.text + "@" + std::to_string(answer.start));
    }
    for (const auto& e : split->choices) {
      add(e.context);
      add(e.question);
      for (const auto& option : e.options) add(option);
      add(std::to_string(e.label));
    }
  }
  return Sha256Hex(text);
}

// What the untrained baseline's units of `task` depend on: the encoder's architecture and seed
// (they fix its initial weights), the tokenizer, the task's examples and every fine-tuning
// setting (`settings`, which each unit file also carries, and the lr x seed grid).
nlohmann::json UntrainedKey(const Task& task, const FinetuneConfig& c, const TrainConfig& pretrain,
                            const ModelOptions& o, const nlohmann::json& settings) {
  const nlohmann::json model = {{"vocab_size", o.vocab_size},
                                {"max_positions", o.max_positions},
                                {"hidden", o.hidden},
                                {"layers", o.layers},
                                {"heads", o.heads},
                                {"ffn", o.ffn},
                                {"dropout", o.dropout},
                                {"attention_dropout", o.attention_dropout},
                                {"type_vocab_size", o.type_vocab_size},
                                {"layer_norm_eps", o.layer_norm_eps},
                                {"pad_id", o.pad_id},
                                {"init_std", o.init_std}};
  return {{"version", kUntrainedKeyVersion},
          {"model", model},
          {"tokenizer", SharedTokenizerName(pretrain.data.tokenizer, pretrain.data.corpus)},
          {"seed", pretrain.seed},
          {"task", {{"name", task.name}, {"format", task.format}, {"examples", TaskDigest(task)}}},
          {"lrs", c.lrs},
          {"seeds", c.seeds},
          {"settings", settings}};
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
  BertModel* encoder;  // the starting weights: pretrained, or untrained for the baseline
  TaskData* data;
  torch::Device device;
  int64_t outputs;
};

// One fine-tuning run from the encoder's weights; nullopt when stopped.
std::optional<FinetuneUnit> TrainUnit(const UnitSetup& s, double lr, int64_t seed,
                                      FinetuneObserver& observer) {
  const auto started = Clock::now();
  const FinetuneConfig& c = *s.config;
  torch::manual_seed(Mix64(static_cast<uint64_t>(seed) ^ kInitDomain));  // head, then dropout
  FinetuneModel model(*s.options, s.task->kind, s.outputs, c.pooling);
  {
    torch::NoGradGuard no_grad;
    auto source = (*s.encoder)->named_parameters();
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
    DevScores scores;
    {
      torch::NoGradGuard no_grad;
      model->eval();
      scores = s.data->Evaluate(model);
      model->train();
    }
    unit.epochs.push_back(std::move(scores.metrics));
    const auto& primary = s.task->primary_metric;
    if (unit.best_epoch == 0 || unit.epochs.back().at(primary) > unit.best().at(primary)) {
      unit.best_epoch = epoch;
      unit.examples = std::move(scores.examples);
    }
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
      result.examples.clear();
      for (const auto& unit : result.units) {
        if (unit.lr == lr && !unit.examples.empty()) result.examples[unit.seed] = unit.examples;
      }
    }
  }
}

// Each unit of the lr x seed grid, read back from `dir` or computed and written there, in grid
// order; false when stopped (the units found so far are in `units`). In a shared directory a unit
// that another process is computing is left for a second pass, which waits for it.
bool CollectUnits(const UnitSetup& s, const fs::path& dir, const nlohmann::json& settings,
                  bool shared, FinetuneObserver& observer, std::vector<FinetuneUnit>& units) {
  const FinetuneConfig& c = *s.config;
  const int64_t count = std::ssize(c.lrs) * c.seeds;
  std::vector<std::optional<FinetuneUnit>> found(static_cast<size_t>(count));
  int64_t done = 0;
  bool stopped = false;
  for (const bool wait : {false, true}) {
    for (int64_t i = 0; i < count && !stopped; ++i) {
      auto& unit = found[static_cast<size_t>(i)];
      if (unit) continue;
      const double lr = c.lrs[static_cast<size_t>(i / c.seeds)];
      const int64_t seed = 1 + i % c.seeds;
      const fs::path file = dir / UnitFileName(lr, seed);
      auto read = [&] {
        unit = ReadUnit(file, settings);
        if (unit && (unit->lr != lr || unit->seed != seed)) unit.reset();
      };
      read();
      std::optional<UnitLock> lock;
      if (!unit && shared) {
        while (!(lock = UnitLock::TryAcquire(file)) && wait && !observer.StopRequested()) {
          observer.OnWaiting(s.task->name);
          std::this_thread::sleep_for(kLockPoll);
        }
        if (!lock) {
          stopped = wait;
          continue;
        }
        read();  // the holder may have finished it meanwhile
      }
      if (!unit) {
        unit = TrainUnit(s, lr, seed, observer);
        if (!unit) {
          stopped = true;
          continue;
        }
        WriteUnit(file, settings, *unit);
      }
      observer.OnUnit(s.task->name, *unit, ++done, count);
    }
  }
  for (auto& unit : found) {
    if (unit) units.push_back(std::move(*unit));
  }
  return !stopped;
}

// The cache entry of the untrained baseline's units with this key, made with its key.json.
fs::path UntrainedEntry(const fs::path& cache_dir, const nlohmann::json& key) {
  const fs::path entry = cache_dir / Sha256Hex(key.dump()).substr(0, 16);
  fs::create_directories(entry);
  // For a reader of the cache: every process of one key would write the same text.
  if (!fs::exists(entry / "key.json")) WriteFileAtomically(entry / "key.json", key.dump(2) + "\n");
  return entry;
}

// The progress line that says whether the no-pretraining baseline is computed or reused.
std::string UntrainedPlan(const Task& task, const FinetuneConfig& c, const fs::path& dir,
                          const nlohmann::json& settings) {
  const int64_t count = std::ssize(c.lrs) * c.seeds;
  int64_t ready = 0;
  for (double lr : c.lrs) {
    for (int64_t seed = 1; seed <= c.seeds; ++seed)
      ready += ReadUnit(dir / UnitFileName(lr, seed), settings).has_value();
  }
  const std::string what = ready == count ? "reusing all " + std::to_string(count) + " units"
                           : ready == 0   ? "computing all " + std::to_string(count) + " units"
                                          : "computing " + std::to_string(count - ready) + " of " +
                                              std::to_string(count) + " units, reusing " +
                                              std::to_string(ready);
  return "no-pretraining baseline for " + task.name +
         " (an untrained encoder, fine-tuned alike): " + what + " in " + dir.string();
}

// Where the starting encoder comes from, and where its units are kept.
struct Source {
  bool untrained = false;
  fs::path dir;  // the run's directory; for the untrained encoder, the shared cache directory
};

FinetuneResult FinetuneFrom(const Task& task, const FinetuneConfig& config,
                            const TrainConfig& pretrain, const fs::path& data_dir,
                            const Source& source, FinetuneObserver& observer, const Log& log) {
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

  std::optional<CheckpointInfo> checkpoint;
  if (!source.untrained) {
    checkpoint = LatestCheckpoint(source.dir);
    if (!checkpoint || checkpoint->step != pretrain.train.steps) {
      throw InputError(source.dir.string(), "",
                       "no final checkpoint to fine-tune: pretraining has not finished");
    }
  }
  PreparedCorpus prepared = PrepareCorpus(data_dir, pretrain.data.corpus, pretrain.data.tokenizer);
  BpeTokenizer& tokenizer = prepared.tokenizer;
  const ModelOptions options = MakeModelOptions(pretrain, tokenizer);
  BertModel encoder = source.untrained ? UntrainedEncoder(pretrain, tokenizer) : BertModel(options);
  if (checkpoint) LoadModelState(checkpoint->path.string(), *encoder);

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
  nlohmann::json settings = {{"version", kUnitFormatVersion},
                             {"format", task.format},
                             // The untrained encoder is the one of step 0.
                             {"checkpoint_step", checkpoint ? checkpoint->step : 0},
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
  // Only when set: unit files written before eval.pooling existed stay valid.
  if (c.pooling != Pooling::kFirst) settings["pooling"] = PoolingName(c.pooling);
  const fs::path dir =
      (source.untrained
           ? UntrainedEntry(source.dir, UntrainedKey(task, c, pretrain, options, settings))
           : source.dir) /
      "finetune" / task.name;
  fs::create_directories(dir);
  if (log && source.untrained) {
    log(UntrainedPlan(task, c, dir, settings));
  } else if (log) {
    log("fine-tuning " + task.name + ": " + std::to_string(data->TrainItems()) +
        " training items, " + std::to_string(data->DevExamples()) + " dev examples, " +
        std::to_string(c.lrs.size()) + " lr x " + std::to_string(c.seeds) + " seeds x " +
        std::to_string(c.epochs) + " epochs");
  }

  const UnitSetup setup{&task, &c, &options, &encoder, data.get(), device, outputs};
  FinetuneResult result;
  if (!CollectUnits(setup, dir, settings, source.untrained, observer, result.units)) {
    result.outcome = FinetuneOutcome::kInterrupted;
    return result;
  }
  Aggregate(task, c, result);
  result.baseline = data->Baseline();
  return result;
}

}  // namespace

FinetuneResult Finetune(const Task& task, const FinetuneConfig& config, const TrainConfig& pretrain,
                        const fs::path& data_dir, const fs::path& run_dir,
                        FinetuneObserver& observer, const Log& log) {
  return FinetuneFrom(task, config, pretrain, data_dir, {false, run_dir}, observer, log);
}

FinetuneResult FinetuneUntrained(const Task& task, const FinetuneConfig& config,
                                 const TrainConfig& pretrain, const fs::path& data_dir,
                                 const fs::path& cache_dir, FinetuneObserver& observer,
                                 const Log& log) {
  return FinetuneFrom(task, config, pretrain, data_dir, {true, cache_dir}, observer, log);
}

BertModel UntrainedEncoder(const TrainConfig& pretrain, const BpeTokenizer& tokenizer) {
  return InitialModel(MakeModelOptions(pretrain, tokenizer), pretrain.seed);
}

}  // namespace ablate::downstream
