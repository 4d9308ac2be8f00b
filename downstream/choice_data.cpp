// RACE-style multiple choice: one scored sequence per option, a softmax over the options.
#include <algorithm>
#include <limits>

#include "downstream/task_encoding.h"
#include "downstream/task_metrics.h"

namespace ablate::downstream {
namespace {

using namespace ablate::core;

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

  DevScores Evaluate(FinetuneModel& model) override {
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
    return {ScoreClassification(gold, predicted, metrics_),
            ClassificationOutcomes(gold, predicted, metrics_)};
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

}  // namespace

std::unique_ptr<TaskData> EncodeChoices(const Task& task, const FinetuneConfig& config,
                                        const Context& context) {
  return std::make_unique<ChoiceData>(task, config, context);
}

}  // namespace ablate::downstream
