// Matrix products for ggml's K-quant weights (Q2_K, Q3_K, Q4_K, Q5_K, Q6_K: 256-element
// super-blocks) and the activation form they read, as matmul.h's entry points hand them over.
//
// The activations are packed like llama.cpp's Q8_K (ggml-quants.c quantize_row_q8_K_ref), so
// that the products see the very numbers llama.cpp's do: per super-block of 256 values a float
// scale d and int8 codes q = min(127, nearest(-127 / m * x)), where m is the value of largest
// magnitude (sign included: d = -m / 127, the codes of a positive maximum are -127), and the
// int16 sum of every 16 codes. The sums let a kernel apply the weights' per-group offsets
// (Q2_K/Q4_K/Q5_K mins, Q6_K's -32, Q3_K's -4) with one multiply per group instead of one per
// element. PackedActivations holds them (layout in matmul.h, form kInt8SuperBlocks).
//
// Each product has a plain C++ twin (matmul_kquants_scalar.cpp) with the same contract: per
// super-block exact integer sums, scaled in float.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/dtype.h"
#include "kernels/matmul.h"
#include "kernels/matmul_ref.h"

namespace lmforge {

// True for the weight types whose products live here (Q2_K ... Q6_K).
bool is_kquant_weight(DType t);

constexpr uint64_t kSuperBlock = 256;  // elements per K-quant super-block (and Q8_K block)
constexpr uint64_t kSumGroup = 16;     // codes per int16 sum

// One activation row of `cols` floats (a multiple of 256) into Q8_K form: q (cols bytes),
// d (cols / 256 floats), sums (cols / 16 int16), exactly as llama.cpp's reference quantizer.
void quantize_activation_row_k_scalar(const float* x, uint64_t cols, int8_t* q, float* d, int16_t* sums);

// pack_rows / pack_rows_scalar for the kInt8SuperBlocks form (called by PackedActivations).
void pack_rows_kquant(PackedActivations& p, const float* x, size_t ldx, size_t t0, size_t t1);
void pack_rows_kquant_scalar(PackedActivations& p, const float* x, size_t ldx, size_t t0, size_t t1);

// matmul_packed / matmul_packed_scalar for K-quant weights (w.type with is_kquant_weight;
// x packed for a K-quant type; w.cols == x.cols(), a multiple of 256).
void matmul_packed_kquant(const MatrixView& w, const PackedActivations& x, float* y, size_t ldy, uint64_t r0,
                          uint64_t r1);
void matmul_packed_kquant_scalar(const MatrixView& w, const PackedActivations& x, float* y, size_t ldy, uint64_t r0,
                                 uint64_t r1);

}  // namespace lmforge
