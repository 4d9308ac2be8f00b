#include "experiments/run_config.h"

#include <algorithm>
#include <cstdlib>

#include "base/error.h"

namespace ablate::experiments {

core::DataConfig DataConfigFromParams(const nlohmann::json& params) {
  core::DataConfig c;
  c.corpus = params.at("data.corpus").get<std::string>();
  c.tokenizer = params.at("data.tokenizer").get<std::string>();
  c.format = core::ParseInputFormat(params.at("data.format").get<std::string>());
  c.masking = params.at("data.masking") == "static" ? core::MaskingMode::kStatic
                                                    : core::MaskingMode::kDynamic;
  c.static_copies = params.at("data.static_copies").get<int>();
  c.mask_prob = params.at("data.mask_prob").get<double>();
  c.seq_len = params.at("data.seq_len").get<int>();
  c.short_seq_prob = params.at("data.short_seq_prob").get<double>();
  c.max_tokens = params.at("data.max_tokens").get<uint64_t>();
  c.batch_size = params.at("train.batch_size").get<uint64_t>();
  c.seed = params.at("seed").get<uint64_t>();
  c.eval_corpus = params.at("eval.corpus").get<std::string>();
  return c;
}

core::TrainConfig TrainConfigFromParams(const nlohmann::json& params) {
  core::TrainConfig c;
  c.data = DataConfigFromParams(params);
  c.layers = params.at("model.layers").get<int64_t>();
  c.hidden = params.at("model.hidden").get<int64_t>();
  c.heads = params.at("model.heads").get<int64_t>();
  c.ffn = params.at("model.ffn").get<int64_t>();
  c.dropout = params.at("model.dropout").get<double>();
  c.attention_dropout = params.at("model.attention_dropout").get<double>();
  c.lr = params.at("optim.lr").get<double>();
  c.beta1 = params.at("optim.beta1").get<double>();
  c.beta2 = params.at("optim.beta2").get<double>();
  c.eps = params.at("optim.eps").get<double>();
  c.weight_decay = params.at("optim.weight_decay").get<double>();
  c.warmup_steps = params.at("optim.warmup_steps").get<int64_t>();
  c.steps = params.at("train.steps").get<int64_t>();
  c.micro_batch = params.at("train.micro_batch").get<int64_t>();
  c.grad_clip = params.at("train.grad_clip").get<double>();
  c.checkpoint_every = params.at("train.checkpoint_every").get<int64_t>();
  c.eval_every = params.at("eval.every").get<int64_t>();
  c.eval_sequences = params.at("eval.sequences").get<int64_t>();
  return c;
}

downstream::FinetuneConfig FinetuneConfigFromParams(const nlohmann::json& params) {
  downstream::FinetuneConfig c;
  const auto lrs = params.at("eval.lrs").get<std::string>();
  for (size_t begin = 0; !lrs.empty() && begin <= lrs.size();) {
    size_t end = std::min(lrs.find(',', begin), lrs.size());
    const std::string item = lrs.substr(begin, end - begin);
    char* stop = nullptr;
    const double lr = std::strtod(item.c_str(), &stop);
    while (*stop == ' ') ++stop;
    if (item.empty() || *stop != '\0' || !(lr > 0)) {
      throw InputError(
          "", "eval.lrs",
          "\"" + lrs + "\": expected positive numbers separated by commas, got \"" + item + "\"");
    }
    c.lrs.push_back(lr);
    begin = end + 1;
  }
  c.batch_size = params.at("eval.batch_size").get<int64_t>();
  c.epochs = params.at("eval.epochs").get<int64_t>();
  const double weight_decay = params.at("eval.weight_decay").get<double>();
  if (weight_decay < 0 && weight_decay != -1) {
    throw InputError(
        "", "eval.weight_decay",
        "must be -1 (the paper's) or at least 0, got " + params.at("eval.weight_decay").dump());
  }
  if (weight_decay >= 0) c.weight_decay = weight_decay;
  c.seeds = params.at("eval.seeds").get<int64_t>();
  c.max_train_examples = params.at("eval.max_train_examples").get<int64_t>();
  c.max_dev_examples = params.at("eval.max_dev_examples").get<int64_t>();
  c.seq_len = params.at("eval.seq_len").get<int64_t>();
  if (c.seq_len > params.at("data.seq_len").get<int64_t>()) {
    throw InputError("", "eval.seq_len",
                     std::to_string(c.seq_len) + " exceeds data.seq_len " +
                         params.at("data.seq_len").dump() +
                         " (the model has no positions beyond it)");
  }
  try {
    c.Validate();
  } catch (const InputError& e) {
    throw InputError("", "eval." + e.path(), e.message());
  }
  return c;
}

}  // namespace ablate::experiments
