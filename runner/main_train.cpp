// `ablate-train`: the commands that train, in the binary that links LibTorch. `ablate` execs it
// for them; workers, local ranks and Slurm tasks start it directly.
#include <csignal>

#include "runner/cli.h"

int main(int argc, char** argv) {
  using namespace ablate::runner;
  // A file-size limit (ulimit -f) makes a write fail with EFBIG, reported like a full disk,
  // rather than killing the run without a word.
  std::signal(SIGXFSZ, SIG_IGN);
  static const std::vector<Command> commands = {
      {"run", "submit a grid and train its runs with local workers or on Slurm", CmdRun},
      {"worker", "train queued runs of a database until none is left", CmdWorker},
      {"task", "train one run of a Slurm job array into its own record log", CmdTask},
      {"train", "train one run from its config, outside any grid", CmdTrain},
      {"export", "a finished run's model and tokenizer for Hugging Face transformers", CmdExport},
  };
  return Dispatch(argc, argv, commands);
}
