// Wall-clock time in unix epoch seconds, the unit of every time column in the results database.
// Not for measuring durations: use std::chrono::steady_clock for those.
#pragma once

#include <chrono>

namespace ablate::results {

inline double UnixNow() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace ablate::results
