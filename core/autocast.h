// bf16 autocast for a forward pass, as Python's
// `with torch.autocast(device, dtype=torch.bfloat16)`: matmuls and attention in bf16, weights and
// AdamW moments stay fp32. Leaving the outermost region drops the cached bf16 copies of the
// weights, which the next optimizer step makes stale. On the CPU it pays where the processor
// multiplies bf16 natively (AVX512-BF16, AMX); the model casts what LibTorch 1.13's CPU autocast
// leaves in bf16 (layer norms' and losses' inputs) back to fp32. The autocast API changed in
// LibTorch 2.4; both spellings are here.
#pragma once

namespace ablate::core {

enum class AutocastDevice { kCuda, kCpu };

class BfloatAutocast {
 public:
  explicit BfloatAutocast(AutocastDevice device = AutocastDevice::kCuda);
  ~BfloatAutocast();
  BfloatAutocast(const BfloatAutocast&) = delete;
  BfloatAutocast& operator=(const BfloatAutocast&) = delete;

 private:
  AutocastDevice device_;
};

}  // namespace ablate::core
