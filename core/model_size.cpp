#include "core/model_size.h"

namespace ablate::core {

int64_t ModelParameterCount(const ModelSize& s) {
  const int64_t h = s.hidden, f = s.ffn;
  const int64_t embeddings = (s.vocab_size + s.max_positions) * h + 2 * h;  // + LayerNorm
  // Fused qkv (3h^2 + 3h), attention output (h^2 + h), feed-forward (2hf + f + h), 2 LayerNorms.
  const int64_t layer = 4 * h * h + 4 * h + 2 * h * f + f + h + 4 * h;
  // The MLM head: dense + LayerNorm + an output bias; its decoder is the tied token embedding.
  const int64_t mlm = h * h + h + 2 * h + s.vocab_size;
  const int64_t nsp = s.nsp ? 2 * h + (h * h + h) + (2 * h + 2) : 0;
  return embeddings + s.layers * layer + mlm + nsp;
}

}  // namespace ablate::core
