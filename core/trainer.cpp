#include "core/trainer.h"

#include <torch/cuda.h>
#include <torch/utils.h>
#include <torch/version.h>
#ifdef ABLATE_CUDA
#include <c10/cuda/CUDAGuard.h>
#include <cuda_runtime_api.h>
#endif

#include <algorithm>
#include <chrono>

#include "base/error.h"
#include "base/rng.h"
#include "core/batch_tensors.h"
#include "core/checkpoint.h"
#include "core/collective.h"
#include "core/memory_plan.h"
#include "core/model.h"
#include "core/optimizer.h"
#include "core/trivial_baselines.h"

namespace ablate::core {
namespace fs = std::filesystem;
namespace {

using Clock = std::chrono::steady_clock;

constexpr uint64_t kDropoutDomain = 0x64726f70;  // "drop"
// With train.micro_batch = 0: as many sequences as keep a micro-batch near this many tokens.
constexpr int64_t kAutoMicroBatchTokens = 16384;

// The validation sample (DataPipeline::ValidationSample) of held-out set `set` in micro-batches
// of at most `rows`: FULL-SENTENCES packing for the MLM perplexity (comparable across input
// formats) and, for NSP formats, pairs in the run's format.
std::vector<Batch> ValidationBatches(const DataPipeline& data, InputFormat format, int64_t rows,
                                     int64_t limit, size_t set = 0) {
  if (HasNsp(format) && data.valid(set).DocumentCount() < 2) return {};
  const Batch sample = data.ValidationSample(format, limit, set);
  return SplitBatch(sample, (sample.rows + rows - 1) / rows);
}

// Free memory of a CUDA device (cudaMemGetInfo), nullopt where this build has no CUDA or the
// device does not answer. What the caching allocator already holds is not counted as free; a run
// asks before it allocates activations.
std::optional<uint64_t> DeviceFreeBytes([[maybe_unused]] const torch::Device& device) {
#ifdef ABLATE_CUDA
  c10::cuda::CUDAGuard guard(device.index() < 0 ? c10::cuda::current_device() : device.index());
  size_t free = 0, total = 0;
  if (cudaMemGetInfo(&free, &total) == cudaSuccess) return static_cast<uint64_t>(free);
#endif
  return std::nullopt;
}

// Adds each value over the ranks (float64, exact for counts).
std::vector<double> SumOverRanks(Collective& collective, const std::vector<double>& values) {
  torch::Tensor t = torch::tensor(values, torch::kFloat64);
  if (collective.backend() == "nccl")
    t = t.to(torch::Device(torch::kCUDA, collective.world().local_rank));
  collective.SumInPlace({t});
  t = t.cpu();
  return std::vector<double>(t.data_ptr<double>(), t.data_ptr<double>() + t.numel());
}

// The micro-batches [first, last) of `parts` that `rank` of `ranks` trains: contiguous shares,
// the first ranks taking one more when they do not divide evenly.
std::pair<int64_t, int64_t> Share(int64_t parts, int64_t rank, int64_t ranks) {
  const int64_t base = parts / ranks, extra = parts % ranks;
  const int64_t first = rank * base + std::min(rank, extra);
  return {first, first + base + (rank < extra ? 1 : 0)};
}

// Dropout of micro-batch `index` of update `step` draws from a stream named by (seed, step,
// index), so a resumed run repeats exactly what an uninterrupted one does, and a micro-batch
// drops the same units whichever rank trains it.
uint64_t DropoutSeed(uint64_t seed, int64_t step, int64_t index) {
  return Mix64(Mix64(seed ^ Mix64(kDropoutDomain + static_cast<uint64_t>(step))) +
               static_cast<uint64_t>(index));
}

int64_t NspRows(const Batch& batch) {
  return std::count_if(batch.nsp_labels.begin(), batch.nsp_labels.end(),
                       [](int8_t label) { return label != kNoNspLabel; });
}

// Every parameter's gradient, zeros where this rank computed none (it had no micro-batch), in
// the model's fixed order, so all ranks sum the same list.
std::vector<torch::Tensor> Gradients(BertModel& model) {
  std::vector<torch::Tensor> grads;
  for (auto& p : model->parameters()) {
    if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
    grads.push_back(p.grad());
  }
  return grads;
}

// A 63-bit FNV-1a hash of the weights' bytes: equal on every rank, or the ranks have drifted.
int64_t WeightHash(BertModel& model) {
  uint64_t h = 1469598103934665603ULL;
  for (const auto& p : model->parameters()) {
    const torch::Tensor t = p.detach().cpu().contiguous();
    const auto* bytes = static_cast<const unsigned char*>(t.data_ptr());
    for (size_t i = 0; i < t.nbytes(); ++i) h = (h ^ bytes[i]) * 1099511628211ULL;
  }
  return static_cast<int64_t>(h >> 1);
}

void CheckSameWeights(Collective& collective, BertModel& model, int64_t step) {
  const auto [low, high] = collective.MinMax({WeightHash(model)});
  if (low[0] != high[0]) {
    throw std::runtime_error("the weights of the run's " + std::to_string(collective.world().size) +
                             " ranks differ at step " + std::to_string(step) +
                             " (a rank computed something else): the run cannot go on");
  }
}

// One held-out set's MLM micro-batches, each scored into one of the set's parts: the first set
// (eval.corpus's first) has two, its selection and report halves (DataPipeline::SampleHalves);
// a further corpus has one.
struct HeldOutSet {
  std::vector<std::string> parts;  // metric prefixes: valid/select, valid/report; valid-<corpus>
  std::vector<Batch> mlm;
  std::vector<size_t> part_of;  // per micro-batch
};

// Set 0's sample with the selection half's rows first and the report half's after (each in
// sample order), in micro-batches of at most `rows` that never mix the halves.
HeldOutSet HalvedSet(const DataPipeline& data, int64_t rows, int64_t limit) {
  HeldOutSet set;
  set.parts = {"valid/select", "valid/report"};
  const Batch sample = data.ValidationSample(InputFormat::kFullSentences, limit);
  const std::vector<uint8_t> halves = data.SampleHalves(sample);
  for (const uint8_t half : {DataPipeline::kSelectHalf, DataPipeline::kReportHalf}) {
    std::vector<size_t> picked;
    for (size_t r = 0; r < halves.size(); ++r)
      if (halves[r] == half) picked.push_back(r);
    if (picked.empty()) continue;
    const Batch part = SelectRows(sample, picked);
    for (auto& micro : SplitBatch(part, (part.rows + rows - 1) / rows)) {
      set.mlm.push_back(std::move(micro));
      set.part_of.push_back(half);
    }
  }
  return set;
}

// What every evaluation of a run scores: the held-out sets' MLM micro-batches, the NSP pairs of
// set 0 for the NSP formats, and the floors built from the run's training tokens.
struct Validation {
  std::vector<HeldOutSet> sets;
  std::vector<Batch> nsp;
  TrivialBaselines baselines;
};

// What one part of a held-out set adds up over its masked tokens.
struct PartSums {
  double loss = 0;
  int64_t predictions = 0, correct = 0;
  BaselineSums floors;

  void Add(const PartSums& o) {
    loss += o.loss;
    predictions += o.predictions;
    correct += o.correct;
    floors.unigram_loss_sum += o.floors.unigram_loss_sum;
    floors.copy_loss_sum += o.floors.copy_loss_sum;
    floors.unigram_correct += o.floors.unigram_correct;
    floors.copy_correct += o.floors.copy_correct;
  }
  static constexpr size_t kValues = 7;
  std::vector<double> Values() const {
    return {loss,
            static_cast<double>(predictions),
            static_cast<double>(correct),
            floors.unigram_loss_sum,
            floors.copy_loss_sum,
            static_cast<double>(floors.unigram_correct),
            static_cast<double>(floors.copy_correct)};
  }
  void Assign(const double* v) {
    loss = v[0];
    predictions = static_cast<int64_t>(v[1]);
    correct = static_cast<int64_t>(v[2]);
    floors.unigram_loss_sum = v[3];
    floors.copy_loss_sum = v[4];
    floors.unigram_correct = static_cast<int64_t>(v[5]);
    floors.copy_correct = static_cast<int64_t>(v[6]);
  }
};

// The final evaluation's scores per row of the MLM validation sample: loss sums, masked tokens,
// correct ones (float64: they are summed over the ranks).
struct RowScores {
  std::vector<double> loss_sums, predictions, correct;
};

// Adds the per-token scores of `out` (forward under no-grad) to the rows of `batch`, which are rows
// [first_row, first_row + batch.rows) of the sample. Tokens come in ToTensors' order: row-major
// over the labels that are not kIgnoreLabel.
void AddRowScores(const Batch& batch, const PretrainOutput& out, size_t first_row,
                  RowScores& rows) {
  const torch::Tensor losses = out.mlm_token_losses.to(torch::kCPU, torch::kDouble).contiguous();
  const torch::Tensor correct = out.mlm_token_correct.to(torch::kCPU, torch::kDouble).contiguous();
  const double* loss = losses.data_ptr<double>();
  const double* hit = correct.data_ptr<double>();
  size_t token = 0;
  for (size_t i = 0; i < batch.labels.size(); ++i) {
    if (batch.labels[i] == kIgnoreLabel) continue;
    const size_t row = first_row + i / static_cast<size_t>(batch.cols);
    rows.loss_sums[row] += loss[token];
    rows.predictions[row] += 1;
    rows.correct[row] += hit[token];
    ++token;
  }
}

double Ratio(double sum, int64_t count) {
  return count > 0 ? sum / static_cast<double>(count) : kNoValue;
}

HeldOutScores Scores(const std::string& prefix, const PartSums& s) {
  HeldOutScores h;
  h.prefix = prefix;
  h.predictions = s.predictions;
  h.mlm_loss = Ratio(s.loss, s.predictions);
  h.perplexity = std::exp(h.mlm_loss);
  h.mlm_accuracy = Ratio(static_cast<double>(s.correct), s.predictions);
  // Every rank scored the same positions for the model and for the floors.
  h.unigram_perplexity = std::exp(Ratio(s.floors.unigram_loss_sum, s.predictions));
  h.unigram_accuracy = Ratio(static_cast<double>(s.floors.unigram_correct), s.predictions);
  h.copy_perplexity = std::exp(Ratio(s.floors.copy_loss_sum, s.predictions));
  h.copy_accuracy = Ratio(static_cast<double>(s.floors.copy_correct), s.predictions);
  return h;
}

// With several ranks, each scores every size-th batch and the sums are added over the ranks. The
// final evaluation also keeps each row's scores of set 0's sample: a rank fills the rows of the
// batches it scored and leaves zeros in the others, so the sum over the ranks gathers them in
// sample order.
EvalMetrics Evaluate(BertModel& model, const Validation& validation, torch::Device device,
                     int64_t step, bool final, Collective* collective) {
  torch::NoGradGuard no_grad;
  model->eval();
  const size_t rank = collective ? static_cast<size_t>(collective->world().rank) : 0;
  const size_t ranks = collective ? static_cast<size_t>(collective->world().size) : 1;
  int64_t nsp_correct = 0, nsp_rows = 0;
  std::vector<std::vector<PartSums>> sums;
  for (const auto& set : validation.sets) sums.emplace_back(set.parts.size());
  size_t sample_rows = 0;
  for (const auto& batch : validation.sets.at(0).mlm)
    sample_rows += static_cast<size_t>(batch.rows);
  RowScores rows;
  if (final) {
    for (auto* v : {&rows.loss_sums, &rows.predictions, &rows.correct}) v->assign(sample_rows, 0);
  }
  size_t turn = 0;  // micro-batches over all sets, dealt to the ranks in turn
  for (size_t s = 0; s < validation.sets.size(); ++s) {
    const HeldOutSet& set = validation.sets[s];
    size_t first_row = 0;
    for (size_t i = 0; i < set.mlm.size(); ++i, ++turn) {
      const Batch& batch = set.mlm[i];
      if (turn % ranks == rank) {
        PartSums& part = sums[s][set.part_of[i]];
        auto out = model->forward(ToTensors(batch, device));
        part.loss += out.mlm_loss_sum.item<double>();
        part.predictions += out.predictions;
        part.correct += out.mlm_correct.item<int64_t>();
        validation.baselines.Score(batch, part.floors);
        if (final && s == 0) AddRowScores(batch, out, first_row, rows);
      }
      first_row += static_cast<size_t>(batch.rows);
    }
  }
  for (size_t i = rank; i < validation.nsp.size(); i += ranks) {
    auto out = model->forward(ToTensors(validation.nsp[i], device));
    nsp_correct += out.nsp_correct.item<int64_t>();
    nsp_rows += out.nsp_rows;
  }
  model->train();
  if (collective) {
    std::vector<double> values = {static_cast<double>(nsp_correct), static_cast<double>(nsp_rows)};
    for (const auto& set : sums) {
      for (const auto& part : set) {
        const auto v = part.Values();
        values.insert(values.end(), v.begin(), v.end());
      }
    }
    for (const auto* v : {&rows.loss_sums, &rows.predictions, &rows.correct})
      values.insert(values.end(), v->begin(), v->end());
    const auto reduced = SumOverRanks(*collective, values);
    nsp_correct = static_cast<int64_t>(reduced[0]);
    nsp_rows = static_cast<int64_t>(reduced[1]);
    auto next = reduced.begin() + 2;
    for (auto& set : sums) {
      for (auto& part : set) {
        part.Assign(&*next);
        next += static_cast<ptrdiff_t>(PartSums::kValues);
      }
    }
    for (auto* v : {&rows.loss_sums, &rows.predictions, &rows.correct}) {
      std::copy(next, next + static_cast<ptrdiff_t>(v->size()), v->begin());
      next += static_cast<ptrdiff_t>(v->size());
    }
  }
  EvalMetrics m;
  m.step = step;
  PartSums total;
  for (const auto& part : sums.at(0)) total.Add(part);
  static_cast<HeldOutScores&>(m) = Scores("valid", total);
  if (nsp_rows > 0) m.nsp_accuracy = Ratio(static_cast<double>(nsp_correct), nsp_rows);
  for (size_t s = 0; s < sums.size(); ++s) {
    for (size_t p = 0; p < sums[s].size(); ++p) {
      // A part without a masked token (a tiny held-out set) has nothing to report.
      if (sums[s][p].predictions > 0)
        m.held_out.push_back(Scores(validation.sets[s].parts[p], sums[s][p]));
    }
  }
  m.sequence_loss_sums = std::move(rows.loss_sums);
  for (size_t r = 0; r < rows.predictions.size(); ++r) {
    m.sequence_predictions.push_back(static_cast<int64_t>(rows.predictions[r]));
    m.sequence_correct.push_back(static_cast<int64_t>(rows.correct[r]));
  }
  return m;
}

// The micro-batch: the one asked for if it fits in memory, else refused at once; 0 = the largest
// that fits, at most about kAutoMicroBatchTokens tokens. A run resumed with 0 keeps the one it
// chose (`resumed`; 0 where its checkpoint recorded none), so it goes on exactly as it began.
MicroBatchChoice RunMicroBatch(const TrainConfig& config, const BertModelImpl& model,
                               torch::Device device, int64_t resumed) {
  const auto& mo = model.options();
  const double bytes_per_sequence =
      ActivationBytesPerToken({mo.layers, mo.hidden, mo.heads, mo.ffn, mo.vocab_size,
                               config.data.seq_len, config.data.mask_prob}) *
      static_cast<double>(config.data.seq_len);
  const double fixed_bytes = 16.0 * static_cast<double>(model.ParameterCount());
  // At most ~16K tokens, and no more sequences than an update holds.
  const int64_t cap = std::clamp<int64_t>(kAutoMicroBatchTokens / config.data.seq_len, 1,
                                          static_cast<int64_t>(config.train.batch_size));
  const auto available = device.is_cuda() ? DeviceFreeBytes(device) : AvailableMemoryBytes();
  if (config.train.micro_batch == 0 && resumed > 0) {
    MicroBatchChoice choice;
    try {
      choice = ChooseMicroBatch(resumed, cap, bytes_per_sequence, fixed_bytes, available);
      choice.reason = "micro-batch of " + std::to_string(resumed) +
                      " sequences, as the run chose before it was resumed";
    } catch (const InputError&) {
      choice = ChooseMicroBatch(0, cap, bytes_per_sequence, fixed_bytes, available);
      choice.reason += "; the " + std::to_string(resumed) +
                       " the run began with no longer fit, so its dropout from here on "
                       "differs from an uninterrupted run's";
    }
    return choice;
  }
  return ChooseMicroBatch(config.train.micro_batch, cap, bytes_per_sequence, fixed_bytes,
                          available);
}

// Every held-out set's validation sample in micro-batches of at most `micro` sequences, the NSP
// pairs for the NSP formats, and the floors from the run's training tokens.
Validation MakeValidation(const DataPipeline& data, const TrainConfig& config, int64_t micro) {
  Validation validation{
      {HalvedSet(data, micro, config.eval.sequences)},
      {},
      TrivialBaselines(data.train(), data.batch_options().masking,
                       [&](uint64_t begin, uint64_t end) { data.DropResident(begin, end); })};
  data.DropResident();  // the baselines read every training token
  for (size_t set = 1; set < data.ValidSets(); ++set) {
    HeldOutSet& further = validation.sets.emplace_back();
    further.parts = {data.ValidPrefix(set)};
    further.mlm =
        ValidationBatches(data, InputFormat::kFullSentences, micro, config.eval.sequences, set);
    further.part_of.assign(further.mlm.size(), 0);
  }
  if (HasNsp(config.data.format)) {
    validation.nsp = ValidationBatches(data, config.data.format, micro, config.eval.sequences);
  }
  return validation;
}

// What a run's updates start from, built before the first one.
struct TrainSetup {
  BertModel model;
  AdamW optimizer;
  // Where the run stands (step, data position, counts, world size, micro-batch): what each
  // checkpoint records besides the tensors.
  CheckpointEntry state;
  int64_t micro = 0;  // sequences per forward/backward
  Validation validation;
};

// Builds the model and its optimizer and resumes both from the run's checkpoint if it has one,
// then chooses the micro-batch (a resumed run keeps its own) and cuts the validation sample to it.
// Throws InputError for a checkpoint that other ranks than `ranks` trained.
TrainSetup SetUp(const TrainConfig& config, const DataPipeline& data, const fs::path& run_dir,
                 torch::Device device, int ranks, const Log& log) {
  BertModel model = InitialModel(MakeModelOptions(config, data.prepared().tokenizer), config.seed);
  model->to(device);
  model->train();
  AdamWOptions adam;
  adam.beta1 = config.optim.beta1;
  adam.beta2 = config.optim.beta2;
  adam.eps = config.optim.eps;
  adam.weight_decay = config.optim.weight_decay;
  AdamW optimizer(WeightDecayGroups(*model, config.optim.weight_decay), adam);

  CheckpointEntry state;
  if (auto resumed = LoadResumable(run_dir, *model, optimizer, log)) {
    state = *resumed;
    if (state.world_size != ranks) {
      // Gradients are summed in groups of the world size: another one changes the float sums,
      // so the resumed run would not be the one that was started.
      throw InputError("", "--nproc",
                       "the checkpoint at step " + std::to_string(state.step) + " of " +
                           run_dir.string() + " was trained by " +
                           std::to_string(state.world_size) + " rank(s); resume it with " +
                           std::to_string(state.world_size) + ", not " + std::to_string(ranks));
    }
  }
  const MicroBatchChoice micro = RunMicroBatch(config, *model, device, state.micro_batch);
  if (log) log(micro.reason);
  state.micro_batch = micro.sequences;
  state.world_size = ranks;
  return {model, std::move(optimizer), state, micro.sequences,
          MakeValidation(data, config, micro.sequences)};
}

// The last step a checkpoint saw (step, loss, epochs, sequences and tokens seen), so that a run
// resumed at its final step can still record them; step 0 where it recorded no loss.
StepMetrics LastStep(const CheckpointEntry& state) {
  StepMetrics last;
  if (state.step > 0 && state.loss) {
    last.step = state.step;
    last.loss = last.mlm_loss = *state.loss;
    last.epochs = state.epochs.value_or(0);
    last.sequences_seen = state.sequences_seen;
    last.tokens_seen = state.tokens_seen;
  }
  return last;
}

// Whether `flag` holds on any rank; every rank gets the same answer.
bool AnyRank(Collective* collective, bool flag) {
  if (!collective) return flag;
  return SumOverRanks(*collective, {flag ? 1.0 : 0.0})[0] > 0;
}

// Adds the ranks' gradient sums, so that every rank holds the whole update's gradient, and makes
// `stats` the whole update's losses.
void SumUpdateOverRanks(Collective& collective, BertModel& model,
                        const AccumulateOptions& accumulate, StepStats& stats) {
  collective.SumInPlace(Gradients(model));
  const auto sums = SumOverRanks(
      collective, {stats.mlm_loss_sum, stats.nsp_loss_sum, static_cast<double>(stats.nsp_correct)});
  const double mlm = static_cast<double>(std::max<int64_t>(accumulate.predictions, 1));
  const double nsp = static_cast<double>(std::max<int64_t>(accumulate.nsp_rows, 1));
  stats.mlm_loss = sums[0] / mlm;
  stats.nsp_loss = accumulate.nsp_rows > 0 ? sums[1] / nsp : 0;
  stats.loss = stats.mlm_loss + stats.nsp_loss;
}

// The updates from where `run` stands to config.train.steps, each one sample, forward and
// backward, update, log; checkpoints and evaluations on their schedule, then the final checkpoint
// and evaluation. `done` follows the updates done.
TrainResult TrainLoop(const TrainConfig& config, const DataPipeline& data, const fs::path& run_dir,
                      torch::Device device, TrainSetup& run, TrainObserver& observer,
                      Collective* collective, int64_t& done) {
  const int rank = collective ? collective->world().rank : 0;
  const int ranks = collective ? collective->world().size : 1;
  BertModel& model = run.model;
  AdamW& optimizer = run.optimizer;
  CheckpointEntry& state = run.state;
  const int64_t micro = run.micro;
  const LinearSchedule schedule{config.optim.lr, config.optim.warmup_steps, config.train.steps};

  BatchStream stream = data.Stream(state.position);
  observer.OnStart({state.step, config.train.steps, model->ParameterCount(),
                    stream.ExamplesPerEpoch(), micro, LastStep(state)});

  // Rank 0 writes; every rank first checks that all hold the same weights.
  auto checkpoint = [&] {
    if (collective) CheckSameWeights(*collective, model, state.step);
    if (rank != 0) return;
    state.position = stream.position();
    observer.BeforeCheckpoint(state.step);
    observer.OnCheckpoint(WriteCheckpoint(run_dir, *model, optimizer, state), state.step);
  };
  int64_t last_checkpoint = state.step;

  while (state.step < config.train.steps) {
    // A stop that reaches any rank stops all of them at the same step.
    if (AnyRank(collective, observer.StopRequested())) {
      if (state.step > last_checkpoint) checkpoint();
      return {TrainOutcome::kInterrupted, state.step, kStopRequested};
    }
    const int64_t step = state.step + 1;
    const auto started = Clock::now();

    // Sample: one update's batch, in micro-batches that fit; with several ranks, each trains a
    // contiguous share of the micro-batches (every rank reads the whole batch).
    Batch batch = stream.Next();
    const int64_t parts = std::min<int64_t>(batch.rows, (batch.rows + micro - 1) / micro);
    const std::vector<Batch> pieces = SplitBatch(batch, parts);
    const auto [first, last] = Share(parts, rank, ranks);
    std::vector<BatchTensors> micro_batches;
    for (int64_t i = first; i < last; ++i)
      micro_batches.push_back(ToTensors(pieces[static_cast<size_t>(i)], device));

    // Forward and backward, normalized by the whole update's masked tokens and NSP rows; then
    // the ranks' gradient sums are added, so every rank holds the update's gradient.
    AccumulateOptions accumulate;
    accumulate.predictions = batch.predictions;
    accumulate.nsp_rows = NspRows(batch);
    accumulate.bf16 = config.train.precision == Precision::kBf16;
    accumulate.before_each = [&, first = first](size_t i) {
      torch::manual_seed(DropoutSeed(config.seed, step, first + static_cast<int64_t>(i)));
    };
    optimizer.ZeroGrad();
    StepStats stats = AccumulateGradients(model, micro_batches, accumulate);
    if (collective) SumUpdateOverRanks(*collective, model, accumulate, stats);
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
    done = step;
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
    state.loss = m.loss;
    state.epochs = m.epochs;
    observer.OnStep(m);

    if (step == config.train.steps) break;
    if (config.train.checkpoint_every > 0 && step % config.train.checkpoint_every == 0) {
      checkpoint();
      last_checkpoint = step;
    }
    if (config.eval.every > 0 && step % config.eval.every == 0) {
      observer.OnEval(Evaluate(model, run.validation, device, step, false, collective), false);
    }
  }
  // Every rank decides alike whether a final checkpoint is due (only rank 0 sees the file).
  if (AnyRank(collective, state.step > last_checkpoint || !LatestCheckpoint(run_dir))) checkpoint();
  observer.OnEval(Evaluate(model, run.validation, device, state.step, true, collective), true);
  return {TrainOutcome::kCompleted, state.step, ""};
}

// One rank's part of a run: its device and data, the setup (resumed where the run stopped), then
// the updates.
TrainResult TrainRanks(const TrainConfig& config, const fs::path& data_dir, const fs::path& run_dir,
                       TrainObserver& observer, const Log& log, Collective* collective,
                       int64_t& done) {
  const int rank = collective ? collective->world().rank : 0;
  const int ranks = collective ? collective->world().size : 1;
  torch::Device device = ResolveDevice(config.device);
  if (collective && device.is_cuda())
    device = torch::Device(torch::kCUDA, collective->world().local_rank);
  if (config.threads > 0) torch::set_num_threads(config.threads);
  fs::create_directories(run_dir);

  DataPipeline data(data_dir, config, log);
  TrainSetup run = SetUp(config, data, run_dir, device, ranks, rank == 0 ? log : Log{});
  done = run.state.step;
  if (collective) CheckSameWeights(*collective, run.model, run.state.step);
  return TrainLoop(config, data, run_dir, device, run, observer, collective, done);
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

TrainResult Train(const TrainConfig& config, const fs::path& data_dir, const fs::path& run_dir,
                  TrainObserver& observer, const Log& log, Collective* collective) {
  int64_t done = 0;
  try {
    return TrainRanks(config, data_dir, run_dir, observer, log, collective, done);
  } catch (const RankLost& e) {
    // A peer is gone: this rank stops too, and the run resumes from its last checkpoint.
    return {TrainOutcome::kInterrupted, done, e.what()};
  }
}

}  // namespace ablate::core
