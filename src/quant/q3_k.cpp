// Q3_K: sixteen groups of 16 three-bit quants (two low bits in qs, the third in hmask), each
// group with a 6-bit signed scale (biased by 32), under one f16 d.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "quant/k_quants.h"
#include "quant/k_quant_pack.h"

namespace lmforge {

namespace {
constexpr size_t kHmask = 0, kQs = 32, kScales = 96, kD = 108;  // byte offsets in a block

// The 6-bit biased scale of group g: its low nibble is in byte g (g < 8, low nibble) or g - 8
// (high nibble); its top two bits in byte 8 + g % 4, at bit 2 * (g / 4).
int group_scale(const uint8_t* s, int g) {
  const int low = g < 8 ? s[g] & 0xF : s[g - 8] >> 4;
  return (low | ((s[8 + g % 4] >> (2 * (g / 4))) & 3) << 4) - 32;
}
}  // namespace

void quantize_row_q3_k(const float* x, uint8_t* out, size_t n) {
  for (size_t b = 0; b < n / kQK_K; ++b, x += kQK_K, out += kQ3_KBlockBytes) {
    int8_t L[kQK_K];
    float scales[kQK_K / 16];
    // The signed group scale of largest magnitude sets d (maps to -32).
    float max_scale = 0, amax = 0;
    for (int g = 0; g < 16; ++g) {
      scales[g] = make_q3_quants(16, 4, x + 16 * g, L + 16 * g, true);
      const float scale = std::fabs(scales[g]);
      if (scale > amax) {
        amax = scale;
        max_scale = scales[g];
      }
    }
    uint8_t* s = out + kScales;
    std::memset(s, 0, 12);
    if (max_scale != 0) {
      const float iscale = -32.f / max_scale;
      for (int g = 0; g < 16; ++g) {
        // ggml keeps nearest_int's result in an int8_t, clamps to [-32, 31] and biases by 32.
        auto l = static_cast<int8_t>(nearest_int(iscale * scales[g]));
        l = static_cast<int8_t>(std::max(-32, std::min(31, static_cast<int>(l))) + 32);
        if (g < 8) {
          s[g] = static_cast<uint8_t>(l & 0xF);
        } else {
          s[g - 8] = static_cast<uint8_t>(s[g - 8] | (l & 0xF) << 4);
        }
        s[g % 4 + 8] = static_cast<uint8_t>(s[g % 4 + 8] | (l >> 4) << (2 * (g / 4)));
      }
      store_f16(out + kD, 1 / iscale);
    } else {
      store_f16(out + kD, 0.f);
    }
    // Requantize against the stored scales; a group whose stored scale is 0 keeps
    // make_q3_quants' quants, as in ggml.
    const float d_all = load_f16(out + kD);
    for (int g = 0; g < 16; ++g) {
      const float d = d_all * static_cast<float>(group_scale(s, g));
      if (d == 0) continue;
      for (int i = 0; i < 16; ++i) {
        const int l = std::max(-4, std::min(3, nearest_int(x[16 * g + i] / d)));
        L[16 * g + i] = static_cast<int8_t>(l + 4);
      }
    }
    pack_q3_k_quants(reinterpret_cast<const uint8_t*>(L), out);  // L in [0, 7]
  }
}

void dequantize_row_q3_k(const uint8_t* in, float* y, size_t n) {
  for (size_t b = 0; b < n / kQK_K; ++b, in += kQ3_KBlockBytes) {
    const float d_all = load_f16(in + kD);
    const uint8_t* hmask = in + kHmask;
    const uint8_t* qs = in + kQs;
    for (size_t j = 0; j < kQK_K; ++j) {
      const size_t h = j / 128, l = j % 32, shift = 2 * ((j % 128) / 32);
      const int low = (qs[32 * h + l] >> shift) & 3;
      const int q = low - ((hmask[l] >> (j / 32)) & 1 ? 0 : 4);
      const float dl = d_all * static_cast<float>(group_scale(in + kScales, static_cast<int>(j / 16)));
      y[j] = dl * static_cast<float>(q);
    }
    y += kQK_K;
  }
}

}  // namespace lmforge
