// The pretraining settings of one run, grouped as a grid groups its parameters (data.*, model.*,
// train.*, optim.*, eval.*). The values come from experiments' parameter table, which holds every
// default: fields here start at zero or empty and are filled by experiments::DefaultRunConfig or
// a run's parameters. The one default written here is the paper's BERT-BASE model (kBertBase),
// which the table and ModelOptions (core/model.h, LibTorch) share. No checks live here
// (experiments::Validate does them) and no LibTorch.
#pragma once

#include <cstdint>
#include <string>

#include "core/input_format.h"
#include "core/masking.h"

namespace ablate::core {

// data.*: what a run reads and how it is cut into sequences and masked.
struct DataConfig {
  std::string corpus;
  std::string tokenizer;
  InputFormat format{};
  MaskingMode masking{};
  int static_copies = 0;
  double mask_prob = 0;
  int seq_len = 0;
  double short_seq_prob = 0;
  uint64_t max_tokens = 0;  // 0 = the whole training split

  bool operator==(const DataConfig&) const = default;
};

// model.*: sizes; vocabulary, positions and segments follow the data (tokenizer, seq_len, format).
struct ModelConfig {
  int64_t layers = 0, hidden = 0, heads = 0, ffn = 0;
  double dropout = 0, attention_dropout = 0;

  bool operator==(const ModelConfig&) const = default;
};

// BERT-BASE (L = 12, H = 768, A = 12), the paper's baseline model (Liu et al. 2019): what a grid
// trains when it names no model.*, and ModelOptions::Base(). Written once, here, for the parameter
// table's defaults and ModelOptions' alike.
inline constexpr ModelConfig kBertBase = {.layers = 12,
                                          .hidden = 768,
                                          .heads = 12,
                                          .ffn = 3072,
                                          .dropout = 0.1,
                                          .attention_dropout = 0.1};
// Its sequences of at most T = 512 tokens, and so its positions: data.seq_len's default.
inline constexpr int kBertBaseSeqLen = 512;

// train.precision: what the forward passes compute in. kBf16 runs them under bf16 autocast
// (matmuls and attention in bf16; weights, gradients, AdamW moments, losses and every
// evaluation in fp32), as Python's `torch.autocast(device, dtype=torch.bfloat16)`.
enum class Precision { kFp32, kBf16 };

// train.*: the update loop.
struct LoopConfig {
  uint64_t batch_size = 0;       // sequences per update (a token budget for token-filled formats)
  int64_t micro_batch = 0;       // sequences per forward/backward; 0 = chosen to fit
  int64_t steps = 0;             // updates
  int64_t checkpoint_every = 0;  // 0 = only at the end
  double grad_clip = 0;          // 0 = off
  Precision precision = Precision::kFp32;

  bool operator==(const LoopConfig&) const = default;
};

// optim.*: AdamW with linear warmup and linear decay.
struct OptimConfig {
  double lr = 0, beta1 = 0, beta2 = 0, eps = 0, weight_decay = 0;
  int64_t warmup_steps = 0;

  bool operator==(const OptimConfig&) const = default;
};

// BERT's Adam settings (Devlin et al. 2019; RoBERTa's large-batch runs set beta2 = 0.98): the
// parameter table's optim.* defaults, AdamWOptions' (core/optimizer.h) and AdamWScalars'
// (core/fused_ops.h). The learning rate and warmup are the parameter table's alone.
inline constexpr OptimConfig kBertAdamW = {
    .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-6, .weight_decay = 0.01};

// BERT's share of tokens selected for prediction: data.mask_prob's default, and the share the
// memory plan (core/memory_plan.h) assumes when it is not told.
inline constexpr double kBertMaskProb = 0.15;

// eval.* as pretraining uses it: validation on held-out documents.
struct ValidationConfig {
  int64_t every = 0;      // 0 = only at the end
  int64_t sequences = 0;  // held-out sequences scored, exactly (0 = all)
  // The corpora whose held-out documents every run is scored on, comma-separated ("" = the
  // training corpus), so runs on different corpora can be compared on one text: the first gives
  // valid/*, each further one valid-<corpus>/* (EvalCorpora).
  std::string corpus;

  bool operator==(const ValidationConfig&) const = default;
};

// eval.corpus as a list: "books, mixture" -> {"books", "mixture"}; "" -> {}. Throws InputError
// (path eval.corpus) on an empty entry or a corpus named twice.
std::vector<std::string> EvalCorpora(const std::string& list);

struct TrainConfig {
  uint64_t seed = 0;
  DataConfig data;
  ModelConfig model;
  LoopConfig train;
  OptimConfig optim;
  ValidationConfig eval;
  // How to execute, not what to compute: not run parameters.
  std::string device = "cpu";  // "cpu" or "cuda"
  int threads = 0;             // CPU threads for LibTorch (0 = its default)

  bool operator==(const TrainConfig&) const = default;
};

}  // namespace ablate::core
