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

}  // namespace lmforge
