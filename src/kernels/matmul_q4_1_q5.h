// Products of Q4_1, Q5_0 and Q5_1 weight rows (quant/ggml_blocks.h, quant/q5.h) with 8-bit
// activation blocks (PackedActivations, the same packing as for Q8_0/Q4_0 weights). Internal to
// the kernels: matmul_packed() and matmul_packed_scalar() route these three types here.
//
// Per 32-element block b, with weight codes n_j (4 or 5 bits, unsigned), activation codes q_j,
// activation scale d_x and the activation block's code sum s (exact):
//   Q4_1, Q5_1 (x = d n + m):  d_w d_x sum n q + m_w (d_x s), where the packed rows carry
//                               d_x s rounded to fp16 (PackedActivations::scaled_sums)
//   Q5_0       (x = d (n - 16)): d_w d_x (sum n q - 16 s)
// so the inner loop is an unsigned-by-signed byte dot product for all three, as for Q4_0.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/dtype.h"
#include "kernels/matmul.h"

namespace lmforge {

// True for Q4_1, Q5_0, Q5_1.
bool is_q4_1_q5_type(DType t);

// matmul_packed() for w.type one of the three (same contract), dispatched per SIMD target.
void matmul_packed_q4_1_q5(const MatrixView& w, const PackedActivations& x, float* y, size_t ldy, uint64_t r0,
                           uint64_t r1);

// The scalar twins: one weight row of nb blocks dotted with one packed activation row (q, d, s
// as PackedActivations stores them for the type: Q4_1/Q5_1 get the scaled sums). Each block's integer sum is exact; the block terms are
// added in block order to one float.
float dot_row_q4_1(const uint8_t* w, const int8_t* q, const float* d, const float* s, uint64_t nb);
float dot_row_q5_0(const uint8_t* w, const int8_t* q, const float* d, const float* s, uint64_t nb);
float dot_row_q5_1(const uint8_t* w, const int8_t* q, const float* d, const float* s, uint64_t nb);

}  // namespace lmforge
