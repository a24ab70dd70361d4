#include "kernels/attention.h"

#include <algorithm>

#include "kernels/ops_ref.h"
#include "kernels/vec_ops.h"

namespace lmforge {

namespace {

// The cells of a span as a function of their rank, resolved once per call: a contiguous span
// then costs no load per cell.
template <class Body>
void with_cell_index(CellSpan cells, Body&& body) {
  if (cells.index) {
    body([index = cells.index](size_t j) { return size_t{index[j]}; });
  } else {
    body([first = size_t{cells.first}](size_t j) { return first + j; });
  }
}

}  // namespace

void attention_ref(const float* q, const float* k, const float* v, const AttentionShape& s, CellSpan cells,
                   float* scores, float* out) {
  const size_t hd = s.head_dim, group = s.n_head / s.n_head_kv;
  for (size_t h = 0; h < s.n_head; ++h) {
    const size_t kv_off = (h / group) * hd;
    const float* qh = q + h * hd;
    for (size_t j = 0; j < cells.count; ++j) scores[j] = dot_ref(qh, k + cells[j] * s.cell_stride + kv_off, hd) * s.scale;
    softmax_ref(scores, cells.count);
    for (size_t i = 0; i < hd; ++i) {
      double sum = 0;
      for (size_t j = 0; j < cells.count; ++j) sum += static_cast<double>(scores[j]) * v[cells[j] * s.cell_stride + kv_off + i];
      out[h * hd + i] = static_cast<float>(sum);
    }
  }
}

void attention_head_f32(const float* q, const float* k, const float* v, const AttentionShape& s, size_t head,
                        CellSpan cells, float* scores, float* out) {
  const size_t hd = s.head_dim, n = cells.count;
  const size_t kv_off = (head / (s.n_head / s.n_head_kv)) * hd;
  const float* qh = q + head * hd;
  float* oh = out + head * hd;
  with_cell_index(cells, [&](auto cell) {
    for (size_t j = 0; j < n; ++j) scores[j] = dot_f32(qh, k + cell(j) * s.cell_stride + kv_off, hd) * s.scale;
    softmax_f32(scores, n);
    std::fill(oh, oh + hd, 0.0f);
    for (size_t j = 0; j < n; ++j) axpy_f32(scores[j], v + cell(j) * s.cell_stride + kv_off, oh, hd);
  });
}

void attention_f32(const float* q, const float* k, const float* v, const AttentionShape& s, CellSpan cells,
                   float* scores, float* out) {
  for (size_t h = 0; h < s.n_head; ++h) attention_head_f32(q, k, v, s, h, cells, scores, out);
}

}  // namespace lmforge
