// The `ablate` binary: dispatches to a subcommand and maps failures to exit codes
// (0 ok, 1 runtime failure, 2 bad input).
#include <iostream>

#include "base/error.h"
#include "runner/cli.h"

namespace {

void PrintHelp(std::ostream& out) {
  out << "ablate: ablation studies of masked-language-model pretraining\n\n"
         "usage: ablate COMMAND [OPTIONS]\n\ncommands:\n";
  for (const auto& c : ablate::runner::Commands()) {
    out << "  " << c.name << std::string(10 - std::string(c.name).size(), ' ') << c.summary << "\n";
  }
  out << "\n`ablate COMMAND --help` describes a command.\n"
         "exit codes: 0 ok, 1 runtime failure, 2 bad input\n";
}

}  // namespace

int main(int argc, char** argv) {
  using namespace ablate::runner;
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
  for (const auto& c : Commands()) {
    if (args[0] == c.name) command = &c;
  }
  if (command == nullptr) {
    std::cerr << "ablate: unknown command \"" << args[0] << "\" (see ablate --help)\n";
    return 2;
  }
  std::string name = args[0];
  args.erase(args.begin());
  try {
    return command->run(args);
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
