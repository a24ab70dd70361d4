// K-quant weight super-blocks (Q2_K ... Q6_K) unpacked into one common integer form, for the
// scalar twins and the portable SIMD path of the K-quant products (matmul_kquants*.cpp).
//
// Every type decodes as  x[j] = d * scale[j / 16] * q[j] - dmin * min[j / 16]  with small
// integers: q in int8, scale and min per 16 elements (Q4_K/Q5_K give both halves of a 32-element
// group the same values). Offsets that are part of the code (Q3_K's -4, Q6_K's -32) are folded
// into q, so min is only non-zero for the types with a stored min (Q2_K, Q4_K, Q5_K). The byte
// layouts are those of quant/k_quants.h; the values match dequantize_row_qN_k exactly.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "core/dtype.h"
#include "quant/k_quants_common.h"

namespace lmforge {

struct KQuantBlock {
  int8_t q[kQK_K];
  int32_t scale[kQK_K / 16];
  int32_t min[kQK_K / 16];
  float d;
  float dmin;
};

// Bytes of one super-block of `t` (Q2_K ... Q6_K); 0 for any other type.
inline size_t kquant_block_bytes(DType t) {
  switch (t) {
    case DType::Q2_K: return kQ2_KBlockBytes;
    case DType::Q3_K: return kQ3_KBlockBytes;
    case DType::Q4_K: return kQ4_KBlockBytes;
    case DType::Q5_K: return kQ5_KBlockBytes;
    case DType::Q6_K: return kQ6_KBlockBytes;
    default: return 0;
  }
}

// The first block (index) of `n_blocks` super-blocks of `t` whose f16 d or dmin is NaN or
// infinite (such a scale poisons every product with the block); -1 when all are finite.
// Q2_K: d @80, dmin @82; Q3_K: d @108; Q4_K/Q5_K: d @0, dmin @2; Q6_K: d @208.
inline int64_t find_nonfinite_kquant_scale(DType t, const uint8_t* blocks, size_t n_blocks) {
  size_t at[2] = {0, 0}, count = 0;
  switch (t) {
    case DType::Q2_K: at[0] = 80, at[1] = 82, count = 2; break;
    case DType::Q3_K: at[0] = 108, count = 1; break;
    case DType::Q4_K:
    case DType::Q5_K: at[0] = 0, at[1] = 2, count = 2; break;
    case DType::Q6_K: at[0] = 208, count = 1; break;
    default: return -1;
  }
  const size_t bytes = kquant_block_bytes(t);
  for (size_t b = 0; b < n_blocks; ++b) {
    for (size_t k = 0; k < count; ++k) {
      uint16_t h;
      std::memcpy(&h, blocks + b * bytes + at[k], 2);
      if ((h & 0x7C00u) == 0x7C00u) return static_cast<int64_t>(b);  // exponent all ones
    }
  }
  return -1;
}

// Q4_K/Q5_K's twelve scale bytes as eight 6-bit scales and eight 6-bit mins (bytes 0-3: scales
// 0-3 and the top bits of scales 4-7; bytes 4-7: mins 0-3 and the top bits of mins 4-7; bytes
// 8-11: low nibbles of scales 4-7, high nibbles of mins 4-7). Word arithmetic, as the SIMD
// kernels also use it.
inline void unpack_scales_mins_k4(const uint8_t* p, uint8_t scales[8], uint8_t mins[8]) {
  uint32_t u[3];
  std::memcpy(u, p, 12);
  const uint32_t s_lo = u[0] & 0x3f3f3f3fu;
  const uint32_t m_lo = u[1] & 0x3f3f3f3fu;
  const uint32_t s_hi = (u[2] & 0x0f0f0f0fu) | ((u[0] >> 6) & 0x03030303u) << 4;
  const uint32_t m_hi = ((u[2] >> 4) & 0x0f0f0f0fu) | ((u[1] >> 6) & 0x03030303u) << 4;
  std::memcpy(scales, &s_lo, 4);
  std::memcpy(scales + 4, &s_hi, 4);
  std::memcpy(mins, &m_lo, 4);
  std::memcpy(mins + 4, &m_hi, 4);
}

// Q3_K's twelve scale bytes as sixteen signed scales (6-bit values minus the bias 32): low
// nibbles in bytes 0-7 (groups 0-7 low nibble, 8-15 high nibble), top two bits in bytes 8-11
// (group g at byte 8 + g % 4, bits 2 * (g / 4)).
inline void unpack_scales_q3_k(const uint8_t* p, int8_t scales[16]) {
  uint32_t a[3];
  std::memcpy(a, p, 12);
  const uint32_t w[4] = {
      (a[0] & 0x0f0f0f0fu) | ((a[2] >> 0) & 0x03030303u) << 4,
      (a[1] & 0x0f0f0f0fu) | ((a[2] >> 2) & 0x03030303u) << 4,
      ((a[0] >> 4) & 0x0f0f0f0fu) | ((a[2] >> 4) & 0x03030303u) << 4,
      ((a[1] >> 4) & 0x0f0f0f0fu) | ((a[2] >> 6) & 0x03030303u) << 4,
  };
  uint8_t u[16];
  std::memcpy(u, w, 16);
  for (int g = 0; g < 16; ++g) scales[g] = static_cast<int8_t>(u[g] - 32);
}

inline void decode_kquant_block(DType t, const uint8_t* b, KQuantBlock& out) {
  std::memset(out.min, 0, sizeof(out.min));
  out.dmin = 0.0f;
  switch (t) {
    case DType::Q2_K: {  // scales[16] @0, qs[64] @16, d @80, dmin @82
      const uint8_t* qs = b + 16;
      for (size_t j = 0; j < kQK_K; ++j)
        out.q[j] = static_cast<int8_t>((qs[32 * (j / 128) + j % 32] >> (2 * ((j % 128) / 32))) & 3);
      for (int g = 0; g < 16; ++g) {
        out.scale[g] = b[g] & 0xF;
        out.min[g] = b[g] >> 4;
      }
      out.d = load_f16(b + 80);
      out.dmin = load_f16(b + 82);
      break;
    }
    case DType::Q3_K: {  // hmask[32] @0, qs[64] @32, scales[12] @96, d @108
      const uint8_t* hm = b;
      const uint8_t* qs = b + 32;
      for (size_t j = 0; j < kQK_K; ++j) {
        const int low = (qs[32 * (j / 128) + j % 32] >> (2 * ((j % 128) / 32))) & 3;
        const int high = (hm[j % 32] >> (j / 32)) & 1;
        out.q[j] = static_cast<int8_t>(low + 4 * high - 4);
      }
      int8_t sc[16];
      unpack_scales_q3_k(b + 96, sc);
      for (int g = 0; g < 16; ++g) out.scale[g] = sc[g];
      out.d = load_f16(b + 108);
      break;
    }
    case DType::Q4_K:    // d @0, dmin @2, scales[12] @4, qs[128] @16
    case DType::Q5_K: {  // d @0, dmin @2, scales[12] @4, qh[32] @16, qs[128] @48
      const bool five = t == DType::Q5_K;
      const uint8_t* qs = b + (five ? 48 : 16);
      for (size_t j = 0; j < kQK_K; ++j) {
        const size_t g = j / 32, l = j % 32;
        int v = (qs[32 * (g / 2) + l] >> (4 * (g % 2))) & 0xF;
        if (five) v |= ((b[16 + l] >> g) & 1) << 4;
        out.q[j] = static_cast<int8_t>(v);
      }
      uint8_t sc[8], mn[8];
      unpack_scales_mins_k4(b + 4, sc, mn);
      for (int g = 0; g < 16; ++g) {
        out.scale[g] = sc[g / 2];
        out.min[g] = mn[g / 2];
      }
      out.d = load_f16(b);
      out.dmin = load_f16(b + 2);
      break;
    }
    case DType::Q6_K: {  // ql[128] @0, qh[64] @128, scales[16] (int8) @192, d @208
      for (size_t j = 0; j < kQK_K; ++j) {
        const size_t h = j / 128, k = (j % 128) / 32, l = j % 32;
        const int low = (b[64 * h + l + 32 * (k % 2)] >> (4 * (k / 2))) & 0xF;
        const int high = (b[128 + 32 * h + l] >> (2 * k)) & 3;
        out.q[j] = static_cast<int8_t>((low | high << 4) - 32);
      }
      for (int g = 0; g < 16; ++g) out.scale[g] = static_cast<int8_t>(b[192 + g]);
      out.d = load_f16(b + 208);
      break;
    }
    default: std::memset(&out, 0, sizeof(out)); break;
  }
}

}  // namespace lmforge
