// `ablate-train`: the commands that train, in the binary that links LibTorch. `ablate` execs it
// for them; workers, local ranks and remote tasks start it directly.
#include <csignal>

#include "runner/cli.h"

int main(int argc, char** argv) {
  using namespace ablate::runner;
  // A file-size limit (ulimit -f) makes a write fail with EFBIG, reported like a full disk,
  // rather than killing the run without a word.
  std::signal(SIGXFSZ, SIG_IGN);
  static const std::map<std::string, CommandFunction> implemented = {
      {"run", CmdRun},     {"worker", CmdWorker}, {"task", CmdTask},
      {"train", CmdTrain}, {"export", CmdExport},
  };
  return Dispatch(argc, argv, implemented);
}
