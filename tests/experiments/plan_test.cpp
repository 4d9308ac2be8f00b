// The compute plan of a grid and its warnings, from hand-made data figures, task sizes and
// measurements (the plan is pure): the arithmetic worked by hand, the shipped Table 3 grids at
// equal compute, the warnings on grids crafted to need them, the fine-tuning each run adds and the
// time estimated from recorded rates.
#include "experiments/plan.h"

#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>

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

ex::GridPlan PlanTasks(const std::string& text, const ex::RunDataLookup& lookup,
                       const ex::TaskLookup& tasks,
                       const std::vector<ex::RecordedRun>& recorded = {}) {
  auto grid = ex::ParseGrid(text, "g.json");
  return ex::PlanGrid(grid, ex::ExpandGrid(grid), lookup, tasks, recorded);
}

// Tasks of hand-given kinds and sizes, by name; a name not given is a classification task of
// unknown size.
ex::TaskLookup Tasks(const std::map<std::string, ex::TaskFacts>& known) {
  return [=](const std::vector<ablate::downstream::TaskSpec>& specs) {
    std::vector<ex::TaskFacts> facts;
    for (const auto& spec : specs) {
      auto found = known.find(spec.name);
      facts.push_back(found != known.end() ? found->second
                                           : ex::TaskFacts{spec.name, {}, std::nullopt});
    }
    return facts;
  };
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// The key of the first run whose `name` is `value`.
std::string KeyWhere(const std::string& text, const std::string& name, const json& value) {
  auto grid = ex::ParseGrid(text, "g.json");
  for (const auto& run : ex::ExpandGrid(grid))
    if (run.params.at(name) == value) return run.key;
  return "";
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

TEST_CASE("static runs that see each mask fewer than two times are warned with how often",
          "[plan]") {
  // 10 sequences an update over a 50-sequence corpus: 5 updates an epoch.
  auto masking = [](int steps) {
    return R"({"name": "t", "base": {"train.batch_size": 10, "train.steps": )" +
           std::to_string(steps) + R"(, "optim.warmup_steps": 1, "data.static_copies": 10},
           "axes": {"data.masking": ["static", "dynamic"]}})";
  };
  // 65 updates: 13 epochs over 10 copies, each mask seen 1.3 times.
  const auto barely = Plan(masking(65), Corpus(50, 50));
  REQUIRE(barely.warnings.size() == 1);
  CHECK(barely.warnings[0] ==
        "the grid varies data.masking, but 1 of 1 static runs see each static mask fewer than 2 "
        "times (run " +
            KeyWhere(masking(65), "data.masking", "static") +
            ": 13 epochs, so each of its 10 static masks is seen 1.3 times on average): static and "
            "dynamic masking barely differ. Train for more epochs (a smaller data.max_tokens or "
            "more train.steps) or lower data.static_copies");
  // 50 updates: 10 epochs, each mask once: the runs are the same, as the earlier warning says.
  const auto same = Plan(masking(50), Corpus(50, 50));
  REQUIRE(same.warnings.size() == 1);
  CHECK(same.warnings[0] ==
        "the grid varies data.masking, but 1 of 1 static runs end within data.static_copies epochs "
        "(run " +
            KeyWhere(masking(50), "data.masking", "static") +
            ": 10 of 10), where static masks never repeat: they train exactly as the dynamic run "
            "of the same seed. Train for more epochs (a smaller data.max_tokens or more "
            "train.steps) or lower data.static_copies");
  // 100 updates: 20 epochs, each mask twice: quiet.
  CHECK(Plan(masking(100), Corpus(50, 50)).warnings.empty());
  // 95 updates: 19 epochs, 1.9 times.
  CHECK(Mentions(Plan(masking(95), Corpus(50, 50)), "is seen 1.9 times on average"));
}

TEST_CASE("include entries that trade batch size for steps are held to equal compute", "[plan]") {
  // The base (16 x 50 = 800 sequences) is Table 2's row of micro.json, not a batch-size point:
  // only the entries that set the batch size are compared, 8 x 200 = 1600 with 32 x 60 = 1920.
  const std::string unequal = R"({"name": "t",
      "base": {"optim.warmup_steps": 1, "train.batch_size": 16, "train.steps": 50},
      "include": [{"train.batch_size": 8, "train.steps": 200, "optim.lr": 5e-5, "eval.every": 50},
                  {"train.batch_size": 32, "train.steps": 60, "optim.lr": 2e-4}],
      "seeds": 2})";
  auto grid = ex::ParseGrid(unequal, "g.json");
  const auto runs = ex::ExpandGrid(grid);
  REQUIRE(runs.size() == 6);  // base, then /include/0 and /include/1, two seeds each
  const auto plan = ex::PlanGrid(grid, runs, Corpus(1e6, 50));
  REQUIRE(plan.warnings.size() == 1);
  // 50 tokens a sequence: 96,000 against 80,000 training tokens, 20% more. The first run of
  // least compute and the last of most are named.
  CHECK(plan.warnings[0] ==
        "include entries /include/0 and /include/1 vary train.batch_size, but "
        "their runs are not at equal compute: run " +
            runs[5].key + " (/include/1) gets 9.6e+04 training tokens, run " + runs[2].key +
            " (/include/0) 8e+04 (20% more, tolerance 5%)");
  // Without measured data the sequences are compared.
  CHECK(Mentions(Plan(unequal, Unprepared()), "gets 1920 training sequences, run "));

  // Entries that keep the batch size differ in steps on purpose (Table 4), and entries that
  // differ in the data are separate comparisons.
  CHECK(Plan(R"({"name": "t", "base": {"optim.warmup_steps": 1, "train.steps": 100},
      "include": [{"train.batch_size": 16, "train.steps": 100},
                  {"train.batch_size": 16, "train.steps": 300}]})",
             Corpus(1e6, 50))
            .warnings.empty());
  CHECK(Plan(R"({"name": "t", "base": {"optim.warmup_steps": 1, "train.steps": 100},
      "include": [{"train.batch_size": 8, "train.steps": 100, "data.format": "DOC-SENTENCES"},
                  {"train.batch_size": 32, "train.steps": 100,
                   "data.format": "FULL-SENTENCES"}]})",
             Corpus(1e6, 50))
            .warnings.empty());
}

TEST_CASE("micro.json's Table 3 rows are one equal-compute comparison, and equal",
          "[plan][paper]") {
  // 4,000 sequences an epoch: Table 1's static runs (2,400 x 64) go through it 38 times (3.8 per
  // mask; the paper's, 4) and Table 4's longest (4,800 x 64) 77 times, so no other warning applies
  // either.
  CHECK(PlanFile("micro.json", Corpus(4000, 32)).warnings == std::vector<std::string>{});
  // Its batch-size entries (32 x 4,800, 64 x 2,400, 128 x 1,200 = 153,600 sequences, two learning
  // rates each) are compared although their warmups, evaluations and checkpoints differ: 1,200
  // updates of 128 shortened to 1,000 (128,000 sequences) is named against its neighbour of
  // 153,600.
  std::string text = Slurp(kDir + "micro.json");
  const std::string last = R"("train.batch_size": 128, "optim.lr": 0.006, "train.steps": 1200,)";
  REQUIRE(text.find(last) != std::string::npos);
  text.replace(text.find(last), last.size(),
               R"("train.batch_size": 128, "optim.lr": 0.006, "train.steps": 1000,)");
  const auto shortened = Plan(text, Corpus(4000, 32));
  REQUIRE(shortened.warnings.size() == 1);
  CHECK(Mentions(shortened, "include entries /include/10 and /include/9 vary train.batch_size"));
  CHECK(Mentions(shortened, "(20% more, tolerance 5%)"));
}

TEST_CASE("a run's fine-tuning costs lrs x seeds x epochs x training examples per task", "[plan]") {
  const std::string base = R"({"name": "t", "base": {"train.steps": 10, "optim.warmup_steps": 1,
      "eval.tasks": "uci-sentiment,sq=squad1:/none,mn=mnli:/none")";
  const auto tasks = Tasks({{"uci-sentiment", {"uci-sentiment", {}, 2400}},
                            {"sq", {"sq", ablate::downstream::TaskKind::kSpan, std::nullopt}}});
  // Set by the grid: 2 lrs x 3 seeds x 4 epochs x 2,400 examples = 57,600.
  const auto set = PlanTasks(base + R"(, "eval.lrs": "1e-5,2e-5", "eval.seeds": 3,
      "eval.epochs": 4}})",
                             Corpus(1e6, 50), tasks);
  const auto& f = set.runs[0].finetune;
  REQUIRE(f.size() == 3);
  CHECK(ex::FinetuneText(f[0]) ==
        "uci-sentiment: 2 lrs x 3 seeds x 4 epochs x 2400 training examples = 57.6k example "
        "passes");
  CHECK(*f[0].ExamplePasses() == 2 * 3 * 4 * 2400);
  // A task whose size only loading it would tell: the formula, and no total.
  CHECK(ex::FinetuneText(f[1]) ==
        "sq: 2 lrs x 3 seeds x 4 epochs x its training examples (not known before the task is "
        "loaded) = 24 passes over its training split");
  CHECK(!set.runs[0].finetune_examples);

  // The paper's settings where eval.* leaves them unset (Table 10): GLUE 3 lrs x 10 epochs, SQuAD
  // 1 lr x 2 epochs; eval.seeds' default 5. eval.max_train_examples caps the known size, and
  // bounds the unknown one.
  const auto paper =
      PlanTasks(base + R"(, "eval.max_train_examples": 1000}})", Corpus(1e6, 50), tasks);
  const auto& g = paper.runs[0].finetune;
  REQUIRE(g.size() == 3);
  CHECK(ex::FinetuneText(g[0]) ==
        "uci-sentiment: 3 lrs x 5 seeds x 10 epochs x 1000 training examples = 150k example "
        "passes");
  CHECK(ex::FinetuneText(g[1]) ==
        "sq: 1 lr x 5 seeds x 2 epochs x at most 1000 training examples (eval.max_train_examples) "
        "= at most 10k example passes");
  CHECK(ex::FinetuneText(g[2]) ==
        "mn: 3 lrs x 5 seeds x 10 epochs x at most 1000 training examples "
        "(eval.max_train_examples) = at most 150k example passes");
  REQUIRE(paper.runs[0].finetune_examples);
  CHECK(*paper.runs[0].finetune_examples == 150000 + 10000 + 150000);
  CHECK(paper.runs[0].finetune_at_most);

  // A run without eval.tasks fine-tunes nothing.
  CHECK(PlanTasks(R"({"name": "t", "base": {"train.steps": 10, "optim.warmup_steps": 1}})",
                  Corpus(1e6, 50), tasks)
            .runs[0]
            .finetune.empty());
}

TEST_CASE("the time estimate uses the rates earlier runs measured, a run's own first", "[plan]") {
  // 10 sequences of 50 tokens an update, 1,000 updates: 500,000 tokens; then 1 lr x 1 seed x 4
  // epochs x 2,400 examples = 9,600 example passes.
  const std::string text = R"({"name": "t", "base": {"train.batch_size": 10,
      "train.steps": 1000, "optim.warmup_steps": 1, "eval.tasks": "uci-sentiment",
      "eval.lrs": "3e-4", "eval.seeds": 1, "eval.epochs": 4}, "seeds": 2})";
  const auto tasks = Tasks({{"uci-sentiment", {"uci-sentiment", {}, 2400}}});
  const std::string first = KeyWhere(text, "seed", 1);
  // The first run measured 10,000 tokens/s and 800 examples/s (48,000 in 60 s); a run of another
  // grid 15,000 tokens/s (3M in 200 s) and no fine-tuning.
  const std::vector<ex::RecordedRun> recorded = {{first, 1e6, 100, 48000, 60},
                                                 {"0123456789abcdef", 3e6, 200, 0, 0}};
  const auto plan = PlanTasks(text, Corpus(1e6, 50), tasks, recorded);
  REQUIRE(plan.runs.size() == 2);
  CHECK(plan.rates.runs == 2);
  CHECK(*plan.rates.tokens_per_second == Approx(4e6 / 300));
  CHECK(*plan.rates.finetune_examples_per_second == Approx(800));
  // Its own rates: 500,000 / 10,000 + 9,600 / 800 = 50 + 12 s.
  CHECK(*plan.runs[0].seconds == Approx(62));
  // The second has none: the pooled 13,333 tokens/s, 37.5 s, and 12 s of fine-tuning.
  CHECK(*plan.runs[1].seconds == Approx(49.5));

  // Nothing recorded: no estimate. Pretraining measured but no fine-tuning: none for a run that
  // fine-tunes, one for a run that does not.
  CHECK(!PlanTasks(text, Corpus(1e6, 50), tasks).runs[0].seconds);
  CHECK(!PlanTasks(text, Corpus(1e6, 50), tasks, {{first, 1e6, 100, 0, 0}}).runs[0].seconds);
  const auto pretraining_only =
      Plan(R"({"name": "t", "base": {"train.batch_size": 10, "train.steps": 1000,
      "optim.warmup_steps": 1}})",
           Corpus(1e6, 50));
  CHECK(!pretraining_only.runs[0].seconds);
  auto grid = ex::ParseGrid(R"({"name": "t", "base": {"train.batch_size": 10,
      "train.steps": 1000, "optim.warmup_steps": 1}})",
                            "g.json");
  const auto alone =
      ex::PlanGrid(grid, ex::ExpandGrid(grid), Corpus(1e6, 50), tasks, {{first, 1e6, 100, 0, 0}});
  CHECK(*alone.runs[0].seconds == Approx(50));
  // Without data figures there are no tokens to time.
  CHECK(!PlanTasks(text, Unprepared(), tasks, recorded).runs[0].seconds);

  CHECK(ex::DurationText(42) == "42s");
  CHECK(ex::DurationText(185) == "3m05s");
  CHECK(ex::DurationText(3720) == "1h02m");
}
