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

}  // namespace ablate::experiments
