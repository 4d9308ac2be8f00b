// Adam with decoupled weight decay (AdamW; Loshchilov & Hutter) over named parameter groups,
// BERT's linear warmup-then-decay learning-rate schedule and clipping by global gradient norm. It
// does not run forward or backward passes, and it does not write checkpoint files (checkpoint.h).
#pragma once

#include <torch/nn/module.h>
#include <torch/serialize/archive.h>

#include <cstdint>
#include <string>
#include <vector>

#include "core/train_config.h"

namespace ablate::core {

struct AdamWOptions {
  // BERT's values (core/train_config.h, kBertAdamW); RoBERTa's large-batch runs set beta2 = 0.98.
  double beta1 = kBertAdamW.beta1;
  double beta2 = kBertAdamW.beta2;
  double eps = kBertAdamW.eps;
  double weight_decay = kBertAdamW.weight_decay;
  // Use the one-pass CPU kernel where it applies (contiguous float/double CPU tensors); false
  // runs LibTorch's foreach ops everywhere (the path CUDA tensors always take).
  bool fused = true;
};

struct ParamGroup {
  std::vector<std::string> names;  // as in Module::named_parameters()
  std::vector<torch::Tensor> params;
  double weight_decay = 0;
};

// Two groups: {0} every other parameter (weight matrices, embeddings) with `weight_decay`,
// {1} biases and LayerNorm weights with none, as BERT does. A group may be empty.
std::vector<ParamGroup> WeightDecayGroups(const torch::nn::Module& model, double weight_decay);

// BERT's schedule (linear warmup, then linear decay to 0), ended so that every update learns.
// `step` counts optimizer updates from 1: update s uses Lr(s).
//   s <= warmup_steps:           peak_lr * s / warmup_steps          (update warmup_steps is the
//   peak) warmup_steps < s <= total:   peak_lr * (total_steps - s + 1) / (total_steps -
//   warmup_steps) s <= 0 or s > total_steps:   0
// The decay is fairseq's polynomial_decay with power 1 and end_learning_rate 0 (the schedule
// RoBERTa trained with): update s gets the rate fairseq sets after s - 1 updates, so the last
// update gets peak_lr / (total_steps - warmup_steps) and the rate reaches 0 only after it. (A
// schedule that is 0 at update total_steps wastes that update; Hugging Face's
// get_linear_schedule_with_warmup instead wastes the first one, at rate 0.) The warmup starts at
// peak_lr / warmup_steps on update 1, where fairseq gives updates 1 and 2 both that rate.
// warmup_steps = 0 starts the decay at peak_lr on update 1.
struct LinearSchedule {
  double peak_lr = 0;
  int64_t warmup_steps = 0;
  int64_t total_steps = 0;

  double Lr(int64_t step) const;
};

class AdamW {
 public:
  AdamW(std::vector<ParamGroup> groups, AdamWOptions options);

  // Drops every gradient (the next backward assigns instead of adding to zeros).
  void ZeroGrad();
  // The global L2 norm of all gradients; when max_norm > 0 and the norm exceeds it, scales them
  // to norm max_norm (as torch.nn.utils.clip_grad_norm_, with its 1e-6 guard).
  double ClipGradNorm(double max_norm);
  // One update of every parameter that has a gradient, at learning rate lr.
  void Step(double lr);

  int64_t steps() const { return steps_; }
  const std::vector<ParamGroup>& groups() const { return groups_; }
  const AdamWOptions& options() const { return options_; }

  // The moments and the step count, the optimizer's part of a checkpoint (checkpoint.h). Load
  // expects the same parameter names and shapes.
  void Save(torch::serialize::OutputArchive& archive) const;
  void Load(torch::serialize::InputArchive& archive);

 private:
  struct Moments {
    torch::Tensor exp_avg, exp_avg_sq;
  };

  std::vector<ParamGroup> groups_;
  AdamWOptions options_;
  std::vector<std::vector<Moments>> moments_;  // [group][param], allocated on the first step
  int64_t steps_ = 0;
};

}  // namespace ablate::core
