#include "convert/nonfinite_scan.h"

#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/decode_rows.h"
#include "quant/type_traits.h"

namespace lmforge {

std::optional<uint64_t> find_nonfinite_value(const TensorBytes& bytes, DType t, uint64_t numel, uint64_t row_len) {
  if (!can_decode(t) || row_len == 0 || numel % row_len != 0) return std::nullopt;
  const auto row_bytes = dtype_nbytes(t, row_len);
  if (!row_bytes || *row_bytes * (numel / row_len) > bytes.size()) return std::nullopt;
  std::vector<float> row(row_len);
  for (uint64_t r = 0; r < numel / row_len; ++r) {
    const uint8_t* in = bytes.data() + r * *row_bytes;
    if (t == DType::F32) {
      std::memcpy(row.data(), in, row_len * sizeof(float));  // unaligned-safe
    } else {
      decode_row_fast(t, in, row.data(), row_len);  // SIMD for F16/BF16 and the block types
    }
    for (uint64_t i = 0; i < row_len; ++i)
      if (!std::isfinite(row[i])) return r * row_len + i;
  }
  return std::nullopt;
}

}  // namespace lmforge
