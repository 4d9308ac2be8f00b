#include "runner/cli.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "base/atomic_file.h"
#include "base/error.h"
#include "base/suggest.h"
#include "core/corpus.h"

namespace ablate::runner {

namespace {

void PrintHelp(std::ostream& out) {
  out << "ablate: ablation studies of masked-language-model pretraining\n\n"
         "usage: ablate COMMAND [OPTIONS]\n\ncommands:\n";
  for (const auto& c : Commands()) {
    out << "  " << c.name << std::string(10 - std::string(c.name).size(), ' ') << c.summary << "\n";
  }
  out << "\n`ablate COMMAND --help` describes a command.\n"
         "exit codes: 0 ok, 1 runtime failure, 2 bad input\n";
}

// The training binary beside this one (same build directory or install prefix).
std::filesystem::path TrainingBinary() {
  return std::filesystem::read_symlink("/proc/self/exe").parent_path() / kTrainingBinary;
}

}  // namespace

const std::vector<Command>& Commands() {
  static const std::vector<Command> commands = {
      {"expand", "show the runs a grid means", false},
      {"submit", "register a grid and its runs in a results database", false},
      {"run", "submit a grid and train its runs with local workers or on Slurm", true},
      {"worker", "train queued runs of a database until none is left", true},
      {"task", "train one run of a Slurm job array into its own record log", true},
      {"collect", "read the record logs of Slurm-trained runs into the database", false},
      {"merge", "merge results databases into one", false},
      {"status", "runs per status per experiment", false},
      {"sql", "query a results database (read-only)", false},
      {"report", "the paper-style tables and learning curves of a report spec", false},
      {"params", "list every run parameter", false},
      {"schema", "print the JSON Schema of the grid format", false},
      {"data", "corpora, tokenized shards, and previews of training sequences", false},
      {"train", "train one run from its config, outside any grid", true},
      {"export", "a finished run's model and tokenizer for Hugging Face transformers", true},
      {"tokenize", "print the token ids of stdin (GPT-2 or a trained BPE)", false},
  };
  return commands;
}

int Dispatch(int argc, char** argv, const std::map<std::string, CommandFunction>& implemented) {
  Args args(argv + 1, argv + argc);
  if (args.empty()) {
    PrintHelp(std::cerr);
    return 2;
  }
  if (args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    PrintHelp(std::cout);
    return 0;
  }
  if (args[0] == "--version") {
    std::cout << "ablate " << ABLATE_VERSION << "\n";
    return 0;
  }
  const Command* command = nullptr;
  std::vector<std::string> names;
  for (const auto& c : Commands()) {
    if (args[0] == c.name) command = &c;
    names.emplace_back(c.name);
  }
  if (command == nullptr) {
    std::cerr << "ablate: unknown command \"" << args[0] << "\""
              << DidYouMean(ClosestNames(args[0], names)) << " (see ablate --help)\n";
    return 2;
  }
  const auto function = implemented.find(command->name);
  if (function == implemented.end() && command->trains) {
    // A command that trains: the binary that links LibTorch runs it, in this process's place.
    const std::string binary = TrainingBinary().string();
    std::vector<char*> exec_argv;
    exec_argv.push_back(const_cast<char*>(binary.c_str()));
    for (int i = 1; i < argc; ++i) exec_argv.push_back(argv[i]);
    exec_argv.push_back(nullptr);
    ::execv(binary.c_str(), exec_argv.data());
    std::cerr << "ablate " << args[0] << ": error: cannot start " << binary << " ("
              << std::strerror(errno) << "): it is built and installed beside ablate\n";
    return 1;
  }
  if (function == implemented.end()) {
    std::cerr << kTrainingBinary << ": \"" << args[0] << "\" does not train: run it as ablate "
              << args[0] << "\n";
    return 2;
  }
  std::string name = args[0];
  args.erase(args.begin());
  try {
    return function->second(args);
  } catch (const ablate::InputError& e) {
    std::cerr << "ablate " << name << ": " << e.what() << "\n";
    return 2;
  } catch (const po::error& e) {
    std::cerr << "ablate " << name << ": " << e.what() << " (see ablate " << name << " --help)\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "ablate " << name << ": error: " << e.what() << "\n";
    return 1;
  }
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
  try {
    po::store(po::command_line_parser(args).options(options).positional(pos).run(), vm);
  } catch (const po::unknown_option& e) {
    std::vector<std::string> known;
    for (const auto& option : options.options()) known.push_back("--" + option->long_name());
    throw po::error(e.what() + DidYouMean(ClosestNames(e.get_option_name(), known)));
  }
  if (vm.count("help")) {
    std::cout << "usage: " << usage << "\n\n" << options;
    return std::nullopt;
  }
  po::notify(vm);
  return vm;
}

}  // namespace ablate::runner

namespace ablate::runner {

void AddDataDirOption(po::options_description& options, const std::string& what) {
  options.add_options()("data-dir", po::value<std::string>()->default_value(""),
                        (what + " (default: $ABLATE_DATA_DIR or ./data)").c_str());
}

std::filesystem::path DataDirFrom(const po::variables_map& vm) {
  return core::ResolveDataDir(vm["data-dir"].as<std::string>());
}

void AddDeviceOptions(po::options_description& options, const std::string& threads_help) {
  options.add_options()("device", po::value<std::string>()->default_value("cpu"), "cpu or cuda")(
      "threads", po::value<int>()->default_value(0), threads_help.c_str())(
      "rank-timeout", po::value<int>()->default_value(300),
      "seconds a rank waits for the others to join, or for any one collective operation");
}

std::string DeviceFrom(const po::variables_map& vm) { return vm["device"].as<std::string>(); }

int ThreadsFrom(const po::variables_map& vm) { return vm["threads"].as<int>(); }

std::chrono::seconds RankTimeoutFrom(const po::variables_map& vm) {
  const int seconds = vm["rank-timeout"].as<int>();
  if (seconds < 1) throw InputError("", "--rank-timeout", "must be at least 1 second");
  return std::chrono::seconds(seconds);
}

void AddSetOption(po::options_description& options) {
  options.add_options()("set", po::value<std::vector<std::string>>()->composing(),
                        "NAME=VALUE: override a parameter of the grid's base for every run "
                        "(repeatable; axis and linked values still win)");
}

experiments::Overrides OverridesFrom(const po::variables_map& vm) {
  return experiments::ParseOverrides(vm.count("set") ? vm["set"].as<std::vector<std::string>>()
                                                     : std::vector<std::string>{});
}

experiments::GridSpec LoadGridWithOverrides(const po::variables_map& vm) {
  auto grid = experiments::LoadGrid(vm["grid"].as<std::string>());
  experiments::ApplyOverrides(grid, OverridesFrom(vm));
  return grid;
}

nlohmann::json ReadRunConfigFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path, "", "cannot read run config");
  std::ostringstream text;
  text << in.rdbuf();
  nlohmann::json params;
  try {
    params = nlohmann::json::parse(text.str());
  } catch (const nlohmann::json::exception& e) {  // parse_error, or a number out of range
    throw InputError(path, "", std::string("malformed JSON: ") + e.what());
  }
  // Accept one element of `ablate expand --format json` as well as its bare "params".
  if (params.is_object() && params.contains("params") && params.contains("key"))
    return params["params"];
  return params;
}

void WriteRunConfigFile(const std::string& run_dir, const nlohmann::json& params) {
  std::filesystem::create_directories(run_dir);
  WriteFileAtomically(std::filesystem::path(run_dir) / "config.json", params.dump(2) + "\n");
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
