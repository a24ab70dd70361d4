// The composite backward kernels written once over their vector primitives, so that the SIMD
// form (backward_ops.cpp: Highway dot/axpy/panel products) and the scalar twin
// (backward_ops_scalar.cpp: the plain C++ twins) run the same algorithm in the same order and
// differ only where their primitives do. Included by those two files only.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>

#include "core/error.h"
#include "kernels/attention.h"
#include "kernels/interleaved.h"
#include "kernels/matmul_ref.h"

namespace lmforge::backward_detail {

// The vector primitives one form uses.
struct Primitives {
  float (*dot)(const float* a, const float* b, size_t n);
  void (*axpy)(float a, const float* x, float* y, size_t n);
  void (*softmax)(float* x, size_t n);
  void (*decode)(DType t, const uint8_t* in, float* out, size_t n);
  void (*panel)(const float* panel, size_t ldp, size_t rows, size_t width, const float* dy, size_t ldy,
                size_t n_tokens, float* dx, size_t ldx);
};

inline void attention_head_backward(const Primitives& p, const float* q, const float* k, const float* v,
                                    const AttentionShape& s, size_t head, CellSpan cells, const float* dout,
                                    float* scratch, float* dq, float* dk, float* dv) {
  const size_t hd = s.head_dim, group = s.n_head / s.n_head_kv;
  const size_t kv_off = (head / group) * hd;
  const float* qh = q + head * hd;
  const float* douth = dout + head * hd;
  float* prob = scratch;
  float* dp = scratch + cells.count;
  for (uint32_t i = 0; i < cells.count; ++i) {
    const size_t c = size_t{cells[i]} * s.cell_stride + kv_off;
    prob[i] = s.scale * p.dot(qh, k + c, hd);
    dp[i] = p.dot(douth, v + c, hd);
  }
  p.softmax(prob, cells.count);
  float sum_pdp = 0.0f;
  for (uint32_t i = 0; i < cells.count; ++i) sum_pdp += prob[i] * dp[i];
  float* dqh = dq + head * hd;
  std::fill(dqh, dqh + hd, 0.0f);
  for (uint32_t i = 0; i < cells.count; ++i) {
    const size_t c = size_t{cells[i]} * s.cell_stride + kv_off;
    const float ds = prob[i] * (dp[i] - sum_pdp);
    p.axpy(s.scale * ds, k + c, dqh, hd);
    p.axpy(s.scale * ds, qh, dk + c, hd);
    p.axpy(prob[i], douth, dv + c, hd);
  }
}

// Bytes from the start of a row to column c0 (a multiple of the type's block size).
inline size_t column_offset_bytes(DType t, uint64_t c0, size_t block_size, size_t block_bytes) {
  (void)t;
  return static_cast<size_t>(c0 / block_size) * block_bytes;
}

void matmul_transposed_add(const Primitives& p, const MatrixView& w, const float* dy, size_t ldy, size_t n_tokens,
                           float* dx, size_t ldx, uint64_t c0, uint64_t c1, float* panel, size_t block_size,
                           size_t block_bytes, size_t panel_rows);
void matmul_transposed_add(const Primitives& p, const InterleavedMatrix& w, const float* dy, size_t ldy,
                           size_t n_tokens, float* dx, size_t ldx, uint64_t c0, uint64_t c1, float* panel,
                           size_t panel_rows);

}  // namespace lmforge::backward_detail
