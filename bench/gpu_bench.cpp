// BERT-base pretraining throughput on one CUDA GPU: tokens/s of whole training steps (forward,
// backward, AdamW) at sequence length 512 under bf16 autocast with TF32 matmuls allowed, and the
// model FLOPs utilization (MFU) against the chip's dense bf16 matmul rate measured in the same
// process. Built only against a CUDA LibTorch (bench/gpu.sh); without a device it prints
// "skipped". It measures; it asserts nothing.
//
// Usage: bench_gpu [BATCH [STEPS]]  (defaults 32 sequences, 10 timed steps after 3 warm-up)
#include <ATen/Context.h>
#include <torch/cuda.h>
#include <torch/version.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "base/rng.h"
#include "bench/training_flops.h"
#include "core/autocast.h"
#include "core/batch_tensors.h"
#include "core/model.h"
#include "core/optimizer.h"

namespace {

using namespace ablate::core;
using ablate::Rng;
using Clock = std::chrono::steady_clock;

constexpr int64_t kSeqLen = 512, kMatmulSize = 8192, kWarmup = 3;

double Seconds(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Dense bf16 GEMM rate of this chip in FLOP/s: the denominator of the MFU.
double MeasureMatmulRate() {
  const auto options = torch::TensorOptions().device(torch::kCUDA).dtype(torch::kBFloat16);
  auto a = torch::randn({kMatmulSize, kMatmulSize}, options);
  auto b = torch::randn({kMatmulSize, kMatmulSize}, options);
  auto c = torch::empty({kMatmulSize, kMatmulSize}, options);
  for (int i = 0; i < 5; ++i) torch::mm_out(c, a, b);
  torch::cuda::synchronize();
  const int iterations = 50;
  const auto start = Clock::now();
  for (int i = 0; i < iterations; ++i) torch::mm_out(c, a, b);
  torch::cuda::synchronize();
  const double flops = 2.0 * kMatmulSize * kMatmulSize * kMatmulSize * iterations;
  return flops / Seconds(start);
}

// Full-length rows (FULL-SENTENCES packing) with 15% of positions predicted.
Batch SyntheticBatch(int64_t rows, int64_t vocab) {
  Rng rng({7});
  Batch b;
  b.rows = rows;
  b.cols = kSeqLen;
  for (int64_t i = 0; i < rows * kSeqLen; ++i) {
    const auto id = static_cast<int32_t>(4 + rng.Below(vocab - 4));
    const bool masked = i % kSeqLen != 0 && rng.Uniform() < 0.15;
    b.input_ids.push_back(masked ? static_cast<int32_t>(vocab - 1) : id);
    b.labels.push_back(masked ? id : kIgnoreLabel);
    b.segment_ids.push_back(0);
    b.predictions += masked;
  }
  b.lengths.assign(rows, kSeqLen);
  b.nsp_labels.assign(rows, -1);
  b.tokens = rows * kSeqLen;
  return b;
}

}  // namespace

int main(int argc, char** argv) {
  const int64_t rows = argc > 1 ? std::atoll(argv[1]) : 32;
  const int steps = argc > 2 ? std::atoi(argv[2]) : 10;
  if (!torch::cuda::is_available()) {
    std::printf("gpu: skipped (no CUDA device)\n");
    return 0;
  }
  at::globalContext().setAllowTF32CuBLAS(true);
  at::globalContext().setAllowTF32CuDNN(true);
  const double peak = MeasureMatmulRate();

  torch::manual_seed(0);
  const ModelOptions options = ModelOptions::Base();
  BertModel model(options);
  model->to(torch::kCUDA);
  model->train();
  AdamW optimizer(WeightDecayGroups(*model, 0.01), AdamWOptions{});
  const Batch host = SyntheticBatch(rows, options.vocab_size);
  const auto batch = ToTensors(host, torch::kCUDA);

  Clock::time_point start;
  torch::Tensor loss;
  for (int step = 0; step < kWarmup + steps; ++step) {
    if (step == kWarmup) {
      torch::cuda::synchronize();
      start = Clock::now();
    }
    optimizer.ZeroGrad();
    {
      BfloatAutocast autocast;
      loss = model->forward(batch).loss;
    }
    loss.backward();
    optimizer.Step(1e-4);
  }
  torch::cuda::synchronize();
  const double seconds = Seconds(start) / steps;
  const double achieved =
      ablate::bench::TrainingFlops(
          {static_cast<double>(options.hidden), static_cast<double>(options.ffn),
           static_cast<double>(options.layers), static_cast<double>(options.vocab_size)},
          rows, kSeqLen, host.predictions) /
      seconds;
  std::printf("gpu_matmul_bf16: %.1f TFLOP/s (dense %lldx%lld bf16 GEMM, measured)\n", peak / 1e12,
              static_cast<long long>(kMatmulSize), static_cast<long long>(kMatmulSize));
  std::printf(
      "gpu_bert_base_seq512: tokens/s=%.0f step_ms=%.1f model_tflops=%.1f mfu=%.3f "
      "(batch %lld, bf16 autocast, TF32, loss %.3f)\n",
      rows * kSeqLen / seconds, seconds * 1e3, achieved / 1e12, achieved / peak,
      static_cast<long long>(rows), loss.item<double>());
  return 0;
}
