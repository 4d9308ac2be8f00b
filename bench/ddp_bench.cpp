// Data-parallel scaling on this machine: tokens/s of one run trained by 2 Gloo ranks of 1 thread
// each (`ablate train --nproc 2`) against the same run in 1 process of 2 threads, on the same
// model and global batch. Both read books with its 8K BPE (scripts/fetch-data; the first run
// prepares the tokenizer). Prints
//   ddp_scaling: ours=<2 ranks> peer=<1 process> ratio=<ours/peer> (tokens/s, ...)
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "results/query.h"

namespace fs = std::filesystem;

namespace {

// Median tokens/s over the steps after the first five (start-up, allocator warm-up).
double TokensPerSecond(const fs::path& db) {
  const auto rows = ablate::results::RunReadOnlyQuery(
      db.string(), "SELECT value FROM metrics WHERE name = 'train/tokens_per_s' AND step > 5")[0];
  std::vector<double> values;
  for (const auto& row : rows.rows) values.push_back(std::get<double>(row[0]));
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

bool Train(const fs::path& dir, const std::string& name, const std::string& flags) {
  const std::string command =
      std::string(ABLATE_BINARY) + " train --config " + (dir / "run.json").string() + " --db " +
      (dir / (name + ".db")).string() + " --run-dir " + (dir / name).string() + " " + flags + " >" +
      (dir / (name + ".log")).string() + " 2>&1";
  const int status = std::system(command.c_str());
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::fprintf(stderr, "ddp_scaling: %s failed; see %s\n", name.c_str(),
                 (dir / (name + ".log")).c_str());
    return false;
  }
  return true;
}

}  // namespace

int main() {
  const fs::path dir = fs::temp_directory_path() / ("ablate_ddp_bench_" + std::to_string(getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "run.json") << R"({"data.corpus": "books", "data.tokenizer": "bpe-8192@books",
    "data.format": "FULL-SENTENCES", "data.masking": "dynamic", "data.seq_len": 128,
    "data.max_tokens": 200000, "model.layers": 4, "model.hidden": 256, "model.heads": 4,
    "model.ffn": 1024, "train.batch_size": 32, "train.micro_batch": 8, "train.steps": 25,
    "train.checkpoint_every": 0, "optim.warmup_steps": 5, "eval.every": 0, "eval.sequences": 32})";
  const bool ok =
      Train(dir, "one", "--nproc 1 --threads 2") && Train(dir, "two", "--nproc 2 --threads 1");
  if (ok) {
    const double peer = TokensPerSecond(dir / "one.db");
    const double ours = TokensPerSecond(dir / "two.db");
    std::printf(
        "ddp_scaling: ours=%.0f peer=%.0f ratio=%.2f (tokens/s: 2 Gloo ranks x 1 thread vs 1 "
        "process x 2 threads, BERT 4x256, seq 128, 32 sequences an update)\n",
        ours, peer, peer > 0 ? ours / peer : 0);
  }
  fs::remove_all(dir);
  return ok ? 0 : 1;
}
