#include "core/masking.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <map>
#include <numeric>
#include <set>

using namespace ablate::core;

namespace {

// A toy vocabulary laid out like ours: ordinary ids [10, 1010), specials outside it.
constexpr int32_t kBos = 0, kPad = 1, kEos = 2, kMask = 3;

MaskingOptions Options(MaskingMode mode) {
  MaskingOptions o;
  o.mode = mode;
  o.static_copies = 10;
  o.mask_prob = 0.15;  // the paper's
  o.mask_id = kMask;
  o.first_ordinary = 10;
  o.end_ordinary = 1010;
  return o;
}

std::vector<int32_t> Sequence(size_t ordinary, size_t pads, uint64_t salt) {
  std::vector<int32_t> s = {kBos};
  for (size_t i = 0; i < ordinary; ++i)
    s.push_back(10 + static_cast<int32_t>((i * 37 + salt) % 1000));
  s.push_back(kEos);
  s.insert(s.end(), pads, kPad);
  return s;
}

}  // namespace

TEST_CASE("15% of ordinary tokens are chosen, 80/10/10 mask/random/keep", "[masking]") {
  auto options = Options(MaskingMode::kDynamic);
  MaskedTokens out;
  size_t candidates = 0, chosen = 0, masked = 0, random = 0, kept = 0;
  const int kSequences = 20000;
  for (int i = 0; i < kSequences; ++i) {
    auto seq = Sequence(50 + i % 100, i % 7, i);
    MaskSequence(seq, options, 42, 0, i, out);
    candidates += seq.size() - 2 - i % 7;
    chosen += out.positions.size();
    for (int32_t p : out.positions) {
      if (out.inputs[p] == kMask) {
        ++masked;
      } else if (out.inputs[p] != seq[p]) {
        ++random;
      } else {
        ++kept;
      }
    }
  }
  // Binomial bounds at about 5 standard deviations.
  double rate = double(chosen) / candidates;
  CHECK(rate == Approx(0.15).margin(5 * std::sqrt(0.15 * 0.85 / candidates) + 1e-4));
  double n = chosen;
  CHECK(masked / n == Approx(0.8).margin(5 * std::sqrt(0.8 * 0.2 / n)));
  // A random draw equal to the original token (1 in 1000) counts as kept.
  CHECK(random / n == Approx(0.1 * 0.999).margin(5 * std::sqrt(0.1 * 0.9 / n)));
  CHECK(kept / n == Approx(0.1 + 0.1 * 0.001).margin(5 * std::sqrt(0.1 * 0.9 / n)));
}

TEST_CASE("specials and padding are never chosen nor drawn as replacements", "[masking]") {
  auto options = Options(MaskingMode::kDynamic);
  options.mask_prob = 1.0;  // choose everything that may be chosen
  options.mask_fraction = 0.0;
  options.random_fraction = 1.0;
  MaskedTokens out;
  for (uint64_t i = 0; i < 500; ++i) {
    auto seq = Sequence(30, 5, i);
    MaskSequence(seq, options, 1, 3, i, out);
    REQUIRE(out.positions.size() == 30);
    CHECK(out.inputs[0] == kBos);
    CHECK(out.labels[0] == kIgnoreLabel);
    CHECK(out.inputs[31] == kEos);
    for (size_t p = 32; p < seq.size(); ++p) {
      CHECK(out.inputs[p] == kPad);
      CHECK(out.labels[p] == kIgnoreLabel);
    }
    for (int32_t p : out.positions) {
      CHECK(out.inputs[p] >= 10);
      CHECK(out.inputs[p] < 1010);
      CHECK(out.labels[p] == seq[p]);
    }
  }
}

TEST_CASE("static masks repeat every K epochs and differ across copies", "[masking]") {
  auto options = Options(MaskingMode::kStatic);
  options.static_copies = 10;
  auto seq = Sequence(200, 0, 0);
  std::vector<std::vector<int32_t>> masks;
  MaskedTokens out;
  for (uint64_t epoch = 0; epoch < 40; ++epoch) {
    MaskSequence(seq, options, 7, epoch, 123, out);
    masks.push_back(out.inputs);
  }
  // The paper: 40 epochs, 10 copies, so every sequence is seen with the same mask 4 times.
  std::map<std::vector<int32_t>, int> seen;
  for (const auto& m : masks) ++seen[m];
  CHECK(seen.size() == 10);
  for (const auto& [mask, count] : seen) CHECK(count == 4);
  for (uint64_t epoch = 10; epoch < 40; ++epoch) CHECK(masks[epoch] == masks[epoch % 10]);
}

TEST_CASE("dynamic masks differ across epochs and repeat for the same seed", "[masking]") {
  auto options = Options(MaskingMode::kDynamic);
  auto seq = Sequence(200, 0, 0);
  MaskedTokens a, b;
  std::set<std::vector<int32_t>> distinct;
  for (uint64_t epoch = 0; epoch < 40; ++epoch) {
    MaskSequence(seq, options, 7, epoch, 5, a);
    MaskSequence(seq, options, 7, epoch, 5, b);
    CHECK(a.inputs == b.inputs);
    CHECK(a.labels == b.labels);
    distinct.insert(a.inputs);
  }
  CHECK(distinct.size() == 40);
  // Another seed or another index is another mask.
  MaskSequence(seq, options, 8, 0, 5, b);
  MaskSequence(seq, options, 7, 0, 5, a);
  CHECK(a.inputs != b.inputs);
  MaskSequence(seq, options, 7, 0, 6, b);
  CHECK(a.inputs != b.inputs);
}
