// The importance-matrix paths of the 32-element types Q4_0, Q4_1, Q5_0 and Q5_1 (ggml's
// quantize_row_qN_impl with quant_weights). Each element's error is weighed by
// qw[j] * sqrt(sigma2 + x[j]^2), sigma2 the mean square of the WHOLE row; Q4_0/Q5_0 search a
// symmetric scale (make_qx_quants), Q4_1/Q5_1 fit a scale and a min (make_qkx2_quants, which is
// ggml's make_qkx3_quants when weights are given).
#include "quant/weighted_quantize.h"

#include <cmath>

#include "quant/ggml_blocks.h"
#include "quant/k_quants_common.h"
#include "quant/q5.h"

namespace lmforge {

namespace {

float row_mean_square(const float* x, size_t n) {
  float sum_x2 = 0;
  for (size_t j = 0; j < n; ++j) sum_x2 += x[j] * x[j];
  return sum_x2 / static_cast<float>(n);
}

void block_weights(const float* xb, const float* qw, float sigma2, float* weight) {
  for (size_t j = 0; j < kQK; ++j) weight[j] = qw[j] * std::sqrt(sigma2 + xb[j] * xb[j]);
}

// Nibbles of a 4-bit block: byte j holds element j (low) and element j + 16 (high).
template <typename T>
void pack_nibbles(const T* L, uint8_t* qs) {
  for (size_t j = 0; j < kQK / 2; ++j) qs[j] = static_cast<uint8_t>(L[j] | L[j + kQK / 2] << 4);
}

}  // namespace

void quantize_row_q4_0_weighted(const float* x, uint8_t* out, size_t n, const float* qw) {
  const float sigma2 = row_mean_square(x, n);
  for (size_t b = 0; b < n / kQK; ++b, out += kQ4_0BlockBytes) {
    float weight[kQK];
    int8_t L[kQK];
    block_weights(x + kQK * b, qw + kQK * b, sigma2, weight);
    store_f16(out, make_qx_quants(kQK, 8, x + kQK * b, L, 1, weight));
    pack_nibbles(L, out + 2);
  }
}

void quantize_row_q4_1_weighted(const float* x, uint8_t* out, size_t n, const float* qw) {
  const float sigma2 = row_mean_square(x, n);
  for (size_t b = 0; b < n / kQK; ++b, out += kQ4_1BlockBytes) {
    float weight[kQK], min;
    uint8_t L[kQK], Laux[kQK];
    block_weights(x + kQK * b, qw + kQK * b, sigma2, weight);
    store_f16(out, make_qkx2_quants(kQK, 15, x + kQK * b, weight, L, &min, Laux, -0.9f, 0.05f, 36, false));
    store_f16(out + 2, -min);
    pack_nibbles(L, out + 4);
  }
}

void quantize_row_q5_0_weighted(const float* x, uint8_t* out, size_t n, const float* qw) {
  const float sigma2 = row_mean_square(x, n);
  for (size_t b = 0; b < n / kQK; ++b, out += kQ5_0BlockBytes) {
    float weight[kQK];
    int8_t L[kQK];
    block_weights(x + kQK * b, qw + kQK * b, sigma2, weight);
    store_f16(out, make_qx_quants(kQK, 16, x + kQK * b, L, 1, weight));
    uint8_t q[kQK];
    for (size_t j = 0; j < kQK; ++j) q[j] = static_cast<uint8_t>(L[j]);
    pack_q5(q, out + 2, out + 6);
  }
}

void quantize_row_q5_1_weighted(const float* x, uint8_t* out, size_t n, const float* qw) {
  const float sigma2 = row_mean_square(x, n);
  for (size_t b = 0; b < n / kQK; ++b, out += kQ5_1BlockBytes) {
    float weight[kQK], min;
    uint8_t L[kQK], Laux[kQK];
    block_weights(x + kQK * b, qw + kQK * b, sigma2, weight);
    store_f16(out, make_qkx2_quants(kQK, 31, x + kQK * b, weight, L, &min, Laux, -0.9f, 0.05f, 36, false));
    store_f16(out + 2, -min);
    pack_q5(L, out + 4, out + 8);
  }
}

}  // namespace lmforge
