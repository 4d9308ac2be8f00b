// GLUE-style TSV tasks as a user's download may hold them. The first byte picks the format; the
// rest is train.tsv, a line "=====", then the dev file. A task that loads has labels inside its
// label list; one that does not is refused with an InputError naming the file and line.
#include <array>

#include "downstream/task_data.h"
#include "tests/fuzz/fuzz_support.h"

using namespace ablate;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static constexpr std::array<const char*, 11> kFormats = {
      "sst2", "topic", "cola", "mnli", "mnli-mm", "qnli", "qqp", "rte", "mrpc", "wnli", "sst2"};
  const std::string format = kFormats[data[0] % kFormats.size()];
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  const auto [train, dev] = fuzz::SplitAt(input, "\n=====\n");
  const auto dir = fuzz::FreshDir("glue");
  fuzz::WriteBytes(dir / "train.tsv", train);
  const char* dev_name = format == "mnli"      ? "dev_matched.tsv"
                         : format == "mnli-mm" ? "dev_mismatched.tsv"
                                               : "dev.tsv";
  fuzz::WriteBytes(dir / dev_name, dev);
  fuzz::RefusesCleanly([&] {
    const downstream::Task task = downstream::LoadTask({"fuzz", format, dir});
    for (const auto* split : {&task.train, &task.dev}) {
      for (const auto& e : split->classification) {
        fuzz::Check(e.label >= 0 && static_cast<size_t>(e.label) < task.labels.size(),
                    "a label is one of the task's labels");
      }
    }
  });
  return 0;
}
