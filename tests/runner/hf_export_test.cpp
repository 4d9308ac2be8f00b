// `ablate export` end to end: a run trained by `ablate train` is exported, and a reader written
// the way Hugging Face's RoBERTa and BERT modules are (tests/data/hf_export_check.py, python3-torch
// and the standard library only) reproduces ablate's masked-LM logits from model.safetensors, and
// the exported vocab.json + merges.txt reproduce `ablate tokenize`'s ids.
#include <sys/wait.h>
#include <torch/torch.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <vector>

#include "core/batch_tensors.h"
#include "core/checkpoint.h"
#include "core/corpus.h"
#include "core/model.h"
#include "core/trainer.h"
#include "experiments/grid.h"
#include "tests/support.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

using ablate::test::Shell;

json Config(const std::string& format) {
  return {{"data.corpus", std::string(ABLATE_SOURCE_DIR) + "/tests/data/corpus_small"},
          {"data.tokenizer", "bpe-300"},
          {"data.format", format},
          {"data.seq_len", 32},
          {"train.batch_size", 4},
          {"train.steps", 12},
          {"train.checkpoint_every", 0},
          {"model.layers", 2},
          {"model.hidden", 16},
          {"model.heads", 2},
          {"model.ffn", 32},
          {"optim.lr", 1e-3},
          {"optim.warmup_steps", 2},
          {"eval.every", 0},
          {"eval.sequences", 8}};
}

// Exports a freshly trained run of `format` and has the Python reader check it.
void CheckExport(const std::string& format, const std::string& expected_model_type) {
  ablate::test::TempDir dir;
  const json params = Config(format);
  dir.Write("run.json", params.dump());
  const std::string ablate = std::string(ABLATE_BINARY);
  const std::string common = " --db " + dir.File("r.db") + " --data-dir " + dir.File("data");
  REQUIRE(Shell(ablate + " train --config " + dir.File("run.json") + " --run-dir " +
                dir.File("run") + common + " --threads 1")
              .code == 0);
  const auto spec = ablate::experiments::LoadRunConfig(params, "run.json");
  const auto exported =
      Shell(ablate + " export --run " + spec.key + " --to " + dir.File("hf") + common);
  INFO(exported.out);
  REQUIRE(exported.code == 0);
  const json config = json::parse(std::ifstream(dir / "hf" / "config.json"));
  CHECK(config["model_type"] == expected_model_type);
  CHECK(config["max_position_embeddings"] == (expected_model_type == "roberta" ? 34 : 32));
  CHECK(config["layer_norm_eps"] == 1e-5);
  for (const char* file : {"model.safetensors", "vocab.json", "merges.txt", "tokenizer_config.json",
                           "special_tokens_map.json", "README.md"}) {
    CHECK(fs::exists(dir / "hf" / file));
  }

  // ablate's logits on a padded batch of held-out-style text, at every position.
  const auto train = spec.config.Pretraining();
  auto prepared =
      ablate::core::PrepareCorpus(dir / "data", train.data.corpus, train.data.tokenizer);
  auto& tok = prepared.tokenizer;
  ablate::core::BertModel model(ablate::core::MakeModelOptions(train, tok));
  ablate::core::LoadModelState(ablate::core::LatestCheckpoint(dir / "run")->path.string(), *model);
  model->eval();
  const std::vector<std::string> texts = {"She had lived nearly twenty-one years in the world.",
                                          "It is a truth universally acknowledged.",
                                          "Call me Ishmael. Some years ago, never mind how long"};
  std::vector<std::vector<int32_t>> rows;
  json text_ids = json::array();
  for (const auto& text : texts) {
    auto ids = tok.Encode(text);
    text_ids.push_back(ids);
    std::vector<int32_t> row = {tok.bos_id()};
    row.insert(row.end(), ids.begin(), ids.end());
    row.push_back(tok.eos_id());
    if (row.size() > 32) row.resize(32);
    rows.push_back(row);
  }
  ablate::core::Batch batch;
  batch.rows = static_cast<int64_t>(rows.size());
  for (const auto& r : rows)
    batch.cols = std::max<int64_t>(batch.cols, static_cast<int64_t>(r.size()));
  for (const auto& r : rows) {
    for (int64_t c = 0; c < batch.cols; ++c) {
      const bool real = c < static_cast<int64_t>(r.size());
      batch.input_ids.push_back(real ? r[static_cast<size_t>(c)] : tok.pad_id());
      batch.labels.push_back(ablate::core::kIgnoreLabel);
      // Two segments for BERT's token types: the second half of each row is segment B.
      batch.segment_ids.push_back(
          real && c >= static_cast<int64_t>(r.size()) / 2 && expected_model_type == "bert" ? 1 : 0);
    }
    batch.lengths.push_back(static_cast<int32_t>(r.size()));
    batch.nsp_labels.push_back(ablate::core::kNoNspLabel);
    batch.tokens += static_cast<int64_t>(r.size());
  }
  torch::NoGradGuard no_grad;
  const auto logits =
      model->AllPositionLogits(ablate::core::ToTensors(batch, torch::kCPU)).contiguous();
  const json the_case = {{"rows", batch.rows},
                         {"cols", batch.cols},
                         {"input_ids", batch.input_ids},
                         {"segment_ids", batch.segment_ids},
                         {"lengths", batch.lengths},
                         {"logits", std::vector<float>(logits.data_ptr<float>(),
                                                       logits.data_ptr<float>() + logits.numel())},
                         {"texts", texts},
                         {"text_ids", text_ids}};
  dir.Write("case.json", the_case.dump());
  // `ablate tokenize` gives the ids the case holds.
  const fs::path tokenizer_dir = *fs::directory_iterator(dir / "data" / "tokenizers");
  const auto tokenized = Shell("printf %s '" + texts[1] + "' | " + ablate +
                               " tokenize --tokenizer " + tokenizer_dir.string());
  std::string expected;
  for (size_t i = 0; i < text_ids[1].size(); ++i)
    expected += (i ? " " : "") + std::to_string(text_ids[1][i].get<int>());
  CHECK(tokenized.out == expected + "\n");

  // Debian's python3-torch, or $ABLATE_PYTHON; with ABLATE_HF_TRANSFORMERS=1 (the GPU machine,
  // whose image has transformers) the export is also loaded by transformers itself.
  const char* with_transformers = std::getenv("ABLATE_HF_TRANSFORMERS");
  const bool transformers = with_transformers && std::string(with_transformers) == "1";
  const auto checked = Shell(ablate::test::Python() + " " + std::string(ABLATE_SOURCE_DIR) +
                             "/tests/data/hf_export_check.py " + dir.File("hf") + " " +
                             dir.File("case.json") + (transformers ? " --transformers" : ""));
  INFO(checked.out);
  REQUIRE(checked.code == 0);
  const json report = json::parse(checked.out);
  INFO("hf_export_check: " << checked.out);
  CHECK(report["max_logit_diff"].get<double>() <= 1e-4);
  CHECK(report["token_mismatches"] == 0);
  CHECK(report["specials"] == json::array({0, 1, 2, 3, tok.vocab_size() - 1}));
  if (transformers) {
    CHECK(report["transformers_max_logit_diff"].get<double>() <= 1e-4);
    CHECK(report["transformers_token_mismatches"] == 0);
  }
}

}  // namespace

TEST_CASE("an exported packed-format run reads back as RoBERTa with the same logits and ids",
          "[export][slow]") {
  CheckExport("FULL-SENTENCES", "roberta");
}

TEST_CASE("an exported NSP-format run reads back as BERT with the same logits and ids",
          "[export][slow]") {
  CheckExport("SEGMENT-PAIR+NSP", "bert");
}

TEST_CASE("export refuses unknown and unfinished runs with exit 2", "[export]") {
  ablate::test::TempDir dir;
  const std::string ablate = std::string(ABLATE_BINARY);
  dir.Write("g.json", R"({"name": "g", "axes": {"seed": [1]}})");
  REQUIRE(Shell(ablate + " submit " + dir.File("g.json") + " --db " + dir.File("r.db")).code == 0);
  auto unknown =
      Shell(ablate + " export --db " + dir.File("r.db") + " --run nope --to " + dir.File("out"));
  CHECK(unknown.code == 2);
  CHECK_THAT(unknown.out, Catch::Contains("no run nope"));
  const auto key =
      Shell(ablate + " sql --db " + dir.File("r.db") + " --format csv \"SELECT key FROM runs\"");
  const std::string run_key = key.out.substr(key.out.find('\n') + 1, 16);
  auto queued = Shell(ablate + " export --db " + dir.File("r.db") + " --run " + run_key + " --to " +
                      dir.File("out"));
  CHECK(queued.code == 2);
  CHECK_THAT(queued.out, Catch::Contains("is queued"));
  CHECK_FALSE(fs::exists(dir / "out"));
}

TEST_CASE("export refuses a folder that is not empty, a link or a run's folder unless --force",
          "[export]") {
  ablate::test::TempDir dir;
  const json params = Config("FULL-SENTENCES");
  dir.Write("run.json", params.dump());
  const std::string ablate = std::string(ABLATE_BINARY);
  const std::string common = " --db " + dir.File("r.db") + " --data-dir " + dir.File("data");
  const auto spec = ablate::experiments::LoadRunConfig(params, "run.json");
  // Laid out as a worker lays runs out, <runs>/<experiment>/<key>: `ablate train`'s experiment is
  // "train".
  const fs::path run_dir = dir / "runs" / "train" / spec.key;
  REQUIRE(Shell(ablate + " train --config " + dir.File("run.json") + " --run-dir " +
                run_dir.string() + common + " --threads 1")
              .code == 0);
  const auto to = [&](const fs::path& where, const std::string& more = "") {
    return Shell(ablate + " export --run " + spec.key + " --to " + where.string() + common + more);
  };
  const auto listing = [](const fs::path& folder) {
    std::map<std::string, std::string> files;
    for (const auto& e : fs::recursive_directory_iterator(folder)) {
      if (e.is_directory()) {
        files[e.path().string()] = "(folder)";
        continue;
      }
      std::ifstream in(e.path(), std::ios::binary);
      files[e.path().string()] = std::string((std::istreambuf_iterator<char>(in)), {});
    }
    return files;
  };
  fs::create_directories(dir / "full");
  dir.Write("full/config.json", "mine");
  dir.Write("full/notes.txt", "keep");
  fs::create_directories(dir / "empty");
  fs::create_directory_symlink(dir / "empty", dir / "link");
  dir.Write("afile", "a file");
  const auto runs_before = listing(dir / "runs");

  struct Refusal {
    fs::path to;
    std::string why;
  };
  for (const auto& [where, why] :
       std::vector<Refusal>{{dir / "full", "is a folder that is not empty"},
                            {dir / "link", "is a symbolic link"},
                            {run_dir, "lies in the directory of run " + spec.key},
                            {run_dir / "hf", "lies in the directory of run " + spec.key},
                            {dir / "runs" / "other", "lies in the runs directory"},
                            {dir / "runs" / "train" / "x" / ".." / "other", "lies in the runs"}}) {
    const auto refused = to(where);
    INFO(where.string() << ": " << refused.out);
    CHECK(refused.code == 2);
    CHECK_THAT(refused.out, Catch::Contains(why) && Catch::Contains("--force"));
  }
  CHECK(fs::is_empty(dir / "empty"));
  CHECK(listing(dir / "runs") == runs_before);
  CHECK(ablate::test::Shell("cat " + dir.File("full/config.json")).out == "mine");
  CHECK_FALSE(fs::exists(dir / "runs" / "other"));
  const auto not_folder = to(dir / "afile", " --force");
  CHECK(not_folder.code == 2);
  CHECK_THAT(not_folder.out, Catch::Contains("is not a folder"));

  // An empty folder needs no --force; with it, the refused ones are written.
  REQUIRE(to(dir / "empty").code == 0);
  const auto forced = to(dir / "full", " --force");
  INFO(forced.out);
  REQUIRE(forced.code == 0);
  const json config = json::parse(std::ifstream(dir / "full" / "config.json"));
  CHECK(config["model_type"] == "roberta");
  CHECK(ablate::test::Shell("cat " + dir.File("full/notes.txt")).out == "keep");
  for (const fs::path& folder : {dir / "full", dir / "empty"}) {
    std::set<std::string> names;
    for (const auto& e : fs::directory_iterator(folder)) names.insert(e.path().filename().string());
    std::set<std::string> expected = {
        "config.json",           "model.safetensors",       "vocab.json", "merges.txt",
        "tokenizer_config.json", "special_tokens_map.json", "README.md"};
    if (folder == dir / "full") expected.insert("notes.txt");
    CHECK(names == expected);  // no temporary, no scratch tokenizer left
  }
  REQUIRE(to(dir / "link", " --force").code == 0);
  CHECK(fs::exists(dir / "empty" / "config.json"));
}
