// The parameter count of the encoder model.h builds, from its sizes alone, so a grid's compute can
// be planned without LibTorch. It builds no model; model_test checks it against one that is built.
#pragma once

#include <cstdint>

namespace ablate::core {

struct ModelSize {
  int64_t vocab_size = 0, max_positions = 0, layers = 0, hidden = 0, ffn = 0;
  bool nsp = false;  // segment embeddings and the NSP pooler + classifier
};

int64_t ModelParameterCount(const ModelSize& size);

}  // namespace ablate::core
