// `ablate`: every command that does not train runs here, in a binary that does not link LibTorch,
// so it answers at once; the commands that train (Commands()' `trains`) are run by `ablate-train`
// (main_train.cpp), exec'd in this process's place with the same arguments.
#include <csignal>

#include "runner/cli.h"

int main(int argc, char** argv) {
  using namespace ablate::runner;
  // A file-size limit makes a write fail with EFBIG, reported like a full disk, not a kill.
  std::signal(SIGXFSZ, SIG_IGN);
  static const std::map<std::string, CommandFunction> implemented = {
      {"expand", CmdExpand}, {"submit", CmdSubmit},     {"collect", CmdCollect},
      {"merge", CmdMerge},   {"status", CmdStatus},     {"sql", CmdSql},
      {"report", CmdReport}, {"params", CmdParams},     {"schema", CmdSchema},
      {"data", CmdData},     {"tokenize", CmdTokenize},
  };
  return Dispatch(argc, argv, implemented);
}
