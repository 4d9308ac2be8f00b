// Matmul FLOPs of one masked-LM training step of the BERT encoder, for the model-FLOPs-utilization
// lines of bench/gpu_bench.cpp and bench/model_bench.cpp: 3x the forward (backward costs twice
// the forward). Per token and layer: qkv 6H^2, output 2H^2, FFN 4HF; per sequence and layer, QK^T
// and AV 4 T^2 H; per predicted token, the MLM head's dense 2H^2 and decoder 2HV. Elementwise
// work, softmax and the optimizer are not counted, as MFU conventionally leaves them out.
#pragma once

#include <cstdint>

namespace ablate::bench {

struct EncoderShape {
  double hidden, ffn, layers, vocab;
};

inline double TrainingFlops(const EncoderShape& m, int64_t rows, int64_t seq_len,
                            int64_t predictions) {
  const double h = m.hidden, f = m.ffn, t = static_cast<double>(seq_len);
  const double per_token = m.layers * (8 * h * h + 4 * h * f);
  const double attention = static_cast<double>(rows) * m.layers * 4 * t * t * h;
  const double head = static_cast<double>(predictions) * (2 * h * h + 2 * h * m.vocab);
  return 3 * (static_cast<double>(rows) * t * per_token + attention + head);
}

}  // namespace ablate::bench
