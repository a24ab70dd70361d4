// Q5_K: Q4_K's scales and mins with five-bit quants (the fifth bits in qh).
#include <cstring>

#include "quant/k_quants.h"
#include "quant/k_quant_pack.h"
#include "quant/k_quants_scale_min.h"

namespace lmforge {

namespace {
constexpr size_t kScales = 4, kQh = 16, kQs = 48;  // byte offsets in a block (d 0, dmin 2)
}

void quantize_row_q5_k(const float* x, uint8_t* out, size_t n) {
  for (size_t b = 0; b < n / kQK_K; ++b, x += kQK_K, out += kQ5_KBlockBytes) {
    uint8_t L[kQK_K];
    quantize_scale_min_k4(x, 31, -0.5f, 15, out, L);
    pack_q5_k_quants(L, out);
  }
}

void dequantize_row_q5_k(const uint8_t* in, float* y, size_t n) {
  for (size_t b = 0; b < n / kQK_K; ++b, in += kQ5_KBlockBytes) {
    const float d = load_f16(in), min = load_f16(in + 2);
    const uint8_t* ql = in + kQs;
    const uint8_t* qh = in + kQh;
    uint8_t u1 = 1, u2 = 2;
    for (int g = 0; g < 8; g += 2, ql += 32, u1 <<= 2, u2 <<= 2) {
      uint8_t sc, m;
      get_scale_min_k4(g, in + kScales, &sc, &m);
      const float d1 = d * static_cast<float>(sc), m1 = min * static_cast<float>(m);
      get_scale_min_k4(g + 1, in + kScales, &sc, &m);
      const float d2 = d * static_cast<float>(sc), m2 = min * static_cast<float>(m);
      for (size_t l = 0; l < 32; ++l)
        *y++ = d1 * static_cast<float>((ql[l] & 0xF) + (qh[l] & u1 ? 16 : 0)) - m1;
      for (size_t l = 0; l < 32; ++l)
        *y++ = d2 * static_cast<float>((ql[l] >> 4) + (qh[l] & u2 ? 16 : 0)) - m2;
    }
  }
}

}  // namespace lmforge
