#include "core/masking.h"

#include <algorithm>
#include <cmath>

#include "base/error.h"
#include "base/rng.h"

namespace ablate::core {
namespace {

constexpr uint64_t kMaskDomain = 0x6d61736b;  // "mask": keeps mask streams apart from others

}  // namespace

std::string_view MaskingModeName(MaskingMode mode) {
  return mode == MaskingMode::kStatic ? "static" : "dynamic";
}

MaskingMode ParseMaskingMode(std::string_view name) {
  for (const MaskingMode mode : {MaskingMode::kStatic, MaskingMode::kDynamic}) {
    if (MaskingModeName(mode) == name) return mode;
  }
  throw InputError("", "data.masking", "unknown masking \"" + std::string(name) + "\"");
}

std::vector<std::string> MaskingModeNames() {
  return {std::string(MaskingModeName(MaskingMode::kStatic)),
          std::string(MaskingModeName(MaskingMode::kDynamic))};
}

uint64_t MaskVersion(const MaskingOptions& options, uint64_t epoch) {
  return options.mode == MaskingMode::kStatic ? epoch % static_cast<uint64_t>(options.static_copies)
                                              : epoch;
}

void MaskSequence(std::span<const int32_t> tokens, const MaskingOptions& options, uint64_t seed,
                  uint64_t epoch, uint64_t index, MaskedTokens& out) {
  ABLATE_CHECK(options.end_ordinary > options.first_ordinary, "empty ordinary-token range");
  Rng rng({seed, kMaskDomain, MaskVersion(options, epoch), index});
  const size_t n = tokens.size();
  out.inputs.assign(tokens.begin(), tokens.end());
  out.labels.assign(n, kIgnoreLabel);
  out.positions.clear();

  // Candidates: positions of ordinary tokens (specials and padding are never predicted).
  for (size_t i = 0; i < n; ++i) {
    if (tokens[i] >= options.first_ordinary && tokens[i] < options.end_ordinary) {
      out.positions.push_back(static_cast<int32_t>(i));
    }
  }
  // Probabilistic rounding keeps the expected rate exactly mask_prob for any length.
  const size_t candidates = out.positions.size();
  size_t chosen = static_cast<size_t>(std::floor(options.mask_prob * candidates + rng.Uniform()));
  chosen = std::min(chosen, candidates);
  // Partial Fisher-Yates: the first `chosen` slots become a uniform sample without replacement.
  for (size_t i = 0; i < chosen; ++i) {
    size_t j = i + rng.Below(candidates - i);
    std::swap(out.positions[i], out.positions[j]);
  }
  out.positions.resize(chosen);
  std::sort(out.positions.begin(), out.positions.end());

  const uint64_t ordinary = static_cast<uint64_t>(options.end_ordinary - options.first_ordinary);
  const double keep_threshold = options.mask_fraction + options.random_fraction;
  for (int32_t p : out.positions) {
    out.labels[p] = tokens[p];
    double r = rng.Uniform();
    if (r < options.mask_fraction) {
      out.inputs[p] = options.mask_id;
    } else if (r < keep_threshold) {
      out.inputs[p] = options.first_ordinary + static_cast<int32_t>(rng.Below(ordinary));
    }
  }
}

}  // namespace ablate::core
