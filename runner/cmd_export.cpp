// ablate export --db FILE --run KEY --to DIR: a finished run's model and tokenizer as Hugging Face
// `transformers` loads them (core/hf_export.h), with a model card of its parameters, provenance
// and scores.
#include <filesystem>
#include <fstream>
#include <iostream>

#include "base/atomic_file.h"
#include "base/error.h"
#include "base/number_text.h"
#include "core/checkpoint.h"
#include "core/corpus.h"
#include "core/hf_export.h"
#include "core/trainer.h"
#include "experiments/grid.h"
#include "experiments/params.h"
#include "results/run_reads.h"
#include "runner/cli.h"

namespace ablate::runner {

namespace fs = std::filesystem;

namespace {

std::string ModelCard(const results::RunDescription& run, const experiments::RunSpec& spec,
                      int64_t step, bool bert) {
  std::string card = "---\nlibrary_name: transformers\ntags:\n- fill-mask\n- ablate\n---\n\n";
  card += "# " + run.experiment + "/" + run.key + "\n\n";
  card += std::string("A ") +
          (bert ? "BERT (BertForPreTraining layout, with its NSP head)"
                : "RoBERTa (RobertaForMaskedLM)") +
          " model pretrained by ablate for " + std::to_string(step) + " updates, run `" + run.key +
          "` of experiment `" + run.experiment + "`. Its " +
          "tokenizer is the byte-level BPE the run used (`" +
          spec.params.at("data.tokenizer").get<std::string>() +
          "`), with Hugging Face's "
          "special-token ids.\n\n";
  card +=
      "```python\nfrom transformers import AutoModelForMaskedLM, AutoTokenizer\n"
      "model = AutoModelForMaskedLM.from_pretrained(\"DIR\")\n"
      "tokenizer = AutoTokenizer.from_pretrained(\"DIR\")\n```\n\n";
  card += "## Scores\n\n| metric | value |\n| --- | ---: |\n";
  for (const auto& [name, value] : run.finals)
    card += "| " + name + " | " + ShortestText(value) + " |\n";
  card += "\n## Parameters\n\n| parameter | value |\n| --- | --- |\n";
  for (const auto& [name, value] : spec.params.items())
    card += "| " + name + " | " + experiments::CanonicalText(value) + " |\n";
  card += "\n## Provenance\n\n";
  for (const auto& [name, value] : run.provenance)
    if (!value.empty()) card += "- " + name + ": " + value + "\n";
  return card;
}

}  // namespace

int CmdExport(const Args& args) {
  po::options_description options("options");
  options.add_options()("db", po::value<std::string>()->required(), "results database")(
      "run", po::value<std::string>()->required(), "the run's key")(
      "experiment", po::value<std::string>(), "its experiment, when keys repeat across them")(
      "to", po::value<std::string>()->required(), "directory to write (created if missing)");
  AddDataDirOption(options, "data directory with the run's tokenizer");
  auto vm = ParseOptions(args, "ablate export --db FILE --run KEY --to DIR", options);
  if (!vm) return 0;
  const std::string key = (*vm)["run"].as<std::string>();
  const auto run = results::ReadRunByKey(
      (*vm)["db"].as<std::string>(), key,
      vm->count("experiment") ? std::optional<std::string>((*vm)["experiment"].as<std::string>())
                              : std::nullopt);
  if (run.status != "completed") {
    throw InputError(
        "", "--run",
        "run " + key + " is " + run.status + ": only a completed run's final weights are exported");
  }
  const auto spec = experiments::LoadRunConfig(run.params, run.experiment + "/" + key);
  const auto config = spec.config.Pretraining();
  const auto checkpoint = run.run_dir.empty() ? std::nullopt : core::LatestCheckpoint(run.run_dir);
  if (!checkpoint || checkpoint->step != config.train.steps) {
    throw InputError("", "--run",
                     "run " + key + " has no final checkpoint" +
                         (run.run_dir.empty() ? std::string(" (no run directory recorded)")
                                              : " in " + run.run_dir) +
                         ": it cannot be exported");
  }
  auto prepared = core::PrepareCorpus(DataDirFrom(*vm), config.data.corpus, config.data.tokenizer);
  core::BertModel model(core::MakeModelOptions(config, prepared.tokenizer));
  core::LoadModelState(checkpoint->path.string(), *model);
  model->eval();
  const fs::path dir = (*vm)["to"].as<std::string>();
  core::ExportHuggingFace(model, prepared.tokenizer, config.data.seq_len, dir);
  const bool bert = model->options().type_vocab_size > 0;
  WriteFileAtomically(dir / "README.md", ModelCard(run, spec, checkpoint->step, bert));
  std::cout << "exported " << run.experiment << "/" << key << " (step " << checkpoint->step << ", "
            << (bert ? "BERT" : "RoBERTa") << " layout) to " << dir.string() << "\n";
  return 0;
}

}  // namespace ablate::runner
