// bf16 autocast on CUDA for a forward pass, as Python's
// `with torch.autocast("cuda", dtype=torch.bfloat16)`: matmuls and attention in bf16, weights and
// AdamW moments stay fp32. Leaving the outermost region drops the cached bf16 copies of the
// weights, which the next optimizer step makes stale. The autocast API changed in LibTorch 2.4;
// both spellings are here.
#pragma once

namespace ablate::core {

class BfloatAutocast {
 public:
  BfloatAutocast();
  ~BfloatAutocast();
  BfloatAutocast(const BfloatAutocast&) = delete;
  BfloatAutocast& operator=(const BfloatAutocast&) = delete;
};

}  // namespace ablate::core
