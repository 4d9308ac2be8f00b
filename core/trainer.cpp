#include "core/trainer.h"

#include <torch/cuda.h>
#include <torch/utils.h>
#include <torch/version.h>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "base/atomic_file.h"
#include "base/error.h"
#include "base/rng.h"
#include "core/batch_tensors.h"
#include "core/model.h"
#include "core/optimizer.h"

namespace ablate::core {
namespace fs = std::filesystem;
namespace {

using Clock = std::chrono::steady_clock;

constexpr uint64_t kDropoutDomain = 0x64726f70;  // "drop"
// With train.micro_batch = 0: as many sequences as keep a micro-batch near this many tokens.
constexpr int64_t kAutoMicroBatchTokens = 16384;

// The validation sample (DataPipeline::ValidationSample) in micro-batches of at most `rows`:
// FULL-SENTENCES packing for the MLM perplexity (comparable across input formats) and, for NSP
// formats, pairs in the run's format.
std::vector<Batch> ValidationBatches(const DataPipeline& data, InputFormat format, int64_t rows,
                                     int64_t limit) {
  if (HasNsp(format) && data.valid().DocumentCount() < 2) return {};
  const Batch sample = data.ValidationSample(format, limit);
  return SplitBatch(sample, (sample.rows + rows - 1) / rows);
}

struct CheckpointState {
  int64_t step = 0;
  DataPosition position;
  int64_t sequences_seen = 0, tokens_seen = 0;
};

void WriteCheckpoint(const fs::path& run_dir, BertModel& model, const AdamW& optimizer,
                     const CheckpointState& s) {
  fs::path file = run_dir / ("checkpoint-" + std::to_string(s.step) + ".pt");
  SaveCheckpointState(file.string(), *model, optimizer);
  nlohmann::json j = {{"step", s.step},
                      {"file", file.filename().string()},
                      {"epoch", s.position.epoch},
                      {"cursor", s.position.cursor},
                      {"sequences_seen", s.sequences_seen},
                      {"tokens_seen", s.tokens_seen}};
  // The pointer moves only after the new checkpoint is complete; then older ones can go.
  WriteFileAtomically(run_dir / "checkpoint.json", j.dump(2) + "\n");
  for (const auto& entry : fs::directory_iterator(run_dir)) {
    auto name = entry.path().filename().string();
    if (name.rfind("checkpoint-", 0) == 0 && entry.path() != file) fs::remove(entry.path());
  }
}

std::optional<CheckpointState> ReadCheckpointState(const fs::path& run_dir) {
  std::ifstream in(run_dir / "checkpoint.json");
  if (!in) return std::nullopt;
  auto j = nlohmann::json::parse(in, nullptr, false);
  if (j.is_discarded()) return std::nullopt;
  CheckpointState s;
  s.step = j.value("step", int64_t{0});
  s.position = {j.value("epoch", uint64_t{0}), j.value("cursor", uint64_t{0})};
  s.sequences_seen = j.value("sequences_seen", int64_t{0});
  s.tokens_seen = j.value("tokens_seen", int64_t{0});
  return s;
}

EvalMetrics Evaluate(BertModel& model, const std::vector<Batch>& mlm, const std::vector<Batch>& nsp,
                     torch::Device device, int64_t step) {
  torch::NoGradGuard no_grad;
  model->eval();
  double loss_sum = 0;
  int64_t predictions = 0, nsp_correct = 0, nsp_rows = 0;
  for (const auto& b : mlm) {
    auto out = model->forward(ToTensors(b, device));
    loss_sum += out.mlm_loss_sum.item<double>();
    predictions += out.predictions;
  }
  for (const auto& b : nsp) {
    auto out = model->forward(ToTensors(b, device));
    nsp_correct += out.nsp_correct.item<int64_t>();
    nsp_rows += out.nsp_rows;
  }
  model->train();
  EvalMetrics m;
  m.step = step;
  m.predictions = predictions;
  m.mlm_loss = predictions > 0 ? loss_sum / static_cast<double>(predictions) : kNoValue;
  m.perplexity = std::exp(m.mlm_loss);
  if (nsp_rows > 0)
    m.nsp_accuracy = static_cast<double>(nsp_correct) / static_cast<double>(nsp_rows);
  return m;
}

}  // namespace

std::string LibTorchVersion() { return TORCH_VERSION; }

ModelOptions MakeModelOptions(const TrainConfig& c, const BpeTokenizer& tok) {
  ModelOptions o;
  o.vocab_size = tok.vocab_size();
  o.max_positions = c.data.seq_len;
  o.hidden = c.model.hidden;
  o.layers = c.model.layers;
  o.heads = c.model.heads;
  o.ffn = c.model.ffn;
  o.dropout = c.model.dropout;
  o.attention_dropout = c.model.attention_dropout;
  o.type_vocab_size = HasNsp(c.data.format) ? 2 : 0;
  o.pad_id = tok.pad_id();
  o.Validate();
  return o;
}

std::optional<CheckpointInfo> LatestCheckpoint(const fs::path& run_dir) {
  std::ifstream in(run_dir / "checkpoint.json");
  if (!in) return std::nullopt;
  auto j = nlohmann::json::parse(in, nullptr, false);
  if (j.is_discarded() || !j.contains("file")) return std::nullopt;
  fs::path file = run_dir / j["file"].get<std::string>();
  if (!fs::exists(file)) return std::nullopt;
  return CheckpointInfo{j.value("step", int64_t{0}), file};
}

TrainResult Train(const TrainConfig& config, const fs::path& data_dir, const fs::path& run_dir,
                  TrainObserver& observer, const Log& log) {
  const torch::Device device = ResolveDevice(config.device);
  if (config.threads > 0) torch::set_num_threads(config.threads);
  fs::create_directories(run_dir);

  DataPipeline data(data_dir, config, log);
  const uint64_t seed = config.seed;
  torch::manual_seed(seed);  // initialization
  BertModel model(MakeModelOptions(config, data.prepared().tokenizer));
  model->to(device);
  model->train();
  AdamWOptions adam;
  adam.beta1 = config.optim.beta1;
  adam.beta2 = config.optim.beta2;
  adam.eps = config.optim.eps;
  adam.weight_decay = config.optim.weight_decay;
  AdamW optimizer(WeightDecayGroups(*model, config.optim.weight_decay), adam);
  const LinearSchedule schedule{config.optim.lr, config.optim.warmup_steps, config.train.steps};

  CheckpointState state;
  if (auto checkpoint = LatestCheckpoint(run_dir)) {
    LoadCheckpointState(checkpoint->path.string(), *model, optimizer);
    state = *ReadCheckpointState(run_dir);
    if (log)
      log("resuming from " + checkpoint->path.string() + " at step " + std::to_string(state.step));
  }

  const int64_t micro = config.train.micro_batch > 0
                            ? config.train.micro_batch
                            : std::max<int64_t>(1, kAutoMicroBatchTokens / config.data.seq_len);
  auto mlm_eval =
      ValidationBatches(data, InputFormat::kFullSentences, micro, config.eval.sequences);
  std::vector<Batch> nsp_eval;
  if (HasNsp(config.data.format)) {
    nsp_eval = ValidationBatches(data, config.data.format, micro, config.eval.sequences);
  }

  BatchStream stream = data.Stream(state.position);
  observer.OnStart(
      {state.step, config.train.steps, model->ParameterCount(), stream.ExamplesPerEpoch()});

  auto checkpoint = [&] {
    state.position = stream.position();
    observer.BeforeCheckpoint(state.step);
    WriteCheckpoint(run_dir, model, optimizer, state);
    observer.OnCheckpoint(run_dir / ("checkpoint-" + std::to_string(state.step) + ".pt"),
                          state.step);
  };
  int64_t last_checkpoint = state.step;

  while (state.step < config.train.steps) {
    if (observer.StopRequested()) {
      if (state.step > last_checkpoint) checkpoint();
      return {TrainOutcome::kInterrupted, state.step, "stopped by request"};
    }
    const int64_t step = state.step + 1;
    const auto started = Clock::now();

    // Sample: one update's batch, in micro-batches that fit.
    Batch batch = stream.Next();
    const int64_t parts = std::min<int64_t>(batch.rows, (batch.rows + micro - 1) / micro);
    std::vector<BatchTensors> micro_batches;
    for (const auto& part : SplitBatch(batch, parts))
      micro_batches.push_back(ToTensors(part, device));

    // Forward and backward; dropout draws from a stream named by (seed, step), so a resumed run
    // repeats exactly what an uninterrupted one does.
    torch::manual_seed(Mix64(seed ^ Mix64(kDropoutDomain + static_cast<uint64_t>(step))));
    optimizer.ZeroGrad();
    StepStats stats = AccumulateGradients(model, micro_batches);
    if (!std::isfinite(stats.loss)) {
      return {TrainOutcome::kDiverged, step,
              "loss is " + std::to_string(stats.loss) + " at step " + std::to_string(step)};
    }

    // Update.
    const double grad_norm = optimizer.ClipGradNorm(config.train.grad_clip);
    if (!std::isfinite(grad_norm)) {
      return {TrainOutcome::kDiverged, step,
              "gradient norm is " + std::to_string(grad_norm) + " at step " + std::to_string(step)};
    }
    const double lr = schedule.Lr(step);
    optimizer.Step(lr);
    if (device.is_cuda()) torch::cuda::synchronize();

    // Log.
    state.step = step;
    state.sequences_seen += batch.rows;
    state.tokens_seen += batch.tokens;
    StepMetrics m;
    m.step = step;
    m.epoch = batch.epoch;
    m.epochs = stream.Epochs();
    m.loss = stats.loss;
    m.mlm_loss = stats.mlm_loss;
    if (HasNsp(config.data.format)) m.nsp_loss = stats.nsp_loss;
    m.lr = lr;
    m.grad_norm = grad_norm;
    m.step_seconds = std::chrono::duration<double>(Clock::now() - started).count();
    m.tokens_per_second = static_cast<double>(batch.tokens) / m.step_seconds;
    m.sequences = batch.rows;
    m.tokens = batch.tokens;
    m.sequences_seen = state.sequences_seen;
    m.tokens_seen = state.tokens_seen;
    observer.OnStep(m);

    if (step == config.train.steps) break;
    if (config.train.checkpoint_every > 0 && step % config.train.checkpoint_every == 0) {
      checkpoint();
      last_checkpoint = step;
    }
    if (config.eval.every > 0 && step % config.eval.every == 0) {
      observer.OnEval(Evaluate(model, mlm_eval, nsp_eval, device, step), false);
    }
  }
  if (state.step > last_checkpoint || !LatestCheckpoint(run_dir)) checkpoint();
  observer.OnEval(Evaluate(model, mlm_eval, nsp_eval, device, state.step), true);
  return {TrainOutcome::kCompleted, state.step, ""};
}

}  // namespace ablate::core
