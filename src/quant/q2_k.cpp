// Q2_K: sixteen groups of 16 two-bit quants, each group with a 4-bit scale and a 4-bit min,
// under f16 super-scales d and dmin (stored after the quants).
#include <algorithm>
#include <cmath>

#include "quant/k_quants.h"
#include "quant/k_quant_pack.h"

namespace lmforge {

namespace {
constexpr size_t kScales = 0, kQs = 16, kD = 80, kDmin = 82;  // byte offsets in a block
}

void quantize_row_q2_k(const float* x, uint8_t* out, size_t n) {
  constexpr float kQ4Scale = 15.f;
  for (size_t b = 0; b < n / kQK_K; ++b, x += kQK_K, out += kQ2_KBlockBytes) {
    uint8_t L[kQK_K];
    float scales[16], mins[16];
    float max_scale = 0, max_min = 0;
    for (int g = 0; g < 16; ++g) {
      // Weights |x|, mean absolute error, a grid of 16 scales below and above 3 / range.
      float weights[16];
      for (int l = 0; l < 16; ++l) weights[l] = std::fabs(x[16 * g + l]);
      uint8_t Laux[16];
      scales[g] = make_qkx2_quants(16, 3, x + 16 * g, weights, L + 16 * g, &mins[g], Laux, -0.5f,
                                   0.1f, 15, true);
      if (scales[g] > max_scale) max_scale = scales[g];
      if (mins[g] > max_min) max_min = mins[g];
    }
    uint8_t* sc = out + kScales;
    if (max_scale > 0) {
      const float iscale = kQ4Scale / max_scale;
      for (int g = 0; g < 16; ++g) sc[g] = static_cast<uint8_t>(nearest_int(iscale * scales[g]));
      store_f16(out + kD, max_scale / kQ4Scale);
    } else {
      std::fill(sc, sc + 16, uint8_t{0});
      store_f16(out + kD, 0.f);
    }
    if (max_min > 0) {
      const float iscale = kQ4Scale / max_min;
      for (int g = 0; g < 16; ++g)
        sc[g] = static_cast<uint8_t>(sc[g] | nearest_int(iscale * mins[g]) << 4);
      store_f16(out + kDmin, max_min / kQ4Scale);
    } else {
      store_f16(out + kDmin, 0.f);
    }
    // Requantize against the stored scales and mins; a group whose stored scale is 0 keeps
    // make_qkx2_quants' quants, as in ggml.
    const float d_all = load_f16(out + kD), dmin_all = load_f16(out + kDmin);
    for (int g = 0; g < 16; ++g) {
      const float d = d_all * static_cast<float>(sc[g] & 0xF);
      if (d == 0) continue;
      const float dm = dmin_all * static_cast<float>(sc[g] >> 4);
      for (int i = 0; i < 16; ++i) {
        const int l = nearest_int((x[16 * g + i] + dm) / d);
        L[16 * g + i] = static_cast<uint8_t>(std::max(0, std::min(3, l)));
      }
    }
    pack_q2_k_quants(L, out);
  }
}

void dequantize_row_q2_k(const uint8_t* in, float* y, size_t n) {
  for (size_t b = 0; b < n / kQK_K; ++b, in += kQ2_KBlockBytes, y += kQK_K) {
    const float d = load_f16(in + kD), min = load_f16(in + kDmin);
    const uint8_t* sc = in + kScales;
    const uint8_t* qs = in + kQs;
    for (size_t j = 0; j < kQK_K; ++j) {
      const size_t g = j / 16, l = j % 32, shift = 2 * ((j % 128) / 32);
      const int q = (qs[32 * (j / 128) + l] >> shift) & 3;
      const float dl = d * static_cast<float>(sc[g] & 0xF), ml = min * static_cast<float>(sc[g] >> 4);
      y[j] = dl * static_cast<float>(q) - ml;
    }
  }
}

}  // namespace lmforge
