// Formatting + masking throughput of the batch stream (what feeds the trainer), single-threaded,
// on the real "books" corpus, against fairseq's way of masking (MaskTokensDataset: numpy per
// sequence) run by Debian's python3 on the same sequences. Prints one line per format; asserts
// nothing. Needs the corpus: scripts/fetch-data.
#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>

#include "core/data_pipeline.h"
#include "experiments/run_config.h"

namespace {

namespace fs = std::filesystem;
using namespace ablate::core;
using Clock = std::chrono::steady_clock;

// Tokens per second through BatchStream::Next over at least `min_tokens` tokens.
double MeasureOurs(const DataPipeline& data, InputFormat format, uint64_t min_tokens) {
  BatchOptions options = data.batch_options();
  options.format.format = format;
  BatchStream stream(data.train(), options);
  stream.Next();  // builds the epoch's examples: a one-off cost, not per batch
  uint64_t tokens = 0;
  auto start = Clock::now();
  while (tokens < min_tokens) tokens += stream.Next().tokens;
  double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return tokens / seconds;
}

// Writes the FULL-SENTENCES sequences as int32 ids (with a length index) for the peer.
void DumpSequences(const DataPipeline& data, const fs::path& ids_path, const fs::path& lengths_path,
                   uint64_t max_tokens) {
  BatchOptions options = data.batch_options();
  options.format.format = InputFormat::kFullSentences;
  auto examples = BuildExamples(data.train(), options.format, 0);
  std::ofstream ids(ids_path, std::ios::binary), lengths(lengths_path, std::ios::binary);
  std::vector<int32_t> tokens;
  std::vector<int8_t> segments;
  uint64_t written = 0;
  for (const auto& e : examples) {
    if (written >= max_tokens) break;
    MaterializeExample(data.train(), e, options.format, options.ids, tokens, segments);
    int32_t n = static_cast<int32_t>(tokens.size());
    ids.write(reinterpret_cast<const char*>(tokens.data()), n * 4);
    lengths.write(reinterpret_cast<const char*>(&n), 4);
    written += n;
  }
}

double MeasurePeer(const fs::path& ids, const fs::path& lengths, const DataPipeline& data) {
  const auto& m = data.batch_options().masking;
  std::string cmd = "/usr/bin/python3 " + std::string(ABLATE_MASKING_PEER) + " " + ids.string() +
                    " " + lengths.string() + " " + std::to_string(m.mask_id) + " " +
                    std::to_string(m.end_ordinary) + " 2>/dev/null";
  FILE* pipe = popen(cmd.c_str(), "r");
  if (pipe == nullptr) return 0;
  double rate = 0;
  if (std::fscanf(pipe, "%lf", &rate) != 1) rate = 0;
  return pclose(pipe) == 0 ? rate : 0;
}

}  // namespace

int main() {
  fs::path data_dir = ResolveDataDir("");
  TrainConfig config = ablate::experiments::DefaultRunConfig().Pretraining();
  config.data.corpus = "books";
  config.data.tokenizer = "gpt2";
  config.data.masking = MaskingMode::kDynamic;
  config.data.seq_len = 512;
  config.train.batch_size = 32;
  try {
    DataPipeline data(data_dir, config);
    fs::path dir = fs::temp_directory_path() / ("ablate_data_bench_" + std::to_string(::getpid()));
    fs::create_directories(dir);
    DumpSequences(data, dir / "ids.bin", dir / "lengths.bin", 2'000'000);
    double peer = MeasurePeer(dir / "ids.bin", dir / "lengths.bin", data);
    fs::remove_all(dir);
    for (auto format : {InputFormat::kFullSentences, InputFormat::kDocSentences,
                        InputFormat::kSegmentPair, InputFormat::kSentencePair}) {
      double ours = MeasureOurs(data, format, 50'000'000);
      std::string name(InputFormatName(format));
      for (auto& c : name) c = c == '+' ? '_' : std::tolower(static_cast<unsigned char>(c));
      std::printf(
          "data_%s: ours=%.3g peer=%.3g ratio=%.1f (tokens/s, formatting+masking, 1 core)\n",
          name.c_str(), ours, peer, peer > 0 ? ours / peer : 0.0);
    }
  } catch (const std::exception& e) {
    std::printf("data: skipped (%s)\n", e.what());
  }
  return 0;
}
