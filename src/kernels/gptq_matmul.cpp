// The dispatched GPTQ product: the grouped 4-bit kernels (gptq_grouped_matmul.cpp), or the
// interleaved integer kernels for the blocks, then the group offsets added with a Highway dot
// product per output row (compiled per SIMD target, picked at run time; matmul_gptq_scalar in
// gptq_form.cpp is its twin).
#include <vector>

#include "kernels/gptq_form.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/gptq_matmul.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace lmforge {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// y[t * ldy + r] += sum_g off[r][g] * sums[t][g] for r in [r0, r1).
void AddGroupOffsets(const GptqForm& w, const float* sums, size_t n, float* y, size_t ldy, uint64_t r0, uint64_t r1) {
  const hn::ScalableTag<float> df;
  const size_t N = hn::Lanes(df), G = w.groups();
  for (size_t t = 0; t < n; ++t) {
    const float* s = sums + t * G;
    for (uint64_t r = r0; r < r1; ++r) {
      const float* off = w.offsets(r);
      auto acc = hn::Zero(df);
      size_t g = 0;
      for (; g + N <= G; g += N) acc = hn::MulAdd(hn::LoadU(df, off + g), hn::LoadU(df, s + g), acc);
      float tail = 0.0f;
      for (; g < G; ++g) tail += off[g] * s[g];
      y[t * ldy + r] += hn::GetLane(hn::SumOfLanes(df, acc)) + tail;
    }
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace lmforge
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace lmforge {

HWY_EXPORT(AddGroupOffsets);

void matmul_gptq(const GptqForm& w, const PackedActivations& x, float* y, size_t ldy, uint64_t r0, uint64_t r1) {
  if (w.grouped()) return matmul_gptq_grouped(w.grouped_matrix(), x, y, ldy, r0, r1);
  matmul_interleaved(w.core(), x, y, ldy, r0, r1);
  if (!w.has_offsets()) return;
  // The group sums are a few floats per token; each thread computes its own copy.
  thread_local std::vector<float> sums;
  sums.resize(x.n() * w.groups());
  for (size_t t = 0; t < x.n(); ++t) gptq_group_sums(w, x, t, sums.data() + t * w.groups());
  HWY_DYNAMIC_DISPATCH(AddGroupOffsets)(w, sums.data(), x.n(), y, ldy, r0, r1);
}

}  // namespace lmforge
#endif
