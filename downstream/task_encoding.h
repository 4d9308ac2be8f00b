// How a task's examples become model inputs, and the interface each task kind implements
// (classification_data.cpp, span_data.cpp, choice_data.cpp): encode the examples once, then give
// the loss of a batch of training items, the dev scores of a model and the trivial baseline.
// Also the fixed samples of max_train_examples / max_dev_examples. Internal to downstream/.
#pragma once

#include <torch/types.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/rng.h"
#include "core/batch_tensors.h"
#include "core/bpe_tokenizer.h"
#include "downstream/finetune_config.h"
#include "downstream/finetune_model.h"
#include "downstream/task_data.h"
#include "downstream/task_metrics.h"

namespace ablate::downstream {

// Domains of the fixed train and dev samples, drawn with kFixedSampleSeed (base/rng.h) so every
// run and every fine-tuning seed of a grid sees the same examples.
constexpr uint64_t kTrainSampleDomain = 0x74726169;  // "trai"
constexpr uint64_t kDevSampleDomain = 0x64657673;    // "devs"

// One model input: ids and segment ids, unpadded.
struct Sequence {
  std::vector<int64_t> ids, segments;
};

struct Specials {
  int64_t bos, eos, pad;
};

// <s> A </s> for one text, RoBERTa's <s> A </s></s> B </s> for two, shortening the longer text
// first until the sequence fits (BERT's truncate_seq_pair). B's part gets segment 1 from its
// leading </s>, as B did in NSP pretraining (models without segments ignore them).
Sequence Pack(std::vector<core::TokenId> a, std::vector<core::TokenId> b, bool pair,
              int64_t seq_len, const Specials& s);

// Pads the rows to the longest one, as the model reads them.
core::BatchTensors PadBatch(const std::vector<const Sequence*>& rows, int64_t pad_id,
                            torch::Device device);

template <typename T>
void Shuffle(std::vector<T>& items, Rng& rng) {
  for (size_t i = items.size(); i > 1; --i) std::swap(items[i - 1], items[rng.Below(i)]);
}

// The indices of a fixed random sample of `limit` of `size` items, in their original order.
std::vector<size_t> Sample(size_t size, int64_t limit, uint64_t domain);

template <typename T>
std::vector<T> Pick(const std::vector<T>& items, int64_t limit, uint64_t domain) {
  std::vector<T> out;
  for (size_t i : Sample(items.size(), limit, domain)) out.push_back(items[i]);
  return out;
}

// A model's scores on the dev set: the metrics in percent and, for the metrics that are means
// over examples, each dev example's outcome (task_metrics.h).
struct DevScores {
  std::map<std::string, double> metrics;
  ExampleOutcomesByMetric examples;
};

class TaskData {
 public:
  virtual ~TaskData() = default;
  virtual int64_t TrainItems() const = 0;
  // Tokens of a training item (its longest sequence), for batching items of similar length.
  virtual int64_t TrainLength(int64_t item) const = 0;
  virtual int64_t DevExamples() const = 0;
  // Mean loss over the training items `items`.
  virtual torch::Tensor Loss(FinetuneModel& model, const std::vector<int64_t>& items) = 0;
  // Dev scores; the model is in eval mode and gradients are off.
  virtual DevScores Evaluate(FinetuneModel& model) = 0;
  // The dev metrics of a trivial constant prediction on the same dev examples, so a score can
  // be read against what learning nothing gets.
  virtual std::map<std::string, double> Baseline() const = 0;
};

// The most frequent label (the smallest on a tie).
int Majority(const std::vector<int>& labels);

// Classification baselines: the training set's majority class for every metric, except F1 (of
// class 1), where always predicting the positive class is the informative constant (the majority
// class of a rare topic scores an F1 of 0).
std::map<std::string, double> ConstantBaseline(const std::vector<int>& train_labels,
                                               const std::vector<int>& dev_labels,
                                               const std::vector<std::string>& metrics);

struct Context {
  core::BpeTokenizer* tokenizer;
  Specials specials;
  int64_t seq_len, batch_size;
  torch::Device device;
};

// Indices 0..n-1 sorted by length, so evaluation batches carry little padding.
template <typename Length>
std::vector<int64_t> ByLength(int64_t n, Length length) {
  std::vector<int64_t> order(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) order[static_cast<size_t>(i)] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t a, int64_t b) { return length(a) < length(b); });
  return order;
}

std::unique_ptr<TaskData> EncodeClassification(const Task& task, const FinetuneConfig& config,
                                               const Context& context);
std::unique_ptr<TaskData> EncodeSpans(const Task& task, const FinetuneConfig& config,
                                      const Context& context);
std::unique_ptr<TaskData> EncodeChoices(const Task& task, const FinetuneConfig& config,
                                        const Context& context);
// The encoding of `task`'s kind.
std::unique_ptr<TaskData> EncodeTask(const Task& task, const FinetuneConfig& config,
                                     const Context& context);

}  // namespace ablate::downstream
