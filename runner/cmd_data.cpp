// ablate data corpora|prepare|preview: the corpora, their tokenized shards, and the exact
// sequences a run's trainer receives.
#include <fstream>
#include <iostream>
#include <sstream>

#include "base/error.h"
#include "core/data_pipeline.h"
#include "experiments/grid.h"
#include "experiments/run_config.h"
#include "reports/table_format.h"
#include "runner/cli.h"

namespace ablate::runner {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

void Log(const std::string& line) { std::cerr << "ablate data: " << line << "\n"; }

int Corpora(const Args& args) {
  po::options_description options("options");
  AddDataDirOption(options);
  auto vm = ParseOptions(args, "ablate data corpora [--data-dir DIR]", options);
  if (!vm) return 0;
  fs::path data_dir = DataDirFrom(*vm);
  results::ResultSet set;
  set.columns = {"corpus", "sources", "fetched", "MB", "description"};
  for (const auto& c : core::NamedCorpora()) {
    std::string sources;
    bool fetched = true;
    uintmax_t bytes = 0;
    for (const auto& s : c.sources) {
      sources += (sources.empty() ? "" : " ") + s;
      fs::path file = data_dir / "corpora" / (s + ".jsonl");
      if (fs::exists(file)) {
        bytes += fs::file_size(file);
      } else {
        fetched = false;
      }
    }
    set.rows.push_back({c.name, sources, std::string(fetched ? "yes" : "no"),
                        fetched ? results::Value(double(bytes / 100000) / 10) : results::Value(),
                        c.description});
  }
  reports::WriteTable(std::cout, set, reports::TableFormat::kTable);
  return 0;
}

int Prepare(const Args& args) {
  po::options_description options("options");
  options.add_options()("corpus", po::value<std::string>()->required(), "corpus name or directory")(
      "tokenizer", po::value<std::string>()->default_value("gpt2"), "gpt2, bpe-N or a directory")(
      "jobs,j", po::value<int>()->default_value(0),
      "tokenizing threads (0 = the cores this process may use)")(
      "part", po::value<std::string>(),
      "I/N: tokenize only part I (0-based) of N of the pieces and do not join them, as one task "
      "of a Slurm array (--part $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT); a run without "
      "--part afterwards joins them")(
      "piece-bytes", po::value<uint64_t>()->default_value(0),
      "input bytes per piece (0 = 8 MiB); the parts of a preparation and its join must agree");
  AddDataDirOption(options);
  auto vm =
      ParseOptions(args,
                   "ablate data prepare --corpus NAME [--tokenizer gpt2|bpe-N|DIR] [--jobs N] "
                   "[--part I/N]",
                   options);
  if (!vm) return 0;
  core::PrepareOptions prepare;
  prepare.jobs = (*vm)["jobs"].as<int>();
  if (prepare.jobs < 0) throw InputError("", "--jobs", "must be 0 (all cores) or more");
  prepare.piece_bytes = (*vm)["piece-bytes"].as<uint64_t>();
  prepare.log = Log;
  const fs::path data_dir = DataDirFrom(*vm);
  const std::string corpus = (*vm)["corpus"].as<std::string>();
  const std::string tokenizer = (*vm)["tokenizer"].as<std::string>();
  if (vm->count("part") != 0) {
    const std::string part = (*vm)["part"].as<std::string>();
    int i = -1, n = 0;
    char slash = 0, extra = 0;
    std::istringstream in(part);
    if (!(in >> i >> slash >> n) || slash != '/' || (in >> extra) || n < 1 || i < 0 || i >= n) {
      throw InputError("", "--part", "\"" + part + "\": expected I/N with 0 <= I < N");
    }
    const size_t built = core::PrepareCorpusPart(data_dir, corpus, tokenizer, i, n, prepare);
    std::cout << corpus << " / " << tokenizer << ": part " << i << " of " << n << ", " << built
              << " pieces tokenized now\n";
    return 0;
  }
  auto prepared = core::PrepareCorpus(data_dir, corpus, tokenizer, prepare);
  const auto& train = prepared.train.corpus();
  const auto& valid = prepared.valid.corpus();
  std::cout << prepared.name << " / " << prepared.tokenizer_name << ": train " << train.TokenCount()
            << " tokens, " << train.SentenceCount() << " sentences, " << train.DocumentCount()
            << " documents; held out " << valid.TokenCount() << " tokens, " << valid.DocumentCount()
            << " documents; vocabulary " << prepared.tokenizer.vocab_size() << "\n";
  return 0;
}

// Token text for people: specials by name, bytes as decoded.
std::string Show(core::BpeTokenizer& tok, int32_t id) {
  std::vector<core::TokenId> one = {id};
  return tok.Decode(one);
}

int Preview(const Args& args) {
  po::options_description options("options");
  options.add_options()(
      "config", po::value<std::string>()->required(),
      "a run's params as JSON (an element's \"params\" of `ablate expand --format json`)")(
      "n,n", po::value<int>()->default_value(4), "sequences to show")(
      "epoch", po::value<uint64_t>()->default_value(0), "epoch to show")(
      "format", po::value<std::string>()->default_value("text"), "text or json");
  AddDataDirOption(options);
  auto vm = ParseOptions(
      args, "ablate data preview --config RUN.json [-n N] [--epoch E] [--format text|json]",
      options);
  if (!vm) return 0;
  std::string format = (*vm)["format"].as<std::string>();
  if (format != "text" && format != "json") {
    throw InputError("", "--format", "unknown format \"" + format + "\": expected text or json");
  }
  int n = (*vm)["n"].as<int>();
  if (n < 1) throw InputError("", "-n", "must be at least 1");
  std::string path = (*vm)["config"].as<std::string>();
  auto run = experiments::LoadRunConfig(ReadRunConfigFile(path), path);
  core::DataPipeline data(DataDirFrom(*vm), run.config.Pretraining(), Log);
  auto& tok = data.tokenizer();
  uint64_t epoch = (*vm)["epoch"].as<uint64_t>();
  auto stream = data.Stream({epoch, 0});
  // Batches run on into the next epoch; show this epoch's sequences only.
  n = static_cast<int>(std::min<uint64_t>(static_cast<uint64_t>(n), stream.ExamplesPerEpoch()));

  json out = json::array();
  int shown = 0;
  while (shown < n) {
    core::Batch b = stream.Next();
    if (b.epoch != epoch) break;
    for (int64_t r = 0; r < b.rows && shown < n; ++r, ++shown) {
      const int32_t* ids = &b.input_ids[r * b.cols];
      const int32_t* labels = &b.labels[r * b.cols];
      const int8_t* segments = &b.segment_ids[r * b.cols];
      const int32_t length = b.lengths[r];
      if (format == "json") {
        json masked = json::array();
        for (int32_t i = 0; i < length; ++i) {
          if (labels[i] != core::kIgnoreLabel) {
            masked.push_back({{"position", i}, {"original", labels[i]}, {"input", ids[i]}});
          }
        }
        out.push_back(
            {{"index", shown},
             {"epoch", epoch},
             {"ids", std::vector<int32_t>(ids, ids + length)},
             {"segment_ids", std::vector<int>(segments, segments + length)},
             {"labels", std::vector<int32_t>(labels, labels + length)},
             {"nsp", b.nsp_labels[r] == core::kNoNspLabel ? json() : json(b.nsp_labels[r])},
             {"masked", masked}});
        continue;
      }
      int predictions = 0;
      for (int32_t i = 0; i < length; ++i) predictions += labels[i] != core::kIgnoreLabel;
      std::cout << "#" << shown << "  epoch " << epoch << "  " << length << " tokens  "
                << predictions << " masked";
      if (b.nsp_labels[r] != core::kNoNspLabel) {
        std::cout << "  NSP: "
                  << (b.nsp_labels[r] == 1 ? "B follows A (IsNext)"
                                           : "B from another document (NotNext)");
      }
      std::cout << "\n";
      std::string text;
      for (int32_t i = 0; i < length; ++i) {
        if (i > 0 && segments[i] != segments[i - 1]) text += "\n  [segment B] ";
        if (labels[i] == core::kIgnoreLabel) {
          text += Show(tok, ids[i]);
        } else {
          // [original→what the model reads]: <mask>, a random token, or = when kept.
          text += "[" + Show(tok, labels[i]) + "→" +
                  (ids[i] == labels[i] ? "=" : Show(tok, ids[i])) + "]";
        }
      }
      std::cout << "  " << text << "\n\n";
    }
  }
  if (format == "json") std::cout << out.dump(2) << "\n";
  return 0;
}

}  // namespace

int CmdData(const Args& args) {
  const std::string usage =
      "usage: ablate data corpora|prepare|preview [OPTIONS]\n"
      "  corpora   the named corpora and whether they are fetched\n"
      "  prepare   tokenize a corpus into cached shards\n"
      "  preview   the first training sequences of a run, exactly as the trainer receives them\n";
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    (args.empty() ? std::cerr : std::cout) << usage;
    return args.empty() ? 2 : 0;
  }
  Args rest(args.begin() + 1, args.end());
  if (args[0] == "corpora") return Corpora(rest);
  if (args[0] == "prepare") return Prepare(rest);
  if (args[0] == "preview") return Preview(rest);
  throw InputError("", "", "unknown data command \"" + args[0] + "\" (corpora, prepare, preview)");
}

}  // namespace ablate::runner
