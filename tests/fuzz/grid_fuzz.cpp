// Grid files: parsed and expanded, or refused with an InputError naming the problem. Every run an
// accepted grid expands to has a key that is its parameters' key, and keys are unique.
#include <set>

#include "experiments/grid.h"
#include "tests/fuzz/fuzz_support.h"

using namespace ablate;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  fuzz::RefusesCleanly([&] {
    const experiments::GridSpec grid = experiments::ParseGrid(text, "grid.json");
    const auto runs = experiments::ExpandGrid(grid);
    std::set<std::string> keys;
    for (const auto& run : runs) {
      fuzz::Check(run.key == experiments::RunKey(run.params), "a run's key is its parameters' key");
      fuzz::Check(keys.insert(run.key).second, "run keys are unique");
    }
  });
  return 0;
}
