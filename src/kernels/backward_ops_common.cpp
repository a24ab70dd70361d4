// The backward kernels that have one form only (elementwise or bookkeeping work with no SIMD
// variant worth a twin), and the algorithm of the transposed product shared by both forms.
#include <cmath>
#include <algorithm>
#include <cstdint>
#include <vector>

#include "core/error.h"
#include "kernels/backward_ops-inl.h"
#include "kernels/backward_ops.h"
#include "quant/type_traits.h"

namespace lmforge {

void rms_norm_weight_grad_f32(const float* x, const float* dy, float* dw, size_t n, float eps) {
  float ss = 0.0f;
  for (size_t i = 0; i < n; ++i) ss += x[i] * x[i];
  const float r = 1.0f / std::sqrt(ss / static_cast<float>(n) + eps);
  for (size_t i = 0; i < n; ++i) dw[i] += dy[i] * x[i] * r;
}

void rope_unapply_f32(float* dx, size_t n_heads, size_t head_dim, const float* cos_in, const float* sin_in) {
  const size_t half = head_dim / 2;
  for (size_t h = 0; h < n_heads; ++h) {
    float* head = dx + h * head_dim;
    for (size_t i = 0; i < half; ++i) {
      const float y0 = head[2 * i], y1 = head[2 * i + 1];
      head[2 * i] = y0 * cos_in[i] + y1 * sin_in[i];
      head[2 * i + 1] = -y0 * sin_in[i] + y1 * cos_in[i];
    }
  }
}

void swiglu_backward_f32(const float* g, const float* u, const float* dout, float* dg, float* du, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    // exp(-g) overflows past 88.7: clamp as the forward does (sigma is then 0 to float precision).
    const float sig = 1.0f / (1.0f + std::exp(std::min(-g[i], 88.0f)));
    const float silu = g[i] * sig;
    const float d = dout[i];
    dg[i] = d * u[i] * sig * (1.0f + g[i] * (1.0f - sig));
    du[i] = d * silu;
  }
}

float cross_entropy_f32(const float* logits, size_t n, uint32_t target, float scale, float* dlogits) {
  float max = logits[0];
  for (size_t i = 1; i < n; ++i) max = logits[i] > max ? logits[i] : max;
  const double target_logit = logits[target];
  double sum = 0.0;
  for (size_t i = 0; i < n; ++i) {
    const float e = std::exp(logits[i] - max);
    dlogits[i] = e;
    sum += e;
  }
  const float inv = static_cast<float>(scale / sum);
  for (size_t i = 0; i < n; ++i) dlogits[i] *= inv;
  dlogits[target] -= scale;
  return static_cast<float>(static_cast<double>(max) + std::log(sum) - target_logit);
}

void embedding_scatter_add_f32(const int32_t* tokens, size_t n_tokens, const float* dx, size_t ldx, float* d_table,
                               size_t dim) {
  for (size_t t = 0; t < n_tokens; ++t) {
    float* row = d_table + static_cast<size_t>(tokens[t]) * dim;
    const float* g = dx + t * ldx;
    for (size_t i = 0; i < dim; ++i) row[i] += g[i];
  }
}

size_t transposed_tile_cols(DType t) {
  const TypeTraits* tt = type_traits(t);
  const size_t block = tt ? tt->block_size : 1;
  return block > 128 ? block : 128;
}

namespace backward_detail {

void matmul_transposed_add(const Primitives& p, const MatrixView& w, const float* dy, size_t ldy, size_t n_tokens,
                           float* dx, size_t ldx, uint64_t c0, uint64_t c1, float* panel, size_t block_size,
                           size_t block_bytes, size_t panel_rows) {
  if (c0 >= c1 || c1 > w.cols || c0 % block_size != 0 || (c1 % block_size != 0 && c1 != w.cols)) {
    throw Error("matmul_transposed_add", "the column range does not fall on the weight's blocks");
  }
  const size_t width = static_cast<size_t>(c1 - c0);
  const size_t offset = column_offset_bytes(w.type, c0, block_size, block_bytes);
  // F32 rows are read in place (a strided panel); other types are decoded into `panel` first.
  const bool in_place = w.type == DType::F32 && w.row_bytes % sizeof(float) == 0 &&
                        reinterpret_cast<uintptr_t>(w.row(0)) % alignof(float) == 0;
  for (uint64_t r0 = 0; r0 < w.rows; r0 += panel_rows) {
    const size_t rows = static_cast<size_t>(std::min<uint64_t>(panel_rows, w.rows - r0));
    if (in_place) {
      p.panel(reinterpret_cast<const float*>(w.row(r0) + offset), w.row_bytes / sizeof(float), rows, width, dy + r0,
              ldy, n_tokens, dx + c0, ldx);
      continue;
    }
    for (size_t r = 0; r < rows; ++r) p.decode(w.type, w.row(r0 + r) + offset, panel + r * width, width);
    p.panel(panel, width, rows, width, dy + r0, ldy, n_tokens, dx + c0, ldx);
  }
}

// The same loop over the engine's regrouped copy: each row's blocks [c0, c1) are gathered back
// into the GGUF layout and decoded as from the file, so the sums are the mapped matrix's bits.
void matmul_transposed_add(const Primitives& p, const InterleavedMatrix& w, const float* dy, size_t ldy,
                           size_t n_tokens, float* dx, size_t ldx, uint64_t c0, uint64_t c1, float* panel,
                           size_t panel_rows) {
  constexpr uint64_t kBlock = 32;  // Q8_0 and Q4_0, the interleaved types
  if (c0 >= c1 || c1 > w.cols() || c0 % kBlock != 0 || c1 % kBlock != 0) {
    throw Error("matmul_transposed_add", "the column range does not fall on the weight's blocks");
  }
  const size_t width = static_cast<size_t>(c1 - c0), block_bytes = 2 + w.quant_bytes();
  const uint64_t b0 = c0 / kBlock, b1 = c1 / kBlock;
  std::vector<uint8_t> row(static_cast<size_t>(b1 - b0) * block_bytes);
  for (uint64_t r0 = 0; r0 < w.rows(); r0 += panel_rows) {
    const size_t rows = static_cast<size_t>(std::min<uint64_t>(panel_rows, w.rows() - r0));
    for (size_t r = 0; r < rows; ++r) {
      for (uint64_t b = b0; b < b1; ++b) w.original_block(r0 + r, b, row.data() + (b - b0) * block_bytes);
      p.decode(w.type(), row.data(), panel + r * width, width);
    }
    p.panel(panel, width, rows, width, dy + r0, ldy, n_tokens, dx + c0, ldx);
  }
}

}  // namespace backward_detail
}  // namespace lmforge
