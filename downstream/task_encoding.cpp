#include "downstream/task_encoding.h"

#include "base/error.h"
#include "downstream/task_metrics.h"

namespace ablate::downstream {

using namespace ablate::core;

// <s> A </s> for one text, RoBERTa's <s> A </s></s> B </s> for two, shortening the longer text
// first until the sequence fits (BERT's truncate_seq_pair). B's part gets segment 1 from its
// leading </s>, as B did in NSP pretraining (models without segments ignore them).
Sequence Pack(std::vector<TokenId> a, std::vector<TokenId> b, bool pair, int64_t seq_len,
              const Specials& s) {
  const size_t room = static_cast<size_t>(seq_len - (pair ? 4 : 2));
  while (a.size() + b.size() > room) (a.size() >= b.size() ? a : b).pop_back();
  Sequence out;
  auto add = [&](int64_t id, int64_t segment) {
    out.ids.push_back(id);
    out.segments.push_back(segment);
  };
  add(s.bos, 0);
  for (TokenId id : a) add(id, 0);
  add(s.eos, 0);
  if (pair) {
    add(s.eos, 1);
    for (TokenId id : b) add(id, 1);
    add(s.eos, 1);
  }
  return out;
}

// Pads the rows to the longest one, as the model reads them.
BatchTensors PadBatch(const std::vector<const Sequence*>& rows, int64_t pad_id,
                      torch::Device device) {
  const auto batch = static_cast<int64_t>(rows.size());
  int64_t cols = 0;
  for (const auto* row : rows) cols = std::max<int64_t>(cols, std::ssize(row->ids));
  auto ids = torch::full({batch, cols}, pad_id, torch::kLong);
  auto segments = torch::zeros({batch, cols}, torch::kLong);
  auto lengths = torch::empty({batch}, torch::kLong);
  BatchTensors out;
  for (int64_t r = 0; r < batch; ++r) {
    const Sequence& row = *rows[r];
    const auto n = std::ssize(row.ids);
    std::copy(row.ids.begin(), row.ids.end(), ids.data_ptr<int64_t>() + r * cols);
    std::copy(row.segments.begin(), row.segments.end(), segments.data_ptr<int64_t>() + r * cols);
    lengths.data_ptr<int64_t>()[r] = n;
    out.padded = out.padded || n < cols;
  }
  out.input_ids = ids.to(device);
  out.segment_ids = segments.to(device);
  out.lengths = lengths.to(device);
  return out;
}

// The indices of a fixed random sample of `limit` of `size` items, in their original order.
std::vector<size_t> Sample(size_t size, int64_t limit, uint64_t domain) {
  std::vector<size_t> order(size);
  for (size_t i = 0; i < size; ++i) order[i] = i;
  if (limit <= 0 || static_cast<size_t>(limit) >= size) return order;
  Rng rng({kFixedSampleSeed, domain});
  Shuffle(order, rng);
  order.resize(static_cast<size_t>(limit));
  std::sort(order.begin(), order.end());
  return order;
}

// The most frequent label (the smallest on a tie).
int Majority(const std::vector<int>& labels) {
  std::map<int, int64_t> counts;
  for (int label : labels) ++counts[label];
  int best = 0;
  int64_t most = -1;
  for (const auto& [label, n] : counts) {
    if (n > most) {
      best = label;
      most = n;
    }
  }
  return best;
}

// Classification baselines: the training set's majority class for every metric, except F1 (of
// class 1), where always predicting the positive class is the informative constant (the majority
// class of a rare topic scores an F1 of 0).
std::map<std::string, double> ConstantBaseline(const std::vector<int>& train_labels,
                                               const std::vector<int>& dev_labels,
                                               const std::vector<std::string>& metrics) {
  auto scores = ScoreClassification(
      dev_labels, std::vector<int>(dev_labels.size(), Majority(train_labels)), metrics);
  if (scores.count(kMetricF1) != 0) {
    scores[kMetricF1] =
        ScoreClassification(dev_labels, std::vector<int>(dev_labels.size(), 1), {kMetricF1})
            .at(kMetricF1);
  }
  return scores;
}

std::unique_ptr<TaskData> EncodeTask(const Task& task, const FinetuneConfig& config,
                                     const Context& context) {
  switch (task.kind) {
    case TaskKind::kClassification:
      return EncodeClassification(task, config, context);
    case TaskKind::kSpan:
      return EncodeSpans(task, config, context);
    case TaskKind::kMultipleChoice:
      return EncodeChoices(task, config, context);
  }
  throw InternalError("unknown task kind");
}

}  // namespace ablate::downstream
