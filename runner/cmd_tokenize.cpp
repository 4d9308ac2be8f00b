// ablate tokenize --tokenizer gpt2|DIR [--data-dir DIR]: the BPE ids of stdin's bytes, exactly as
// given (no newline stripped, invalid UTF-8 kept), space-separated on one line.
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "base/error.h"
#include "core/bpe_tokenizer.h"
#include "core/corpus.h"
#include "runner/cli.h"

namespace ablate::runner {

namespace {

namespace fs = std::filesystem;

fs::path TokenizerDir(const std::string& name, const std::string& data_dir_flag) {
  if (name == "gpt2") {
    const fs::path dir = core::ResolveDataDir(data_dir_flag) / "gpt2";
    if (!fs::exists(dir / "encoder.json") || !fs::exists(dir / "vocab.bpe")) {
      throw InputError("", "--tokenizer",
                       "GPT-2's encoder.json and vocab.bpe are missing from " + dir.string() +
                           ": run scripts/fetch-data (or point --data-dir or $ABLATE_DATA_DIR "
                           "at the data directory)");
    }
    return dir;
  }
  if (!fs::is_directory(name)) {
    throw InputError("", "--tokenizer",
                     "\"" + name +
                         "\" is neither gpt2 nor a directory holding encoder.json and "
                         "vocab.bpe");
  }
  return name;
}

std::string ReadStdin() {
  std::string text;
  char buffer[1 << 16];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, stdin)) > 0) text.append(buffer, n);
  if (std::ferror(stdin)) throw std::runtime_error("cannot read standard input");
  return text;
}

}  // namespace

int CmdTokenize(const Args& args) {
  po::options_description options("options");
  options.add_options()("tokenizer", po::value<std::string>()->required(),
                        "gpt2 (GPT-2's vocabulary in DATA_DIR/gpt2) or a directory holding "
                        "encoder.json and vocab.bpe, such as a trained one");
  AddDataDirOption(options);
  auto vm =
      ParseOptions(args, "ablate tokenize --tokenizer gpt2|DIR [--data-dir DIR] < TEXT", options);
  if (!vm) return 0;
  const fs::path dir =
      TokenizerDir((*vm)["tokenizer"].as<std::string>(), (*vm)["data-dir"].as<std::string>());
  core::BpeTokenizer tokenizer = core::BpeTokenizer::Load(dir);

  std::vector<core::TokenId> ids;
  tokenizer.Encode(ReadStdin(), &ids);
  std::string line;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i > 0) line.push_back(' ');
    line += std::to_string(ids[i]);
  }
  line.push_back('\n');
  std::cout << line;
  return 0;
}

}  // namespace ablate::runner
