// BERT's masked-LM corruption: choose mask_prob of the maskable tokens of a sequence; of those,
// 80% become <mask>, 10% a random ordinary token, 10% stay. Static masking reuses one of K masks
// per sequence (epoch e uses copy e mod K); dynamic masking draws a fresh mask each epoch. Masks
// are pure functions of (seed, copy or epoch, sequence index). It does not build sequences.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ablate::core {

enum class MaskingMode { kStatic, kDynamic };

// The grid's names of the masking modes ("static", "dynamic"), in that order: the table
// data.masking's choices come from. Parsing an unknown name throws InputError.
std::string_view MaskingModeName(MaskingMode mode);
MaskingMode ParseMaskingMode(std::string_view name);
std::vector<std::string> MaskingModeNames();

struct MaskingOptions {
  // The run's data.masking, data.static_copies and data.mask_prob (DataPipeline copies them from
  // its config): their defaults live in experiments' parameter table only.
  MaskingMode mode = MaskingMode::kStatic;
  int static_copies = 1;
  double mask_prob = 0;
  double mask_fraction = 0.8;    // of the chosen tokens, replaced by <mask>
  double random_fraction = 0.1;  // replaced by a random ordinary token; the rest stay unchanged
  int32_t mask_id = 0;
  // Ordinary (maskable) tokens are the ids in [first_ordinary, end_ordinary); every other id is
  // special (<s>, </s>, <pad>, ...) and never chosen, nor drawn as a random replacement.
  int32_t first_ordinary = 0;
  int32_t end_ordinary = 0;
};

constexpr int32_t kIgnoreLabel = -100;  // label of positions that are not predicted

struct MaskedTokens {
  std::vector<int32_t> inputs;     // the corrupted sequence the model reads
  std::vector<int32_t> labels;     // original id at chosen positions, kIgnoreLabel elsewhere
  std::vector<int32_t> positions;  // the chosen positions, ascending
};

// Which mask a sequence gets in an epoch: the copy index for static masking, the epoch itself for
// dynamic masking.
uint64_t MaskVersion(const MaskingOptions& options, uint64_t epoch);

// Masks `tokens` as sequence `index` of `epoch` under `seed`. Writes into `out` (reusing its
// capacity: call it in a loop without allocating).
void MaskSequence(std::span<const int32_t> tokens, const MaskingOptions& options, uint64_t seed,
                  uint64_t epoch, uint64_t index, MaskedTokens& out);

}  // namespace ablate::core
