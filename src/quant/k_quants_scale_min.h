// The scale/min stage shared by Q4_K and Q5_K: eight groups of 32 elements, each fitted with
// make_qkx2_quants as x ~ scale * q - min, then the eight scales and mins quantized to 6 bits
// under the f16 super-scales d and dmin, and every element requantized against the stored,
// rounded scale and min. Only the quant range (nmax) and the search grid differ between the two.
#pragma once

#include <cstdint>

namespace lmforge {

// Fills bytes 0..15 of a Q4_K/Q5_K block (d, dmin, the 12 scale bytes) from 256 floats, and
// L[0..255] with the quants in [0, nmax].
void quantize_scale_min_k4(const float* x, int nmax, float rmin, int nstep, uint8_t* block,
                           uint8_t* L);

// The 6-bit stage alone: the eight groups' fitted scales and mins quantized under d and dmin
// (the largest of each / 63), written as bytes 0..15 of the block (d, dmin as f16, then the
// packed scales and mins). Shared with the SIMD encoders (kernels/quantize_rows), which fit the
// groups their own way and must store them exactly so.
void store_scales_mins_k4(const float* scales, const float* mins, uint8_t* block);

}  // namespace lmforge
