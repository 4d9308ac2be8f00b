#include "core/data_pipeline.h"

namespace ablate::core {

DataPipeline::DataPipeline(const std::filesystem::path& data_dir, const DataConfig& config,
                           const Log& log)
    : prepared_(PrepareCorpus(data_dir, config.corpus, config.tokenizer, log)) {
  train_ = LimitTokens(prepared_.train.corpus(), config.max_tokens, limit_storage_);
  const BpeTokenizer& tok = prepared_.tokenizer;
  options_.format = {config.format, config.seq_len, config.short_seq_prob, config.seed};
  options_.masking.mode = config.masking;
  options_.masking.static_copies = config.static_copies;
  options_.masking.mask_prob = config.mask_prob;
  options_.masking.mask_id = tok.mask_id();
  options_.masking.first_ordinary = 0;
  options_.masking.end_ordinary = tok.bpe_vocab_size();
  options_.ids = {tok.bos_id(), tok.eos_id(), tok.pad_id()};
  options_.batch_size = config.batch_size;
}

}  // namespace ablate::core
