// How many sequences a micro-batch may hold: training keeps each layer's activations for the
// backward pass, so a micro-batch's memory grows with its tokens. An estimate from the model's
// sizes, set against the memory this process may still use (physical memory, a cgroup's limit,
// an address-space limit). It allocates nothing and needs no LibTorch.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/train_config.h"

namespace ablate::core {

struct ActivationSizes {
  int64_t layers = 0, hidden = 0, heads = 0, ffn = 0, vocab_size = 0, seq_len = 0;
  double mask_prob = kBertMaskProb;
};

// Bytes of float32 activations kept for the backward pass per token of a micro-batch: per layer
// the q/k/v projections, attention output, residuals and LayerNorms (about 12 x hidden), the
// feed-forward's two inner tensors (2 x ffn) and the attention probabilities with their dropout
// mask (2 x heads x seq_len), plus the MLM head's logits at the masked positions.
double ActivationBytesPerToken(const ActivationSizes& sizes);

// What this process may still allocate: the least of /proc/meminfo's MemAvailable, the cgroup's
// memory.max less memory.current, and RLIMIT_AS less the address space in use. nullopt when none
// can be read.
std::optional<uint64_t> AvailableMemoryBytes();

struct MicroBatchChoice {
  int64_t sequences = 1;
  double bytes_needed = 0;  // estimated activations of one micro-batch of that many sequences
  std::string reason;       // how it was chosen, for the run's log
};

// With `requested` 0, the largest micro-batch (at most `cap` sequences) whose activations fit in
// half of `available` after `fixed_bytes` (weights, gradients, AdamW moments); with `requested`
// > 0, that one, or InputError (train.micro_batch) saying what it needs and what there is.
MicroBatchChoice ChooseMicroBatch(int64_t requested, int64_t cap, double bytes_per_sequence,
                                  double fixed_bytes, std::optional<uint64_t> available);

}  // namespace ablate::core
