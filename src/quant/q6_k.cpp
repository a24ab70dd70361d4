// Q6_K: sixteen groups of 16 six-bit quants, each group with an int8 scale, under one f16 d.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "quant/k_quants.h"
#include "quant/k_quant_pack.h"

namespace lmforge {

namespace {
constexpr size_t kQl = 0, kQh = 128, kScales = 192, kD = 208;  // byte offsets in a block
}

void quantize_row_q6_k(const float* x, uint8_t* out, size_t n) { quantize_row_q6_k_weighted(x, out, n, nullptr); }

// ggml's reference path and its imatrix path differ only in the group search's weights: x^2
// without an importance matrix, the matrix's own weights with one.
void quantize_row_q6_k_weighted(const float* x, uint8_t* out, size_t n, const float* qw) {
  for (size_t b = 0; b < n / kQK_K; ++b, x += kQK_K, out += kQ6_KBlockBytes, qw = qw ? qw + kQK_K : nullptr) {
    int8_t L[kQK_K];
    float scales[kQK_K / 16];
    // Each group's own best scale (signed), then the one of largest magnitude sets d.
    float max_scale = 0, max_abs_scale = 0;
    for (size_t g = 0; g < kQK_K / 16; ++g) {
      const float scale = make_qx_quants(16, 32, x + 16 * g, L + 16 * g, 1, qw ? qw + 16 * g : nullptr);
      scales[g] = scale;
      if (std::fabs(scale) > max_abs_scale) {
        max_abs_scale = std::fabs(scale);
        max_scale = scale;
      }
    }
    if (max_abs_scale < kGroupMaxEps) {
      std::memset(out, 0, kQ6_KBlockBytes);  // d = +0: every element decodes to 0
      continue;
    }
    const float iscale = -128.f / max_scale;
    store_f16(out + kD, 1 / iscale);
    auto* sc = reinterpret_cast<int8_t*>(out + kScales);
    for (size_t g = 0; g < kQK_K / 16; ++g)
      sc[g] = static_cast<int8_t>(std::min(127, nearest_int(iscale * scales[g])));
    // Requantize every element against its group's stored (rounded) scale. A group whose
    // stored scale is 0 keeps make_qx_quants' quants, as in ggml.
    const float d_all = load_f16(out + kD);
    for (size_t g = 0; g < kQK_K / 16; ++g) {
      const float d = d_all * static_cast<float>(sc[g]);
      if (d == 0) continue;
      for (size_t i = 0; i < 16; ++i) {
        const int l = std::max(-32, std::min(31, nearest_int(x[16 * g + i] / d)));
        L[16 * g + i] = static_cast<int8_t>(l + 32);
      }
    }
    pack_q6_k_quants(reinterpret_cast<const uint8_t*>(L), out);  // L in [0, 63]
  }
}

void dequantize_row_q6_k(const uint8_t* in, float* y, size_t n) {
  for (size_t b = 0; b < n / kQK_K; ++b, in += kQ6_KBlockBytes) {
    const float d = load_f16(in + kD);
    const uint8_t* ql = in + kQl;
    const uint8_t* qh = in + kQh;
    const auto* sc = reinterpret_cast<const int8_t*>(in + kScales);
    for (size_t h = 0; h < kQK_K; h += 128, ql += 64, qh += 32, sc += 8, y += 128) {
      for (size_t l = 0; l < 32; ++l) {
        const int is = static_cast<int>(l / 16);
        const int q1 = ((ql[l] & 0xF) | ((qh[l] >> 0) & 3) << 4) - 32;
        const int q2 = ((ql[l + 32] & 0xF) | ((qh[l] >> 2) & 3) << 4) - 32;
        const int q3 = ((ql[l] >> 4) | ((qh[l] >> 4) & 3) << 4) - 32;
        const int q4 = ((ql[l + 32] >> 4) | ((qh[l] >> 6) & 3) << 4) - 32;
        // ggml's order: (d * scale) * q.
        y[l] = d * static_cast<float>(sc[is]) * static_cast<float>(q1);
        y[l + 32] = d * static_cast<float>(sc[is + 2]) * static_cast<float>(q2);
        y[l + 64] = d * static_cast<float>(sc[is + 4]) * static_cast<float>(q3);
        y[l + 96] = d * static_cast<float>(sc[is + 6]) * static_cast<float>(q4);
      }
    }
  }
}

}  // namespace lmforge
