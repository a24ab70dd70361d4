// Element-type conversion and row reordering of whole tensors, one row at a time.
//
// Rows are the innermost dimension. Working row by row keeps the scratch memory at one row of
// floats, so converting a tensor costs its output buffer and nothing more; when neither the
// type nor the row order changes the input view is passed through without a copy.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>

#include "core/tensor.h"

namespace lmforge {

// True when values of `from` can be decoded and values of `to` encoded by cast_rows().
bool can_decode(DType from);
bool can_encode(DType to);

// Decode one row of `n` elements of type `t` into floats.
void decode_row(DType t, const uint8_t* in, float* out, size_t n);
// Encode one row of `n` floats as type `t` (n a multiple of the block size).
void encode_row(DType t, const float* in, uint8_t* out, size_t n);

// Converts `src` (rows x row_len elements of type `from`) to type `to`. If `source_row` is
// given, output row r is taken from input row source_row(r). `what` names the tensor in errors.
TensorBytes cast_rows(const TensorBytes& src, DType from, DType to, uint64_t rows, uint64_t row_len,
                      const std::function<uint64_t(uint64_t)>& source_row, const std::string& what);

}  // namespace lmforge
