#include "core/data_pipeline.h"

#include <algorithm>
#include <set>

#include "base/error.h"
#include "base/list_text.h"
#include "base/rng.h"
#include "core/data_stats.h"

namespace ablate::core {
namespace {

// A run must never train on a document it is scored on. Held-out documents are chosen by a hash
// of their id, so a document held out in one corpus is held out in every corpus that contains
// it; only the small-corpus fallback of HeldOutIds can break that, and then the run is refused.
void CheckHeldOutNotTrained(const PreparedCorpus& train, const PreparedCorpus& eval) {
  const auto& held = eval.valid.document_ids();
  const std::set<std::string> held_out(held.begin(), held.end());
  for (const auto& id : train.train.document_ids()) {
    if (held_out.count(id) != 0) {
      throw InputError("", "eval.corpus",
                       "document \"" + id + "\" is held out for validation in corpus \"" +
                           eval.name + "\" but is a training document of corpus \"" + train.name +
                           "\": choose an eval.corpus whose held-out documents " + train.name +
                           " does not train on");
    }
  }
}

// The half of the held-out documents a document belongs to: a hash of its id, independent of the
// hash that held it out (HeldOutIds).
uint8_t HalfOf(const std::string& id) {
  return HashFraction(DocumentHash("select", id)) < 0.5 ? DataPipeline::kSelectHalf
                                                        : DataPipeline::kReportHalf;
}

}  // namespace

std::vector<std::string> EvalCorpora(const std::string& list) {
  std::vector<std::string> out;
  for (const std::string_view entry : CommaList(list)) {
    std::string name(entry);
    if (name.empty()) throw InputError("", "eval.corpus", "empty corpus name in \"" + list + "\"");
    if (std::find(out.begin(), out.end(), name) != out.end())
      throw InputError("", "eval.corpus",
                       "corpus \"" + name + "\" named twice in \"" + list + "\"");
    out.push_back(std::move(name));
  }
  return out;
}

DataPlan PlanData(const PreparedCorpus& prepared, const TokenCorpus& train,
                  const TrainConfig& config) {
  const std::string corpus_key = "max_tokens=" + std::to_string(config.data.max_tokens);
  FormatOptions format{config.data.format, config.data.seq_len, config.data.short_seq_prob,
                       config.seed};
  const FormatStats own = CachedFormatStats(prepared.dir, corpus_key, train, format);
  DataPlan plan;
  plan.sequences_per_epoch = own.sequences;
  plan.tokens_per_sequence = own.mean_length;
  const auto batch = static_cast<double>(config.train.batch_size);
  if (BatchesByTokens(config.data.format)) {
    // The budget is what batch_size sequences of the reference format hold on this very corpus
    // view, measured, not batch_size x seq_len: the reference formats' sequences fall short of
    // seq_len (short chunks, document ends), and the token formats must match what they hold.
    format.format = ReferenceFormat(config.data.format);
    const FormatStats reference = CachedFormatStats(prepared.dir, corpus_key, train, format);
    plan.token_budget = std::max<uint64_t>(1, TokenBudget(reference, config.train.batch_size));
    plan.tokens_per_update = static_cast<double>(plan.token_budget);
    plan.sequences_per_update = own.mean_length > 0 ? plan.tokens_per_update / own.mean_length : 0;
  } else {
    plan.sequences_per_update = batch;
    plan.tokens_per_update = batch * own.mean_length;
  }
  return plan;
}

DataPipeline::DataPipeline(const std::filesystem::path& data_dir, const TrainConfig& config,
                           const Log& log)
    : prepared_(PrepareCorpus(data_dir, config.data.corpus, config.data.tokenizer, log)) {
  const std::vector<std::string> corpora = EvalCorpora(config.eval.corpus);
  const std::string shared = SharedTokenizerName(config.data.tokenizer, config.data.corpus);
  for (size_t i = 0; i < corpora.size(); ++i) {
    const std::string& name = corpora[i];
    const Shard* shard = &prepared_.valid;
    if (name != config.data.corpus) {
      PreparedCorpus other = PrepareCorpus(data_dir, name, shared, log);
      CheckHeldOutNotTrained(prepared_, other);
      if (i == 0) {
        eval_ = std::move(other);
      } else {
        shard = &extra_corpora_.emplace_back(std::move(other)).valid;
      }
    }
    if (i > 0) extra_valid_.emplace_back(name, shard);
  }
  train_ = LimitTokens(prepared_.train.corpus(), config.data.max_tokens, limit_storage_);
  const BpeTokenizer& tok = prepared_.tokenizer;
  options_.format = {config.data.format, config.data.seq_len, config.data.short_seq_prob,
                     config.seed};
  options_.masking.mode = config.data.masking;
  options_.masking.static_copies = config.data.static_copies;
  options_.masking.mask_prob = config.data.mask_prob;
  options_.masking.mask_id = tok.mask_id();
  options_.masking.first_ordinary = 0;
  options_.masking.end_ordinary = tok.bpe_vocab_size();
  options_.ids = {tok.bos_id(), tok.eos_id(), tok.pad_id()};
  options_.batch_size = config.train.batch_size;
  plan_ = PlanData(prepared_, train_, config);
  options_.token_budget = plan_.token_budget;
}

const TokenCorpus& DataPipeline::valid(size_t set) const {
  if (set > 0) return extra_valid_.at(set - 1).second->corpus();
  return eval_ ? eval_->valid.corpus() : prepared_.valid.corpus();
}

std::string DataPipeline::ValidPrefix(size_t set) const {
  return set == 0 ? "valid" : "valid-" + extra_valid_.at(set - 1).first;
}

std::vector<uint8_t> DataPipeline::SampleHalves(const Batch& sample) const {
  const Shard& shard = eval_ ? eval_->valid : prepared_.valid;
  const TokenCorpus& corpus = shard.corpus();
  const auto& ids = shard.document_ids();
  std::vector<uint8_t> halves;
  for (const uint64_t first : sample.first_tokens) {
    // The document whose tokens hold `first`: the last one that begins at or before it.
    uint64_t low = 0, high = corpus.DocumentCount();
    while (high - low > 1) {
      const uint64_t mid = (low + high) / 2;
      (corpus.DocumentTokenBegin(mid) <= first ? low : high) = mid;
    }
    halves.push_back(HalfOf(ids.at(low)));
  }
  return halves;
}

Batch DataPipeline::ValidationSample(InputFormat format, int64_t limit, size_t set) const {
  BatchOptions options = options_;
  options.format.format = format;
  options.format.seed = kFixedSampleSeed;  // the same validation sample for every run
  options.masking.mode = MaskingMode::kDynamic;
  options.token_budget = 0;
  options.batch_size = 1;
  const uint64_t total = BatchStream(valid(set), options).ExamplesPerEpoch();
  options.batch_size = limit > 0 ? std::min(static_cast<uint64_t>(limit), total) : total;
  return BatchStream(valid(set), options).Next();
}

void DataPipeline::DropResident(uint64_t begin, uint64_t end) const {
  const auto& t = train_;
  if (!t.tokens16.empty()) {
    prepared_.train.DropResident(t.tokens16.data() + begin, t.tokens16.data() + end);
  } else if (!t.tokens32.empty()) {
    prepared_.train.DropResident(t.tokens32.data() + begin, t.tokens32.data() + end);
  }
}

void DataPipeline::DropResident() const {
  prepared_.train.DropResident();
  prepared_.valid.DropResident();
}

}  // namespace ablate::core
