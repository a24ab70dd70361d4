// Highway forms of the backward kernels (backward_ops.h), compiled once per SIMD target and
// picked at run time: the panel product of the transposed weight (four tokens by two vectors at
// a time, their partial sums kept in registers over the panel's rows), RMSNorm's backward and
// the NEOX rotation's backward. The attention backward and the transposed products (from the
// mapped matrix or the regrouped copy) are the shared algorithms of backward_ops-inl.h over
// these and the vec_ops.h primitives.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/backward_ops.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"

#include <cmath>

#include "kernels/backward_ops.h"

HWY_BEFORE_NAMESPACE();
namespace lmforge {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// dx[t][c] += sum_r dy[t][r] * panel[r][c]: each element sums over r in order with one FMA per
// term; columns past the last whole vector go through std::fma in the same order.
void PanelAccumulateF32(const float* panel, size_t ldp, size_t rows, size_t width, const float* dy, size_t ldy, size_t n_tokens,
                        float* dx, size_t ldx) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  const size_t vec_width = width / N * N;
  size_t t = 0;
  for (; t + 4 <= n_tokens; t += 4) {
    const float* g0 = dy + t * ldy;
    const float* g1 = g0 + ldy;
    const float* g2 = g1 + ldy;
    const float* g3 = g2 + ldy;
    float* x0 = dx + t * ldx;
    float* x1 = x0 + ldx;
    float* x2 = x1 + ldx;
    float* x3 = x2 + ldx;
    size_t j = 0;
    // Four vectors per token: 16 accumulators, 4 loads and 4 broadcasts per 16 FMAs, which keeps
    // both FMA ports busy; every element still sums over r in order.
    for (; j + 4 * N <= vec_width; j += 4 * N) {
      auto a0 = hn::LoadU(d, x0 + j), a1 = hn::LoadU(d, x1 + j), a2 = hn::LoadU(d, x2 + j),
           a3 = hn::LoadU(d, x3 + j);
      auto b0 = hn::LoadU(d, x0 + j + N), b1 = hn::LoadU(d, x1 + j + N), b2 = hn::LoadU(d, x2 + j + N),
           b3 = hn::LoadU(d, x3 + j + N);
      auto c0 = hn::LoadU(d, x0 + j + 2 * N), c1 = hn::LoadU(d, x1 + j + 2 * N), c2 = hn::LoadU(d, x2 + j + 2 * N),
           c3 = hn::LoadU(d, x3 + j + 2 * N);
      auto e0 = hn::LoadU(d, x0 + j + 3 * N), e1 = hn::LoadU(d, x1 + j + 3 * N), e2 = hn::LoadU(d, x2 + j + 3 * N),
           e3 = hn::LoadU(d, x3 + j + 3 * N);
      for (size_t r = 0; r < rows; ++r) {
        const float* pr = panel + r * ldp + j;
        const auto w0 = hn::LoadU(d, pr), w1 = hn::LoadU(d, pr + N), w2 = hn::LoadU(d, pr + 2 * N),
                   w3 = hn::LoadU(d, pr + 3 * N);
        const auto s0 = hn::Set(d, g0[r]), s1 = hn::Set(d, g1[r]), s2 = hn::Set(d, g2[r]), s3 = hn::Set(d, g3[r]);
        a0 = hn::MulAdd(s0, w0, a0);
        b0 = hn::MulAdd(s0, w1, b0);
        c0 = hn::MulAdd(s0, w2, c0);
        e0 = hn::MulAdd(s0, w3, e0);
        a1 = hn::MulAdd(s1, w0, a1);
        b1 = hn::MulAdd(s1, w1, b1);
        c1 = hn::MulAdd(s1, w2, c1);
        e1 = hn::MulAdd(s1, w3, e1);
        a2 = hn::MulAdd(s2, w0, a2);
        b2 = hn::MulAdd(s2, w1, b2);
        c2 = hn::MulAdd(s2, w2, c2);
        e2 = hn::MulAdd(s2, w3, e2);
        a3 = hn::MulAdd(s3, w0, a3);
        b3 = hn::MulAdd(s3, w1, b3);
        c3 = hn::MulAdd(s3, w2, c3);
        e3 = hn::MulAdd(s3, w3, e3);
      }
      hn::StoreU(a0, d, x0 + j);
      hn::StoreU(a1, d, x1 + j);
      hn::StoreU(a2, d, x2 + j);
      hn::StoreU(a3, d, x3 + j);
      hn::StoreU(b0, d, x0 + j + N);
      hn::StoreU(b1, d, x1 + j + N);
      hn::StoreU(b2, d, x2 + j + N);
      hn::StoreU(b3, d, x3 + j + N);
      hn::StoreU(c0, d, x0 + j + 2 * N);
      hn::StoreU(c1, d, x1 + j + 2 * N);
      hn::StoreU(c2, d, x2 + j + 2 * N);
      hn::StoreU(c3, d, x3 + j + 2 * N);
      hn::StoreU(e0, d, x0 + j + 3 * N);
      hn::StoreU(e1, d, x1 + j + 3 * N);
      hn::StoreU(e2, d, x2 + j + 3 * N);
      hn::StoreU(e3, d, x3 + j + 3 * N);
    }
    for (; j + 2 * N <= vec_width; j += 2 * N) {
      auto a0 = hn::LoadU(d, x0 + j), a1 = hn::LoadU(d, x1 + j), a2 = hn::LoadU(d, x2 + j),
           a3 = hn::LoadU(d, x3 + j);
      auto b0 = hn::LoadU(d, x0 + j + N), b1 = hn::LoadU(d, x1 + j + N), b2 = hn::LoadU(d, x2 + j + N),
           b3 = hn::LoadU(d, x3 + j + N);
      for (size_t r = 0; r < rows; ++r) {
        const auto w = hn::LoadU(d, panel + r * ldp + j);
        const auto w2 = hn::LoadU(d, panel + r * ldp + j + N);
        const auto s0 = hn::Set(d, g0[r]), s1 = hn::Set(d, g1[r]), s2 = hn::Set(d, g2[r]), s3 = hn::Set(d, g3[r]);
        a0 = hn::MulAdd(s0, w, a0);
        b0 = hn::MulAdd(s0, w2, b0);
        a1 = hn::MulAdd(s1, w, a1);
        b1 = hn::MulAdd(s1, w2, b1);
        a2 = hn::MulAdd(s2, w, a2);
        b2 = hn::MulAdd(s2, w2, b2);
        a3 = hn::MulAdd(s3, w, a3);
        b3 = hn::MulAdd(s3, w2, b3);
      }
      hn::StoreU(a0, d, x0 + j);
      hn::StoreU(a1, d, x1 + j);
      hn::StoreU(a2, d, x2 + j);
      hn::StoreU(a3, d, x3 + j);
      hn::StoreU(b0, d, x0 + j + N);
      hn::StoreU(b1, d, x1 + j + N);
      hn::StoreU(b2, d, x2 + j + N);
      hn::StoreU(b3, d, x3 + j + N);
    }
    for (; j < vec_width; j += N) {
      auto a0 = hn::LoadU(d, x0 + j), a1 = hn::LoadU(d, x1 + j), a2 = hn::LoadU(d, x2 + j),
           a3 = hn::LoadU(d, x3 + j);
      for (size_t r = 0; r < rows; ++r) {
        const auto w = hn::LoadU(d, panel + r * ldp + j);
        a0 = hn::MulAdd(hn::Set(d, g0[r]), w, a0);
        a1 = hn::MulAdd(hn::Set(d, g1[r]), w, a1);
        a2 = hn::MulAdd(hn::Set(d, g2[r]), w, a2);
        a3 = hn::MulAdd(hn::Set(d, g3[r]), w, a3);
      }
      hn::StoreU(a0, d, x0 + j);
      hn::StoreU(a1, d, x1 + j);
      hn::StoreU(a2, d, x2 + j);
      hn::StoreU(a3, d, x3 + j);
    }
  }
  for (; t < n_tokens; ++t) {
    const float* g = dy + t * ldy;
    float* x = dx + t * ldx;
    for (size_t j = 0; j < vec_width; j += N) {
      auto a = hn::LoadU(d, x + j);
      for (size_t r = 0; r < rows; ++r) a = hn::MulAdd(hn::Set(d, g[r]), hn::LoadU(d, panel + r * ldp + j), a);
      hn::StoreU(a, d, x + j);
    }
  }
  for (t = 0; t < n_tokens; ++t) {
    const float* g = dy + t * ldy;
    float* x = dx + t * ldx;
    for (size_t j = vec_width; j < width; ++j) {
      float a = x[j];
      for (size_t r = 0; r < rows; ++r) a = std::fma(g[r], panel[r * ldp + j], a);
      x[j] = a;
    }
  }
}

void RmsNormBackwardF32(const float* x, const float* w, const float* dy, float* dx, size_t n, float eps) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  auto ss = hn::Zero(d), gwx = hn::Zero(d);
  size_t i = 0;
  for (; i + N <= n; i += N) {
    const auto vx = hn::LoadU(d, x + i);
    ss = hn::MulAdd(vx, vx, ss);
    gwx = hn::MulAdd(hn::Mul(hn::LoadU(d, dy + i), hn::LoadU(d, w + i)), vx, gwx);
  }
  float s = hn::GetLane(hn::SumOfLanes(d, ss)), g = hn::GetLane(hn::SumOfLanes(d, gwx));
  for (; i < n; ++i) {
    s += x[i] * x[i];
    g += dy[i] * w[i] * x[i];
  }
  const float r = 1.0f / std::sqrt(s / static_cast<float>(n) + eps);
  const float coef = r * r * r * g / static_cast<float>(n);
  const auto vr = hn::Set(d, r), vc = hn::Set(d, coef);
  for (i = 0; i + N <= n; i += N) {
    const auto term = hn::Mul(hn::Mul(vr, hn::LoadU(d, w + i)), hn::LoadU(d, dy + i));
    hn::StoreU(hn::Add(hn::LoadU(d, dx + i), hn::NegMulAdd(vc, hn::LoadU(d, x + i), term)), d, dx + i);
  }
  for (; i < n; ++i) dx[i] += r * w[i] * dy[i] - coef * x[i];
}

// NEOX rotation back by the angles: head = [lo | hi], lo' = lo c + hi s, hi' = hi c - lo s, a
// vector of pairs at a time; the tail of a half that is not a whole vector as the twin does it.
void RopeUnapplyNeoxF32(float* dx, size_t n_heads, size_t head_dim, const float* cos_in, const float* sin_in) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  const size_t half = head_dim / 2;
  for (size_t h = 0; h < n_heads; ++h) {
    float* lo = dx + h * head_dim;
    float* hi = lo + half;
    size_t i = 0;
    for (; i + N <= half; i += N) {
      const auto c = hn::LoadU(d, cos_in + i), s = hn::LoadU(d, sin_in + i);
      const auto y0 = hn::LoadU(d, lo + i), y1 = hn::LoadU(d, hi + i);
      hn::StoreU(hn::MulAdd(y1, s, hn::Mul(y0, c)), d, lo + i);
      hn::StoreU(hn::NegMulAdd(y0, s, hn::Mul(y1, c)), d, hi + i);
    }
    for (; i < half; ++i) {
      const float y0 = lo[i], y1 = hi[i];
      lo[i] = y0 * cos_in[i] + y1 * sin_in[i];
      hi[i] = y1 * cos_in[i] - y0 * sin_in[i];
    }
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace lmforge
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "kernels/backward_ops-inl.h"
#include "kernels/decode_rows.h"
#include "kernels/vec_ops.h"
#include "quant/type_traits.h"

namespace lmforge {

HWY_EXPORT(PanelAccumulateF32);
HWY_EXPORT(RmsNormBackwardF32);
HWY_EXPORT(RopeUnapplyNeoxF32);

void rope_unapply_neox_f32(float* dx, size_t n_heads, size_t head_dim, const float* cos_in, const float* sin_in) {
  HWY_DYNAMIC_DISPATCH(RopeUnapplyNeoxF32)(dx, n_heads, head_dim, cos_in, sin_in);
}

void panel_accumulate_f32(const float* panel, size_t rows, size_t width, const float* dy, size_t ldy, size_t n_tokens,
                          float* dx, size_t ldx) {
  HWY_DYNAMIC_DISPATCH(PanelAccumulateF32)(panel, width, rows, width, dy, ldy, n_tokens, dx, ldx);
}

void panel_accumulate_strided_f32(const float* panel, size_t ldp, size_t rows, size_t width, const float* dy,
                                  size_t ldy, size_t n_tokens, float* dx, size_t ldx) {
  HWY_DYNAMIC_DISPATCH(PanelAccumulateF32)(panel, ldp, rows, width, dy, ldy, n_tokens, dx, ldx);
}

void rms_norm_backward_f32(const float* x, const float* w, const float* dy, float* dx, size_t n, float eps) {
  HWY_DYNAMIC_DISPATCH(RmsNormBackwardF32)(x, w, dy, dx, n, eps);
}

namespace {
const backward_detail::Primitives kSimd{dot_f32, axpy_f32, softmax_f32, decode_row_fast,
                                        panel_accumulate_strided_f32};
}  // namespace

void attention_head_backward_f32(const float* q, const float* k, const float* v, const AttentionShape& s,
                                 size_t head, CellSpan cells, const float* dout, float* scratch, float* dq, float* dk,
                                 float* dv) {
  backward_detail::attention_head_backward(kSimd, q, k, v, s, head, cells, dout, scratch, dq, dk, dv);
}

void matmul_transposed_add(const MatrixView& w, const float* dy, size_t ldy, size_t n_tokens, float* dx, size_t ldx,
                           uint64_t c0, uint64_t c1, float* panel) {
  const TypeTraits* tt = type_traits(w.type);
  if (!tt) throw Error("matmul_transposed_add", "no decoder for this weight type");
  backward_detail::matmul_transposed_add(kSimd, w, dy, ldy, n_tokens, dx, ldx, c0, c1, panel, tt->block_size,
                                         tt->block_bytes, kTransposedPanelRows);
}

void matmul_transposed_add(const InterleavedMatrix& w, const float* dy, size_t ldy, size_t n_tokens, float* dx,
                           size_t ldx, uint64_t c0, uint64_t c1, float* panel) {
  backward_detail::matmul_transposed_add(kSimd, w, dy, ldy, n_tokens, dx, ldx, c0, c1, panel, kTransposedPanelRows);
}

}  // namespace lmforge
#endif  // HWY_ONCE
