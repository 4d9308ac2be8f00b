// Sentence and sentence-pair classification (GLUE, the built-in tasks): one sequence per example,
// the classification head on <s>.
#include <algorithm>
#include <limits>

#include "downstream/task_encoding.h"
#include "downstream/task_metrics.h"

namespace ablate::downstream {
namespace {

using namespace ablate::core;

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

  DevScores Evaluate(FinetuneModel& model) override {
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
    return {ScoreClassification(dev_labels_, predicted, metrics_),
            ClassificationOutcomes(dev_labels_, predicted, metrics_)};
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

}  // namespace

std::unique_ptr<TaskData> EncodeClassification(const Task& task, const FinetuneConfig& config,
                                               const Context& context) {
  return std::make_unique<ClassificationData>(task, config, context);
}

}  // namespace ablate::downstream
