#include "core/data_stats.h"

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "base/atomic_file.h"
#include "base/number_text.h"

namespace ablate::core {
namespace fs = std::filesystem;

FormatStats MeasureFormat(const TokenCorpus& corpus, const FormatOptions& options) {
  FormatOptions fixed = options;
  fixed.seed = 0;
  const auto examples = BuildExamples(corpus, fixed, 0);
  uint64_t tokens = 0;
  for (const auto& e : examples) tokens += ExampleLength(corpus, e);
  FormatStats stats;
  stats.sequences = examples.size();
  stats.mean_length =
      examples.empty() ? 0 : static_cast<double>(tokens) / static_cast<double>(examples.size());
  stats.corpus_tokens = corpus.TokenCount();
  return stats;
}

FormatStats CachedFormatStats(const fs::path& cache_dir, const std::string& corpus_key,
                              const TokenCorpus& corpus, const FormatOptions& options) {
  const std::string key =
      std::string(InputFormatName(options.format)) + " seq_len=" + std::to_string(options.seq_len) +
      " short_seq_prob=" + ShortestText(options.short_seq_prob) + " " + corpus_key;
  const fs::path file = cache_dir / "format-stats.json";
  nlohmann::json cache = nlohmann::json::object();
  if (std::ifstream in(file); in) {
    std::stringstream text;
    text << in.rdbuf();
    cache = nlohmann::json::parse(text.str(), nullptr, false);
    if (!cache.is_object()) cache = nlohmann::json::object();
  }
  if (auto it = cache.find(key); it != cache.end() && it->is_object()) {
    FormatStats stats;
    stats.sequences = it->value("sequences", uint64_t{0});
    stats.mean_length = it->value("mean_length", 0.0);
    stats.corpus_tokens = it->value("corpus_tokens", uint64_t{0});
    if (stats.sequences > 0 && stats.corpus_tokens == corpus.TokenCount()) return stats;
  }
  FormatStats stats = MeasureFormat(corpus, options);
  cache[key] = {{"sequences", stats.sequences},
                {"mean_length", stats.mean_length},
                {"corpus_tokens", stats.corpus_tokens}};
  // A lost race with another process only costs a later re-measurement.
  if (fs::is_directory(cache_dir)) WriteFileAtomically(file, cache.dump(1) + "\n");
  return stats;
}

InputFormat ReferenceFormat(InputFormat format) {
  switch (format) {
    case InputFormat::kSentencePair:
      return InputFormat::kSegmentPair;
    case InputFormat::kDocSentences:
      return InputFormat::kFullSentences;
    default:
      return format;
  }
}

uint64_t TokenBudget(const FormatStats& reference, uint64_t batch_size) {
  return static_cast<uint64_t>(
      std::llround(reference.mean_length * static_cast<double>(batch_size)));
}

}  // namespace ablate::core
