// Training-step time (forward, backward, AdamW step) of ablate's BertModel against the same
// architecture written the way Hugging Face's RobertaForMaskedLM writes it (bench/model_peer.py),
// run by Debian's python3-torch on the same two threads and the same BLAS. Both sides compute the
// MLM head at the masked positions only, so the ratio measures the implementation; one more
// figure compares against the peer's all-position logits (what HF does). Batch: 32 x 128 tokens,
// 19 masked per row, no padding, dropout 0.1. Our steps alternate with the peer's (it runs as a
// child process, one step per request), so both see the same machine load. Asserts nothing.
//
// The *_bf16 lines run both sides' forward passes under CPU bf16 autocast (train.precision=bf16).
//
// Usage: bench_model [STEPS]  (default 5 timed steps of each, after 1 warm-up; medians reported)
#include <ATen/Parallel.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "base/rng.h"
#include "bench/training_flops.h"
#include "core/batch_tensors.h"
#include "core/model.h"
#include "core/optimizer.h"

namespace {

using namespace ablate::core;
using ablate::Rng;
using Clock = std::chrono::steady_clock;

constexpr int64_t kRows = 32, kCols = 128, kMaskedPerRow = 19, kWarmup = 1;

struct Size {
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

double Milliseconds(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

class Ours {
 public:
  explicit Ours(const Size& size, bool bf16 = false)
      : model_(Options(size)),
        optimizer_(WeightDecayGroups(*model_, 0.01), AdamWOptions{}),
        batch_(ToTensors(SyntheticBatch(model_->options().vocab_size), torch::kCPU)) {
    model_->train();
    accumulate_.bf16 = bf16;
  }

  double Step() {
    const auto start = Clock::now();
    optimizer_.ZeroGrad();
    AccumulateGradients(model_, {batch_}, accumulate_);
    optimizer_.Step(1e-4);
    return Milliseconds(start);
  }

 private:
  BertModel model_;
  AdamW optimizer_;
  BatchTensors batch_;
  AccumulateOptions accumulate_;
};

// bench/model_peer.py as a child process that runs one training step per request.
class Peer {
 public:
  explicit Peer(const std::string& spec) {
    int requests[2], replies[2];
    if (pipe(requests) != 0) return;
    if (pipe(replies) != 0) {
      close(requests[0]);
      close(requests[1]);
      return;
    }
    pid_ = fork();
    if (pid_ == 0) {
      dup2(requests[0], STDIN_FILENO);
      dup2(replies[1], STDOUT_FILENO);
      const int null = open("/dev/null", O_WRONLY);
      if (null >= 0) dup2(null, STDERR_FILENO);
      for (int fd : {requests[0], requests[1], replies[0], replies[1]}) close(fd);
      // argv[0] is the full path: with a bare "python3", a pyenv or conda interpreter first on
      // PATH makes Python find its prefix there and load the other interpreter's library.
      execl("/usr/bin/python3", "/usr/bin/python3", ABLATE_MODEL_PEER, spec.c_str(), nullptr);
      _exit(127);
    }
    close(requests[0]);
    close(replies[1]);
    requests_ = fdopen(requests[1], "w");
    replies_ = fdopen(replies[0], "r");
    char word[16] = {};
    ready_ = pid_ > 0 && std::fscanf(replies_, "%15s", word) == 1 && std::string(word) == "ready";
  }
  ~Peer() {
    if (requests_ != nullptr) std::fclose(requests_);  // EOF on its stdin ends the peer
    if (replies_ != nullptr) std::fclose(replies_);
    if (pid_ > 0) waitpid(pid_, nullptr, 0);
  }
  Peer(const Peer&) = delete;
  Peer& operator=(const Peer&) = delete;

  bool ready() const { return ready_; }

  // Milliseconds of one step, or 0 when the peer is gone.
  double Step() {
    double ms = 0;
    if (!ready_ || std::fputs("step\n", requests_) < 0 || std::fflush(requests_) != 0 ||
        std::fscanf(replies_, "%lf", &ms) != 1) {
      ready_ = false;
      return 0;
    }
    return ms;
  }

 private:
  pid_t pid_ = -1;
  FILE* requests_ = nullptr;
  FILE* replies_ = nullptr;
  bool ready_ = false;
};

std::string Spec(const Size& size, const char* positions) {
  return std::to_string(size.hidden) + ":" + std::to_string(size.layers) + ":" +
         std::to_string(size.heads) + ":" + std::to_string(size.ffn) + ":" + positions;
}

struct Times {
  double ours = 0, peer = 0;  // median ms/step; peer 0 when it could not run
};

// Alternates our steps with the peer's; the first kWarmup of each are not timed.
Times Alternate(Ours& ours, const Size& size, const char* positions, int steps) {
  Peer peer(Spec(size, positions));
  std::vector<double> our_times, peer_times;
  for (int step = 0; step < kWarmup + steps; ++step) {
    const double o = ours.Step();
    const double p = peer.Step();
    if (step < kWarmup) continue;
    our_times.push_back(o);
    peer_times.push_back(p);
  }
  return {Median(our_times), peer.ready() ? Median(peer_times) : 0};
}

// Single-precision matmul rate of this process's threads in FLOP/s (a 1024^3 GEMM, the median of
// 9): the denominator of the MFU lines, measured beside the steps so both see the same machine.
double MatmulRate() {
  auto a = torch::randn({1024, 1024}), b = torch::randn({1024, 1024}),
       c = torch::empty({1024, 1024});
  std::vector<double> ms;
  for (int i = 0; i < 11; ++i) {
    const auto start = Clock::now();
    torch::mm_out(c, a, b);
    if (i >= 2) ms.push_back(Milliseconds(start));
  }
  return 2.0 * 1024 * 1024 * 1024 / (Median(ms) / 1e3);
}

// Model FLOPs of one step of `size` (bench/training_flops.h) over the matmul rate.
double Mfu(const Size& size, double ms_per_step, double rate) {
  const ModelOptions o = Options(size);
  const double flops = ablate::bench::TrainingFlops(
      {static_cast<double>(o.hidden), static_cast<double>(o.ffn), static_cast<double>(o.layers),
       static_cast<double>(o.vocab_size)},
      kRows, kCols, kRows * kMaskedPerRow);
  return flops / (ms_per_step / 1e3) / rate;
}

void Print(const char* name, double ours, double peer, const char* unit) {
  if (peer > 0) {
    std::printf("%s: ours=%.4g peer=%.4g ratio=%.2f (%s)\n", name, ours, peer, ours / peer, unit);
  } else {
    std::printf("%s: ours=%.4g peer=skipped (/usr/bin/python3 with torch not found) (%s)\n", name,
                ours, unit);
  }
  std::fflush(stdout);
}

// The MFU line of `size`'s step times, against a matmul rate measured just now.
void PrintMfu(const char* name, const Size& size, const Times& times) {
  const double rate = MatmulRate();
  char unit[160];
  std::snprintf(unit, sizeof unit,
                "model FLOPs per second over the fp32 matmul rate measured here, %.0f GFLOP/s on "
                "2 threads; higher is better",
                rate / 1e9);
  Print(name, Mfu(size, times.ours, rate), times.peer > 0 ? Mfu(size, times.peer, rate) : 0, unit);
}

}  // namespace

int main(int argc, char** argv) {
  const int steps = argc > 1 ? std::max(1, std::atoi(argv[1])) : 5;
  std::signal(SIGPIPE, SIG_IGN);  // a peer that died is reported as skipped, not fatal
  at::set_num_threads(2);
  const Size micro{128, 2, 2, 512}, larger{256, 4, 4, 1024};
  const double tokens = kRows * kCols;
  {
    torch::manual_seed(0);
    Ours ours(micro);
    const Times masked = Alternate(ours, micro, "masked", steps);
    Print("model_micro", masked.ours, masked.peer, "ms/step");
    Print("model_micro_tokens", tokens / masked.ours * 1e3,
          masked.peer > 0 ? tokens / masked.peer * 1e3 : 0, "tokens/s");
    PrintMfu("model_micro_mfu", micro, masked);
    const Times all = Alternate(ours, micro, "all", steps);
    Print("model_micro_vs_all_positions", all.ours, all.peer,
          "ms/step; peer computes logits at all positions");
  }
  torch::manual_seed(0);
  Ours ours(larger);
  const Times times = Alternate(ours, larger, "masked", steps);
  Print("model_larger", times.ours, times.peer, "ms/step");
  PrintMfu("model_larger_mfu", larger, times);
  // train.precision=bf16: both sides' forward passes under CPU bf16 autocast. It pays where the
  // processor multiplies bf16 natively (AVX512-BF16, AMX) and the matrices are large enough.
  for (const auto& [name, size] :
       {std::pair{"model_micro_bf16", micro}, {"model_larger_bf16", larger}}) {
    torch::manual_seed(0);
    Ours low(size, /*bf16=*/true);
    const Times bf16 = Alternate(low, size, "masked-bf16", steps);
    Print(name, bf16.ours, bf16.peer, "ms/step, forward under bf16 autocast on both sides");
  }
  return 0;
}
