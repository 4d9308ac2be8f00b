// What every libFuzzer target shares: a scratch directory of its own process for the readers that
// take files, and the one rule of the suite: an input gets a result or an InputError. Any other
// exception escapes LLVMFuzzerTestOneInput and aborts, which libFuzzer reports as a crash; the
// sanitizers report the rest.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <utility>

#include "base/error.h"

namespace ablate::fuzz {

// A directory for this process, emptied at exit.
inline const std::filesystem::path& Scratch() {
  static const std::filesystem::path dir = [] {
    const char* tmp = std::getenv("TMPDIR");
    std::filesystem::path d = std::filesystem::path(tmp && *tmp ? tmp : "/tmp") /
                              ("ablate-fuzz-" + std::to_string(::getpid()));
    std::filesystem::remove_all(d);
    std::filesystem::create_directories(d);
    std::atexit([] {
      std::error_code ignored;
      std::filesystem::remove_all(Scratch(), ignored);
    });
    return d;
  }();
  return dir;
}

// An empty directory under Scratch() for one input.
inline std::filesystem::path FreshDir(const std::string& name) {
  const std::filesystem::path d = Scratch() / name;
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  return d;
}

inline void WriteBytes(const std::filesystem::path& path, std::string_view bytes) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) std::abort();  // the fuzzer's own scratch space failed: not a finding
}

// The input split at the first occurrence of `separator`: {before, after} ({all, ""} without one).
inline std::pair<std::string_view, std::string_view> SplitAt(std::string_view input,
                                                             std::string_view separator) {
  const size_t at = input.find(separator);
  if (at == std::string_view::npos) return {input, {}};
  return {input.substr(0, at), input.substr(at + separator.size())};
}

// Runs `body`; an InputError is the clean refusal every reader owes bad bytes.
template <typename Body>
void RefusesCleanly(Body&& body) {
  try {
    body();
  } catch (const InputError&) {
  }
}

// A property that must hold for every accepted input; a failure is a finding.
inline void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "property failed: %s\n", what);
    std::abort();
  }
}

}  // namespace ablate::fuzz
