// The scalar twins of dot_rows_f32 and dot_rows_f16: one float sum per row, in index order.
#include "core/half.h"
#include "kernels/similarity.h"

namespace lmforge {

void dot_rows_f32_scalar(const float* rows, size_t n_rows, size_t dim, const float* query,
                         float* scores) {
  for (size_t r = 0; r < n_rows; ++r) {
    const float* row = rows + r * dim;
    float sum = 0.0f;
    for (size_t i = 0; i < dim; ++i) sum += row[i] * query[i];
    scores[r] = sum;
  }
}

void dot_rows_f16_scalar(const uint16_t* rows, size_t n_rows, size_t dim, const float* query,
                         float* scores) {
  for (size_t r = 0; r < n_rows; ++r) {
    const uint16_t* row = rows + r * dim;
    float sum = 0.0f;
    for (size_t i = 0; i < dim; ++i) sum += fp16_to_fp32(row[i]) * query[i];
    scores[r] = sum;
  }
}

}  // namespace lmforge
