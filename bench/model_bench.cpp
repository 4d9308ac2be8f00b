// Training-step time (forward, backward, AdamW step) of ablate's BertModel against the same
// architecture written the way Hugging Face's RobertaForMaskedLM writes it (bench/model_peer.py),
// run by Debian's python3-torch on the same two threads and the same BLAS, in the same run. Both
// sides compute the MLM head at the masked positions only, so the ratio measures the
// implementation; one more figure compares against the peer's all-position logits (what HF does).
// Batch: 32 x 128 tokens, 19 masked per row, no padding, dropout 0.1. Asserts nothing.
//
// Usage: bench_model [STEPS [ROUNDS]]  (defaults 3 timed steps after 1 warm-up, 1 round; with
// several rounds each side keeps its best median, which damps noise from other processes).
#include <ATen/Parallel.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "core/batch_tensors.h"
#include "core/model.h"
#include "core/optimizer.h"
#include "core/rng.h"

namespace {

using namespace ablate::core;
using Clock = std::chrono::steady_clock;

constexpr int64_t kRows = 32, kCols = 128, kMaskedPerRow = 19, kWarmup = 1;

struct Size {
  const char* name;
  int64_t hidden, layers, heads, ffn;
};

ModelOptions Options(const Size& size) {
  ModelOptions o = ModelOptions::Micro();
  o.hidden = size.hidden;
  o.layers = size.layers;
  o.heads = size.heads;
  o.ffn = size.ffn;
  return o;
}

// Random ordinary ids; kMaskedPerRow distinct positions per row (never the first) predicted, their
// input replaced by <mask> (the last id), as the peer builds its batch.
Batch SyntheticBatch(int64_t vocab) {
  Rng rng({1});
  Batch b;
  b.rows = kRows;
  b.cols = kCols;
  for (int64_t r = 0; r < kRows; ++r) {
    std::vector<int32_t> ids(kCols), labels(kCols, kIgnoreLabel);
    for (auto& id : ids) id = static_cast<int32_t>(4 + rng.Below(vocab - 4));
    std::vector<int64_t> positions;
    for (int64_t t = 1; t < kCols; ++t) positions.push_back(t);
    for (int64_t i = 0; i < kMaskedPerRow; ++i) {
      std::swap(positions[i], positions[i + rng.Below(positions.size() - i)]);
      labels[positions[i]] = ids[positions[i]];
      ids[positions[i]] = static_cast<int32_t>(vocab - 1);
    }
    b.input_ids.insert(b.input_ids.end(), ids.begin(), ids.end());
    b.labels.insert(b.labels.end(), labels.begin(), labels.end());
    b.segment_ids.insert(b.segment_ids.end(), kCols, 0);
    b.lengths.push_back(kCols);
    b.nsp_labels.push_back(-1);
  }
  b.tokens = kRows * kCols;
  b.predictions = kRows * kMaskedPerRow;
  return b;
}

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

// Median milliseconds per training step.
double MeasureOurs(const Size& size, int steps) {
  torch::manual_seed(0);
  BertModel model(Options(size));
  model->train();
  AdamW optimizer(WeightDecayGroups(*model, 0.01), AdamWOptions{});
  const auto batch = ToTensors(SyntheticBatch(model->options().vocab_size), torch::kCPU);
  std::vector<double> times;
  for (int step = 0; step < kWarmup + steps; ++step) {
    const auto start = Clock::now();
    optimizer.ZeroGrad();
    AccumulateGradients(model, {batch});
    optimizer.Step(1e-4);
    if (step >= kWarmup) {
      times.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
    }
  }
  return Median(times);
}

// name -> median milliseconds per step, for specs "NAME:HIDDEN:LAYERS:HEADS:FFN:POSITIONS".
std::map<std::string, double> MeasurePeer(const std::vector<std::string>& specs, int steps) {
  std::string command = "/usr/bin/python3 " + std::string(ABLATE_MODEL_PEER) + " " +
                        std::to_string(steps) + " " + std::to_string(kWarmup);
  for (const auto& spec : specs) command += " " + spec;
  std::map<std::string, double> out;
  FILE* pipe = popen((command + " 2>/dev/null").c_str(), "r");
  if (pipe == nullptr) return out;
  char name[64];
  double ms = 0;
  while (std::fscanf(pipe, "%63s %lf", name, &ms) == 2) out[name] = ms;
  pclose(pipe);
  return out;
}

std::string Spec(const Size& size, const char* name, const char* positions) {
  return std::string(name) + ":" + std::to_string(size.hidden) + ":" +
         std::to_string(size.layers) + ":" + std::to_string(size.heads) + ":" +
         std::to_string(size.ffn) + ":" + positions;
}

void Print(const char* name, double ours, double peer, const char* unit) {
  if (peer > 0) {
    std::printf("%s: ours=%.4g peer=%.4g ratio=%.2f (%s)\n", name, ours, peer, ours / peer, unit);
  } else {
    std::printf("%s: ours=%.4g peer=skipped (/usr/bin/python3 with torch not found) (%s)\n", name,
                ours, unit);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const int steps = argc > 1 ? std::max(1, std::atoi(argv[1])) : 3;
  const int rounds = argc > 2 ? std::max(1, std::atoi(argv[2])) : 1;
  at::set_num_threads(2);
  const Size micro{"micro", 128, 2, 2, 512}, larger{"larger", 256, 4, 4, 1024};
  const std::vector<std::string> specs = {Spec(micro, "micro", "masked"),
                                          Spec(micro, "micro_all", "all"),
                                          Spec(larger, "larger", "masked")};
  std::map<std::string, double> ours, peer;
  auto keep_best = [](std::map<std::string, double>& best, const std::string& name, double ms) {
    if (ms > 0 && (!best.count(name) || ms < best[name])) best[name] = ms;
  };
  for (int round = 0; round < rounds; ++round) {
    keep_best(ours, "micro", MeasureOurs(micro, steps));
    keep_best(ours, "larger", MeasureOurs(larger, steps));
    for (const auto& [name, ms] : MeasurePeer(specs, steps)) keep_best(peer, name, ms);
  }
  const double tokens = kRows * kCols;
  Print("model_micro", ours["micro"], peer["micro"], "ms/step");
  Print("model_larger", ours["larger"], peer["larger"], "ms/step");
  Print("model_micro_tokens", tokens / ours["micro"] * 1e3,
        peer["micro"] > 0 ? tokens / peer["micro"] * 1e3 : 0, "tokens/s");
  Print("model_micro_vs_all_positions", ours["micro"], peer["micro_all"],
        "ms/step; peer computes logits at all positions");
  return 0;
}
