// Exact vector search's one kernel: the dot product of a query with every row of a matrix of
// L2-normalized embeddings (so the dot product is the cosine similarity). It reads each row once
// and does two flops per float it reads, so it is bound by memory bandwidth, not arithmetic: the
// SIMD version exists to keep up with the memory, with several accumulators per row and two
// rows in flight. `_scalar` is its twin with the same contract, which the tests compare against.
#pragma once

#include <cstddef>

namespace lmforge {

// scores[r] = sum_i rows[r * dim + i] * query[i] for r < n_rows. Rows are contiguous, with no
// alignment requirement.
void dot_rows_f32(const float* rows, size_t n_rows, size_t dim, const float* query, float* scores);
void dot_rows_f32_scalar(const float* rows, size_t n_rows, size_t dim, const float* query,
                         float* scores);

}  // namespace lmforge
