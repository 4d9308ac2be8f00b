// RACE JSON files (one article per file under train/ and dev/). The input is a train file, a line
// "=====", then a dev file. An accepted question's label is one of its options, and every question
// of a split has the same number of options; anything else is an InputError naming the file.
#include "downstream/task_data.h"
#include "tests/fuzz/fuzz_support.h"

using namespace ablate;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto [train, dev] = fuzz::SplitAt(input, "\n=====\n");
  const auto dir = fuzz::FreshDir("race");
  fuzz::WriteBytes(dir / "train" / "high" / "1.txt", train);
  fuzz::WriteBytes(dir / "dev" / "middle" / "2.txt", dev);
  fuzz::RefusesCleanly([&] {
    const downstream::Task task = downstream::LoadTask({"fuzz", "race", dir});
    for (const auto* split : {&task.train, &task.dev}) {
      for (const auto& e : split->choices) {
        fuzz::Check(e.label >= 0 && static_cast<size_t>(e.label) < e.options.size(),
                    "the answer is one of the options");
        fuzz::Check(e.options.size() == split->choices.front().options.size(),
                    "every question of a split has as many options");
      }
    }
  });
  return 0;
}
