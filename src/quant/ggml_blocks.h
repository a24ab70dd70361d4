// ggml's 32-element block formats Q8_0, Q4_0 and Q4_1: byte layout, reference quantizers and
// dequantizers. These scalar functions are the specification the SIMD kernels are tested
// against. Callers reach them through the type table (quant/type_traits.h), one row per type.
//
//   Q8_0: f16 d; int8 qs[32]            x = qs[j] * d
//   Q4_0: f16 d; uint8 qs[16]           x = (nibble - 8) * d, byte j holds element j in its
//                                        low nibble and element j + 16 in its high nibble
//   Q4_1: f16 d; f16 m; uint8 qs[16]    x = nibble * d + m, nibbles ordered as in Q4_0
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

namespace lmforge {

constexpr size_t kQK = 32;            // elements per block
constexpr size_t kQ8_0BlockBytes = 34;
constexpr size_t kQ4_0BlockBytes = 18;
constexpr size_t kQ4_1BlockBytes = 20;

// The element of largest magnitude, sign kept, the first on ties: the value Q4_0 and Q5_0 map
// to their most negative code, and the K-quants' scale searches start from.
inline float signed_absmax(const float* x, size_t n) {
  float amax = 0.0f, max = 0.0f;
  for (size_t j = 0; j < n; ++j) {
    const float a = std::fabs(x[j]);
    if (amax < a) {
      amax = a;
      max = x[j];
    }
  }
  return max;
}

// `n` must be a multiple of 32; `out` receives n / 32 blocks.
void quantize_row_q8_0(const float* x, uint8_t* out, size_t n);
void quantize_row_q4_0(const float* x, uint8_t* out, size_t n);
void quantize_row_q4_1(const float* x, uint8_t* out, size_t n);
void dequantize_row_q8_0(const uint8_t* in, float* y, size_t n);
void dequantize_row_q4_0(const uint8_t* in, float* y, size_t n);
void dequantize_row_q4_1(const uint8_t* in, float* y, size_t n);

// Index of the first block among `n_blocks` consecutive blocks of `block_bytes` bytes whose f16
// scale (the first two bytes: the types whose TypeTraits::leading_f16_scale is set) is NaN or
// infinite; -1 when all are finite.
int64_t find_nonfinite_block_scale(const uint8_t* blocks, size_t n_blocks, size_t block_bytes);

}  // namespace lmforge
