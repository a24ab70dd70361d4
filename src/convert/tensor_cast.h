// Element-type conversion and row reordering of whole tensors, one row at a time.
//
// The per-type codecs (decode_row, encode_row, can_decode, can_encode) live in the quant layer's
// type table (quant/type_traits.h); this file is the conversion policy on top of them: sizes
// checked, rows reordered, big tensors split over threads.
//
// Rows are the innermost dimension. Working row by row keeps the scratch memory at one row of
// floats, so converting a tensor costs its output buffer and nothing more; when neither the
// type nor the row order changes the input view is passed through without a copy.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "core/tensor.h"
#include "quant/type_traits.h"

namespace lmforge {

// Converts `src` (rows x row_len elements of type `from`) to type `to`; unless from == to, `from`
// must pass can_decode and `to` can_encode. If `source_row` is given, output row r is taken from
// input row source_row(r). `what` names the tensor in errors. Big type conversions split their
// rows over `threads` threads (0: one per available core, at most 16). `importance` (row_len
// floats, an imatrix entry) sends every row through the type's importance-weighted quantizer
// (quant/weighted_quantize.h), as llama-quantize --imatrix does.
TensorBytes cast_rows(const TensorBytes& src, DType from, DType to, uint64_t rows, uint64_t row_len,
                      const std::function<uint64_t(uint64_t)>& source_row, const std::string& what,
                      unsigned threads = 0, const float* importance = nullptr);

}  // namespace lmforge
