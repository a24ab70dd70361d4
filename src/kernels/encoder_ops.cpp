// Highway versions of the encoder operations (encoder_ops.h), compiled once per SIMD target
// and picked at run time. Same formulas and constants as the scalar twin; only the order of
// the float sums (lanes, then a horizontal add) and FMA contraction differ.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/encoder_ops.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "hwy/contrib/math/math-inl.h"

#include <cmath>

#include "kernels/encoder_ops.h"
#include "kernels/encoder_ops_constants.h"
#include "kernels/float_tails-inl.h"

HWY_BEFORE_NAMESPACE();
namespace lmforge {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

void LayerNormF32(const float* x, const float* w, const float* b, float* out, size_t n, float eps) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  auto s0 = hn::Zero(d), s1 = hn::Zero(d);
  size_t i = 0;
  for (; i + 2 * N <= n; i += 2 * N) {
    s0 = hn::Add(s0, hn::LoadU(d, x + i));
    s1 = hn::Add(s1, hn::LoadU(d, x + i + N));
  }
  for (; i + N <= n; i += N) s0 = hn::Add(s0, hn::LoadU(d, x + i));
  if (i < n) s1 = hn::Add(s1, LoadTail(d, x + i, n - i));
  const float mean = hn::GetLane(hn::SumOfLanes(d, hn::Add(s0, s1))) / static_cast<float>(n);

  const auto vm = hn::Set(d, mean);
  s0 = hn::Zero(d);
  s1 = hn::Zero(d);
  for (i = 0; i + 2 * N <= n; i += 2 * N) {
    const auto a = hn::Sub(hn::LoadU(d, x + i), vm), c = hn::Sub(hn::LoadU(d, x + i + N), vm);
    s0 = hn::MulAdd(a, a, s0);
    s1 = hn::MulAdd(c, c, s1);
  }
  for (; i + N <= n; i += N) {
    const auto a = hn::Sub(hn::LoadU(d, x + i), vm);
    s0 = hn::MulAdd(a, a, s0);
  }
  if (i < n) {
    // Padded lanes hold 0 - mean: masked off the sum.
    const auto a = hn::IfThenElseZero(hn::FirstN(d, n - i), hn::Sub(LoadTail(d, x + i, n - i), vm));
    s1 = hn::MulAdd(a, a, s1);
  }
  const float ss = hn::GetLane(hn::SumOfLanes(d, hn::Add(s0, s1)));
  const float inv = 1.0f / std::sqrt(ss / static_cast<float>(n) + eps);

  const auto vi = hn::Set(d, inv);
  for (i = 0; i + N <= n; i += N) {
    const auto y = hn::MulAdd(hn::Mul(hn::Sub(hn::LoadU(d, x + i), vm), vi), hn::LoadU(d, w + i), hn::LoadU(d, b + i));
    hn::StoreU(y, d, out + i);
  }
  for (; i < n; ++i) out[i] = (x[i] - mean) * inv * w[i] + b[i];
}

template <class D, class V>
HWY_INLINE V Gelu(D d, V x) {
  using namespace encoder_ops;
  const auto one = hn::Set(d, 1.0f);
  const auto z = hn::Mul(hn::Abs(x), hn::Set(d, kInvSqrt2));
  const auto negative = hn::Lt(x, hn::Zero(d));
  // Series branch (small |z|): e = erf(z).
  const auto z2 = hn::Mul(z, z);
  auto s = hn::Set(d, kErfSeries[kErfSeriesTerms - 1]);
  for (int k = kErfSeriesTerms - 2; k >= 0; --k) s = hn::MulAdd(s, z2, hn::Set(d, kErfSeries[k]));
  const auto e = hn::Mul(s, z);
  const auto p_series = hn::IfThenElse(negative, hn::Sub(one, e), hn::Add(one, e));
  // erfc branch: c = erfc(z).
  const auto zc = hn::Min(z, hn::Set(d, kErfcClamp));
  const auto t = hn::Div(one, hn::MulAdd(hn::Set(d, 0.5f), zc, one));
  auto poly = hn::Set(d, kErfcPoly[kErfcPolyTerms - 1]);
  for (int k = kErfcPolyTerms - 2; k >= 0; --k) poly = hn::MulAdd(poly, t, hn::Set(d, kErfcPoly[k]));
  const auto c = hn::Mul(t, hn::Exp(d, hn::NegMulAdd(zc, zc, poly)));
  const auto p_erfc = hn::IfThenElse(negative, c, hn::Sub(hn::Set(d, 2.0f), c));
  const auto p = hn::IfThenElse(hn::Lt(z, hn::Set(d, kSeriesLimit)), p_series, p_erfc);
  return hn::Mul(hn::Mul(hn::Set(d, 0.5f), x), p);
}

void GeluErfF32(const float* x, float* out, size_t n) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  size_t i = 0;
  for (; i + N <= n; i += N) hn::StoreU(Gelu(d, hn::LoadU(d, x + i)), d, out + i);
  if (i < n) StoreTail(d, Gelu(d, LoadTail(d, x + i, n - i)), out + i, n - i);
}

}  // namespace HWY_NAMESPACE
}  // namespace lmforge
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace lmforge {

HWY_EXPORT(LayerNormF32);
HWY_EXPORT(GeluErfF32);

void layer_norm_f32(const float* x, const float* w, const float* b, float* out, size_t n, float eps) {
  HWY_DYNAMIC_DISPATCH(LayerNormF32)(x, w, b, out, n, eps);
}
void gelu_erf_f32(const float* x, float* out, size_t n) { HWY_DYNAMIC_DISPATCH(GeluErfF32)(x, out, n); }

}  // namespace lmforge
#endif  // HWY_ONCE
