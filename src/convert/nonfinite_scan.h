// Finds the first NaN or infinite value of a tensor, so that a writer can refuse it by name
// before any output is kept (quantizing a NaN gives blocks that poison every matmul).
#pragma once

#include <cstdint>
#include <optional>

#include "core/tensor.h"

namespace lmforge {

// The index of the first non-finite element among the `numel` elements of type `t` in `bytes`
// (decoded row by row of `row_len`); nullopt when all are finite or `t` cannot be decoded.
std::optional<uint64_t> find_nonfinite_value(const TensorBytes& bytes, DType t, uint64_t numel, uint64_t row_len);

}  // namespace lmforge
