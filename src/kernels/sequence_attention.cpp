#include "kernels/sequence_attention.h"

#include "kernels/vec_ops.h"

namespace lmforge {

void sequence_attention_head_f32(const float* q, const float* k, const float* v, const AttentionShape& s,
                                 size_t head, uint32_t first, uint32_t count, SequenceAttentionScratch& scratch,
                                 float* out) {
  const size_t hd = s.head_dim, stride = s.cell_stride, n = count;
  const size_t off = static_cast<size_t>(first) * stride + head * hd;
  // Keys as the "weights" of the first product: n rows of hd floats, a token apart.
  const MatrixView keys{.type = DType::F32,
                        .data = reinterpret_cast<const uint8_t*>(k + off),
                        .rows = n,
                        .cols = hd,
                        .row_bytes = stride * sizeof(float)};
  scratch.queries.reset(DType::F32, n, hd);
  scratch.queries.pack_rows(q + off, stride, 0, n);
  scratch.scores.resize(n * n);
  float* sc = scratch.scores.data();
  matmul_packed(keys, scratch.queries, sc, n, 0, n);  // sc[t * n + j] = q_t · k_j
  for (size_t t = 0; t < n; ++t) {
    float* row = sc + t * n;
    for (size_t j = 0; j < n; ++j) row[j] *= s.scale;
    softmax_f32(row, n);
  }
  // Values transposed, so that the second product's "weights" are hd rows of n floats.
  scratch.values_t.resize(hd * n);
  float* vt = scratch.values_t.data();
  for (size_t j = 0; j < n; ++j) {
    const float* vj = v + off + j * stride;
    for (size_t d = 0; d < hd; ++d) vt[d * n + j] = vj[d];
  }
  const MatrixView values{.type = DType::F32,
                          .data = reinterpret_cast<const uint8_t*>(vt),
                          .rows = hd,
                          .cols = n,
                          .row_bytes = n * sizeof(float)};
  scratch.queries.reset(DType::F32, n, n);
  scratch.queries.pack_rows(sc, n, 0, n);
  matmul_packed(values, scratch.queries, out + off, stride, 0, hd);  // out_t[d] = sum_j p_tj v_j[d]
}

}  // namespace lmforge
