// The few operations the model and optimizer need that LibTorch 1.13 runs poorly on the CPU:
// attention's batched matmul, dropout (optionally plus a residual), cross-entropy summed over rows,
// and the AdamW update, each parallel across threads and fused into as few passes as it allows.
// CUDA tensors and dtypes without a kernel here take plain LibTorch ops; results match them
// (dropout draws a different but equally distributed mask). No modules, no state.
#pragma once

#include <torch/types.h>

#include <cstdint>

#include "core/train_config.h"

namespace ablate::core {

// alpha * a @ b for a (N, M, K), b (N, K, P) -> (N, M, P). On the CPU the N products run in
// parallel, one single-threaded GEMM each: LibTorch 1.13 runs a CPU bmm's products one after
// another with every GEMM split across all threads, which for attention's T x head_dim matrices
// costs more in synchronization than in arithmetic (2x slower on 2 idle cores, far worse on busy
// ones).
torch::Tensor BatchedMatmul(const torch::Tensor& a, const torch::Tensor& b, double alpha = 1);

// Inverted dropout: zeroes each element with probability p, scales the rest by 1 / (1 - p).
// Returns x itself when !training or p == 0. The CPU mask is a counter-based hash keyed by one
// draw from torch's default generator, so torch::manual_seed makes it reproducible.
torch::Tensor Dropout(const torch::Tensor& x, double p, bool training);

// Dropout(x, p, training) + residual, in one pass. x and residual have the same shape.
torch::Tensor DropoutAdd(const torch::Tensor& x, const torch::Tensor& residual, double p,
                         bool training);

// Sum over rows of -log softmax(logits)[row, targets[row]], computed in at least float32.
// logits (N, V), targets (N) int64 in [0, V). Backward overwrites its saved log-probabilities,
// so it runs once per forward (no retain_graph).
torch::Tensor CrossEntropySum(const torch::Tensor& logits, const torch::Tensor& targets);

// The terms of CrossEntropySum's sum, one per row (N), in the same type; for scoring, with no
// backward of its own.
torch::Tensor CrossEntropyPerToken(const torch::Tensor& logits, const torch::Tensor& targets);

// The scalars of one AdamW update (the same for every parameter of a group).
struct AdamWScalars {
  double lr = 0;
  double beta1 = kBertAdamW.beta1, beta2 = kBertAdamW.beta2, eps = kBertAdamW.eps;
  double decay_factor = 1;      // 1 - lr * weight_decay
  double bias_correction1 = 1;  // 1 - beta1^step
  double bias_correction2 = 1;  // 1 - beta2^step
};

// Whether FusedAdamWUpdate has a one-pass kernel for these tensors (contiguous CPU float or double,
// all of one dtype).
bool HasFusedAdamW(const torch::Tensor& param, const torch::Tensor& grad,
                   const torch::Tensor& exp_avg, const torch::Tensor& exp_avg_sq);

// In place, element by element, torch.optim.AdamW's update:
//   p *= decay_factor; m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2
//   p -= lr / bias_correction1 * m / (sqrt(v) / sqrt(bias_correction2) + eps)
// Requires HasFusedAdamW(...).
void FusedAdamWUpdate(torch::Tensor& param, const torch::Tensor& grad, torch::Tensor& exp_avg,
                      torch::Tensor& exp_avg_sq, const AdamWScalars& scalars);

}  // namespace ablate::core
