#include "core/batch_tensors.h"

#include <torch/cuda.h>

#include <algorithm>
#include <string>

#include "base/error.h"
#include "core/input_format.h"
#include "core/masking.h"

namespace ablate::core {
namespace {

template <typename T>
torch::Tensor ToLong(const std::vector<T>& values, torch::IntArrayRef shape) {
  auto out = torch::empty(shape, torch::kLong);
  std::copy(values.begin(), values.end(), out.data_ptr<int64_t>());
  return out;
}

void CheckShape(const Batch& batch) {
  const auto cells = static_cast<size_t>(batch.rows * batch.cols);
  const auto rows = static_cast<size_t>(batch.rows);
  ABLATE_CHECK(batch.input_ids.size() == cells && batch.labels.size() == cells &&
                   batch.segment_ids.size() == cells && batch.lengths.size() == rows &&
                   batch.nsp_labels.size() == rows,
               "batch of " + std::to_string(batch.rows) + "x" + std::to_string(batch.cols) +
                   " has vectors of the wrong size");
  for (int32_t length : batch.lengths) {
    // A row without tokens would leave attention nothing to attend to (a softmax of -inf's).
    ABLATE_CHECK(length >= 1 && length <= batch.cols, "row length out of range");
  }
}

}  // namespace

torch::Device ResolveDevice(const std::string& name) {
  if (name == "cpu") return torch::kCPU;
  if (name == "cuda") {
    if (!torch::cuda::is_available()) {
      throw InputError("", "--device",
                       "cuda: this ablate's LibTorch sees no CUDA device (Debian's libtorch-dev "
                       "is CPU-only): build against a CUDA LibTorch on a GPU machine, see the "
                       "CUDA section of docs/running.md");
    }
    return torch::kCUDA;
  }
  throw InputError("", "--device", "unknown device \"" + name + "\": expected cpu or cuda");
}

BatchTensors ToTensors(const Batch& batch, torch::Device device) {
  CheckShape(batch);
  const int64_t rows = batch.rows, cols = batch.cols;
  BatchTensors out;
  out.input_ids = ToLong(batch.input_ids, {rows, cols});
  out.segment_ids = ToLong(batch.segment_ids, {rows, cols});
  out.lengths = ToLong(batch.lengths, {rows});
  out.labels = ToLong(batch.labels, {rows, cols});

  std::vector<int64_t> positions, labels;
  for (int64_t i = 0; i < rows * cols; ++i) {
    if (batch.labels[i] == kIgnoreLabel) continue;
    positions.push_back(i);
    labels.push_back(batch.labels[i]);
  }
  out.predictions = static_cast<int64_t>(positions.size());
  out.masked_positions = ToLong(positions, {out.predictions});
  out.masked_labels = ToLong(labels, {out.predictions});

  out.nsp_rows = std::count_if(batch.nsp_labels.begin(), batch.nsp_labels.end(),
                               [](int8_t label) { return label != kNoNspLabel; });
  if (out.nsp_rows > 0) out.nsp_labels = ToLong(batch.nsp_labels, {rows});
  out.padded = std::any_of(batch.lengths.begin(), batch.lengths.end(),
                           [cols](int32_t length) { return length < cols; });

  if (!device.is_cpu()) {
    for (auto* t : {&out.input_ids, &out.segment_ids, &out.lengths, &out.labels,
                    &out.masked_positions, &out.masked_labels, &out.nsp_labels}) {
      if (t->defined()) *t = t->to(device);
    }
  }
  return out;
}

namespace {

// Rows `rows` of `batch`, in that order, trimmed to their longest.
Batch CopyRows(const Batch& batch, const std::vector<size_t>& rows) {
  Batch micro;
  micro.rows = static_cast<int64_t>(rows.size());
  micro.epoch = batch.epoch;
  for (const size_t r : rows) micro.cols = std::max<int64_t>(micro.cols, batch.lengths[r]);
  for (const size_t r : rows) {
    const auto at = static_cast<ptrdiff_t>(r) * batch.cols;
    micro.input_ids.insert(micro.input_ids.end(), batch.input_ids.begin() + at,
                           batch.input_ids.begin() + at + micro.cols);
    micro.labels.insert(micro.labels.end(), batch.labels.begin() + at,
                        batch.labels.begin() + at + micro.cols);
    micro.segment_ids.insert(micro.segment_ids.end(), batch.segment_ids.begin() + at,
                             batch.segment_ids.begin() + at + micro.cols);
    micro.lengths.push_back(batch.lengths[r]);
    micro.nsp_labels.push_back(batch.nsp_labels[r]);
    if (!batch.first_tokens.empty()) micro.first_tokens.push_back(batch.first_tokens[r]);
    micro.tokens += batch.lengths[r];
  }
  micro.predictions = std::count_if(micro.labels.begin(), micro.labels.end(),
                                    [](int32_t label) { return label != kIgnoreLabel; });
  return micro;
}

}  // namespace

std::vector<Batch> SplitBatch(const Batch& batch, int64_t parts) {
  CheckShape(batch);
  ABLATE_CHECK(parts >= 1 && parts <= batch.rows, "cannot split " + std::to_string(batch.rows) +
                                                      " rows into " + std::to_string(parts) +
                                                      " micro-batches");
  std::vector<Batch> out;
  size_t begin = 0;
  for (int64_t part = 0; part < parts; ++part) {
    const auto rows = static_cast<size_t>(batch.rows / parts + (part < batch.rows % parts ? 1 : 0));
    std::vector<size_t> picked(rows);
    for (size_t i = 0; i < rows; ++i) picked[i] = begin + i;
    out.push_back(CopyRows(batch, picked));
    begin += rows;
  }
  return out;
}

Batch SelectRows(const Batch& batch, const std::vector<size_t>& rows) {
  CheckShape(batch);
  for (const size_t r : rows)
    ABLATE_CHECK(r < static_cast<size_t>(batch.rows),
                 "row " + std::to_string(r) + " of a batch of " + std::to_string(batch.rows));
  return CopyRows(batch, rows);
}

}  // namespace ablate::core
