// Checkpoint files on a tiny model: the file restores training exactly, the run directory keeps
// the newest two with their CRC-32s, and resuming falls back to the older one when the newest is
// gone. (A flipped byte caught by the CRC, end to end, is trainer_test's.)
// torch before Catch: glog's CHECK would otherwise silently replace Catch's.
// clang-format off
#include <torch/types.h>
// clang-format on
#include "core/checkpoint.h"

#include <catch2/catch.hpp>
#include <filesystem>
#include <iterator>
#include <set>
#include <string>
#include <vector>

#include "base/atomic_file.h"
#include "base/error.h"
#include "core/batch_tensors.h"
#include "core/model.h"
#include "core/optimizer.h"
#include "tests/support.h"

using namespace ablate::core;
namespace fs = std::filesystem;

namespace {

Batch SmallBatch() {
  Batch b;
  b.rows = 2;
  b.cols = 5;
  b.input_ids = {0, 7, 4, 9, 2, 0, 11, 4, 2, 1};
  b.labels = {kIgnoreLabel, kIgnoreLabel, 12, kIgnoreLabel, kIgnoreLabel,
              kIgnoreLabel, kIgnoreLabel, 5,  kIgnoreLabel, kIgnoreLabel};
  b.segment_ids = {0, 0, 0, 1, 1, 0, 0, 1, 1, 0};
  b.lengths = {5, 4};
  b.nsp_labels = {1, 0};
  b.tokens = 9;
  b.predictions = 2;
  return b;
}

ModelOptions NoDropout() {
  ModelOptions options = ModelOptions::Tiny();
  options.dropout = options.attention_dropout = 0;
  return options;
}

void Train(BertModel& model, AdamW& adam, int steps) {
  const auto batch = ToTensors(SmallBatch(), torch::kCPU);
  for (int i = 0; i < steps; ++i) {
    adam.ZeroGrad();
    AccumulateGradients(model, {batch});
    adam.Step(1e-2);
  }
}

std::vector<torch::Tensor> Weights(BertModel& model) {
  std::vector<torch::Tensor> out;
  for (const auto& p : model->parameters()) out.push_back(p.detach().clone());
  return out;
}

bool Same(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (!torch::equal(a[i], b[i])) return false;
  return true;
}

// A model and its optimizer, trained a few steps so that their state is not the initial one.
struct Trained {
  BertModel model{NoDropout()};
  AdamW adam{WeightDecayGroups(*model, 0.01), AdamWOptions{}};
};

CheckpointEntry Entry(int64_t step) {
  CheckpointEntry e;
  e.step = step;
  e.position = {1, static_cast<uint64_t>(10 * step)};
  e.sequences_seen = 4 * step;
  e.tokens_seen = 100 * step;
  e.micro_batch = 2;
  e.loss = 5.0 - 0.1 * static_cast<double>(step);
  e.epochs = 0.25 * static_cast<double>(step);
  return e;
}

}  // namespace

TEST_CASE("a checkpoint restores model and optimizer so training continues identically",
          "[checkpoint]") {
  ablate::test::TempDir dir;
  const std::string path = dir.File("checkpoint.pt");
  torch::manual_seed(1);
  Trained original;
  Train(original.model, original.adam, 3);
  SaveCheckpointState(path, *original.model, original.adam);
  // Written through a temporary beside it, which is gone.
  CHECK(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()) == 1);

  torch::manual_seed(2);  // different initial weights, overwritten by the load
  Trained restored;
  LoadCheckpointState(path, *restored.model, restored.adam);
  CHECK(restored.adam.steps() == 3);

  Train(original.model, original.adam, 2);
  Train(restored.model, restored.adam, 2);
  auto a = original.model->named_parameters();
  for (const auto& item : restored.model->named_parameters()) {
    INFO(item.key());
    CHECK(torch::equal(item.value(), a[item.key()]));
  }

  ModelOptions other = NoDropout();
  other.hidden = 12;
  BertModel mismatched(other);
  AdamW mismatched_adam(WeightDecayGroups(*mismatched, 0.01), AdamWOptions{});
  CHECK_THROWS_AS(LoadCheckpointState(path, *mismatched, mismatched_adam), ablate::InputError);
}

TEST_CASE("a run directory keeps its newest two checkpoints, named with their CRC-32s",
          "[checkpoint]") {
  ablate::test::TempDir dir;
  const fs::path run = dir.path();
  Trained t;
  // A temporary file a crash left behind goes with the old checkpoints.
  ablate::WriteFileAtomically(run / "checkpoint-1.pt.tmp", "half");
  fs::path written;
  for (int64_t step = 1; step <= 3; ++step) {
    Train(t.model, t.adam, 1);
    written = WriteCheckpoint(run, *t.model, t.adam, Entry(step));
  }
  CHECK(written == run / "checkpoint-3.pt");
  std::set<std::string> files;
  for (const auto& e : fs::directory_iterator(run)) files.insert(e.path().filename().string());
  CHECK(files == std::set<std::string>{"checkpoint-2.pt", "checkpoint-3.pt", "checkpoint.json"});

  const auto pointer = ReadCheckpointPointer(run);
  REQUIRE(pointer);
  CHECK(pointer->newest.file == "checkpoint-3.pt");
  CHECK(pointer->newest.crc32 == FileCrc32(run / "checkpoint-3.pt"));
  CHECK(pointer->newest.position == Entry(3).position);
  CHECK(pointer->newest.loss == Entry(3).loss);
  REQUIRE(pointer->previous);
  CHECK(pointer->previous->step == 2);
  CHECK(pointer->previous->crc32 == FileCrc32(run / "checkpoint-2.pt"));

  const auto latest = LatestCheckpoint(run);
  REQUIRE(latest);
  CHECK(latest->step == 3);
  CHECK(latest->path == run / "checkpoint-3.pt");
}

TEST_CASE("a missing newest checkpoint resumes from the one before it, and says so",
          "[checkpoint]") {
  ablate::test::TempDir dir;
  const fs::path run = dir.path();
  Trained t;
  {
    Trained empty;
    CHECK_FALSE(LoadResumable(run, *empty.model, empty.adam, {}));
    CHECK_FALSE(LatestCheckpoint(run));
  }
  Train(t.model, t.adam, 1);
  WriteCheckpoint(run, *t.model, t.adam, Entry(1));
  const auto at_1 = Weights(t.model);
  Train(t.model, t.adam, 1);
  WriteCheckpoint(run, *t.model, t.adam, Entry(2));
  fs::remove(run / "checkpoint-2.pt");
  CHECK_FALSE(LatestCheckpoint(run));

  Trained resumed;
  std::string said;
  const auto entry =
      LoadResumable(run, *resumed.model, resumed.adam, [&](const std::string& s) { said += s; });
  REQUIRE(entry);
  CHECK(entry->step == 1);
  CHECK(entry->tokens_seen == Entry(1).tokens_seen);
  CHECK(resumed.adam.steps() == 1);
  CHECK(Same(Weights(resumed.model), at_1));
  CHECK_THAT(said, Catch::Contains("checkpoint-2.pt: is missing") &&
                       Catch::Contains("resuming from " + (run / "checkpoint-1.pt").string() +
                                       " at step 1 instead"));
}

TEST_CASE("a pointer written before CRCs still resumes, and a damaged pointer is refused",
          "[checkpoint]") {
  ablate::test::TempDir dir;
  const fs::path run = dir.path();
  Trained t;
  Train(t.model, t.adam, 2);
  WriteCheckpoint(run, *t.model, t.adam, Entry(2));
  // The pointer as runs wrote it before the CRC, world size and micro-batch were recorded.
  ablate::WriteFileAtomically(CheckpointPointerPath(run),
                              R"({"cursor": 20, "epoch": 1, "file": "checkpoint-2.pt",
                                  "sequences_seen": 8, "step": 2, "tokens_seen": 200})");
  Trained resumed;
  const auto entry = LoadResumable(run, *resumed.model, resumed.adam, {});
  REQUIRE(entry);
  CHECK(entry->step == 2);
  CHECK_FALSE(entry->crc32);
  CHECK(entry->world_size == 1);
  CHECK(Same(Weights(resumed.model), Weights(t.model)));

  ablate::WriteFileAtomically(CheckpointPointerPath(run), "{");
  CHECK_FALSE(LatestCheckpoint(run));
  CHECK_THROWS_WITH(
      LoadResumable(run, *resumed.model, resumed.adam, {}),
      Catch::Contains("checkpoint.json") && Catch::Contains("is not a checkpoint pointer"));
}
