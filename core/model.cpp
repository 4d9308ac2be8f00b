#include "core/model.h"

#include <torch/nn/init.h>
#include <torch/version.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <string>

#include "base/error.h"
#include "core/autocast.h"
#include "core/fused_ops.h"
#include "core/input_format.h"

namespace ablate::core {
namespace {

void Require(bool ok, const std::string& field, const std::string& message) {
  if (!ok) throw InputError("", field, message);
}

ModelOptions Validated(ModelOptions options) {
  options.Validate();
  return options;
}

}  // namespace

ModelOptions ModelOptions::Base() { return ModelOptions{}; }

ModelOptions ModelOptions::Large() {
  ModelOptions o;
  o.hidden = 1024;
  o.layers = 24;
  o.heads = 16;
  o.ffn = 4096;
  return o;
}

ModelOptions ModelOptions::Micro() {
  ModelOptions o;
  o.hidden = 128;
  o.layers = 2;
  o.heads = 2;
  o.ffn = 512;
  return o;
}

ModelOptions ModelOptions::Tiny() {
  ModelOptions o;
  o.vocab_size = 23;
  o.max_positions = 16;
  o.hidden = 8;
  o.layers = 2;
  o.heads = 2;
  o.ffn = 16;
  o.type_vocab_size = 2;
  return o;
}

void ModelOptions::Validate() const {
  Require(vocab_size >= 1, "vocab_size", "must be at least 1, got " + std::to_string(vocab_size));
  Require(max_positions >= 1, "max_positions",
          "must be at least 1, got " + std::to_string(max_positions));
  Require(hidden >= 1 && heads >= 1 && hidden % heads == 0, "hidden",
          std::to_string(hidden) + " is not a positive multiple of heads (" +
              std::to_string(heads) + ")");
  Require(layers >= 0, "layers", "must not be negative, got " + std::to_string(layers));
  Require(ffn >= 1, "ffn", "must be at least 1, got " + std::to_string(ffn));
  Require(dropout >= 0 && dropout < 1, "dropout", "must be in [0, 1)");
  Require(attention_dropout >= 0 && attention_dropout < 1, "attention_dropout",
          "must be in [0, 1)");
  Require(type_vocab_size == 0 || type_vocab_size == 2, "type_vocab_size",
          "must be 0 (no segments, no NSP) or 2, got " + std::to_string(type_vocab_size));
  Require(layer_norm_eps > 0, "layer_norm_eps", "must be positive");
  Require(pad_id >= -1 && pad_id < vocab_size, "pad_id",
          "must be -1 (none) or an id below vocab_size, got " + std::to_string(pad_id));
}

EncoderLayerImpl::EncoderLayerImpl(const ModelOptions& options)
    : options_(options),
      qkv_(register_module("qkv", torch::nn::Linear(options.hidden, 3 * options.hidden))),
      attention_output_(
          register_module("attention_output", torch::nn::Linear(options.hidden, options.hidden))),
      attention_norm_(register_module(
          "attention_norm",
          torch::nn::LayerNorm(
              torch::nn::LayerNormOptions({options.hidden}).eps(options.layer_norm_eps)))),
      ffn_in_(register_module("ffn_in", torch::nn::Linear(options.hidden, options.ffn))),
      ffn_out_(register_module("ffn_out", torch::nn::Linear(options.ffn, options.hidden))),
      ffn_norm_(register_module(
          "ffn_norm",
          torch::nn::LayerNorm(
              torch::nn::LayerNormOptions({options.hidden}).eps(options.layer_norm_eps)))) {}

torch::Tensor EncoderLayerImpl::forward(const torch::Tensor& x, int64_t batch,
                                        const torch::Tensor& attention_mask) {
  const double p = options_.dropout;
  auto attended = attention_norm_(
      DropoutAdd(attention_output_(Attention(x, batch, attention_mask)), x, p, is_training()));
  auto expanded = torch::gelu(ffn_in_(attended));  // (B*T, F)
  return ffn_norm_(DropoutAdd(ffn_out_(expanded), attended, p, is_training()));
}

torch::Tensor EncoderLayerImpl::Attention(const torch::Tensor& x, int64_t batch,
                                          const torch::Tensor& attention_mask) {
  const int64_t hidden = options_.hidden, heads = options_.heads, head_dim = hidden / heads;
  const int64_t positions = x.size(0) / batch;
  // unbind, not three selects: its backward stacks the three gradients in one pass, where each
  // select's would zero and fill a whole (B*T, 3H) tensor.
  const auto qkv = qkv_(x)
                       .view({batch, positions, 3, heads, head_dim})
                       .permute({2, 0, 3, 1, 4})
                       .unbind(0);  // 3 x (B, heads, T, head_dim)
#if TORCH_VERSION_MAJOR >= 2
  c10::optional<torch::Tensor> mask;
  if (attention_mask.defined()) mask = attention_mask.view({batch, 1, 1, positions});
  const double p = is_training() ? options_.attention_dropout : 0.0;
  auto context = at::scaled_dot_product_attention(qkv[0], qkv[1], qkv[2], mask, p);
#else
  // The batched GEMMs want (B*heads, T, head_dim); the key stays transposed (a BLAS flag).
  auto query = qkv[0].reshape({batch * heads, positions, head_dim});
  auto key_t = qkv[1].reshape({batch * heads, positions, head_dim}).transpose(1, 2);
  auto value = qkv[2].reshape({batch * heads, positions, head_dim});
  const double scale = 1.0 / std::sqrt(static_cast<double>(head_dim));
  auto scores = BatchedMatmul(query, key_t, scale);  // (B*heads, T, T)
  if (attention_mask.defined()) {
    // Padding keys get -inf: exp() of it is 0, and every row has a real key (the lowest float
    // would do as well in fp32 but overflows bf16 under autocast).
    scores.view({batch, heads, positions, positions})
        .masked_fill_(attention_mask.logical_not().view({batch, 1, 1, positions}),
                      -std::numeric_limits<float>::infinity());
  }
  auto probs = Dropout(torch::softmax(scores, -1), options_.attention_dropout, is_training());
  auto context = BatchedMatmul(probs, value).view({batch, heads, positions, head_dim});
#endif
  return context.transpose(1, 2).reshape({batch * positions, hidden});  // (B*T, H)
}

BertModelImpl::BertModelImpl(ModelOptions options)
    : options_(Validated(std::move(options))),
      token_embedding_(register_module("token_embedding",
                                       torch::nn::Embedding(options_.vocab_size, options_.hidden))),
      position_embedding_(register_module(
          "position_embedding", torch::nn::Embedding(options_.max_positions, options_.hidden))),
      embedding_norm_(register_module(
          "embedding_norm",
          torch::nn::LayerNorm(
              torch::nn::LayerNormOptions({options_.hidden}).eps(options_.layer_norm_eps)))),
      layers_(register_module("layers", torch::nn::ModuleList())),
      mlm_dense_(register_module("mlm_dense", torch::nn::Linear(options_.hidden, options_.hidden))),
      mlm_norm_(register_module(
          "mlm_norm",
          torch::nn::LayerNorm(
              torch::nn::LayerNormOptions({options_.hidden}).eps(options_.layer_norm_eps)))),
      mlm_bias_(register_parameter("mlm_bias", torch::zeros({options_.vocab_size}))) {
  for (int64_t i = 0; i < options_.layers; ++i) layers_->push_back(EncoderLayer(options_));
  if (options_.type_vocab_size > 0) {
    segment_embedding_ = register_module(
        "segment_embedding", torch::nn::Embedding(options_.type_vocab_size, options_.hidden));
    nsp_pooler_ =
        register_module("nsp_pooler", torch::nn::Linear(options_.hidden, options_.hidden));
    nsp_classifier_ = register_module("nsp_classifier", torch::nn::Linear(options_.hidden, 2));
  }
  InitializeWeights();
}

void BertModelImpl::InitializeWeights() {
  torch::NoGradGuard no_grad;
  for (auto& module : modules(/*include_self=*/false)) {
    if (auto* linear = module->as<torch::nn::Linear>()) {
      linear->weight.normal_(0, options_.init_std);
      linear->bias.zero_();
    } else if (auto* embedding = module->as<torch::nn::Embedding>()) {
      embedding->weight.normal_(0, options_.init_std);
    } else if (auto* norm = module->as<torch::nn::LayerNorm>()) {
      norm->weight.fill_(1);
      norm->bias.zero_();
    }
  }
  if (options_.pad_id >= 0) token_embedding_->weight[options_.pad_id].zero_();
  mlm_bias_.zero_();
}

torch::Tensor BertModelImpl::Encode(const BatchTensors& batch) {
  const int64_t rows = batch.input_ids.size(0), positions = batch.input_ids.size(1);
  TORCH_CHECK(positions <= options_.max_positions, "batch of ", positions,
              " positions exceeds max_positions ", options_.max_positions);
  // Fresh output of the embedding lookup (its backward keeps only the ids): safe to add in place.
  auto x = torch::embedding(token_embedding_->weight, batch.input_ids, options_.pad_id);
  x.add_(position_embedding_->weight.slice(0, 0, positions));  // (B, T, H) + (T, H)
  if (segment_embedding_) x.add_(segment_embedding_(batch.segment_ids));
  x = Dropout(embedding_norm_(x.view({rows * positions, options_.hidden})), options_.dropout,
              is_training());  // (B*T, H)
  torch::Tensor mask;          // (B, T), true at real tokens
  if (batch.padded) {
    mask =
        torch::arange(positions, batch.lengths.options()).unsqueeze(0) < batch.lengths.unsqueeze(1);
  }
  for (const auto& layer : *layers_) x = layer->as<EncoderLayer>()->forward(x, rows, mask);
  return x;
}

torch::Tensor BertModelImpl::MlmLogits(const torch::Tensor& hidden) {
  // Back to the weights' dtype: under bf16 autocast the dense layer's output is bf16, and LibTorch
  // 1.13's CPU layer norm takes only its weights' dtype (a no-op without autocast).
  auto transformed = mlm_norm_(torch::gelu(mlm_dense_(hidden)).to(mlm_norm_->weight.scalar_type()));
  return torch::linear(transformed, token_embedding_->weight, mlm_bias_);
}

torch::Tensor BertModelImpl::AllPositionLogits(const BatchTensors& batch) {
  const int64_t rows = batch.input_ids.size(0), positions = batch.input_ids.size(1);
  return MlmLogits(Encode(batch)).view({rows, positions, options_.vocab_size});
}

PretrainOutput BertModelImpl::forward(const BatchTensors& batch) {
  const int64_t rows = batch.input_ids.size(0), positions = batch.input_ids.size(1);
  auto hidden = Encode(batch);  // (B*T, H)
  PretrainOutput out;
  out.predictions = batch.predictions;
  // Gathering first runs the head's GEMM over V on ~15% of the rows instead of all of them.
  auto masked = hidden.index_select(0, batch.masked_positions);  // (N, H)
  auto mlm_logits = MlmLogits(masked);                           // (N, V)
  if (torch::GradMode::is_enabled()) {
    out.mlm_loss_sum = CrossEntropySum(mlm_logits, batch.masked_labels);
  } else {
    // The per-token terms CrossEntropySum's sum would discard.
    out.mlm_token_losses = CrossEntropyPerToken(mlm_logits, batch.masked_labels);
    out.mlm_loss_sum = out.mlm_token_losses.sum();
    out.mlm_token_correct = mlm_logits.argmax(1).eq(batch.masked_labels);
    out.mlm_correct = out.mlm_token_correct.sum();
  }
  out.mlm_loss = out.mlm_loss_sum / static_cast<double>(std::max<int64_t>(batch.predictions, 1));
  out.loss = out.mlm_loss;
  if (batch.nsp_rows == 0) return out;
  TORCH_CHECK(nsp_classifier_, "batch has NSP labels but the model has no NSP head ",
              "(type_vocab_size 0)");
  auto first = hidden.view({rows, positions, options_.hidden}).select(1, 0);  // (B, H)
  auto logits = nsp_classifier_(torch::tanh(nsp_pooler_(first)))
                    .to(nsp_classifier_->weight.scalar_type());  // (B, 2), fp32 under autocast
  out.nsp_rows = batch.nsp_rows;
  out.nsp_loss_sum =
      torch::cross_entropy_loss(logits, batch.nsp_labels, {}, at::Reduction::Sum, kNoNspLabel);
  out.nsp_loss = out.nsp_loss_sum / static_cast<double>(batch.nsp_rows);
  out.nsp_correct = logits.argmax(1).eq(batch.nsp_labels).sum();
  out.loss = out.mlm_loss + out.nsp_loss;
  return out;
}

int64_t BertModelImpl::ParameterCount() const {
  int64_t count = 0;
  for (const auto& p : parameters()) count += p.numel();
  return count;
}

StepStats AccumulateGradients(BertModel& model, const std::vector<BatchTensors>& micro_batches,
                              const AccumulateOptions& options) {
  StepStats stats;
  for (const auto& micro : micro_batches) {
    stats.predictions += micro.predictions;
    stats.nsp_rows += micro.nsp_rows;
  }
  if (options.predictions > 0) stats.predictions = options.predictions;
  if (options.nsp_rows > 0) stats.nsp_rows = options.nsp_rows;
  const double mlm_denominator = static_cast<double>(std::max<int64_t>(stats.predictions, 1));
  const double nsp_denominator = static_cast<double>(std::max<int64_t>(stats.nsp_rows, 1));
  torch::Tensor mlm_sum, nsp_sum, nsp_correct;  // detached running totals, read once at the end
  auto add = [](torch::Tensor& total, const torch::Tensor& value) {
    total = total.defined() ? total + value.detach() : value.detach();
  };
  for (size_t i = 0; i < micro_batches.size(); ++i) {
    if (options.before_each) options.before_each(i);
    PretrainOutput out;
    {
      std::optional<BfloatAutocast> autocast;
      if (options.bf16) {
        autocast.emplace(micro_batches[i].input_ids.is_cuda() ? AutocastDevice::kCuda
                                                              : AutocastDevice::kCpu);
      }
      out = model->forward(micro_batches[i]);
    }
    auto loss = out.mlm_loss_sum / mlm_denominator;
    add(mlm_sum, out.mlm_loss_sum);
    if (out.nsp_loss_sum.defined()) {
      loss = loss + out.nsp_loss_sum / nsp_denominator;
      add(nsp_sum, out.nsp_loss_sum);
      add(nsp_correct, out.nsp_correct);
    }
    loss.backward();
  }
  if (mlm_sum.defined()) stats.mlm_loss_sum = mlm_sum.item<double>();
  if (nsp_sum.defined()) {
    stats.nsp_loss_sum = nsp_sum.item<double>();
    stats.nsp_correct = nsp_correct.item<int64_t>();
  }
  stats.mlm_loss = stats.mlm_loss_sum / mlm_denominator;
  stats.nsp_loss = nsp_sum.defined() ? stats.nsp_loss_sum / nsp_denominator : 0;
  stats.loss = stats.mlm_loss + stats.nsp_loss;
  return stats;
}

BertModel InitialModel(const ModelOptions& options, uint64_t seed) {
  torch::manual_seed(seed);
  return BertModel(options);
}

}  // namespace ablate::core
