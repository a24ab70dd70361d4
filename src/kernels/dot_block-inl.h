// One 32-element int8 block dot product for every Highway target, shared by the kernels that
// fall back to it (the portable paths of matmul.cpp and interleaved_matmul.cpp). A per-target
// header in Highway's style: include it after hwy/highway.h, outside any namespace; the
// toggling guard lets foreach_target.h compile it once per target.
#if defined(LMFORGE_KERNELS_DOT_BLOCK_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef LMFORGE_KERNELS_DOT_BLOCK_INL_H_
#undef LMFORGE_KERNELS_DOT_BLOCK_INL_H_
#else
#define LMFORGE_KERNELS_DOT_BLOCK_INL_H_
#endif

#include <cstdint>

#include "hwy/highway.h"
#include "quant/ggml_blocks.h"

HWY_BEFORE_NAMESPACE();
namespace lmforge {
namespace HWY_NAMESPACE {

// sum over j < 32 of a[j] * b[j], exact in 32-bit lanes (widened through 16-bit products).
HWY_INLINE int32_t DotBlock(const int8_t* a, const int8_t* b) {
  namespace hn = hwy::HWY_NAMESPACE;
  const hn::CappedTag<int16_t, 8> d16;
  const hn::Rebind<int8_t, decltype(d16)> d8;
  const hn::RepartitionToWide<decltype(d16)> d32;
  const size_t N = hn::Lanes(d16);
  auto s0 = hn::Zero(d32), s1 = hn::Zero(d32);
  for (size_t j = 0; j < kQK; j += N) {
    const auto va = hn::PromoteTo(d16, hn::LoadU(d8, a + j));
    const auto vb = hn::PromoteTo(d16, hn::LoadU(d8, b + j));
    s0 = hn::ReorderWidenMulAccumulate(d32, va, vb, s0, s1);
  }
  return hn::GetLane(hn::SumOfLanes(d32, hn::Add(s0, s1)));
}

}  // namespace HWY_NAMESPACE
}  // namespace lmforge
HWY_AFTER_NAMESPACE();

#endif  // per-target include guard
