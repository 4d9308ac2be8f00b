#include "runner/cli.h"

#include <fstream>
#include <iostream>
#include <sstream>

#include "base/error.h"

namespace ablate::runner {

const std::vector<Command>& Commands() {
  static const std::vector<Command> commands = {
      {"expand", "show the runs a grid means", CmdExpand},
      {"submit", "register a grid and its runs in a results database", CmdSubmit},
      {"run", "submit a grid and train its runs with local workers", CmdRun},
      {"worker", "train queued runs of a database until none is left", CmdWorker},
      {"task", "train one run of a Slurm job array into its own record log", CmdTask},
      {"collect", "read the record logs of Slurm-trained runs into the database", CmdCollect},
      {"merge", "merge results databases into one", CmdMerge},
      {"status", "runs per status per experiment", CmdStatus},
      {"sql", "query a results database (read-only)", CmdSql},
      {"report", "the paper-style tables and learning curves of a report spec", CmdReport},
      {"params", "list every run parameter", CmdParams},
      {"schema", "print the JSON Schema of the grid format", CmdSchema},
      {"data", "corpora, tokenized shards, and previews of training sequences", CmdData},
      {"train", "train one run from its config, outside any grid", CmdTrain},
      {"tokenize", "print the token ids of stdin (GPT-2 or a trained BPE)", CmdTokenize},
  };
  return commands;
}

std::optional<po::variables_map> ParseOptions(const Args& args, const std::string& usage,
                                              po::options_description options,
                                              const std::vector<std::string>& positional) {
  options.add_options()("help,h", "show this help");
  po::positional_options_description pos;
  // "name..." takes every remaining positional argument.
  std::vector<std::string> names;
  for (const auto& name : positional) {
    const bool rest = name.size() > 3 && name.ends_with("...");
    names.push_back(rest ? name.substr(0, name.size() - 3) : name);
    pos.add(names.back().c_str(), rest ? -1 : 1);
  }
  po::variables_map vm;
  po::store(po::command_line_parser(args).options(options).positional(pos).run(), vm);
  if (vm.count("help")) {
    std::cout << "usage: " << usage << "\n\n" << options;
    return std::nullopt;
  }
  po::notify(vm);
  return vm;
}

}  // namespace ablate::runner

namespace ablate::runner {

nlohmann::json ReadRunConfigFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path, "", "cannot read run config");
  std::ostringstream text;
  text << in.rdbuf();
  nlohmann::json params;
  try {
    params = nlohmann::json::parse(text.str());
  } catch (const nlohmann::json::parse_error& e) {
    throw InputError(path, "", std::string("malformed JSON: ") + e.what());
  }
  // Accept one element of `ablate expand --format json` as well as its bare "params".
  if (params.is_object() && params.contains("params") && params.contains("key"))
    return params["params"];
  return params;
}

results::Value JsonToCell(const nlohmann::json& value) {
  if (value.is_boolean()) return int64_t{value.get<bool>() ? 1 : 0};
  if (value.is_number_integer()) return value.get<int64_t>();
  if (value.is_number()) return value.get<double>();
  if (value.is_string()) return value.get<std::string>();
  if (value.is_null()) return std::monostate{};
  return value.dump();
}

}  // namespace ablate::runner
