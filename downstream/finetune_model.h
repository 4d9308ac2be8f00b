// The fine-tuning model: the pretrained encoder (core/model.h) with one task head, RoBERTa's
// classification head or BERT's span head, initialized as BERT initializes its heads. It maps a
// batch to logits; tasks, their files and the fine-tuning protocol live elsewhere.
#pragma once

#include <torch/nn/modules/linear.h>

#include "core/batch_tensors.h"
#include "core/fused_ops.h"
#include "core/model.h"
#include "downstream/finetune_config.h"
#include "downstream/task_data.h"

namespace ablate::downstream {

// RoBERTa's sentence classification head (fairseq's RobertaClassificationHead): on the first
// token's final hidden state, dropout, dense + tanh, dropout, projection. Multiple choice uses it
// with one output: a score per (context, option) sequence.
struct ClassificationHeadImpl : torch::nn::Module {
  ClassificationHeadImpl(int64_t hidden, int64_t outputs, double dropout)
      : dense_(register_module("dense", torch::nn::Linear(hidden, hidden))),
        out_proj_(register_module("out_proj", torch::nn::Linear(hidden, outputs))),
        dropout_(dropout) {}

  torch::Tensor forward(const torch::Tensor& first) {  // (B, H) -> (B, outputs)
    auto x = torch::tanh(dense_(core::Dropout(first, dropout_, is_training())));
    return out_proj_(core::Dropout(x, dropout_, is_training()));
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

// The pretrained encoder with one task head, initialized as BERT initializes its heads. A
// classification head reads the sequence as `pooling` says (finetune_config.h).
struct FinetuneModelImpl : torch::nn::Module {
  FinetuneModelImpl(const core::ModelOptions& options, TaskKind kind, int64_t outputs,
                    Pooling pooling = Pooling::kFirst)
      : encoder_(register_module("encoder", core::BertModel(options))), pooling_(pooling) {
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
  torch::Tensor forward(const core::BatchTensors& batch) {
    const int64_t rows = batch.input_ids.size(0), positions = batch.input_ids.size(1);
    auto hidden = encoder_->Encode(batch).view({rows, positions, -1});  // (B, T, H)
    if (span_) return span_(hidden);
    auto out = classifier_(Pool(hidden, batch.lengths));
    return out.size(1) == 1 ? out.squeeze(1) : out;
  }

  // (B, T, H) -> (B, H): the first token's state, or the mean over each row's first `lengths`.
  torch::Tensor Pool(const torch::Tensor& hidden, const torch::Tensor& lengths) const {
    if (pooling_ == Pooling::kFirst) return hidden.select(1, 0);
    auto keep = torch::arange(hidden.size(1), lengths.options())  // on the batch's device
                    .unsqueeze(0)
                    .lt(lengths.unsqueeze(1))
                    .to(hidden.scalar_type())
                    .unsqueeze(2);  // (B, T, 1)
    return (hidden * keep).sum(1) / keep.sum(1);
  }

  core::BertModel encoder_;
  Pooling pooling_;
  ClassificationHead classifier_{nullptr};
  SpanHead span_{nullptr};
};
TORCH_MODULE(FinetuneModel);

}  // namespace ablate::downstream
