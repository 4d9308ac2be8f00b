// ablate schema: the JSON Schema of grid files, for editors ("$schema" in a grid file).
#include <iostream>

#include "experiments/schema.h"
#include "runner/cli.h"

namespace ablate::runner {

int CmdSchema(const Args& args) {
  po::options_description options("options");
  auto vm = ParseOptions(args, "ablate schema > grid.schema.json", options);
  if (!vm) return 0;
  std::cout << experiments::GridJsonSchema().dump(2) << "\n";
  return 0;
}

}  // namespace ablate::runner
