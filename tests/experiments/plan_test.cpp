// The compute plan of a grid and its warnings, from hand-made data figures (the plan is pure):
// the arithmetic worked by hand, the shipped Table 3 grid at equal compute, and the three warnings
// on grids crafted to need them.
#include "experiments/plan.h"

#include <catch2/catch.hpp>

#include "core/model_size.h"

using nlohmann::json;
namespace ex = ablate::experiments;

namespace {

const std::string kDir = std::string(ABLATE_SOURCE_DIR) + "/experiments/roberta/";

// Every run's corpus holds `sequences` sequences of `length` tokens (count formats); token formats
// get a budget of batch_size x length.
ex::RunDataLookup Corpus(double sequences, double length, int64_t vocab = 1000) {
  return [=](const ex::RunSpec& run) -> std::optional<ex::RunData> {
    const double batch = run.params.at("train.batch_size").get<double>();
    ex::RunData d;
    d.vocab_size = vocab;
    d.data.sequences_per_epoch = static_cast<uint64_t>(sequences);
    d.data.tokens_per_sequence = length;
    d.data.sequences_per_update = batch;
    d.data.tokens_per_update = batch * length;
    return d;
  };
}

ex::RunDataLookup Unprepared() {
  return [](const ex::RunSpec&) -> std::optional<ex::RunData> { return std::nullopt; };
}

ex::GridPlan Plan(const std::string& text, const ex::RunDataLookup& lookup) {
  auto grid = ex::ParseGrid(text, "g.json");
  return ex::PlanGrid(grid, ex::ExpandGrid(grid), lookup);
}

ex::GridPlan PlanFile(const std::string& file, const ex::RunDataLookup& lookup) {
  auto grid = ex::LoadGrid(kDir + file);
  return ex::PlanGrid(grid, ex::ExpandGrid(grid), lookup);
}

bool Mentions(const ex::GridPlan& plan, const std::string& text) {
  for (const auto& w : plan.warnings)
    if (w.find(text) != std::string::npos) return true;
  return false;
}

}  // namespace

TEST_CASE("a run's plan: tokens, epochs and 6 x parameters x tokens FLOPs", "[plan]") {
  auto plan = Plan(
      R"({"name": "t", "base": {"train.batch_size": 8, "train.steps": 10, "optim.warmup_steps": 1,
      "data.format": "FULL-SENTENCES", "data.seq_len": 64, "model.layers": 2, "model.hidden": 32,
      "model.heads": 2, "model.ffn": 64}})",
      Corpus(20, 50));
  REQUIRE(plan.runs.size() == 1);
  const auto& p = plan.runs[0];
  CHECK(*p.tokens_per_update == 400);  // 8 sequences of 50 tokens
  CHECK(*p.total_tokens == 4000);
  CHECK(*p.epochs == 4);  // 80 sequences over a 20-sequence epoch
  // Embeddings (1000 + 64) x 32 + 64; 2 layers of 4*32^2 + 2*32*64 + 9*32 + 64; the MLM head.
  const int64_t parameters = (1000 + 64) * 32 + 64 + 2 * (4 * 32 * 32 + 2 * 32 * 64 + 9 * 32 + 64) +
                             (32 * 32 + 32 + 64 + 1000);
  CHECK(*p.parameters == parameters);
  CHECK(*p.flops == 6.0 * parameters * 4000);
  CHECK(plan.warnings.empty());

  // An unprepared corpus: no figures, and no warnings that need them.
  auto unknown =
      Plan(R"({"name": "t", "base": {"train.steps": 10, "optim.warmup_steps": 1}})", Unprepared());
  CHECK(!unknown.runs[0].tokens_per_update);
  CHECK(!unknown.runs[0].epochs);
  CHECK(!unknown.runs[0].flops);
  CHECK(unknown.warnings.empty());
}

TEST_CASE("the shipped Table 3 grid is at equal compute and silent on a large enough corpus",
          "[plan][paper]") {
  // A corpus of the paper's size: 16GB of text is about 4B tokens, 8M sequences of 500.
  auto large = PlanFile("table3_batch_size.json", Corpus(8e6, 500));
  CHECK(large.warnings == std::vector<std::string>{});
  // On the shipped books corpus (about 3.1K sequences of 512) it goes through the data ~80K times.
  auto books = PlanFile("table3_batch_size.json", Corpus(3100, 500));
  CHECK(Mentions(books, "more than 100 times"));
  CHECK(!Mentions(books, "equal compute"));
}

TEST_CASE("a group that trades batch size for steps is warned when compute differs by over 5%",
          "[plan]") {
  const std::string unequal = R"({"name": "t", "base": {"optim.warmup_steps": 1},
      "linked": [{"train.batch_size": [8, 16], "train.steps": [100, 60],
      "optim.lr": [1e-4, 2e-4]}], "seeds": 2})";
  auto plan = Plan(unequal, Corpus(1e6, 50));
  REQUIRE(plan.warnings.size() == 1);
  CHECK(Mentions(plan, "/linked/0 varies train.batch_size"));
  CHECK(Mentions(plan, "20% more"));
  // Without measured data the sequences are compared.
  CHECK(Mentions(Plan(unequal, Unprepared()), "training sequences"));
  // Within 5%: silent (Table 3's 8K x 31K is 0.8% short of 256 x 1M).
  CHECK(Plan(R"({"name": "t", "base": {"optim.warmup_steps": 1},
      "linked": [{"train.batch_size": [8, 16], "train.steps": [100, 49]}]})",
             Corpus(1e6, 50))
            .warnings.empty());
  // A group that does not vary the batch size (Table 4's data and steps) differs on purpose.
  CHECK(Plan(R"({"name": "t", "base": {"optim.warmup_steps": 1},
      "linked": [{"data.max_tokens": [1000, 2000], "train.steps": [100, 300]}]})",
             Corpus(1e6, 50))
            .warnings.empty());
  CHECK(PlanFile("table4_data_steps.json", Corpus(8e7, 500)).warnings.empty());
}

TEST_CASE("runs over 100 epochs, and static runs that never repeat a mask, are warned", "[plan]") {
  auto many = Plan(R"({"name": "t", "base": {"train.batch_size": 10, "train.steps": 1001,
                   "optim.warmup_steps": 1}})",
                   Corpus(100, 50));
  REQUIRE(many.warnings.size() == 1);
  CHECK(Mentions(many, "1 of 1 runs would go through their corpus more than 100 times"));
  CHECK(Mentions(many, "100 epochs"));

  const std::string masking = R"({"name": "t", "base": {"train.batch_size": 10,
      "train.steps": 50, "optim.warmup_steps": 1, "data.static_copies": 10}, "axes": {"data.masking": ["static",
      "dynamic"]}})";
  // 500 sequences over a 100-sequence corpus: 5 epochs, fewer than the 10 static copies.
  auto same = Plan(masking, Corpus(100, 50));
  REQUIRE(same.warnings.size() == 1);
  CHECK(Mentions(same, "varies data.masking, but 1 of 1 static runs"));
  // 25 epochs: static masks repeat, the runs differ.
  CHECK(Plan(masking, Corpus(20, 50)).warnings.empty());
  // A grid that does not vary masking is not warned.
  CHECK(Plan(R"({"name": "t", "base": {"train.batch_size": 10, "train.steps": 50,
                    "optim.warmup_steps": 1}})",
             Corpus(100, 50))
            .warnings.empty());
}
