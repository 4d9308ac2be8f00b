// SQuAD v1.1 / v2.0: windows over long contexts, start and end logits, no-answer on <s>.
#include <algorithm>
#include <limits>

#include "downstream/task_encoding.h"
#include "downstream/task_metrics.h"

namespace ablate::downstream {
namespace {

using namespace ablate::core;

// BERT's run_squad.py limits: question tokens, and answer length in tokens.
constexpr int64_t kMaxQuestionTokens = 64;
constexpr int64_t kMaxAnswerTokens = 30;

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

  DevScores Evaluate(FinetuneModel& model) override {
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
    return {ScoreSpans(dev_examples_, predictions), SpanOutcomes(dev_examples_, predictions)};
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

}  // namespace

std::unique_ptr<TaskData> EncodeSpans(const Task& task, const FinetuneConfig& config,
                                      const Context& context) {
  return std::make_unique<SpanData>(task, config, context);
}

}  // namespace ablate::downstream
