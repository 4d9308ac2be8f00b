// A run's checkpoint.json: parsed or refused; what parses writes back to the same pointer, and its
// files never leave the run directory.
#include <cstdio>

#include "core/checkpoint_pointer.h"
#include "tests/fuzz/fuzz_support.h"

using namespace ablate;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  fuzz::RefusesCleanly([&] {
    const core::CheckpointPointer p = core::ParseCheckpointPointer(text, "checkpoint.json");
    fuzz::Check(p.newest.file.find('/') == std::string::npos, "a checkpoint file is a plain name");
    const std::string again = core::CheckpointPointerText(p);
    fuzz::Check(core::CheckpointPointerText(core::ParseCheckpointPointer(again, "again")) == again,
                "the pointer's text reads back to itself");
  });
  return 0;
}
