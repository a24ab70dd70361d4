// Loads and stores of a float run's tail, shorter than one vector, for the Highway kernels of
// vec_ops.cpp, encoder_ops.cpp and similarity.cpp. The tail goes through a zero-padded stack
// copy: Highway 1.0.3 has no LoadN, and a full-width load past the end could touch an unmapped
// page. A per-target header in Highway's style: include it after hwy/highway.h, outside any
// namespace; the toggling guard lets foreach_target.h compile it once per target.
#if defined(LMFORGE_KERNELS_FLOAT_TAILS_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef LMFORGE_KERNELS_FLOAT_TAILS_INL_H_
#undef LMFORGE_KERNELS_FLOAT_TAILS_INL_H_
#else
#define LMFORGE_KERNELS_FLOAT_TAILS_INL_H_
#endif

#include <cstddef>

#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace lmforge {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// 64 bytes: the widest vector (AVX-512) of floats.
constexpr size_t kMaxFloatLanes = 16;

// p[0 .. rest) in the low lanes, zeros above (rest < Lanes(d)).
template <class D>
HWY_INLINE hn::Vec<D> LoadTail(D d, const float* p, size_t rest) {
  HWY_ALIGN float buf[kMaxFloatLanes] = {};
  for (size_t j = 0; j < rest; ++j) buf[j] = p[j];
  return hn::Load(d, buf);
}

// The low `rest` lanes of v to p[0 .. rest).
template <class D>
HWY_INLINE void StoreTail(D d, hn::Vec<D> v, float* p, size_t rest) {
  HWY_ALIGN float buf[kMaxFloatLanes];
  hn::Store(v, d, buf);
  for (size_t j = 0; j < rest; ++j) p[j] = buf[j];
}

}  // namespace HWY_NAMESPACE
}  // namespace lmforge
HWY_AFTER_NAMESPACE();

#endif  // LMFORGE_KERNELS_FLOAT_TAILS_INL_H_ toggle
