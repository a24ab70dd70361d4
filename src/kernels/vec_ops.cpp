// Highway versions of the float32 vector operations, compiled once per SIMD target and picked
// at run time (HWY_DYNAMIC_DISPATCH). Sums keep four vector accumulators so that consecutive
// FMAs do not wait on each other, then one horizontal add.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/vec_ops.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "hwy/contrib/math/math-inl.h"

#include <cmath>

#include "kernels/vec_ops.h"
#include "kernels/float_tails-inl.h"

HWY_BEFORE_NAMESPACE();
namespace lmforge {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

float DotF32(const float* a, const float* b, size_t n) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  auto s0 = hn::Zero(d), s1 = hn::Zero(d), s2 = hn::Zero(d), s3 = hn::Zero(d);
  size_t i = 0;
  for (; i + 4 * N <= n; i += 4 * N) {
    s0 = hn::MulAdd(hn::LoadU(d, a + i), hn::LoadU(d, b + i), s0);
    s1 = hn::MulAdd(hn::LoadU(d, a + i + N), hn::LoadU(d, b + i + N), s1);
    s2 = hn::MulAdd(hn::LoadU(d, a + i + 2 * N), hn::LoadU(d, b + i + 2 * N), s2);
    s3 = hn::MulAdd(hn::LoadU(d, a + i + 3 * N), hn::LoadU(d, b + i + 3 * N), s3);
  }
  for (; i + N <= n; i += N) s0 = hn::MulAdd(hn::LoadU(d, a + i), hn::LoadU(d, b + i), s0);
  if (i < n) {
    const size_t rest = n - i;
    s1 = hn::MulAdd(LoadTail(d, a + i, rest), LoadTail(d, b + i, rest), s1);
  }
  return hn::GetLane(hn::SumOfLanes(d, hn::Add(hn::Add(s0, s1), hn::Add(s2, s3))));
}

void AxpyF32(float a, const float* x, float* y, size_t n) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  const auto va = hn::Set(d, a);
  size_t i = 0;
  for (; i + N <= n; i += N) hn::StoreU(hn::MulAdd(va, hn::LoadU(d, x + i), hn::LoadU(d, y + i)), d, y + i);
  for (; i < n; ++i) y[i] += a * x[i];
}

void AddF32(const float* x, float* y, size_t n) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  size_t i = 0;
  for (; i + N <= n; i += N) hn::StoreU(hn::Add(hn::LoadU(d, x + i), hn::LoadU(d, y + i)), d, y + i);
  for (; i < n; ++i) y[i] += x[i];
}

void RmsNormF32(const float* x, const float* w, float* out, size_t n, float eps) {
  const float ss = DotF32(x, x, n);
  const float scale = 1.0f / std::sqrt(ss / static_cast<float>(n) + eps);
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  const auto vs = hn::Set(d, scale);
  size_t i = 0;
  for (; i + N <= n; i += N) {
    hn::StoreU(hn::Mul(hn::Mul(hn::LoadU(d, x + i), vs), hn::LoadU(d, w + i)), d, out + i);
  }
  for (; i < n; ++i) out[i] = x[i] * scale * w[i];
}

void SoftmaxF32(float* x, size_t n) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  auto vmax = hn::Set(d, x[0]);
  size_t i = 0;
  for (; i + N <= n; i += N) vmax = hn::Max(vmax, hn::LoadU(d, x + i));
  float max = hn::GetLane(hn::MaxOfLanes(d, vmax));
  for (; i < n; ++i) max = x[i] > max ? x[i] : max;
  const auto vm = hn::Set(d, max);
  auto vsum = hn::Zero(d);
  for (i = 0; i + N <= n; i += N) {
    const auto e = hn::Exp(d, hn::Sub(hn::LoadU(d, x + i), vm));
    hn::StoreU(e, d, x + i);
    vsum = hn::Add(vsum, e);
  }
  if (i < n) {
    // The tail goes through the same vector exp (padded lanes are masked off the sum).
    const size_t rest = n - i;
    const auto e = hn::Exp(d, hn::Sub(LoadTail(d, x + i, rest), vm));
    StoreTail(d, e, x + i, rest);
    vsum = hn::Add(vsum, hn::IfThenElseZero(hn::FirstN(d, rest), e));
  }
  const auto inv = hn::Set(d, 1.0f / hn::GetLane(hn::SumOfLanes(d, vsum)));
  for (i = 0; i + N <= n; i += N) hn::StoreU(hn::Mul(hn::LoadU(d, x + i), inv), d, x + i);
  if (i < n) StoreTail(d, hn::Mul(LoadTail(d, x + i, n - i), inv), x + i, n - i);
}

template <class D, class V>
HWY_INLINE V Swiglu(D d, V g, V u) {
  // exp(-g) overflows to inf past 88.7 (and Highway's Exp is only specified up to 104);
  // clamping keeps silu(g) at its limit, about -0 for very negative g.
  const auto e = hn::Exp(d, hn::Min(hn::Neg(g), hn::Set(d, 88.0f)));
  return hn::Mul(hn::Div(g, hn::Add(hn::Set(d, 1.0f), e)), u);
}

void SwigluF32(const float* g, const float* u, float* out, size_t n) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  size_t i = 0;
  for (; i + N <= n; i += N) hn::StoreU(Swiglu(d, hn::LoadU(d, g + i), hn::LoadU(d, u + i)), d, out + i);
  if (i < n) {
    const size_t rest = n - i;
    StoreTail(d, Swiglu(d, LoadTail(d, g + i, rest), LoadTail(d, u + i, rest)), out + i, rest);
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace lmforge
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace lmforge {

HWY_EXPORT(DotF32);
HWY_EXPORT(AxpyF32);
HWY_EXPORT(AddF32);
HWY_EXPORT(RmsNormF32);
HWY_EXPORT(SoftmaxF32);
HWY_EXPORT(SwigluF32);

float dot_f32(const float* a, const float* b, size_t n) { return HWY_DYNAMIC_DISPATCH(DotF32)(a, b, n); }
void axpy_f32(float a, const float* x, float* y, size_t n) { HWY_DYNAMIC_DISPATCH(AxpyF32)(a, x, y, n); }
void add_f32(const float* x, float* y, size_t n) { HWY_DYNAMIC_DISPATCH(AddF32)(x, y, n); }
void rms_norm_f32(const float* x, const float* w, float* out, size_t n, float eps) {
  HWY_DYNAMIC_DISPATCH(RmsNormF32)(x, w, out, n, eps);
}
void softmax_f32(float* x, size_t n) { HWY_DYNAMIC_DISPATCH(SoftmaxF32)(x, n); }
void swiglu_f32(const float* g, const float* u, float* out, size_t n) {
  HWY_DYNAMIC_DISPATCH(SwigluF32)(g, u, out, n);
}

}  // namespace lmforge
#endif  // HWY_ONCE
