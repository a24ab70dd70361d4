// Bit packing of the K-quant blocks: given a super-block's 256 quants, one per byte, lay them
// out as ggml's block formats do (the byte layouts are in quant/k_quants.h). One packer per type,
// shared by every encoder that writes these blocks: the reference quantizers (q2_k ... q6_k),
// the importance-weighted ones (weighted_k_quants) and the SIMD encoders
// (kernels/quantize_rows.h), so the three can differ only in how they choose the quants.
#pragma once

#include <cstdint>

namespace lmforge {

// Q2_K: quants in [0, 3] into the 64 bytes of qs (block offset 16).
void pack_q2_k_quants(const uint8_t* L, uint8_t* block);
// Q3_K: quants in [0, 7] into hmask (offset 0, the third bits) and qs (offset 32).
void pack_q3_k_quants(const uint8_t* L, uint8_t* block);
// Q4_K: quants in [0, 15] into the 128 bytes of qs (block offset 16).
void pack_q4_k_quants(const uint8_t* L, uint8_t* block);
// Q5_K: quants in [0, 31] into qh (offset 16, the fifth bits) and qs (offset 48).
void pack_q5_k_quants(const uint8_t* L, uint8_t* block);
// Q6_K: quants in [0, 63] into ql (offset 0) and qh (offset 128).
void pack_q6_k_quants(const uint8_t* L, uint8_t* block);

}  // namespace lmforge
