// `ablate`: every command that does not train runs here, in a binary that does not link LibTorch,
// so it answers at once; the commands that train are run by `ablate-train` (main_train.cpp),
// exec'd in this process's place with the same arguments.
#include <csignal>

#include "runner/cli.h"

int main(int argc, char** argv) {
  using namespace ablate::runner;
  // A file-size limit makes a write fail with EFBIG, reported like a full disk, not a kill.
  std::signal(SIGXFSZ, SIG_IGN);
  static const std::vector<Command> commands = {
      {"expand", "show the runs a grid means", CmdExpand},
      {"submit", "register a grid and its runs in a results database", CmdSubmit},
      {"run", "submit a grid and train its runs with local workers or on Slurm", nullptr},
      {"worker", "train queued runs of a database until none is left", nullptr},
      {"task", "train one run of a Slurm job array into its own record log", nullptr},
      {"collect", "read the record logs of Slurm-trained runs into the database", CmdCollect},
      {"merge", "merge results databases into one", CmdMerge},
      {"status", "runs per status per experiment", CmdStatus},
      {"sql", "query a results database (read-only)", CmdSql},
      {"report", "the paper-style tables and learning curves of a report spec", CmdReport},
      {"params", "list every run parameter", CmdParams},
      {"schema", "print the JSON Schema of the grid format", CmdSchema},
      {"data", "corpora, tokenized shards, and previews of training sequences", CmdData},
      {"train", "train one run from its config, outside any grid", nullptr},
      {"export", "a finished run's model and tokenizer for Hugging Face transformers", nullptr},
      {"tokenize", "print the token ids of stdin (GPT-2 or a trained BPE)", CmdTokenize},
  };
  return Dispatch(argc, argv, commands);
}
