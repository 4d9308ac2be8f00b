// ablate export --db FILE --run KEY --to DIR: a finished run's model and tokenizer as Hugging Face
// `transformers` loads them (core/hf_export.h), with a model card of its parameters, provenance
// and scores.
#include <algorithm>
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

// `path` made absolute with its links resolved (as far as it exists) and no trailing separator.
fs::path Resolved(const fs::path& path) {
  fs::path resolved = fs::weakly_canonical(fs::absolute(path));
  return resolved.has_filename() ? resolved : resolved.parent_path();
}

// Whether `inner` is `outer` or lies inside it.
bool IsWithin(const fs::path& inner, const fs::path& outer) {
  const fs::path a = Resolved(inner), b = Resolved(outer);
  return std::mismatch(b.begin(), b.end(), a.begin(), a.end()).first == b.end();
}

// Refuses, unless `force`, a destination whose files an export would silently replace: any folder
// in a run directory the database records or in the runs directory of those a worker laid out as
// <runs>/<experiment>/<key> (a run's config.json is its own), a symbolic link (the files would
// land wherever it points) and a folder that is not empty. A destination that is not a folder is
// refused even then.
void CheckDestination(const fs::path& to, const std::string& db, bool force) {
  const auto refuse = [&](const std::string& why) {
    throw InputError("", "--to",
                     to.string() + " " + why + ": pass --force to export into it anyway " +
                         "(files of the same names are replaced)");
  };
  const fs::file_status link = fs::symlink_status(to);
  if (fs::exists(fs::status(to)) && !fs::is_directory(to))
    throw InputError("", "--to", to.string() + " exists and is not a folder");
  if (force) return;
  for (const auto& run : results::ReadRunDirectories(db)) {
    const fs::path run_dir = run.path;
    if (IsWithin(to, run_dir))
      refuse("lies in the directory of run " + run.key + " (" + run.path + ")");
    if (run_dir.filename() == run.key && run_dir.parent_path().filename() == run.experiment) {
      const fs::path runs_dir = run_dir.parent_path().parent_path();
      // A run directory right under the root ("/exp/key") names no runs directory to keep.
      if (Resolved(runs_dir).has_relative_path() && IsWithin(to, runs_dir))
        refuse("lies in the runs directory " + runs_dir.string());
    }
  }
  if (fs::is_symlink(link)) refuse("is a symbolic link");
  if (fs::is_directory(link) && !fs::is_empty(to)) refuse("is a folder that is not empty");
}

}  // namespace

int CmdExport(const Args& args) {
  po::options_description options("options");
  options.add_options()("db", po::value<std::string>()->required(), "results database")(
      "run", po::value<std::string>()->required(), "the run's key")(
      "experiment", po::value<std::string>(), "its experiment, when keys repeat across them")(
      "to", po::value<std::string>()->required(),
      "directory to write (created if missing; refused when it is not empty, a symbolic link, or "
      "inside the runs directory)")(
      "force", "export into --to even when it is refused (files of the same names are replaced)");
  AddDataDirOption(options, "data directory with the run's tokenizer");
  auto vm = ParseOptions(args, "ablate export --db FILE --run KEY --to DIR [--force]", options);
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
  const fs::path dir = (*vm)["to"].as<std::string>();
  CheckDestination(dir, (*vm)["db"].as<std::string>(), vm->count("force") > 0);
  auto prepared = core::PrepareCorpus(DataDirFrom(*vm), config.data.corpus, config.data.tokenizer);
  core::BertModel model(core::MakeModelOptions(config, prepared.tokenizer));
  core::LoadModelState(checkpoint->path.string(), *model);
  model->eval();
  core::ExportHuggingFace(model, prepared.tokenizer, config.data.seq_len, dir);
  const bool bert = model->options().type_vocab_size > 0;
  WriteFileAtomically(dir / "README.md", ModelCard(run, spec, checkpoint->step, bert));
  std::cout << "exported " << run.experiment << "/" << key << " (step " << checkpoint->step << ", "
            << (bert ? "BERT" : "RoBERTa") << " layout) to " << dir.string() << "\n";
  return 0;
}

}  // namespace ablate::runner
