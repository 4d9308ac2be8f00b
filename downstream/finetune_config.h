// The settings of downstream fine-tuning (finetune.h) and the paper's values for each kind of task
// (Liu et al. 2019, Table 10). Kept apart from finetune.h's LibTorch code so that configs can be
// built and checked without it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "downstream/task_data.h"

namespace ablate::downstream {

// Fine-tuning runs per learning rate: the paper reports the median of five (Liu et al. 2019).
// eval.seeds' default and FinetuneConfig's.
inline constexpr int64_t kPaperSeeds = 5;

// What the sentence classification head reads. kFirst: the first token's final hidden state, as
// RoBERTa's (and BERT's) head does. kMean: the mean of the final hidden states of the sequence's
// tokens (padding left out), as Sentence-BERT pools; an encoder pretrained without NSP never
// trains the first position to summarize the sequence, so the micro study uses it
// (docs/micro-study.md). Span tasks read every position either way.
enum class Pooling { kFirst, kMean };

std::string_view PoolingName(Pooling pooling);  // "first", "mean"
std::vector<std::string> PoolingNames();
// Throws InputError (path "eval.pooling") for an unknown name.
Pooling ParsePooling(std::string_view name);

// Unset values (empty, 0, nullopt) take the paper's value for the task's kind; see Resolve.
struct FinetuneConfig {
  std::vector<double> lrs;  // peak learning rates searched; the best median wins
  int64_t batch_size = 0;   // examples per update (a multiple-choice example is all its options)
  int64_t epochs = 0;
  std::optional<double> weight_decay;
  double warmup_ratio = 0.06;   // share of the updates spent warming up, then linear decay to 0
  int64_t seeds = kPaperSeeds;  // fine-tuning runs per learning rate, seeds 1..N; the median counts
  int64_t max_train_examples = 0;  // a fixed random sample of the train split (0 = all)
  int64_t max_dev_examples = 0;    // likewise of the dev split
  int64_t seq_len = 0;             // 0 = the pretraining seq_len, which is also the most allowed
  int64_t doc_stride = 0;  // SQuAD: tokens between window starts (0 = a third of seq_len, BERT's)
  Pooling pooling = Pooling::kFirst;
  std::string device = "cpu";
  int threads = 0;

  // Throws InputError naming the field ("lrs", "batch_size", ...) of the first bad value.
  void Validate() const;

  bool operator==(const FinetuneConfig&) const = default;
};

// The config with every unset value filled in for `kind` (Table 10): classification (GLUE) lrs
// {1e-5, 2e-5, 3e-5}, batch 32, 10 epochs, weight decay 0.1; SQuAD lr 1.5e-5, batch 48, 2 epochs,
// weight decay 0.01; RACE lr 1e-5, batch 16, 4 epochs, weight decay 0.1. The paper searched GLUE
// batch sizes {16, 32} as well; one size is used here, the one fairseq's recipes give the four
// large GLUE tasks.
FinetuneConfig Resolve(const FinetuneConfig& config, TaskKind kind);

}  // namespace ablate::downstream
