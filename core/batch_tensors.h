// Turns a data-layer Batch (batcher.h) into the tensors the model reads, precomputing on the host
// what would otherwise need a device sync (the flat indices of the masked positions, whether any
// row is padded), and splits a batch into micro-batches. It runs no model and draws no masks.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "core/batcher.h"

namespace ablate::core {

struct BatchTensors {
  torch::Tensor input_ids;         // (B, T) int64
  torch::Tensor segment_ids;       // (B, T) int64; 0 throughout for formats without NSP
  torch::Tensor lengths;           // (B) int64, tokens before padding
  torch::Tensor labels;            // (B, T) int64; kIgnoreLabel where not predicted
  torch::Tensor masked_positions;  // (N) int64: b * T + t of each predicted position, ascending
  torch::Tensor masked_labels;     // (N) int64: the label at each of those positions
  torch::Tensor nsp_labels;        // (B) int64, kNoNspLabel rows ignored; undefined without NSP
  int64_t predictions = 0;         // N
  int64_t nsp_rows = 0;            // rows with an NSP label
  bool padded = false;             // some row is shorter than T, so attention needs a mask
};

// The device a config names: "cpu", or "cuda" when this LibTorch has one. Throws InputError
// (path --device) otherwise.
torch::Device ResolveDevice(const std::string& name);

// Copies `batch` into int64 tensors on `device`. Rows must hold at least one token.
BatchTensors ToTensors(const Batch& batch, torch::Device device);

// Splits the rows of `batch` into `parts` contiguous micro-batches whose sizes differ by at most
// one, each trimmed to its own longest row (1 <= parts <= rows).
std::vector<Batch> SplitBatch(const Batch& batch, int64_t parts);

// The rows `rows` of `batch`, in that order, trimmed to their own longest row.
Batch SelectRows(const Batch& batch, const std::vector<size_t>& rows);

}  // namespace ablate::core
