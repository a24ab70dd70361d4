// ggml's K-quant formats (256-element super-blocks): reference quantizers and dequantizers,
// bit-exact with ggml's quantize_row_qN_K_ref, which is what llama-quantize runs for these
// types without an importance matrix. One file per type (q2_k.cpp ... q6_k.cpp); shared scale
// searches in k_quants_common. Reached through the type table (quant/type_traits.h).
//
// Byte layouts (ggml-common.h), all multi-byte fields little-endian:
//   Q2_K  84 B: uint8 scales[16] (low nibble: scale, high: min, of each 16 elements);
//               uint8 qs[64] (2-bit quants); f16 d; f16 dmin.   x = d*sc*q - dmin*m
//   Q3_K 110 B: uint8 hmask[32] (third bit); uint8 qs[64] (low 2 bits); uint8 scales[12]
//               (sixteen 6-bit scales, biased by 32); f16 d.      x = d*(sc-32)*(q-4)
//   Q4_K 144 B: f16 d; f16 dmin; uint8 scales[12] (eight 6-bit scales and mins, see
//               put_scale_min_k4); uint8 qs[128] (nibbles).       x = d*sc*q - dmin*m
//   Q5_K 176 B: f16 d; f16 dmin; uint8 scales[12]; uint8 qh[32] (fifth bit); uint8 qs[128].
//   Q6_K 210 B: uint8 ql[128] (low nibbles); uint8 qh[64] (high 2 bits); int8 scales[16];
//               f16 d.                                            x = d*sc*(q-32)
// Within each 128 (Q2_K, Q3_K, Q6_K) or 64 (Q4_K, Q5_K) elements, byte l of a quant array
// holds element l and the elements 32, 64, 96 further in its successive bit fields.
#pragma once

#include <cstddef>
#include <cstdint>

#include "quant/k_quants_common.h"

namespace lmforge {

// `n` must be a multiple of 256; `out` receives n / 256 super-blocks.
void quantize_row_q2_k(const float* x, uint8_t* out, size_t n);
void quantize_row_q3_k(const float* x, uint8_t* out, size_t n);
void quantize_row_q4_k(const float* x, uint8_t* out, size_t n);
void quantize_row_q5_k(const float* x, uint8_t* out, size_t n);
void quantize_row_q6_k(const float* x, uint8_t* out, size_t n);
// The importance-matrix paths (ggml's quantize_row_qN_K_impl, which llama-quantize runs when
// an imatrix has an entry for the tensor): `n` is one whole row (a multiple of 256) and `qw`
// its n importance weights (the mean squared activation of each input column). Q2_K...Q5_K
// differ from the reference path even in the searches; Q6_K with qw == nullptr is the
// reference path.
void quantize_row_q2_k_weighted(const float* x, uint8_t* out, size_t n, const float* qw);
void quantize_row_q3_k_weighted(const float* x, uint8_t* out, size_t n, const float* qw);
void quantize_row_q4_k_weighted(const float* x, uint8_t* out, size_t n, const float* qw);
void quantize_row_q5_k_weighted(const float* x, uint8_t* out, size_t n, const float* qw);
void quantize_row_q6_k_weighted(const float* x, uint8_t* out, size_t n, const float* qw);
void dequantize_row_q2_k(const uint8_t* in, float* y, size_t n);
void dequantize_row_q3_k(const uint8_t* in, float* y, size_t n);
void dequantize_row_q4_k(const uint8_t* in, float* y, size_t n);
void dequantize_row_q5_k(const uint8_t* in, float* y, size_t n);
void dequantize_row_q6_k(const uint8_t* in, float* y, size_t n);

}  // namespace lmforge
