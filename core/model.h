// The BERT/RoBERTa encoder with its pretraining heads (masked LM, and next-sentence prediction
// when segments are on), as LibTorch modules; the loss of a batch; and gradient accumulation over
// micro-batches. It does not own an optimizer, a schedule or a data stream.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

#include <cstdint>
#include <functional>
#include <vector>

#include "core/batch_tensors.h"
#include "core/train_config.h"

namespace ablate::core {

struct ModelOptions {
  int64_t vocab_size = 50265;  // GPT-2 BPE as RoBERTa uses it
  // BERT-BASE's sizes and dropout, as the parameter table's defaults are (core/train_config.h).
  int64_t max_positions = kBertBaseSeqLen;
  int64_t hidden = kBertBase.hidden;
  int64_t layers = kBertBase.layers;
  int64_t heads = kBertBase.heads;
  int64_t ffn = kBertBase.ffn;
  double dropout = kBertBase.dropout;
  double attention_dropout = kBertBase.attention_dropout;
  // 2 when the input format has NSP: segment embeddings and the NSP head; 0: neither.
  int64_t type_vocab_size = 0;
  // RoBERTa's (fairseq's) value; BERT's TensorFlow code used 1e-12. Both runs of the paper's
  // BERT-vs-RoBERTa comparison are fairseq-trained, so one value serves all rows.
  double layer_norm_eps = 1e-5;
  int64_t pad_id = 1;  // its embedding row starts at zero and gets no gradient from the input
  double init_std = 0.02;

  // The model sizes of the paper (Liu et al. 2019, BERT-base and -large), of the benchmarks'
  // "micro" model, and a model small enough for gradient checks.
  static ModelOptions Base();
  static ModelOptions Large();
  static ModelOptions Micro();
  static ModelOptions Tiny();

  // Throws InputError naming the first inconsistent field.
  void Validate() const;
};

// One post-LayerNorm transformer layer. The query, key and value projections are one Linear of
// hidden -> 3 * hidden (rows [0, H) query, [H, 2H) key, [2H, 3H) value; within each, head h owns
// rows [h * H/heads, (h + 1) * H/heads)): one GEMM instead of three, forward and backward.
struct EncoderLayerImpl : torch::nn::Module {
  explicit EncoderLayerImpl(const ModelOptions& options);

  // x (B*T, H): B sequences of T positions. attention_mask (B, T) bool, true at real tokens, or
  // undefined when no position is padding.
  torch::Tensor forward(const torch::Tensor& x, int64_t batch, const torch::Tensor& attention_mask);

  ModelOptions options_;
  torch::nn::Linear qkv_, attention_output_;
  torch::nn::LayerNorm attention_norm_;
  torch::nn::Linear ffn_in_, ffn_out_;
  torch::nn::LayerNorm ffn_norm_;

 private:
  torch::Tensor Attention(const torch::Tensor& x, int64_t batch,
                          const torch::Tensor& attention_mask);
};
TORCH_MODULE(EncoderLayer);

struct PretrainOutput {
  torch::Tensor loss;          // () mlm_loss + nsp_loss
  torch::Tensor mlm_loss;      // () mean cross-entropy over the masked tokens
  torch::Tensor nsp_loss;      // () mean over the rows with an NSP label; undefined without NSP
  torch::Tensor mlm_loss_sum;  // () the sum behind mlm_loss, for normalizing across micro-batches
  torch::Tensor nsp_loss_sum;  // () likewise; undefined without NSP
  torch::Tensor nsp_correct;   // () int64, rows whose NSP prediction is right; undefined without
  // Under no-grad only (scoring: nothing backpropagates, so training pays for none of it), else
  // undefined. One entry per masked token, in masked_positions' order.
  torch::Tensor mlm_token_losses;   // (N) float32 (float64 for a float64 model): -ln p(label)
  torch::Tensor mlm_token_correct;  // (N) bool: the logits' argmax is the label
  torch::Tensor mlm_correct;        // () int64, the count of mlm_token_correct
  int64_t predictions = 0;          // masked tokens
  int64_t nsp_rows = 0;
};

struct BertModelImpl : torch::nn::Module {
  explicit BertModelImpl(ModelOptions options);

  // The pretraining losses of a batch. The MLM head runs only at the masked positions. Under
  // no-grad it also scores each masked token (PretrainOutput's per-token fields).
  PretrainOutput forward(const BatchTensors& batch);

  // Final hidden states (B*T, H), row b * T + t.
  torch::Tensor Encode(const BatchTensors& batch);
  // The MLM head on hidden states (..., H) -> logits (..., V).
  torch::Tensor MlmLogits(const torch::Tensor& hidden);
  // MLM logits at every position (B, T, V), as implementations without the masked-position
  // gather compute them (tests and the benchmark's peer comparison).
  torch::Tensor AllPositionLogits(const BatchTensors& batch);

  const ModelOptions& options() const { return options_; }
  int64_t ParameterCount() const;

  ModelOptions options_;
  torch::nn::Embedding token_embedding_, position_embedding_;
  torch::nn::Embedding segment_embedding_{nullptr};  // only with type_vocab_size > 0
  torch::nn::LayerNorm embedding_norm_;
  torch::nn::ModuleList layers_;
  torch::nn::Linear mlm_dense_;
  torch::nn::LayerNorm mlm_norm_;
  torch::Tensor mlm_bias_;  // (V); the decoder's weight is token_embedding_'s
  torch::nn::Linear nsp_pooler_{nullptr}, nsp_classifier_{nullptr};  // only with NSP

 private:
  void InitializeWeights();
};
TORCH_MODULE(BertModel);

// The weights a run starts from: torch's generator seeded with the run's seed, then the model
// built (and initialized) from `options`. Pretraining starts here, and so does the no-pretraining
// fine-tuning baseline, so the two cannot drift apart.
BertModel InitialModel(const ModelOptions& options, uint64_t seed);

// What one optimizer step saw, summed or averaged over its micro-batches.
struct StepStats {
  double loss = 0, mlm_loss = 0, nsp_loss = 0;
  double mlm_loss_sum = 0, nsp_loss_sum = 0;  // over these micro-batches, before division
  int64_t predictions = 0, nsp_rows = 0, nsp_correct = 0;
};

struct AccumulateOptions {
  // The update's totals when these micro-batches are only part of it (the other ranks of a
  // data-parallel run hold the rest); 0 = the totals of these micro-batches.
  int64_t predictions = 0, nsp_rows = 0;
  // Called before micro-batch i's forward pass (the trainer seeds its dropout there).
  std::function<void(size_t)> before_each;
  // Forward passes under CPU bf16 autocast (train.precision=bf16); backward follows their dtypes.
  bool bf16 = false;
};

// Runs forward and backward over the micro-batches of one step, adding to the parameters'
// gradients. Each micro-batch's loss sums are divided by the step's total masked tokens (and NSP
// rows), not by its own, so the gradients equal those of the whole batch at once, however unevenly
// the masked tokens fall. Does not zero gradients first. The losses in the result are this part's
// sums over the update's totals.
StepStats AccumulateGradients(BertModel& model, const std::vector<BatchTensors>& micro_batches,
                              const AccumulateOptions& options = {});

}  // namespace ablate::core
