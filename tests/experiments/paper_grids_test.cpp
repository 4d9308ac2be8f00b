// The shipped paper-scale grids against the paper's recipes (experiments/roberta/
// paper_reference.json, copied from Liu et al. 2019).
#include <catch2/catch.hpp>
#include <fstream>
#include <map>
#include <set>

#include "experiments/grid.h"

using nlohmann::json;
namespace ex = ablate::experiments;

namespace {

const std::string kDir = std::string(ABLATE_SOURCE_DIR) + "/experiments/roberta/";

std::vector<ex::RunSpec> Runs(const std::string& file) {
  return ex::ExpandGrid(ex::LoadGrid(kDir + file));
}

json Reference() {
  std::ifstream in(kDir + "paper_reference.json");
  return json::parse(in);
}

std::set<json> Distinct(const std::vector<ex::RunSpec>& runs, const std::string& name) {
  std::set<json> out;
  for (const auto& r : runs) out.insert(r.params.at(name));
  return out;
}

}  // namespace

TEST_CASE("every paper grid has five seeds per row, as the paper reports medians of five",
          "[paper]") {
  CHECK(Runs("table1_masking.json").size() == 2 * 5);
  CHECK(Runs("table2_input_format.json").size() == 4 * 5);
  CHECK(Runs("table3_batch_size.json").size() == 3 * 5);
  CHECK(Runs("table4_data_steps.json").size() == 4 * 5);
  for (const char* file : {"table1_masking.json", "table2_input_format.json",
                           "table3_batch_size.json", "table4_data_steps.json"}) {
    INFO(file);
    CHECK(Distinct(Runs(file), "seed") == std::set<json>{1, 2, 3, 4, 5});
  }
}

TEST_CASE("table 1 and 2 grids follow the BERT-BASE baseline recipe", "[paper]") {
  auto bert = Reference()["pretraining_hyperparameters"]["bert_baseline"];
  for (const char* file : {"table1_masking.json", "table2_input_format.json"}) {
    INFO(file);
    for (const auto& run : Runs(file)) {
      CHECK(run.params["optim.lr"] == bert["peak_lr"]);
      CHECK(run.params["optim.beta2"] == bert["beta2"]);
      CHECK(run.params["optim.eps"] == bert["eps"]);
      CHECK(run.params["optim.weight_decay"] == bert["weight_decay"]);
      CHECK(run.params["optim.warmup_steps"] == bert["warmup_steps"]);
      CHECK(run.params["train.steps"] == bert["max_steps"]);
      CHECK(run.params["train.batch_size"] == bert["batch_size"]);
      CHECK(run.params["data.seq_len"] == bert["seq_len"]);
      CHECK(run.params["model.hidden"] == 768);
      CHECK(run.params["model.layers"] == 12);
    }
  }
  CHECK(Distinct(Runs("table1_masking.json"), "data.masking") ==
        std::set<json>{"static", "dynamic"});
  CHECK(Distinct(Runs("table2_input_format.json"), "data.format") ==
        std::set<json>{"SEGMENT-PAIR+NSP", "SENTENCE-PAIR+NSP", "FULL-SENTENCES", "DOC-SENTENCES"});
}

TEST_CASE("table 3 links batch size, steps and lr as the paper's rows, at equal compute",
          "[paper]") {
  auto rows = Reference()["table3_batch_size"]["rows"];
  auto runs = Runs("table3_batch_size.json");
  std::set<std::tuple<json, json, json>> got, want;
  for (const auto& r : runs) {
    got.insert(std::make_tuple(r.params["train.batch_size"], r.params["train.steps"],
                               r.params["optim.lr"]));
    // Sequences seen stay within 1% of BERT's 256 x 1M.
    double sequences =
        r.params["train.batch_size"].get<double>() * r.params["train.steps"].get<double>();
    CHECK(sequences == Approx(256.0 * 1e6).epsilon(0.01));
  }
  for (const auto& row : rows) {
    want.insert(std::make_tuple(row["values"][0], row["values"][1], row["values"][2]));
  }
  CHECK(got == want);
  // Section 3.1: beta2 = 0.98 for large batches; the 256 row keeps BERT's 0.999.
  const auto hyper = Reference()["pretraining_hyperparameters"];
  for (const auto& r : runs) {
    INFO(r.params["train.batch_size"]);
    CHECK(r.params["optim.beta2"] == (r.params["train.batch_size"] == 256
                                          ? hyper["bert_baseline"]["beta2"]
                                          : hyper["roberta_changes"]["beta2_large_batch"]));
  }
}

TEST_CASE("every paper grid trains on full-length sequences only (section 3.1)", "[paper]") {
  for (const char* file : {"table1_masking.json", "table2_input_format.json",
                           "table3_batch_size.json", "table4_data_steps.json", "micro.json"}) {
    INFO(file);
    CHECK(Distinct(Runs(file), "data.short_seq_prob") == std::set<json>{0.0});
  }
}

TEST_CASE("every row of Table 4 is scored on the same held-out texts, its own and the large one",
          "[paper]") {
  CHECK(Distinct(Runs("table4_data_steps.json"), "eval.corpus") == std::set<json>{"books,mixture"});
  // The micro grid scores every run on both corpora, so its data-size rows share both texts.
  CHECK(Distinct(Runs("micro.json"), "eval.corpus") == std::set<json>{"books,mixture"});
}

TEST_CASE("table 4 adds data, then steps, on BERT-LARGE with batch 8K", "[paper]") {
  auto large = Reference()["pretraining_hyperparameters"]["roberta_large_appendix_table9"];
  auto rows = Reference()["table4_data_and_steps"]["rows"];
  auto runs = Runs("table4_data_steps.json");
  std::vector<std::pair<json, json>> got;
  for (const auto& r : runs) {
    CHECK(r.params["model.layers"] == large["layers"]);
    CHECK(r.params["model.hidden"] == large["hidden"]);
    CHECK(r.params["model.heads"] == large["heads"]);
    CHECK(r.params["model.ffn"] == large["ffn"]);
    CHECK(r.params["train.batch_size"] == 8192);
    CHECK(r.params["optim.beta2"] == large["beta2"]);
    CHECK(r.params["optim.lr"] == large["peak_lr"]);
    CHECK(r.params["optim.warmup_steps"] == large["warmup_steps"]);
    CHECK(r.params["optim.eps"] == large["eps"]);
    CHECK(r.params["optim.weight_decay"] == large["weight_decay"]);
    if (r.params["seed"] == 1) got.emplace_back(r.params["data.corpus"], r.params["train.steps"]);
  }
  // The four RoBERTa rows: 16GB/100K, then 160GB at 100K, 300K, 500K steps.
  REQUIRE(got.size() == 4);
  for (size_t i = 0; i < 4; ++i) {
    INFO(i);
    CHECK(got[i].second == rows[i]["values"][2]);
    CHECK(got[i].first == (rows[i]["values"][0] == "16GB" ? "books" : "mixture"));
  }
}

TEST_CASE("the micro grid gives every row runs enough to test: 4 seeds, 50 updates, short warmup",
          "[paper]") {
  const auto runs = Runs("micro.json");
  std::map<json, int> seeds_per_row;
  for (const auto& r : runs) {
    json row = r.params;
    row.erase("seed");
    ++seeds_per_row[row];
    INFO(r.key);
    CHECK(r.params["train.steps"].get<int64_t>() >= 50);
    CHECK(r.params["optim.warmup_steps"].get<double>() <=
          0.1 * r.params["train.steps"].get<double>());
  }
  for (const auto& [row, seeds] : seeds_per_row) CHECK(seeds >= 4);
  // Table 3's rows: equal training sequences, batch x updates, and at least two learning rates
  // per batch size for the report to choose from (report.json's "tune").
  std::set<double> sequences;
  std::map<json, std::set<json>> lrs;
  for (const auto& r : runs) {
    if (r.params["data.corpus"] == "books" && r.params["data.max_tokens"] == 0 &&
        r.params["data.format"] == "FULL-SENTENCES") {
      sequences.insert(r.params["train.batch_size"].get<double>() *
                       r.params["train.steps"].get<double>());
      lrs[r.params["train.batch_size"]].insert(r.params["optim.lr"]);
    }
  }
  CHECK(sequences == std::set<double>{153600});
  REQUIRE(lrs.size() == 3);
  for (const auto& [batch, values] : lrs) {
    INFO(batch);
    CHECK(values.size() >= 2);
  }
}
