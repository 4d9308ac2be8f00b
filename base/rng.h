// A small counter-based random generator: any (seed, stream...) tuple names an independent,
// reproducible stream, so a mask or a data order can be recomputed from its coordinates alone
// (no generator state to checkpoint). SplitMix64 mixing; not for cryptography.
#pragma once

#include <cstdint>
#include <initializer_list>

namespace ablate {

// The seed of every fixed sample a grid shares, whatever its runs' seeds: the held-out sequences
// and masks every run is scored on, and the fine-tuning train/dev example samples.
constexpr uint64_t kFixedSampleSeed = 20190726;

// The SplitMix64 finalizer: a bijective 64-bit mix.
constexpr uint64_t Mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

class Rng {
 public:
  // A stream named by its coordinates, e.g. Rng({seed, kMaskDomain, epoch, index}).
  Rng(std::initializer_list<uint64_t> coordinates) {
    uint64_t h = 0x243f6a8885a308d3ULL;
    for (uint64_t c : coordinates) h = Mix64(h ^ Mix64(c + 0x9e3779b97f4a7c15ULL));
    state_ = h;
  }

  uint64_t Next() {
    state_ += 0x9e3779b97f4a7c15ULL;
    return Mix64(state_);
  }

  // Uniform in [0, 1) with 53 random bits.
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }

  // Uniform integer in [0, n), n > 0 (Lemire's multiply-shift; bias below 2^-32 for n < 2^32).
  uint64_t Below(uint64_t n) {
    return static_cast<uint64_t>((static_cast<unsigned __int128>(Next()) * n) >> 64);
  }

 private:
  uint64_t state_;
};

}  // namespace ablate
