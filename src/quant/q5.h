// ggml's 32-element 5-bit block formats Q5_0 and Q5_1: byte layout, reference quantizers and
// dequantizers, bit-exact with ggml's quantize_row_q5_0_ref / quantize_row_q5_1_ref (the path
// llama-quantize takes without an importance matrix). Reached through the type table
// (quant/type_traits.h).
//
//   Q5_0: f16 d; uint32 qh; uint8 qs[16]          x = (q - 16) * d
//   Q5_1: f16 d; f16 m; uint32 qh; uint8 qs[16]   x = q * d + m
//
// Each 5-bit q is split: its low four bits are a nibble of qs, ordered as in Q4_0 (byte j holds
// element j low and element j + 16 high), and its fifth bit is bit j of the little-endian qh.
#pragma once

#include <cstddef>
#include <cstdint>

namespace lmforge {

constexpr size_t kQ5_0BlockBytes = 22;
constexpr size_t kQ5_1BlockBytes = 24;

// `n` must be a multiple of 32; `out` receives n / 32 blocks.
void quantize_row_q5_0(const float* x, uint8_t* out, size_t n);
void quantize_row_q5_1(const float* x, uint8_t* out, size_t n);
// Packs 32 five-bit quants q[0..31]: low nibbles into qs (j low, j + 16 high), fifth bits into
// the four little-endian bytes at qh_out.
void pack_q5(const uint8_t* q, uint8_t* qh_out, uint8_t* qs);

void dequantize_row_q5_0(const uint8_t* in, float* y, size_t n);
void dequantize_row_q5_1(const uint8_t* in, float* y, size_t n);

}  // namespace lmforge
