// Importance-weighted quantization: the paths ggml's quantize_qN functions take when given
// quant_weights (llama-quantize --imatrix), bit-exact with them. The weights of a row are the
// importance matrix's entry for the tensor: one value per input column (the mean squared
// activation of that column over the calibration text).
//
// ggml's weighted paths differ from its reference quantizers even in the search (Q4_0 and Q5_0
// search the scale with make_qx_quants; Q4_1 and Q5_1 fit scale and min with weighted least
// squares; the K types quantize their group scales by a weighted search too), so these are
// separate functions; without weights every type keeps its reference path (type_traits.h).
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/dtype.h"

namespace lmforge {

// True for the types whose ggml quantizer uses importance weights: Q4_0, Q4_1, Q5_0, Q5_1 and
// Q2_K...Q6_K. Others (F32, F16, BF16, Q8_0) ignore them, as in ggml.
bool uses_importance_weights(DType t);

// Encodes ONE row of `n` floats as type `t` (n a multiple of the block size; can_encode(t)).
// `weights` (n floats) selects the weighted path where the type has one; nullptr, or a type
// that ignores weights, is encode_row. A whole row matters: Q4_0..Q5_1 scale the weights by the
// row's mean square.
void encode_row_weighted(DType t, const float* x, uint8_t* out, size_t n, const float* weights);

// The 32-element types' weighted paths (quantize_row_qN_impl); `n` is one whole row.
void quantize_row_q4_0_weighted(const float* x, uint8_t* out, size_t n, const float* qw);
void quantize_row_q4_1_weighted(const float* x, uint8_t* out, size_t n, const float* qw);
void quantize_row_q5_0_weighted(const float* x, uint8_t* out, size_t n, const float* qw);
void quantize_row_q5_1_weighted(const float* x, uint8_t* out, size_t n, const float* qw);

}  // namespace lmforge
