// The CUDA path on a real GPU (bench/gpu.sh builds and runs these on the lent GPU machine; CTest
// registers them only where LibTorch has CUDA). One step on CPU and on CUDA in fp32 agree; bf16
// autocast stays within a stated tolerance of fp32; a run stopped and resumed on CUDA ends where
// an uninterrupted one does.
#include <ATen/Context.h>
#include <torch/cuda.h>
#include <torch/torch.h>

#include <catch2/catch.hpp>
#include <map>
#include <optional>

#include "base/rng.h"
#include "core/autocast.h"
#include "core/batch_tensors.h"
#include "core/model.h"
#include "core/optimizer.h"
#include "core/trainer.h"
#include "experiments/run_config.h"
#include "tests/support.h"

namespace fs = std::filesystem;
using namespace ablate::core;

namespace {

bool HaveCuda() {
  if (torch::cuda::is_available()) return true;
  WARN("no CUDA device: nothing to check");
  return false;
}

ModelOptions Small() {
  ModelOptions o = ModelOptions::Tiny();
  o.vocab_size = 1000;
  o.hidden = 64;
  o.layers = 2;
  o.heads = 4;
  o.ffn = 128;
  o.max_positions = 64;
  o.dropout = 0;  // dropout draws differ between devices; the arithmetic must not
  o.attention_dropout = 0;
  o.pad_id = 1;
  return o;
}

// Rows of different lengths (padding exercises the attention mask), 15% of positions predicted.
Batch RandomBatch(int64_t rows, int64_t cols, int64_t vocab) {
  ablate::Rng rng({11});
  Batch b;
  b.rows = rows;
  b.cols = cols;
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t length = cols - r % 5;
    for (int64_t c = 0; c < cols; ++c) {
      const bool real = c < length;
      const auto id = static_cast<int32_t>(4 + rng.Below(vocab - 4));
      const bool masked = real && c > 0 && rng.Uniform() < 0.15;
      b.input_ids.push_back(!real ? 1 : masked ? static_cast<int32_t>(vocab - 1) : id);
      b.labels.push_back(masked ? id : kIgnoreLabel);
      b.segment_ids.push_back(0);
      b.predictions += masked;
    }
    b.lengths.push_back(static_cast<int32_t>(length));
    b.tokens += length;
  }
  b.nsp_labels.assign(rows, kNoNspLabel);
  return b;
}

// The model after one AdamW step on `device` (weights initialized on the CPU from one seed).
std::map<std::string, torch::Tensor> OneStep(torch::Device device, const Batch& batch, double* loss,
                                             bool bf16 = false) {
  torch::manual_seed(5);
  BertModel model(Small());
  model->to(device);
  model->train();
  AdamW optimizer(WeightDecayGroups(*model, 0.01), AdamWOptions{});
  optimizer.ZeroGrad();
  torch::Tensor l;
  {
    std::optional<BfloatAutocast> autocast;
    if (bf16) autocast.emplace();
    l = model->forward(ToTensors(batch, device)).loss;
  }
  l.backward();
  optimizer.Step(1e-3);
  *loss = l.item<double>();
  std::map<std::string, torch::Tensor> out;
  for (const auto& p : model->named_parameters()) out[p.key()] = p.value().detach().cpu();
  return out;
}

}  // namespace

TEST_CASE("one training step on CPU and on CUDA in fp32 agree within 1e-4", "[cuda]") {
  if (!HaveCuda()) return;
  at::globalContext().setAllowTF32CuBLAS(false);  // fp32 means fp32 here
  const Batch batch = RandomBatch(8, 48, Small().vocab_size);
  double cpu_loss = 0, cuda_loss = 0;
  const auto cpu = OneStep(torch::kCPU, batch, &cpu_loss);
  const auto cuda = OneStep(torch::kCUDA, batch, &cuda_loss);
  CHECK(cuda_loss == Approx(cpu_loss).epsilon(1e-5));
  REQUIRE(cpu.size() == cuda.size());
  for (const auto& [name, tensor] : cpu) {
    INFO(name);
    CHECK((tensor - cuda.at(name)).abs().max().item<double>() <= 1e-4);
  }
}

TEST_CASE("bf16 autocast keeps the loss within 1% and the step within 2e-3 of fp32", "[cuda]") {
  if (!HaveCuda()) return;
  at::globalContext().setAllowTF32CuBLAS(false);
  const Batch batch = RandomBatch(8, 48, Small().vocab_size);
  double fp32_loss = 0, bf16_loss = 0;
  const auto fp32 = OneStep(torch::kCUDA, batch, &fp32_loss);
  const auto bf16 = OneStep(torch::kCUDA, batch, &bf16_loss, /*bf16=*/true);
  CHECK(bf16_loss == Approx(fp32_loss).epsilon(0.01));
  // AdamW's first step moves each weight by about lr (1e-3) whatever the gradient's size, so a
  // bf16 gradient of the right sign lands within 2 lr of the fp32 step; the weights stay fp32.
  for (const auto& [name, tensor] : fp32) {
    INFO(name);
    CHECK(bf16.at(name).scalar_type() == torch::kFloat32);
    CHECK((tensor - bf16.at(name)).abs().max().item<double>() <= 2e-3);
  }
}

TEST_CASE("a run stopped and resumed on CUDA ends where an uninterrupted one does", "[cuda]") {
  if (!HaveCuda()) return;
  ablate::test::TempDir dir("ablate_cuda_");
  TrainConfig config = ablate::experiments::DefaultRunConfig().Pretraining();
  config.device = "cuda";
  config.data.corpus = std::string(ABLATE_SOURCE_DIR) + "/tests/data/corpus_small";
  config.data.tokenizer = "bpe-300";
  config.data.seq_len = 32;
  config.train.batch_size = 8;
  config.train.steps = 20;
  config.train.checkpoint_every = 5;
  config.model.layers = 2;
  config.model.hidden = 64;
  config.model.heads = 4;
  config.model.ffn = 128;
  config.optim.warmup_steps = 2;
  config.eval.every = 0;
  config.eval.sequences = 16;

  struct Stopper : TrainObserver {
    int64_t stop_after = -1, last = 0;
    double final_loss = 0;
    void OnStep(const StepMetrics& m) override { last = m.step; }
    void OnEval(const EvalMetrics& m, bool final) override {
      if (final) final_loss = m.mlm_loss;
    }
    bool StopRequested() override { return stop_after >= 0 && last >= stop_after; }
  };
  Stopper straight;
  const auto a = Train(config, dir.path() / "data", dir.path() / "straight", straight);
  REQUIRE(a.outcome == TrainOutcome::kCompleted);
  Stopper first;
  first.stop_after = 10;
  REQUIRE(Train(config, dir.path() / "data", dir.path() / "resumed", first).outcome ==
          TrainOutcome::kInterrupted);
  Stopper second;
  const auto b = Train(config, dir.path() / "data", dir.path() / "resumed", second);
  REQUIRE(b.outcome == TrainOutcome::kCompleted);
  // cuBLAS and the embedding's backward (atomic adds) need not be bit-reproducible on a GPU.
  CHECK(second.final_loss == Approx(straight.final_loss).epsilon(1e-4));
  CHECK(straight.final_loss > 0);
}
