#include "core/finetune.h"

#include <torch/nn/modules/linear.h>
#include <torch/utils.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>

#include "base/atomic_file.h"
#include "core/batch_tensors.h"
#include "base/error.h"
#include "core/fused_ops.h"
#include "core/model.h"
#include "base/number_text.h"
#include "core/optimizer.h"
#include "base/rng.h"
#include "core/task_metrics.h"

namespace ablate::core {
namespace fs = std::filesystem;
namespace {

using Clock = std::chrono::steady_clock;

// The train and dev samples (max_*_examples) are drawn with a fixed seed, so every run and every
// fine-tuning seed of a grid sees the same examples.
constexpr uint64_t kSampleSeed = 20190726;
constexpr uint64_t kTrainSampleDomain = 0x74726169;  // "trai"
constexpr uint64_t kDevSampleDomain = 0x64657673;    // "devs"
constexpr uint64_t kShuffleDomain = 0x73687566;      // "shuf"
constexpr uint64_t kInitDomain = 0x696e6974;         // "init"
// BERT's run_squad.py limits: question tokens, and answer length in tokens.
constexpr int64_t kMaxQuestionTokens = 64;
constexpr int64_t kMaxAnswerTokens = 30;
// Unit files from an older layout are recomputed, not misread.
constexpr int kUnitFormatVersion = 1;

// ---------------------------------------------------------------------------------------------
// Heads

// RoBERTa's sentence classification head (fairseq's RobertaClassificationHead): on the first
// token's final hidden state, dropout, dense + tanh, dropout, projection. Multiple choice uses it
// with one output: a score per (context, option) sequence.
struct ClassificationHeadImpl : torch::nn::Module {
  ClassificationHeadImpl(int64_t hidden, int64_t outputs, double dropout)
      : dense_(register_module("dense", torch::nn::Linear(hidden, hidden))),
        out_proj_(register_module("out_proj", torch::nn::Linear(hidden, outputs))),
        dropout_(dropout) {}

  torch::Tensor forward(const torch::Tensor& first) {  // (B, H) -> (B, outputs)
    auto x = torch::tanh(dense_(Dropout(first, dropout_, is_training())));
    return out_proj_(Dropout(x, dropout_, is_training()));
  }

  torch::nn::Linear dense_, out_proj_;
  double dropout_;
};
TORCH_MODULE(ClassificationHead);

// BERT's SQuAD head: a start and an end logit for every position.
struct SpanHeadImpl : torch::nn::Module {
  explicit SpanHeadImpl(int64_t hidden)
      : proj_(register_module("proj", torch::nn::Linear(hidden, 2))) {}

  torch::Tensor forward(const torch::Tensor& hidden) { return proj_(hidden); }  // (.., 2)

  torch::nn::Linear proj_;
};
TORCH_MODULE(SpanHead);

// The pretrained encoder with one task head, initialized as BERT initializes its heads.
struct FinetuneModelImpl : torch::nn::Module {
  FinetuneModelImpl(const ModelOptions& options, TaskKind kind, int64_t outputs)
      : encoder_(register_module("encoder", BertModel(options))) {
    if (kind == TaskKind::kSpan) {
      span_ = register_module("span_head", SpanHead(options.hidden));
    } else {
      classifier_ = register_module("classification_head",
                                    ClassificationHead(options.hidden, outputs, options.dropout));
    }
    torch::NoGradGuard no_grad;
    torch::nn::Module& head = span_ ? static_cast<torch::nn::Module&>(*span_) : *classifier_;
    for (auto& item : head.named_parameters()) {
      if (item.key().ends_with("bias")) {
        item.value().zero_();
      } else {
        item.value().normal_(0, options.init_std);
      }
    }
  }

  // Classification: (B, outputs) logits; multiple choice: (B) scores; spans: (B, T, 2) logits.
  torch::Tensor forward(const BatchTensors& batch) {
    const int64_t rows = batch.input_ids.size(0), positions = batch.input_ids.size(1);
    auto hidden = encoder_->Encode(batch).view({rows, positions, -1});  // (B, T, H)
    if (span_) return span_(hidden);
    auto out = classifier_(hidden.select(1, 0));
    return out.size(1) == 1 ? out.squeeze(1) : out;
  }

  BertModel encoder_;
  ClassificationHead classifier_{nullptr};
  SpanHead span_{nullptr};
};
TORCH_MODULE(FinetuneModel);

// ---------------------------------------------------------------------------------------------
// Inputs

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

template <typename T>
void Shuffle(std::vector<T>& items, Rng& rng) {
  for (size_t i = items.size(); i > 1; --i) std::swap(items[i - 1], items[rng.Below(i)]);
}

// The indices of a fixed random sample of `limit` of `size` items, in their original order.
std::vector<size_t> Sample(size_t size, int64_t limit, uint64_t domain) {
  std::vector<size_t> order(size);
  for (size_t i = 0; i < size; ++i) order[i] = i;
  if (limit <= 0 || static_cast<size_t>(limit) >= size) return order;
  Rng rng({kSampleSeed, domain});
  Shuffle(order, rng);
  order.resize(static_cast<size_t>(limit));
  std::sort(order.begin(), order.end());
  return order;
}

template <typename T>
std::vector<T> Pick(const std::vector<T>& items, int64_t limit, uint64_t domain) {
  std::vector<T> out;
  for (size_t i : Sample(items.size(), limit, domain)) out.push_back(items[i]);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Task data: each kind encodes its examples once, then gives the loss of a batch of training
// items and the dev metrics of a model.

class TaskData {
 public:
  virtual ~TaskData() = default;
  virtual int64_t TrainItems() const = 0;
  // Tokens of a training item (its longest sequence), for batching items of similar length.
  virtual int64_t TrainLength(int64_t item) const = 0;
  virtual int64_t DevExamples() const = 0;
  // Mean loss over the training items `items`.
  virtual torch::Tensor Loss(FinetuneModel& model, const std::vector<int64_t>& items) = 0;
  // Dev metrics in percent; the model is in eval mode and gradients are off.
  virtual std::map<std::string, double> Evaluate(FinetuneModel& model) = 0;
  // The dev metrics of a trivial constant prediction on the same dev examples, so a score can
  // be read against what learning nothing gets.
  virtual std::map<std::string, double> Baseline() const = 0;
};

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
  if (scores.count("f1") != 0) {
    scores["f1"] =
        ScoreClassification(dev_labels, std::vector<int>(dev_labels.size(), 1), {"f1"}).at("f1");
  }
  return scores;
}

struct Context {
  BpeTokenizer* tokenizer;
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

class ClassificationData : public TaskData {
 public:
  ClassificationData(const Task& task, const FinetuneConfig& config, const Context& context)
      : context_(context), metrics_(task.metrics) {
    Encode(Pick(task.train.classification, config.max_train_examples, kTrainSampleDomain), train_,
           train_labels_);
    Encode(Pick(task.dev.classification, config.max_dev_examples, kDevSampleDomain), dev_,
           dev_labels_);
  }

  int64_t TrainItems() const override { return std::ssize(train_); }
  int64_t TrainLength(int64_t item) const override { return std::ssize(train_[item].ids); }
  int64_t DevExamples() const override { return std::ssize(dev_); }

  torch::Tensor Loss(FinetuneModel& model, const std::vector<int64_t>& items) override {
    std::vector<const Sequence*> rows;
    std::vector<int64_t> labels;
    for (int64_t i : items) {
      rows.push_back(&train_[i]);
      labels.push_back(train_labels_[i]);
    }
    auto logits = model->forward(PadBatch(rows, context_.specials.pad, context_.device));
    auto target = torch::tensor(labels, torch::kLong).to(context_.device);
    return torch::cross_entropy_loss(logits, target);
  }

  std::map<std::string, double> Evaluate(FinetuneModel& model) override {
    std::vector<int> predicted(dev_.size());
    auto order = ByLength(std::ssize(dev_), [&](int64_t i) { return dev_[i].ids.size(); });
    for (size_t begin = 0; begin < order.size(); begin += context_.batch_size) {
      const size_t end = std::min(order.size(), begin + context_.batch_size);
      std::vector<const Sequence*> rows;
      for (size_t k = begin; k < end; ++k) rows.push_back(&dev_[order[k]]);
      auto best =
          model->forward(PadBatch(rows, context_.specials.pad, context_.device)).argmax(1).cpu();
      for (size_t k = begin; k < end; ++k)
        predicted[order[k]] =
            static_cast<int>(best[static_cast<int64_t>(k - begin)].item<int64_t>());
    }
    return ScoreClassification(dev_labels_, predicted, metrics_);
  }

  std::map<std::string, double> Baseline() const override {
    return ConstantBaseline(train_labels_, dev_labels_, metrics_);
  }

 private:
  void Encode(const std::vector<ClassificationExample>& examples, std::vector<Sequence>& out,
              std::vector<int>& labels) {
    for (const auto& e : examples) {
      const bool pair = !e.text_b.empty();
      out.push_back(Pack(context_.tokenizer->Encode(e.text_a),
                         pair ? context_.tokenizer->Encode(e.text_b) : std::vector<TokenId>{}, pair,
                         context_.seq_len, context_.specials));
      labels.push_back(e.label);
    }
  }

  Context context_;
  std::vector<std::string> metrics_;
  std::vector<Sequence> train_, dev_;
  std::vector<int> train_labels_, dev_labels_;
};

// SQuAD as BERT's run_squad.py: <s> question </s></s> context window </s>, windows every
// doc_stride tokens over a long context; the answer's first and last tokens are the targets, and
// <s> (position 0) is the target of a window without the answer, and of an unanswerable question.
class SpanData : public TaskData {
 public:
  SpanData(const Task& task, const FinetuneConfig& config, const Context& context)
      : context_(context), allows_no_answer_(task.allows_no_answer) {
    for (const auto& e : Pick(task.train.spans, config.max_train_examples, kTrainSampleDomain))
      AddWindows(e, config.doc_stride, -1, train_);
    dev_examples_ = Pick(task.dev.spans, config.max_dev_examples, kDevSampleDomain);
    for (size_t i = 0; i < dev_examples_.size(); ++i)
      AddWindows(dev_examples_[i], config.doc_stride, static_cast<int64_t>(i), dev_);
  }

  int64_t TrainItems() const override { return std::ssize(train_); }
  int64_t TrainLength(int64_t item) const override { return std::ssize(train_[item].sequence.ids); }
  int64_t DevExamples() const override { return std::ssize(dev_examples_); }

  torch::Tensor Loss(FinetuneModel& model, const std::vector<int64_t>& items) override {
    std::vector<const Sequence*> rows;
    std::vector<int64_t> starts, ends;
    for (int64_t i : items) {
      rows.push_back(&train_[i].sequence);
      starts.push_back(train_[i].target_start);
      ends.push_back(train_[i].target_end);
    }
    auto batch = PadBatch(rows, context_.specials.pad, context_.device);
    auto logits = MaskPadding(model->forward(batch), batch);  // (B, T, 2)
    auto start = torch::tensor(starts, torch::kLong).to(context_.device);
    auto end = torch::tensor(ends, torch::kLong).to(context_.device);
    return (torch::cross_entropy_loss(logits.select(2, 0), start) +
            torch::cross_entropy_loss(logits.select(2, 1), end)) /
           2;
  }

  std::map<std::string, double> Evaluate(FinetuneModel& model) override {
    std::vector<Candidate> best(dev_examples_.size());
    auto order = ByLength(std::ssize(dev_), [&](int64_t i) { return dev_[i].sequence.ids.size(); });
    for (size_t begin = 0; begin < order.size(); begin += context_.batch_size) {
      const size_t end = std::min(order.size(), begin + context_.batch_size);
      std::vector<const Sequence*> rows;
      for (size_t k = begin; k < end; ++k) rows.push_back(&dev_[order[k]].sequence);
      auto logits = model->forward(PadBatch(rows, context_.specials.pad, context_.device))
                        .to(torch::kCPU, torch::kDouble)
                        .contiguous();  // (B, T, 2)
      for (size_t k = begin; k < end; ++k)
        Consider(dev_[order[k]], logits[static_cast<int64_t>(k - begin)], best);
    }
    std::vector<std::string> predictions;
    for (size_t i = 0; i < dev_examples_.size(); ++i) {
      const Candidate& c = best[i];
      const bool none = c.text_start < 0 || (allows_no_answer_ && c.null_score > c.score);
      predictions.push_back(none ? "" : Answer(dev_examples_[i].context, c));
    }
    return ScoreSpans(dev_examples_, predictions);
  }

  // Always answering nothing: 0 on SQuAD 1.1, the share of unanswerable questions on 2.0.
  std::map<std::string, double> Baseline() const override {
    return ScoreSpans(dev_examples_, std::vector<std::string>(dev_examples_.size()));
  }

 private:
  struct Window {
    Sequence sequence;
    int64_t target_start = 0, target_end = 0;  // training targets (positions in the sequence)
    int64_t example = -1;                      // dev: the example's index
    int64_t context_begin = 0;                 // position of the window's first context token
    std::vector<int64_t> offsets;  // byte offset of each window token in the context, then its end
  };
  struct Candidate {
    double score = -std::numeric_limits<double>::infinity();
    double null_score = std::numeric_limits<double>::infinity();
    int64_t text_start = -1, text_end = -1;  // bytes of the context
  };

  void AddWindows(const SpanExample& e, int64_t doc_stride, int64_t example,
                  std::vector<Window>& out) {
    auto question = context_.tokenizer->Encode(e.question);
    const int64_t max_question = std::min(kMaxQuestionTokens, context_.seq_len / 4);
    if (std::ssize(question) > max_question) question.resize(static_cast<size_t>(max_question));
    auto tokens = context_.tokenizer->Encode(e.context);
    // Byte-level BPE tokens tile the text, so their byte lengths give each token's offset.
    std::vector<int64_t> offsets = {0};
    for (TokenId id : tokens)
      offsets.push_back(offsets.back() + std::ssize(context_.tokenizer->TokenBytes(id)));
    const int64_t n = std::ssize(tokens);
    const int64_t room = context_.seq_len - std::ssize(question) - 4;
    const int64_t stride = std::min(room, doc_stride > 0 ? doc_stride : context_.seq_len / 3);
    int64_t answer_first = -1, answer_last = -1;  // tokens of the (first) answer
    if (!e.impossible && !e.answers.empty()) {
      const int64_t a = e.answers.front().start;
      const int64_t b = a + std::ssize(e.answers.front().text);
      for (int64_t t = 0; t < n; ++t) {
        if (answer_first < 0 && offsets[t + 1] > a) answer_first = t;
        if (offsets[t] < b) answer_last = t;
      }
    }
    for (int64_t begin = 0;; begin += stride) {
      const int64_t length = std::min(room, n - begin);
      Window w;
      w.example = example;
      w.context_begin = std::ssize(question) + 3;
      w.sequence = Pack(
          question, std::vector<TokenId>(tokens.begin() + begin, tokens.begin() + begin + length),
          true, context_.seq_len, context_.specials);
      w.offsets.assign(offsets.begin() + begin, offsets.begin() + begin + length + 1);
      if (answer_first >= begin && answer_last < begin + length && answer_first <= answer_last) {
        w.target_start = w.context_begin + answer_first - begin;
        w.target_end = w.context_begin + answer_last - begin;
      }
      out.push_back(std::move(w));
      if (begin + length >= n) break;
    }
  }

  torch::Tensor MaskPadding(torch::Tensor logits, const BatchTensors& batch) {
    if (!batch.padded) return logits;
    const int64_t positions = logits.size(1);
    auto pad = torch::arange(positions, batch.lengths.options()).unsqueeze(0) >=
               batch.lengths.unsqueeze(1);  // (B, T)
    return logits.masked_fill(pad.unsqueeze(2), std::numeric_limits<float>::lowest());
  }

  // The window's best span of at most kMaxAnswerTokens context tokens, and its no-answer score
  // (BERT keeps the lowest over a question's windows).
  void Consider(const Window& w, const torch::Tensor& logits, std::vector<Candidate>& best) {
    auto a = logits.accessor<double, 2>();  // (T, 2)
    Candidate& c = best[static_cast<size_t>(w.example)];
    c.null_score = std::min(c.null_score, a[0][0] + a[0][1]);
    const int64_t tokens = std::ssize(w.offsets) - 1;
    for (int64_t i = 0; i < tokens; ++i) {
      for (int64_t j = i; j < std::min(tokens, i + kMaxAnswerTokens); ++j) {
        const double score = a[w.context_begin + i][0] + a[w.context_begin + j][1];
        if (score > c.score) {
          c.score = score;
          c.text_start = w.offsets[i];
          c.text_end = w.offsets[j + 1];
        }
      }
    }
  }

  // The context's bytes of the span, without the whitespace its tokens carry.
  static std::string Answer(const std::string& context, const Candidate& c) {
    std::string text = context.substr(c.text_start, c.text_end - c.text_start);
    const auto first = text.find_first_not_of(" \t\n\r");
    if (first == std::string::npos) return "";
    return text.substr(first, text.find_last_not_of(" \t\n\r") - first + 1);
  }

  Context context_;
  bool allows_no_answer_;
  std::vector<Window> train_, dev_;
  std::vector<SpanExample> dev_examples_;
};

// RACE as fairseq's recipe: one sequence per option, <s> article </s></s> question option </s>
// (the option fills the question's blank "_" when it has one), one score each, and a softmax over
// a question's options.
class ChoiceData : public TaskData {
 public:
  ChoiceData(const Task& task, const FinetuneConfig& config, const Context& context)
      : context_(context), metrics_(task.metrics) {
    train_ = Encode(Pick(task.train.choices, config.max_train_examples, kTrainSampleDomain));
    dev_ = Encode(Pick(task.dev.choices, config.max_dev_examples, kDevSampleDomain));
  }

  int64_t TrainItems() const override { return std::ssize(train_); }
  int64_t TrainLength(int64_t item) const override {
    int64_t longest = 0;
    for (const auto& option : train_[item].options)
      longest = std::max<int64_t>(longest, std::ssize(option.ids));
    return longest;
  }
  int64_t DevExamples() const override { return std::ssize(dev_); }

  torch::Tensor Loss(FinetuneModel& model, const std::vector<int64_t>& items) override {
    std::vector<const Question*> questions;
    for (int64_t i : items) questions.push_back(&train_[i]);
    std::vector<int64_t> labels;
    for (const auto* q : questions) labels.push_back(q->label);
    return torch::cross_entropy_loss(Scores(model, questions),
                                     torch::tensor(labels, torch::kLong).to(context_.device));
  }

  std::map<std::string, double> Evaluate(FinetuneModel& model) override {
    std::vector<int> gold, predicted;
    for (size_t begin = 0; begin < dev_.size(); begin += context_.batch_size) {
      std::vector<const Question*> questions;
      for (size_t i = begin; i < std::min(dev_.size(), begin + context_.batch_size); ++i)
        questions.push_back(&dev_[i]);
      auto best = Scores(model, questions).argmax(1).cpu();
      for (size_t k = 0; k < questions.size(); ++k) {
        gold.push_back(questions[k]->label);
        predicted.push_back(static_cast<int>(best[static_cast<int64_t>(k)].item<int64_t>()));
      }
    }
    return ScoreClassification(gold, predicted, metrics_);
  }

  // Always the option position most often right in training.
  std::map<std::string, double> Baseline() const override {
    std::vector<int> train, dev;
    for (const auto& q : train_) train.push_back(q.label);
    for (const auto& q : dev_) dev.push_back(q.label);
    return ConstantBaseline(train, dev, metrics_);
  }

 private:
  struct Question {
    std::vector<Sequence> options;
    int label = 0;
  };

  std::vector<Question> Encode(const std::vector<ChoiceExample>& examples) {
    std::vector<Question> out;
    for (const auto& e : examples) {
      Question q;
      q.label = e.label;
      auto context = context_.tokenizer->Encode(e.context);
      for (const auto& option : e.options) {
        std::string second = e.question;
        if (auto blank = second.find('_'); blank != std::string::npos) {
          second.replace(blank, 1, option);
        } else {
          second += " " + option;
        }
        q.options.push_back(Pack(context, context_.tokenizer->Encode(second), true,
                                 context_.seq_len, context_.specials));
      }
      out.push_back(std::move(q));
    }
    return out;
  }

  // (Q, most options) scores; a question with fewer options has the lowest float in the rest.
  torch::Tensor Scores(FinetuneModel& model, const std::vector<const Question*>& questions) {
    std::vector<const Sequence*> rows;
    std::vector<int64_t> cells;  // q * width + option of each row
    int64_t width = 0;
    for (const auto* q : questions) width = std::max<int64_t>(width, std::ssize(q->options));
    for (size_t q = 0; q < questions.size(); ++q) {
      for (size_t o = 0; o < questions[q]->options.size(); ++o) {
        rows.push_back(&questions[q]->options[o]);
        cells.push_back(static_cast<int64_t>(q) * width + static_cast<int64_t>(o));
      }
    }
    auto scores = model->forward(PadBatch(rows, context_.specials.pad, context_.device));  // (R)
    auto grid = torch::full({std::ssize(questions) * width}, std::numeric_limits<float>::lowest(),
                            scores.options());
    grid.index_put_({torch::tensor(cells, torch::kLong).to(context_.device)}, scores);
    return grid.view({std::ssize(questions), width});
  }

  Context context_;
  std::vector<std::string> metrics_;
  std::vector<Question> train_, dev_;
};

std::unique_ptr<TaskData> EncodeTask(const Task& task, const FinetuneConfig& config,
                                     const Context& context) {
  switch (task.kind) {
    case TaskKind::kClassification:
      return std::make_unique<ClassificationData>(task, config, context);
    case TaskKind::kSpan:
      return std::make_unique<SpanData>(task, config, context);
    case TaskKind::kMultipleChoice:
      return std::make_unique<ChoiceData>(task, config, context);
  }
  throw InternalError("unknown task kind");
}

// ---------------------------------------------------------------------------------------------
// Units

std::string UnitFileName(double lr, int64_t seed) {
  return "lr" + ShortestText(lr) + "-seed" + std::to_string(seed) + ".json";
}

std::optional<FinetuneUnit> ReadUnit(const fs::path& file, const nlohmann::json& settings) {
  std::ifstream in(file);
  if (!in) return std::nullopt;
  auto j = nlohmann::json::parse(in, nullptr, false);
  if (j.is_discarded() || j.value("settings", nlohmann::json()) != settings) return std::nullopt;
  FinetuneUnit unit;
  unit.lr = j.at("lr").get<double>();
  unit.seed = j.at("seed").get<int64_t>();
  unit.epochs = j.at("epochs").get<std::vector<std::map<std::string, double>>>();
  unit.best_epoch = j.at("best_epoch").get<int64_t>();
  unit.seconds = j.at("seconds").get<double>();
  unit.cached = true;
  if (unit.best_epoch < 1 || unit.best_epoch > std::ssize(unit.epochs)) return std::nullopt;
  return unit;
}

void WriteUnit(const fs::path& file, const nlohmann::json& settings, const FinetuneUnit& unit) {
  nlohmann::json j = {{"lr", unit.lr},           {"seed", unit.seed},
                      {"epochs", unit.epochs},   {"best_epoch", unit.best_epoch},
                      {"seconds", unit.seconds}, {"settings", settings}};
  WriteFileAtomically(file, j.dump(2) + "\n");
}

// An epoch's batches as fairseq's loader builds them for fine-tuning: the items shuffled, sorted
// by length (a stable sort, so equal lengths stay shuffled), cut into batches, and the batches
// visited in random order. Batches of similar lengths carry little padding.
std::vector<std::vector<int64_t>> EpochBatches(const TaskData& data, int64_t batch_size,
                                               int64_t seed, int64_t epoch) {
  Rng rng({static_cast<uint64_t>(seed), kShuffleDomain, static_cast<uint64_t>(epoch)});
  std::vector<int64_t> order(static_cast<size_t>(data.TrainItems()));
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int64_t>(i);
  Shuffle(order, rng);
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t a, int64_t b) { return data.TrainLength(a) < data.TrainLength(b); });
  std::vector<std::vector<int64_t>> batches;
  for (size_t begin = 0; begin < order.size(); begin += static_cast<size_t>(batch_size)) {
    const size_t end = std::min(order.size(), begin + static_cast<size_t>(batch_size));
    batches.emplace_back(order.begin() + static_cast<std::ptrdiff_t>(begin),
                         order.begin() + static_cast<std::ptrdiff_t>(end));
  }
  Shuffle(batches, rng);
  return batches;
}

struct UnitSetup {
  const Task* task;
  const FinetuneConfig* config;
  const ModelOptions* options;
  BertModel* pretrained;
  TaskData* data;
  torch::Device device;
  int64_t outputs;
};

// One fine-tuning run from the pretrained weights; nullopt when stopped.
std::optional<FinetuneUnit> TrainUnit(const UnitSetup& s, double lr, int64_t seed,
                                      FinetuneObserver& observer) {
  const auto started = Clock::now();
  const FinetuneConfig& c = *s.config;
  torch::manual_seed(Mix64(static_cast<uint64_t>(seed) ^ kInitDomain));  // head, then dropout
  FinetuneModel model(*s.options, s.task->kind, s.outputs);
  {
    torch::NoGradGuard no_grad;
    auto source = (*s.pretrained)->named_parameters();
    for (auto& item : model->encoder_->named_parameters()) item.value().copy_(source[item.key()]);
  }
  model->to(s.device);
  model->train();
  AdamWOptions adam;  // Table 10: betas (0.9, 0.98), eps 1e-6
  adam.beta2 = 0.98;
  adam.eps = 1e-6;
  adam.weight_decay = *c.weight_decay;
  AdamW optimizer(WeightDecayGroups(*model, *c.weight_decay), adam);
  const int64_t items = s.data->TrainItems();
  const int64_t per_epoch = (items + c.batch_size - 1) / c.batch_size;
  const int64_t total = per_epoch * c.epochs;
  const LinearSchedule schedule{
      lr, static_cast<int64_t>(std::round(c.warmup_ratio * static_cast<double>(total))), total};

  FinetuneUnit unit;
  unit.lr = lr;
  unit.seed = seed;
  int64_t step = 0;
  for (int64_t epoch = 1; epoch <= c.epochs; ++epoch) {
    for (const auto& batch : EpochBatches(*s.data, c.batch_size, seed, epoch)) {
      if (observer.StopRequested()) return std::nullopt;
      // Forward, backward, update.
      optimizer.ZeroGrad();
      auto loss = s.data->Loss(model, batch);
      loss.backward();
      ++step;
      optimizer.Step(schedule.Lr(step));
      observer.OnUpdate(
          {s.task->name, lr, seed, epoch, c.epochs, step, total, loss.item<double>()});
    }

    // Score the dev set; the best epoch is the unit's result (early stopping).
    {
      torch::NoGradGuard no_grad;
      model->eval();
      unit.epochs.push_back(s.data->Evaluate(model));
      model->train();
    }
    const auto& primary = s.task->primary_metric;
    if (unit.best_epoch == 0 || unit.epochs.back().at(primary) > unit.best().at(primary))
      unit.best_epoch = epoch;
  }
  unit.seconds = std::chrono::duration<double>(Clock::now() - started).count();
  return unit;
}

// Per lr, each metric's median over seeds at their best epochs; the lr of the best median primary
// metric wins (the earlier listed one on a tie).
void Aggregate(const Task& task, const FinetuneConfig& c, FinetuneResult& result) {
  double best = -std::numeric_limits<double>::infinity();
  for (double lr : c.lrs) {
    std::map<std::string, std::vector<double>> values;
    for (const auto& unit : result.units) {
      if (unit.lr != lr) continue;
      for (const auto& [name, value] : unit.best()) values[name].push_back(value);
    }
    std::map<std::string, double> medians;
    for (const auto& [name, list] : values) medians[name] = Median(list);
    const double primary = medians.at(task.primary_metric);
    result.primary_by_lr[lr] = primary;
    if (result.metrics.empty() || primary > best) {
      best = primary;
      result.lr = lr;
      result.metrics = medians;
    }
  }
}

}  // namespace

FinetuneResult Finetune(const Task& task, const FinetuneConfig& config, const TrainConfig& pretrain,
                        const fs::path& data_dir, const fs::path& run_dir,
                        FinetuneObserver& observer, const Log& log) {
  config.Validate();
  FinetuneConfig c = Resolve(config, task.kind);
  if (c.seq_len == 0) c.seq_len = pretrain.data.seq_len;
  if (c.doc_stride == 0) c.doc_stride = c.seq_len / 3;
  if (c.seq_len > pretrain.data.seq_len) {
    throw InputError("", "seq_len",
                     std::to_string(c.seq_len) + " exceeds the pretraining seq_len " +
                         std::to_string(pretrain.data.seq_len) +
                         " (the model has no positions beyond it)");
  }
  const torch::Device device = ResolveDevice(c.device);
  if (c.threads > 0) torch::set_num_threads(c.threads);

  auto checkpoint = LatestCheckpoint(run_dir);
  if (!checkpoint || checkpoint->step != pretrain.steps) {
    throw InputError(run_dir.string(), "",
                     "no final checkpoint to fine-tune: pretraining has not finished");
  }
  PreparedCorpus prepared = PrepareCorpus(data_dir, pretrain.data.corpus, pretrain.data.tokenizer);
  BpeTokenizer& tokenizer = prepared.tokenizer;
  const ModelOptions options = MakeModelOptions(pretrain, tokenizer);
  BertModel pretrained(options);
  LoadModelState(checkpoint->path.string(), *pretrained);

  const Context context{&tokenizer,
                        {tokenizer.bos_id(), tokenizer.eos_id(), tokenizer.pad_id()},
                        c.seq_len,
                        c.batch_size,
                        device};
  auto data = EncodeTask(task, c, context);
  if (data->TrainItems() == 0 || data->DevExamples() == 0) {
    throw InputError(task.name, "", "the task has no training or no dev examples");
  }
  const int64_t outputs = task.kind == TaskKind::kClassification ? std::ssize(task.labels) : 1;

  // What a unit's result depends on besides (lr, seed): a unit file with other settings is stale.
  const nlohmann::json settings = {{"version", kUnitFormatVersion},
                                   {"format", task.format},
                                   {"checkpoint_step", checkpoint->step},
                                   {"batch_size", c.batch_size},
                                   {"epochs", c.epochs},
                                   {"weight_decay", *c.weight_decay},
                                   {"warmup_ratio", c.warmup_ratio},
                                   {"train_items", data->TrainItems()},
                                   {"dev_examples", data->DevExamples()},
                                   {"max_train_examples", c.max_train_examples},
                                   {"max_dev_examples", c.max_dev_examples},
                                   {"seq_len", c.seq_len},
                                   {"doc_stride", c.doc_stride}};
  const fs::path dir = run_dir / "finetune" / task.name;
  fs::create_directories(dir);
  if (log) {
    log("fine-tuning " + task.name + ": " + std::to_string(data->TrainItems()) +
        " training items, " + std::to_string(data->DevExamples()) + " dev examples, " +
        std::to_string(c.lrs.size()) + " lr x " + std::to_string(c.seeds) + " seeds x " +
        std::to_string(c.epochs) + " epochs");
  }

  const UnitSetup setup{&task, &c, &options, &pretrained, data.get(), device, outputs};
  FinetuneResult result;
  const int64_t count = std::ssize(c.lrs) * c.seeds;
  for (double lr : c.lrs) {
    for (int64_t seed = 1; seed <= c.seeds; ++seed) {
      const fs::path file = dir / UnitFileName(lr, seed);
      auto unit = ReadUnit(file, settings);
      if (unit && (unit->lr != lr || unit->seed != seed)) unit.reset();
      if (!unit) {
        unit = TrainUnit(setup, lr, seed, observer);
        if (!unit) {
          result.outcome = FinetuneOutcome::kInterrupted;
          return result;
        }
        WriteUnit(file, settings, *unit);
      }
      result.units.push_back(*unit);
      observer.OnUnit(task.name, *unit, std::ssize(result.units), count);
    }
  }
  Aggregate(task, c, result);
  result.baseline = data->Baseline();
  return result;
}

}  // namespace ablate::core
