// Plain C++ twins of the SIMD backward kernels (backward_ops.cpp): the same algorithms over
// the scalar primitives (vec_ops_scalar.cpp, quant/type_traits.h's reference decoders), sums
// in the same order per output element.
#include <cmath>

#include "core/error.h"
#include "kernels/backward_ops-inl.h"
#include "kernels/backward_ops.h"
#include "kernels/vec_ops.h"
#include "quant/type_traits.h"

namespace lmforge {

void panel_accumulate_strided_f32_scalar(const float* panel, size_t ldp, size_t rows, size_t width, const float* dy,
                                         size_t ldy, size_t n_tokens, float* dx, size_t ldx) {
  for (size_t t = 0; t < n_tokens; ++t) {
    for (size_t j = 0; j < width; ++j) {
      float a = dx[t * ldx + j];
      for (size_t r = 0; r < rows; ++r) a += dy[t * ldy + r] * panel[r * ldp + j];
      dx[t * ldx + j] = a;
    }
  }
}

void panel_accumulate_f32_scalar(const float* panel, size_t rows, size_t width, const float* dy, size_t ldy,
                                 size_t n_tokens, float* dx, size_t ldx) {
  panel_accumulate_strided_f32_scalar(panel, width, rows, width, dy, ldy, n_tokens, dx, ldx);
}

void rms_norm_backward_f32_scalar(const float* x, const float* w, const float* dy, float* dx, size_t n, float eps) {
  float s = 0.0f, g = 0.0f;
  for (size_t i = 0; i < n; ++i) {
    s += x[i] * x[i];
    g += dy[i] * w[i] * x[i];
  }
  const float r = 1.0f / std::sqrt(s / static_cast<float>(n) + eps);
  const float coef = r * r * r * g / static_cast<float>(n);
  for (size_t i = 0; i < n; ++i) dx[i] += r * w[i] * dy[i] - coef * x[i];
}

namespace {
const backward_detail::Primitives kScalar{dot_f32_scalar, axpy_f32_scalar, softmax_f32_scalar, decode_row,
                                          panel_accumulate_strided_f32_scalar};
}  // namespace

void attention_head_backward_f32_scalar(const float* q, const float* k, const float* v, const AttentionShape& s,
                                        size_t head, CellSpan cells, const float* dout, float* scratch, float* dq,
                                        float* dk, float* dv) {
  backward_detail::attention_head_backward(kScalar, q, k, v, s, head, cells, dout, scratch, dq, dk, dv);
}

void matmul_transposed_add_scalar(const MatrixView& w, const float* dy, size_t ldy, size_t n_tokens, float* dx,
                                  size_t ldx, uint64_t c0, uint64_t c1, float* panel) {
  const TypeTraits* tt = type_traits(w.type);
  if (!tt) throw Error("matmul_transposed_add", "no decoder for this weight type");
  backward_detail::matmul_transposed_add(kScalar, w, dy, ldy, n_tokens, dx, ldx, c0, c1, panel, tt->block_size,
                                         tt->block_bytes, kTransposedPanelRows);
}

void matmul_transposed_add_scalar(const InterleavedMatrix& w, const float* dy, size_t ldy, size_t n_tokens, float* dx,
                                  size_t ldx, uint64_t c0, uint64_t c1, float* panel) {
  backward_detail::matmul_transposed_add(kScalar, w, dy, ldy, n_tokens, dx, ldx, c0, c1, panel, kTransposedPanelRows);
}

void rope_unapply_neox_f32_scalar(float* dx, size_t n_heads, size_t head_dim, const float* cos_in,
                                  const float* sin_in) {
  const size_t half = head_dim / 2;
  for (size_t h = 0; h < n_heads; ++h) {
    float* lo = dx + h * head_dim;
    float* hi = lo + half;
    for (size_t i = 0; i < half; ++i) {
      const float y0 = lo[i], y1 = hi[i];
      lo[i] = y0 * cos_in[i] + y1 * sin_in[i];
      hi[i] = y1 * cos_in[i] - y0 * sin_in[i];
    }
  }
}

}  // namespace lmforge
