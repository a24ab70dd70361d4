// Highway versions of dot_rows_f32 and dot_rows_f16 (one body, the rows' loads widened from f16
// for the latter), compiled once per SIMD target and picked at run time. Two
// rows are walked side by side so that two independent streams are in flight for the hardware
// prefetchers, each with two vector accumulators so that consecutive FMAs do not wait on each
// other; the query stays in L1 across rows.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/similarity.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"

#include "core/half.h"
#include "kernels/float_tails-inl.h"
#include "kernels/similarity.h"

HWY_BEFORE_NAMESPACE();
namespace lmforge {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// The f16 twin of float_tails-inl.h's LoadTail: widened exactly into the zero-padded copy.
template <class D>
HWY_INLINE hn::Vec<D> LoadTail(D d, const hwy::float16_t* p, size_t rest) {
  HWY_ALIGN float buf[kMaxFloatLanes] = {};
  for (size_t j = 0; j < rest; ++j) {
    uint16_t bits;
    hwy::CopyBytes<2>(p + j, &bits);
    buf[j] = fp16_to_fp32(bits);
  }
  return hn::Load(d, buf);
}

template <class D>
HWY_INLINE hn::Vec<D> LoadRowU(D d, const float* p) {
  return hn::LoadU(d, p);
}

// f16 lanes widened exactly to f32 (F16C's VCVTPH2PS on x86).
template <class D>
HWY_INLINE hn::Vec<D> LoadRowU(D d, const hwy::float16_t* p) {
  const hn::Rebind<hwy::float16_t, D> dh;
  return hn::PromoteTo(d, hn::LoadU(dh, p));
}

template <class T>
HWY_INLINE void DotRows(const T* rows, size_t n_rows, size_t dim, const float* query, float* scores) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  size_t r = 0;
  for (; r + 2 <= n_rows; r += 2) {
    const T* a = rows + r * dim;
    const T* b = a + dim;
    auto a0 = hn::Zero(d), a1 = hn::Zero(d), b0 = hn::Zero(d), b1 = hn::Zero(d);
    size_t i = 0;
    for (; i + 2 * N <= dim; i += 2 * N) {
      const auto q0 = hn::LoadU(d, query + i), q1 = hn::LoadU(d, query + i + N);
      a0 = hn::MulAdd(LoadRowU(d, a + i), q0, a0);
      b0 = hn::MulAdd(LoadRowU(d, b + i), q0, b0);
      a1 = hn::MulAdd(LoadRowU(d, a + i + N), q1, a1);
      b1 = hn::MulAdd(LoadRowU(d, b + i + N), q1, b1);
    }
    for (; i + N <= dim; i += N) {
      const auto q = hn::LoadU(d, query + i);
      a0 = hn::MulAdd(LoadRowU(d, a + i), q, a0);
      b0 = hn::MulAdd(LoadRowU(d, b + i), q, b0);
    }
    if (i < dim) {
      const size_t rest = dim - i;
      const auto q = LoadTail(d, query + i, rest);
      a1 = hn::MulAdd(LoadTail(d, a + i, rest), q, a1);
      b1 = hn::MulAdd(LoadTail(d, b + i, rest), q, b1);
    }
    scores[r] = hn::GetLane(hn::SumOfLanes(d, hn::Add(a0, a1)));
    scores[r + 1] = hn::GetLane(hn::SumOfLanes(d, hn::Add(b0, b1)));
  }
  for (; r < n_rows; ++r) {
    const T* a = rows + r * dim;
    auto a0 = hn::Zero(d), a1 = hn::Zero(d);
    size_t i = 0;
    for (; i + N <= dim; i += N) a0 = hn::MulAdd(LoadRowU(d, a + i), hn::LoadU(d, query + i), a0);
    if (i < dim) a1 = hn::MulAdd(LoadTail(d, a + i, dim - i), LoadTail(d, query + i, dim - i), a1);
    scores[r] = hn::GetLane(hn::SumOfLanes(d, hn::Add(a0, a1)));
  }
}

void DotRowsF32(const float* rows, size_t n_rows, size_t dim, const float* query, float* scores) {
  DotRows(rows, n_rows, dim, query, scores);
}

void DotRowsF16(const uint16_t* rows, size_t n_rows, size_t dim, const float* query, float* scores) {
  DotRows(reinterpret_cast<const hwy::float16_t*>(rows), n_rows, dim, query, scores);
}

}  // namespace HWY_NAMESPACE
}  // namespace lmforge
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace lmforge {

HWY_EXPORT(DotRowsF32);
HWY_EXPORT(DotRowsF16);

void dot_rows_f32(const float* rows, size_t n_rows, size_t dim, const float* query, float* scores) {
  HWY_DYNAMIC_DISPATCH(DotRowsF32)(rows, n_rows, dim, query, scores);
}

void dot_rows_f16(const uint16_t* rows, size_t n_rows, size_t dim, const float* query, float* scores) {
  HWY_DYNAMIC_DISPATCH(DotRowsF16)(rows, n_rows, dim, query, scores);
}

}  // namespace lmforge
#endif  // HWY_ONCE
