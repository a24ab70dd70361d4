#include "train/causal_attention_batch.h"

#include <vector>

#include "core/thread_pool.h"
#include "kernels/backward_ops.h"

namespace lmforge {

void causal_attention_forward(ThreadPool& pool, const AttentionShape& shape, uint32_t ctx, size_t n_seq,
                              const float* q, const float* k, const float* v, float* out) {
  const size_t Q = size_t{shape.n_head} * shape.head_dim, KV = shape.cell_stride;
  pool.parallel_for(n_seq * ctx, 1, [&](size_t b, size_t e) {
    std::vector<float> scores(ctx);
    for (size_t i = b; i < e; ++i) {
      const size_t sq = i / ctx, t = i % ctx;
      const CellSpan cells{nullptr, 0, static_cast<uint32_t>(t + 1)};
      attention_f32(&q[i * Q], &k[sq * ctx * KV], &v[sq * ctx * KV], shape, cells, scores.data(), &out[i * Q]);
    }
  });
}

void causal_attention_backward(ThreadPool& pool, const AttentionShape& shape, uint32_t ctx, size_t n_seq,
                               const float* q, const float* k, const float* v, const float* dout, float* dq,
                               float* dk, float* dv) {
  const size_t Q = size_t{shape.n_head} * shape.head_dim, KV = shape.cell_stride;
  const size_t n_kv = shape.n_head_kv, group = shape.n_head / n_kv;
  pool.parallel_for(n_seq * n_kv, 1, [&](size_t b, size_t e) {
    std::vector<float> scratch(2 * size_t{ctx});
    for (size_t unit = b; unit < e; ++unit) {
      const size_t sq = unit / n_kv, g = unit % n_kv, base = sq * ctx * KV;
      for (size_t t = 0; t < ctx; ++t) {
        const size_t i = sq * ctx + t;
        const CellSpan cells{nullptr, 0, static_cast<uint32_t>(t + 1)};
        for (size_t hh = g * group; hh < (g + 1) * group; ++hh) {
          attention_head_backward_f32(&q[i * Q], &k[base], &v[base], shape, hh, cells, &dout[i * Q], scratch.data(),
                                      &dq[i * Q], &dk[base], &dv[base]);
        }
      }
    }
  });
}

}  // namespace lmforge
