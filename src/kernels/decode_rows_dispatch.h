// The per-family entry points behind decode_row_fast (kernels/decode_rows.h): each decodes a
// row of one of its types through Highway's dynamic dispatch and returns true, or returns false
// (touching nothing) for a type outside its family. Internal to kernels/decode_rows*.cpp.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/dtype.h"

namespace lmforge {

// Q8_0, Q4_0, Q4_1, Q5_0, Q5_1 (decode_rows_blocks32.cpp).
bool decode_blocks32_fast(DType t, const uint8_t* in, float* out, size_t n);

// Q2_K, Q3_K, Q4_K, Q5_K, Q6_K (decode_rows_kquants.cpp).
bool decode_kquants_fast(DType t, const uint8_t* in, float* out, size_t n);

}  // namespace lmforge
