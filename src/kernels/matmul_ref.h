// Scalar reference matrix-vector product y = W x for every weight type the forward pass reads.
//
// This is the exact, readable twin the SIMD kernels are tested against: each row of W is decoded
// to floats with the same decoders the converter uses (decode_row), then dotted with x in double
// precision, so the only rounding is the storage type's and one final rounding to float.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/dtype.h"

namespace lmforge {

// A row-major matrix of `rows` x `cols` elements of `type`, rows `row_bytes` apart, viewed in
// place (typically inside a memory-mapped GGUF file).
struct MatrixView {
  DType type = DType::F32;
  const uint8_t* data = nullptr;
  uint64_t rows = 0;
  uint64_t cols = 0;
  size_t row_bytes = 0;

  const uint8_t* row(uint64_t r) const { return data + r * row_bytes; }
};

// The weight types the forward pass runs (kernels/weight_types.h: F32, F16, BF16, Q8_0, Q4_0,
// Q2_K...Q6_K).
// matmul_ref() itself decodes any type quant/type_traits.h can; this is the set the fast
// products, which it is the twin of, support.
bool matmul_ref_supports(DType t);

// y[r] = sum_c W[r][c] * x[c] for r < w.rows; x has w.cols elements, y w.rows.
void matmul_ref(const MatrixView& w, const float* x, float* y);

// Row r of W as floats (an embedding lookup); out has w.cols elements.
void matrix_row_ref(const MatrixView& w, uint64_t r, float* out);

}  // namespace lmforge
