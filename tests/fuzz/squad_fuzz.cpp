// SQuAD v1.1 / v2.0 JSON. The first byte picks the version; the rest is train.json, a line
// "=====", then dev.json. An accepted example's answers are byte ranges of its context holding
// exactly the answer text; anything else is refused with an InputError naming the JSON path.
#include "downstream/task_data.h"
#include "tests/fuzz/fuzz_support.h"

using namespace ablate;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string format = data[0] & 1 ? "squad2" : "squad1";
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  const auto [train, dev] = fuzz::SplitAt(input, "\n=====\n");
  const auto dir = fuzz::FreshDir("squad");
  fuzz::WriteBytes(dir / "train.json", train);
  fuzz::WriteBytes(dir / "dev.json", dev);
  fuzz::RefusesCleanly([&] {
    const downstream::Task task = downstream::LoadTask({"fuzz", format, dir});
    for (const auto* split : {&task.train, &task.dev}) {
      for (const auto& e : split->spans) {
        fuzz::Check(!e.impossible || task.allows_no_answer, "only v2.0 has impossible questions");
        for (const auto& a : e.answers) {
          fuzz::Check(
              a.start >= 0 && static_cast<size_t>(a.start) + a.text.size() <= e.context.size(),
              "an answer lies inside its context");
          fuzz::Check(e.context.compare(a.start, a.text.size(), a.text) == 0,
                      "the context holds the answer text at its offset");
        }
      }
    }
  });
  return 0;
}
