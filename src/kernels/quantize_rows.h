// Fast row encoders (Highway, runtime dispatch) that write exactly the bytes of the reference
// encoders in quant/ (quant/type_traits.h encode_row), which are ggml's: same scale searches,
// same float operations in the same order, same tie rules.
//
// The K-quant scale searches are vectorized ACROSS independent groups: lane j of a vector works
// on its own group (Q4_K/Q5_K: the 32-element groups; Q2_K, Q3_K, Q6_K: the 16-element ones),
// performing the reference's operations for that group in the reference's order;
// data-dependent branches (Q3_K's coordinate descent included) become per-lane blends with the
// same comparisons, the same strict or non-strict tie rules. Elementwise
// steps (Q8_0, Q4_0, the final requantization against the stored scales) are vectorized along
// the row. Rows holding a NaN or an infinity go to the reference encoder, whose behaviour on
// them is not worth emulating. The build compiles these kernels with -ffp-contract=off, so no
// Mul + Add pair becomes an FMA.
//
// The scalar twin of every fast encoder is the reference encoder itself;
// tests/kernels/quantize_rows_test.cpp compares them byte for byte on every compiled target.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/dtype.h"

namespace lmforge {

// True when `t` has a SIMD encoder here (Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, Q8_0, Q4_0).
bool has_fast_encoder(DType t);

// Encodes `n` floats (a multiple of t's block size) as type `t`, byte-identical to
// encode_row(t, in, out, n): through the SIMD encoder when has_fast_encoder(t), else through
// the reference. Same preconditions as encode_row (can_encode(t)).
void encode_row_fast(DType t, const float* in, uint8_t* out, size_t n);

}  // namespace lmforge
