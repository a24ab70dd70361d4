// The importance-matrix paths of Q2_K, Q3_K, Q4_K and Q5_K (ggml's quantize_row_qN_K_impl with
// quant_weights): the block layouts of k_quants.h, but every search weighs each element's error
// by qw[i] * sqrt(sigma2 + x[i]^2), where sigma2 is the super-block's mean square (twice it for
// Q3_K, Q4_K and Q5_K), and the group scales (and mins) are themselves quantized by a weighted
// search (make_qp_quants / make_qx_quants) instead of against their maximum.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "quant/k_quants.h"
#include "quant/k_quant_pack.h"

namespace lmforge {

namespace {

// sum of x[j]^2 over one super-block, in ggml's order.
float sum_squares(const float* x) {
  float s = 0;
  for (size_t j = 0; j < kQK_K; ++j) s += x[j] * x[j];
  return s;
}

// weight[l] = qw[l] * sqrt(sigma2 + x[l]^2) for `n` elements; returns their sum.
float element_weights(const float* x, const float* qw, float sigma2, int n, float* weight) {
  for (int l = 0; l < n; ++l) weight[l] = qw[l] * std::sqrt(sigma2 + x[l] * x[l]);
  float sum = 0;
  for (int l = 0; l < n; ++l) sum += weight[l];
  return sum;
}

// Q4_K and Q5_K: eight groups of 32 fitted as x ~ scale * q - min, the scales and mins to 6
// bits under d and dmin (bytes 0..15 of the block), then every element requantized against the
// stored values into L[0..255].
void weighted_scale_min_k4(const float* x, const float* qw, int nmax, uint8_t* block, uint8_t* L) {
  const float sigma2 = 2 * sum_squares(x) / static_cast<float>(kQK_K);
  float scales[8], mins[8], sw[8], weights[32];
  uint8_t Laux[32], Ls[8], Lm[8];
  for (int j = 0; j < 8; ++j) {
    sw[j] = element_weights(x + 32 * j, qw + 32 * j, sigma2, 32, weights);
    scales[j] = make_qkx2_quants(32, nmax, x + 32 * j, weights, L + 32 * j, &mins[j], Laux, -0.9f, 0.05f, 36, false);
  }
  const float d_block = make_qp_quants(8, 63, scales, Ls, sw);
  const float m_block = make_qp_quants(8, 63, mins, Lm, sw);
  for (int j = 0; j < 8; ++j) {  // ggml clamps here for Q5_K only; make_qp_quants never exceeds 63
    Ls[j] = std::min<uint8_t>(63, Ls[j]);
    Lm[j] = std::min<uint8_t>(63, Lm[j]);
  }
  store_f16(block, d_block);
  store_f16(block + 2, m_block);
  put_scale_min_k4(Ls, Lm, block + 4);
  const float d_all = load_f16(block), dmin_all = load_f16(block + 2);
  for (int j = 0; j < 8; ++j) {
    uint8_t sc, m;
    get_scale_min_k4(j, block + 4, &sc, &m);
    const float d = d_all * static_cast<float>(sc);
    if (d == 0) continue;  // the group keeps the search's quants, as in ggml
    const float dm = dmin_all * static_cast<float>(m);
    for (int i = 0; i < 32; ++i)
      L[32 * j + i] = static_cast<uint8_t>(std::max(0, std::min(nmax, nearest_int((x[32 * j + i] + dm) / d))));
  }
}

}  // namespace

void quantize_row_q2_k_weighted(const float* x, uint8_t* out, size_t n, const float* qw) {
  constexpr size_t kScales = 0, kD = 80, kDmin = 82;
  for (size_t b = 0; b < n / kQK_K; ++b, x += kQK_K, qw += kQK_K, out += kQ2_KBlockBytes) {
    const float sigma2 = sum_squares(x) / static_cast<float>(kQK_K);
    uint8_t L[kQK_K], Laux[16], Ls[16], Lm[16];
    float scales[16], mins[16], sw[16], weight[16];
    for (int j = 0; j < 16; ++j) {
      sw[j] = element_weights(x + 16 * j, qw + 16 * j, sigma2, 16, weight);
      scales[j] = make_qkx2_quants(16, 3, x + 16 * j, weight, L + 16 * j, &mins[j], Laux, -0.9f, 0.05f, 36, false);
    }
    store_f16(out + kD, make_qp_quants(16, 15, scales, Ls, sw));
    store_f16(out + kDmin, make_qp_quants(16, 15, mins, Lm, sw));
    uint8_t* sc = out + kScales;
    for (int j = 0; j < 16; ++j) sc[j] = static_cast<uint8_t>(Ls[j] | Lm[j] << 4);
    const float dm = load_f16(out + kD), mm = load_f16(out + kDmin);
    for (int j = 0; j < 16; ++j) {
      const float d = dm * static_cast<float>(sc[j] & 0xF);
      if (d == 0) continue;
      const float m = mm * static_cast<float>(sc[j] >> 4);
      for (int i = 0; i < 16; ++i)
        L[16 * j + i] = static_cast<uint8_t>(std::max(0, std::min(3, nearest_int((x[16 * j + i] + m) / d))));
    }
    pack_q2_k_quants(L, out);
  }
}

void quantize_row_q3_k_weighted(const float* x, uint8_t* out, size_t n, const float* qw) {
  constexpr size_t kScales = 96, kD = 108;
  for (size_t b = 0; b < n / kQK_K; ++b, x += kQK_K, qw += kQK_K, out += kQ3_KBlockBytes) {
    const float sigma2 = 2 * sum_squares(x) / static_cast<float>(kQK_K);
    int8_t L[kQK_K], Ls[16];
    float scales[16], sw[16], weight[16];
    for (int j = 0; j < 16; ++j) {
      sw[j] = element_weights(x + 16 * j, qw + 16 * j, sigma2, 16, weight);
      scales[j] = make_qx_quants(16, 4, x + 16 * j, L + 16 * j, 1, weight);
    }
    // The sixteen group scales as 6-bit codes (offset 32) under d: low nibbles in bytes 0..7,
    // top two bits in bytes 8..11.
    uint8_t* s = out + kScales;
    std::memset(s, 0, 12);
    const float d_block = make_qx_quants(16, 32, scales, Ls, 1, sw);
    for (int j = 0; j < 16; ++j) {
      int l = Ls[j];
      if (j < 8)
        s[j] = static_cast<uint8_t>(l & 0xF);
      else
        s[j - 8] = static_cast<uint8_t>(s[j - 8] | (l & 0xF) << 4);
      l >>= 4;
      s[j % 4 + 8] = static_cast<uint8_t>(s[j % 4 + 8] | l << (2 * (j / 4)));
    }
    store_f16(out + kD, d_block);
    const float d_all = load_f16(out + kD);
    for (int j = 0; j < 16; ++j) {
      const int low = j < 8 ? s[j] & 0xF : s[j - 8] >> 4;
      const int sc = (low | ((s[8 + j % 4] >> (2 * (j / 4))) & 3) << 4) - 32;
      const float d = d_all * static_cast<float>(sc);
      if (d == 0) continue;
      for (int i = 0; i < 16; ++i)
        L[16 * j + i] = static_cast<int8_t>(std::max(-4, std::min(3, nearest_int(x[16 * j + i] / d))) + 4);
    }
    pack_q3_k_quants(reinterpret_cast<const uint8_t*>(L), out);  // L in [0, 7]
  }
}

void quantize_row_q4_k_weighted(const float* x, uint8_t* out, size_t n, const float* qw) {
  for (size_t b = 0; b < n / kQK_K; ++b, x += kQK_K, qw += kQK_K, out += kQ4_KBlockBytes) {
    uint8_t L[kQK_K];
    weighted_scale_min_k4(x, qw, 15, out, L);
    pack_q4_k_quants(L, out);
  }
}

void quantize_row_q5_k_weighted(const float* x, uint8_t* out, size_t n, const float* qw) {
  for (size_t b = 0; b < n / kQK_K; ++b, x += kQK_K, qw += kQK_K, out += kQ5_KBlockBytes) {
    uint8_t L[kQK_K];
    weighted_scale_min_k4(x, qw, 31, out, L);
    pack_q5_k_quants(L, out);
  }
}

}  // namespace lmforge
