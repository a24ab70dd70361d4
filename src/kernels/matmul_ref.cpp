#include "kernels/matmul_ref.h"

#include <vector>

#include "kernels/ops_ref.h"
#include "kernels/weight_types.h"
#include "quant/type_traits.h"

namespace lmforge {

bool matmul_ref_supports(DType t) { return kernel_weight_type(t) != nullptr; }

void matrix_row_ref(const MatrixView& w, uint64_t r, float* out) {
  decode_row(w.type, w.row(r), out, w.cols);
}

void matmul_ref(const MatrixView& w, const float* x, float* y) {
  // One row of scratch: decoding the whole matrix would cost a float copy of every weight.
  std::vector<float> row(w.cols);
  for (uint64_t r = 0; r < w.rows; ++r) {
    matrix_row_ref(w, r, row.data());
    y[r] = dot_ref(row.data(), x, w.cols);
  }
}

}  // namespace lmforge
