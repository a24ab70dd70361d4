// Exact vector search's kernels: the dot product of a query with every row of a matrix of
// L2-normalized embeddings (so the dot product is the cosine similarity), rows stored as f32 or
// as IEEE f16 (half the bytes). Each reads every row once and does two flops per element it
// reads, so it is bound by memory bandwidth, not arithmetic: the SIMD versions exist to keep up
// with the memory, with several accumulators per row and two rows in flight. `_scalar` are
// their twins with the same contracts, which the tests compare against.
#pragma once

#include <cstddef>
#include <cstdint>

namespace lmforge {

// scores[r] = sum_i rows[r * dim + i] * query[i] for r < n_rows. Rows are contiguous, with no
// alignment requirement.
void dot_rows_f32(const float* rows, size_t n_rows, size_t dim, const float* query, float* scores);
void dot_rows_f32_scalar(const float* rows, size_t n_rows, size_t dim, const float* query,
                         float* scores);

// The same with rows of IEEE binary16 bits, each widened exactly to f32 before the product.
void dot_rows_f16(const uint16_t* rows, size_t n_rows, size_t dim, const float* query, float* scores);
void dot_rows_f16_scalar(const uint16_t* rows, size_t n_rows, size_t dim, const float* query,
                         float* scores);

}  // namespace lmforge
