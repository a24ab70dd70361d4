#include "convert/tensor_cast.h"

#include <algorithm>
#include <cstring>
#include <thread>
#include <vector>

#include "core/checked_math.h"
#include "core/error.h"
#include "kernels/decode_rows.h"
#include "kernels/quantize_rows.h"
#include "quant/weighted_quantize.h"

namespace lmforge {

TensorBytes cast_rows(const TensorBytes& src, DType from, DType to, uint64_t rows, uint64_t row_len,
                      const std::function<uint64_t(uint64_t)>& source_row, const std::string& what, unsigned threads,
                      const float* importance) {
  if (from == to && !source_row) return src;
  const auto in_row = dtype_nbytes(from, row_len);
  const auto out_row = dtype_nbytes(to, row_len);
  if (!in_row) fail(what, "row length " + std::to_string(row_len) + " is not a whole number of " + std::string(dtype_name(from)) + " blocks");
  if (!out_row) fail(what, "row length " + std::to_string(row_len) + " is not a whole number of " + std::string(dtype_name(to)) + " blocks");
  auto in_total = checked_mul(*in_row, rows);
  auto out_total = checked_mul(*out_row, rows);
  if (!in_total || !out_total || *in_total != src.size())
    fail(what, "has " + std::to_string(src.size()) + " bytes, expected " + (in_total ? std::to_string(*in_total) : "an overflowing size"));
  if (from != to && !can_decode(from)) fail(what, "cannot convert from type " + std::string(dtype_name(from)));
  if (from != to && !can_encode(to)) fail(what, "cannot convert to type " + std::string(dtype_name(to)));

  std::vector<uint8_t> out(*out_total);
  auto convert_range = [&](uint64_t begin, uint64_t end) {
    std::vector<float> scratch(from == to ? 0 : row_len);
    for (uint64_t r = begin; r < end; ++r) {
      const uint64_t s = source_row ? source_row(r) : r;
      const uint8_t* in = src.data() + s * *in_row;
      uint8_t* o = out.data() + r * *out_row;
      if (from == to) {
        std::memcpy(o, in, *in_row);
      } else {
        decode_row_fast(from, in, scratch.data(), row_len);  // SIMD, same floats
        if (importance)
          encode_row_weighted(to, scratch.data(), o, row_len, importance);
        else
          encode_row_fast(to, scratch.data(), o, row_len);  // SIMD where it exists, same bytes
      }
    }
  };
  if (source_row) {
    for (uint64_t r = 0; r < rows; ++r)
      if (source_row(r) >= rows) fail(what, "internal error: row map out of range");
  }
  // Type conversion of big tensors is CPU-bound (quantization): split the rows over threads.
  const uint64_t elements = rows * row_len;
  if (threads == 0) threads = std::max(1u, std::min(std::thread::hardware_concurrency(), 16u));
  if (from == to || elements < (1u << 20)) threads = 1;
  if (threads == 1) {
    convert_range(0, rows);
  } else {
    std::vector<std::thread> pool;
    const uint64_t per = (rows + threads - 1) / threads;
    for (unsigned t = 0; t < threads; ++t) {
      const uint64_t b = std::min<uint64_t>(rows, t * per), e = std::min<uint64_t>(rows, b + per);
      if (b < e) pool.emplace_back(convert_range, b, e);
    }
    for (auto& th : pool) th.join();
  }
  src.release_file_pages();  // the input is consumed; keep only the output resident
  return TensorBytes(std::move(out));
}

}  // namespace lmforge
