#include "experiments/run_config.h"

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

}  // namespace ablate::experiments
