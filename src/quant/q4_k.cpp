// Q4_K: eight groups of 32 four-bit quants with 6-bit scales and mins under f16 d and dmin.
#include <cstring>

#include "quant/k_quants.h"
#include "quant/k_quant_pack.h"
#include "quant/k_quants_scale_min.h"

namespace lmforge {

namespace {
constexpr size_t kScales = 4, kQs = 16;  // byte offsets in a block (d at 0, dmin at 2)
}

void quantize_row_q4_k(const float* x, uint8_t* out, size_t n) {
  for (size_t b = 0; b < n / kQK_K; ++b, x += kQK_K, out += kQ4_KBlockBytes) {
    uint8_t L[kQK_K];
    quantize_scale_min_k4(x, 15, -1.f, 20, out, L);
    pack_q4_k_quants(L, out);
  }
}

void dequantize_row_q4_k(const uint8_t* in, float* y, size_t n) {
  for (size_t b = 0; b < n / kQK_K; ++b, in += kQ4_KBlockBytes) {
    const float d = load_f16(in), min = load_f16(in + 2);
    const uint8_t* q = in + kQs;
    for (int g = 0; g < 8; g += 2, q += 32) {
      uint8_t sc, m;
      get_scale_min_k4(g, in + kScales, &sc, &m);
      const float d1 = d * static_cast<float>(sc), m1 = min * static_cast<float>(m);
      get_scale_min_k4(g + 1, in + kScales, &sc, &m);
      const float d2 = d * static_cast<float>(sc), m2 = min * static_cast<float>(m);
      for (size_t l = 0; l < 32; ++l) *y++ = d1 * static_cast<float>(q[l] & 0xF) - m1;
      for (size_t l = 0; l < 32; ++l) *y++ = d2 * static_cast<float>(q[l] >> 4) - m2;
    }
  }
}

}  // namespace lmforge
