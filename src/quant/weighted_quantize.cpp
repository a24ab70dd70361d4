#include "quant/weighted_quantize.h"

#include "quant/k_quants.h"
#include "quant/type_traits.h"

namespace lmforge {

namespace {

using WeightedRowFn = void (*)(const float* x, uint8_t* out, size_t n, const float* qw);

WeightedRowFn weighted_encoder(DType t) {
  switch (t) {
    case DType::Q4_0: return quantize_row_q4_0_weighted;
    case DType::Q4_1: return quantize_row_q4_1_weighted;
    case DType::Q5_0: return quantize_row_q5_0_weighted;
    case DType::Q5_1: return quantize_row_q5_1_weighted;
    case DType::Q2_K: return quantize_row_q2_k_weighted;
    case DType::Q3_K: return quantize_row_q3_k_weighted;
    case DType::Q4_K: return quantize_row_q4_k_weighted;
    case DType::Q5_K: return quantize_row_q5_k_weighted;
    case DType::Q6_K: return quantize_row_q6_k_weighted;
    default: return nullptr;
  }
}

}  // namespace

bool uses_importance_weights(DType t) { return weighted_encoder(t) != nullptr; }

void encode_row_weighted(DType t, const float* x, uint8_t* out, size_t n, const float* weights) {
  const WeightedRowFn f = weights ? weighted_encoder(t) : nullptr;
  if (f) {
    f(x, out, n, weights);
  } else {
    encode_row(t, x, out, n);
  }
}

}  // namespace lmforge
